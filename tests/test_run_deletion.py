"""Deleting runs: hidden and restorable, refused where lineage needs them, purged by gc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest
import sqlalchemy as sa
from test_pipelines_support import write_notebook

import mlops_nb as mlops
from mlops_nb.errors import NotFoundError, UsageError


def mlops_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", *args], capture_output=True, text=True, timeout=300
    )


def _sweep_like() -> tuple[str, str, str]:
    """A parent run with two children, each logging a metric and an artifact."""
    with mlops.start_run("parent") as parent:
        children = []
        for i in range(2):
            with mlops.start_run(f"point {i}") as child:
                mlops.log_metric("auc", 0.8 + i / 10)
                mlops.log_artifact(f"weights {i}".encode(), "model.bin")
            children.append(child.run_id)
    return parent.run_id, *children


def test_deleting_a_run_hides_it_and_its_children_until_restored(any_project):
    parent, first, second = _sweep_like()
    with mlops.start_run("kept") as kept:
        pass
    assert mlops.delete_run(parent[:8]) == sorted([parent, first, second])
    assert list(mlops.runs()["run_id"]) == [kept.run_id]
    assert set(mlops.runs(deleted=True)["run_id"]) == {parent, first, second}
    run = mlops.get_run(first)  # still readable, with everything it logged
    assert run.deleted_at is not None and run.metrics == {"auc": 0.8}
    assert [c.run_id for c in mlops.get_run(parent).children] == [first, second]
    assert mlops.delete_run(parent) == []  # already deleted

    assert mlops.restore_run(second) == sorted([parent, second])  # a child, and its parent
    assert set(mlops.runs()["run_id"]) == {kept.run_id, parent, second}
    assert [c.run_id for c in mlops.get_run(parent).children] == [second]
    assert mlops.restore_run([parent]) == [first]
    assert len(mlops.runs()) == 4 and mlops.get_run(first).deleted_at is None


def test_one_deleted_child_leaves_its_parents_children(any_project):
    parent, first, second = _sweep_like()
    mlops.delete_run(first)
    assert [c.run_id for c in mlops.get_run(parent).children] == [second]


def test_runs_still_running_or_behind_a_model_are_refused(any_project):
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"x": range(40), "y": [0, 1] * 20})
    with mlops.start_run("train") as train:
        mlops.register_model(LogisticRegression().fit(frame[["x"]], frame.y), "churn")
    with mlops.start_run("live") as live, pytest.raises(UsageError, match="still running"):
        mlops.delete_run(live.run_id)
    with mlops.start_run("sweep") as sweep:
        pass
    with pytest.raises(UsageError, match=r"produced model churn@1; runs behind registered"):
        mlops.delete_run([sweep.run_id, train.run_id])
    assert len(mlops.runs()) == 3  # all or nothing: the first one was not deleted either
    with pytest.raises(NotFoundError, match="does not exist"):
        mlops.delete_run("abcdef12")


def test_purging_removes_the_runs_rows_and_keeps_what_outlives_them(any_project):
    from mlops_nb.store import schema
    from mlops_nb.tracking.deletion import deleted_runs, purge_runs

    parent, first, second = _sweep_like()
    with mlops.start_run("made data") as maker:
        mlops.snapshot(pd.DataFrame({"a": [1, 2, 3]}), "train")
    deleted = mlops.delete_run([parent, maker.run_id])
    assert deleted_runs(any_project, older_than=3600) == []  # within the grace period
    mlops.restore_run(second)  # restored meanwhile, with its parent: not purged
    purged = purge_runs(any_project, deleted)
    assert sorted(purged) == sorted([first, maker.run_id])
    with any_project.db.read() as conn:
        for table in (schema.metrics, schema.artifacts, schema.params, schema.tags):
            left = conn.execute(sa.select(table.c.run_id).where(table.c.run_id.in_(purged)))
            assert left.all() == [], table.name
    assert set(mlops.runs()["run_id"]) == {parent, second}
    assert mlops.get_run(second).metrics == {"auc": 0.9}
    assert mlops.get_dataset("train@1").run_id is None  # the dataset stays, unlinked


def test_cli_delete_list_restore_and_gc_purge(project):
    parent, first, second = _sweep_like()
    digest = mlops.get_run(first).artifacts[0].digest
    with mlops.start_run("made data") as maker:
        mlops.snapshot(pd.DataFrame({"a": [1, 2, 3]}), "train")

    result = mlops_cli("runs", "delete", parent[:8], maker.run_id[:8])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("deleted 4 runs:")
    listed = json.loads(mlops_cli("runs", "ls", "--deleted", "--json").stdout)
    assert {r["run_id"] for r in listed} == {parent, first, second, maker.run_id}
    assert json.loads(mlops_cli("runs", "ls", "--json").stdout) == []
    shown = mlops_cli("runs", "show", first[:8])
    assert "deleted_at" in shown.stdout

    restored = mlops_cli("runs", "restore", maker.run_id, "--json")
    assert json.loads(restored.stdout) == {"restored": [maker.run_id]}

    dry = mlops_cli("gc", "--grace", "0", "--json")
    assert sorted(json.loads(dry.stdout)["deleted_runs"]) == sorted([parent, first, second])
    assert mlops.get_run(first).metrics  # a dry run purges nothing
    old = time.time() - 3600
    os.utime(project.blobs.local_path(digest), (old, old))
    purged = mlops_cli("gc", "--yes", "--grace", "0")
    assert purged.returncode == 0, purged.stderr
    assert "purged 3 deleted runs" in purged.stdout
    with pytest.raises(NotFoundError):
        mlops.get_run(first)
    assert not project.blobs.exists(digest)  # only the purged run referenced it
    assert mlops.runs(deleted=True).empty
    assert list(mlops.runs()["run_id"]) == [maker.run_id]
    assert len(mlops.load_dataset("train@1")) == 3
    doctor = mlops_cli("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr


def test_a_cached_step_whose_run_was_deleted_runs_again(project):
    write_notebook(
        project.root / "step.ipynb", None, "import mlops_nb\nmlops_nb.log_metric('x', 1)"
    )
    (project.root / "p.yaml").write_text("steps:\n  step: step.ipynb\n")
    first = mlops.run_pipeline(project.root / "p.yaml")
    step_run = first.steps[0].run_id
    again = mlops.run_pipeline(project.root / "p.yaml", dry_run=True)
    assert again.steps[0].status == "cached"
    mlops.delete_run(step_run)
    plan = mlops_cli("pipeline", "run", "p.yaml", "--dry-run")
    assert f"would run (the run that produced it ({step_run[:8]}) was deleted)" in plan.stderr
    rerun = mlops.run_pipeline(project.root / "p.yaml")
    assert rerun.steps[0].status == "run" and rerun.steps[0].run_id != step_run
