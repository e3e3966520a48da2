"""The ``mlops`` CLI for runs, driven as a subprocess: output, JSON and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlops_nb as mlops


def mlops_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", *args], capture_output=True, text=True, timeout=120
    )


def _seed():
    ids = []
    for i, model in enumerate(["rf", "gb"]):
        with mlops.start_run(f"run{i}", params={"model": model}) as run:
            mlops.log_metric("auc", 0.8 + i / 10)
        ids.append(run.run_id)
    return ids


def test_help_lists_commands_and_exit_codes():
    result = mlops_cli("--help")
    assert result.returncode == 0
    for word in ("init", "runs", "Exit codes"):
        assert word in result.stdout


def test_init_creates_a_project(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    monkeypatch.delenv("MLOPS_STORE_URI", raising=False)
    result = subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", "init", str(tmp_path / "p")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p" / ".mlops" / "mlops.db").exists()
    assert (tmp_path / "p" / "mlops.yaml").exists()


def test_runs_ls_json_and_filter(project):
    first, second = _seed()
    result = mlops_cli("runs", "ls", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["run_id"] for r in rows} == {first, second}
    assert {r["metrics.auc"] for r in rows} == {0.8, 0.9}
    result = mlops_cli("runs", "ls", "--filter", "params.model == 'gb'", "--json")
    assert [r["run_id"] for r in json.loads(result.stdout)] == [second]
    table = mlops_cli("runs", "ls")
    assert table.returncode == 0 and "run0" in table.stdout


def test_runs_ls_sorts_by_a_metric_with_runs_lacking_it_last(project):
    first, second = _seed()
    with mlops.start_run("unscored") as unscored:
        mlops.log_metric("loss", 0.1)
    with mlops.start_run("best") as best:
        mlops.log_metric("auc", 0.95)

    def listed(*args: str) -> list[str]:
        result = mlops_cli("runs", "ls", "--json", *args)
        assert result.returncode == 0, result.stderr
        return [r["run_id"] for r in json.loads(result.stdout)]

    assert listed("--sort", "metrics.auc") == [best.run_id, second, first, unscored.run_id]
    assert listed("--sort", "metrics.auc:asc", "-n", "2") == [first, second]
    assert listed("--sort", "start_time:asc")[0] == first
    assert len(listed("--sort", "duration")) == 4
    table = subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", "runs", "ls", "--sort", "metrics.loss"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    header, first_row = table.stdout.splitlines()[2], table.stdout.splitlines()[4]
    assert "metrics.loss" in header and "unscored" in first_row  # the sorted metric is shown
    refused = mlops_cli("runs", "ls", "--sort", "auc")
    assert refused.returncode == 2 and "use metrics.NAME or one of" in refused.stderr
    bad_direction = mlops_cli("runs", "ls", "--sort", "metrics.auc:up")
    assert bad_direction.returncode == 2 and "asc or desc" in bad_direction.stderr
    frame = mlops.runs(order_by="metrics.auc", descending=False, limit=1)
    assert list(frame["run_id"]) == [first]


def test_runs_show_and_compare(project):
    first, second = _seed()
    shown = json.loads(mlops_cli("runs", "show", first[:8], "--json").stdout)
    assert shown["params"] == {"model": "rf"} and shown["metrics"] == {"auc": 0.8}
    compared = json.loads(mlops_cli("runs", "compare", first, second, "--json").stdout)
    assert compared["values"]["params.model"] == {first: "rf", second: "gb"}


def test_usage_errors_exit_2_with_one_line(project):
    for args in (
        ["runs", "show", "nope42"],
        ["runs", "ls", "--filter", "metrics.x >"],
        ["runs", "compare", "abc"],
        ["runs", "frobnicate"],
    ):
        result = mlops_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
