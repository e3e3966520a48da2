"""Lineage: runs -> dataset versions they read (input) and produced (output)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

import mlops_nb as mlops
from mlops_nb.data import lineage
from mlops_nb.errors import UsageError


def test_snapshot_load_and_capture_record_lineage(any_project):
    raw = mlops.snapshot(pd.DataFrame({"a": [1, 2]}), "raw")  # outside a run: no lineage
    assert raw.run_id is None and lineage.runs_of(any_project, raw.id) == []
    with mlops.start_run("prep") as prep:
        mlops.load_dataset("raw")
        train = mlops.snapshot(pd.DataFrame({"a": [2]}), "train")
        batch = mlops.capture(pd.DataFrame({"a": [3]}))
    assert train.run_id == prep.run_id
    assert [v.ref for v in lineage.inputs_of(any_project, prep.run_id)] == ["raw@1", "train@1"]
    assert [v.ref for v in lineage.outputs_of(any_project, prep.run_id)] == [
        "production@1",
        "train@1",
    ]
    assert lineage.runs_of(any_project, batch.id) == [
        {"run_id": prep.run_id, "direction": "output"}
    ]
    with mlops.start_run("fit") as fit:
        again = mlops.snapshot(pd.DataFrame({"a": [2]}), "train")  # same content
        mlops.load_dataset("train")
    assert again == train and again.run_id == prep.run_id  # the producer stays recorded
    assert [v.ref for v in lineage.inputs_of(any_project, fit.run_id)] == ["train@1"]
    assert lineage.runs_of(any_project, train.id) == [
        {"run_id": prep.run_id, "direction": "input"},
        {"run_id": prep.run_id, "direction": "output"},
        {"run_id": fit.run_id, "direction": "input"},
        {"run_id": fit.run_id, "direction": "output"},
    ]


def test_record_is_idempotent_and_checks_direction(project):
    version = mlops.snapshot(pd.DataFrame({"a": [1]}), "d")
    for _ in range(2):
        lineage.record(project, "r" * 32, version.id, "input")
    assert lineage.runs_of(project, version.id) == [{"run_id": "r" * 32, "direction": "input"}]
    with pytest.raises(UsageError, match="'input' or 'output'"):
        lineage.record(project, "r" * 32, version.id, "sideways")


def test_a_process_started_for_a_run_records_its_inputs(project):
    version = mlops.snapshot(pd.DataFrame({"a": [1]}), "d")
    run = mlops.start_run("parent")
    mlops.end_run()
    env = {**os.environ, "MLOPS_RUN_ID": run.run_id}
    subprocess.run(
        [sys.executable, "-c", "import mlops_nb as m; m.load_dataset('d')"],
        check=True,
        env=env,
        cwd=project.root,
    )
    assert lineage.inputs_of(project, run.run_id) == [version]
