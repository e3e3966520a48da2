"""Tracking core: runs, params, metrics, tags, artifacts, listing and filters."""

from __future__ import annotations

import math

import pytest

import mlops_nb as mlops
from mlops_nb.errors import NotFoundError, UsageError


def test_run_records_params_metrics_tags_and_finishes(any_project):
    with mlops.start_run(
        "baseline", experiment="churn", params={"lr": 0.1, "depth": 3}, tags={"team": "risk"}
    ) as run:
        for step in range(5):
            mlops.log_metric("loss", 1.0 / (step + 1), step=step)
        mlops.log_metrics({"auc": 0.91, "acc": 0.88})
        assert run.status == "running"
    run = mlops.get_run(run.run_id)
    assert run.status == "finished"
    assert run.experiment == "churn"
    assert run.params == {"lr": 0.1, "depth": 3}
    assert isinstance(run.params["depth"], int)
    assert run.tags == {"team": "risk"}
    assert run.metrics == {"loss": 0.2, "auc": 0.91, "acc": 0.88}
    history = run.metric_history("loss")
    assert list(history["step"]) == [0, 1, 2, 3, 4]
    assert list(history.columns) == ["step", "value", "timestamp"]


def test_failed_block_marks_run_failed(any_project):
    with pytest.raises(ZeroDivisionError), mlops.start_run("boom") as run:
        1 / 0  # noqa: B018
    assert mlops.get_run(run.run_id).status == "failed"


def test_steps_default_to_next_step_per_key(project):
    with mlops.start_run() as run:
        for value in (3, 2, 1):
            mlops.log_metric("loss", value)
    assert list(run.metric_history("loss")["step"]) == [0, 1, 2]
    assert run.metrics["loss"] == 1


def test_non_finite_metrics_are_stored_faithfully(any_project):
    with mlops.start_run() as run:
        mlops.log_metrics(nan=float("nan"), pinf=float("inf"), ninf=float("-inf"))
    metrics = mlops.get_run(run.run_id).metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == math.inf and metrics["ninf"] == -math.inf


def test_numpy_scalars_are_logged_as_plain_numbers(project):
    import numpy as np

    with mlops.start_run() as run:
        mlops.log_metric("f64", np.float64(0.5))
        mlops.log_metrics({"f32": np.float32(0.25), "i64": np.int64(3)}, step=np.int64(2))
        mlops.log_metric("after", 1.0)
    assert run.metrics == {"f64": 0.5, "f32": 0.25, "i64": 3.0, "after": 1.0}
    assert run.metric_history("f32")["step"].tolist() == [2]


@pytest.mark.parametrize("value", ["high", None, True, [1, 2], {"a": 1}])
def test_non_numeric_metric_is_rejected_clearly(project, value):
    with mlops.start_run(), pytest.raises(UsageError, match="must be a number"):
        mlops.log_metric("acc", value)


@pytest.mark.parametrize("key", ["train/loss", "a..b", "with space", "ünï cødé ✓"])
def test_unusual_metric_keys_round_trip(project, key):
    with mlops.start_run() as run:
        mlops.log_metric(key, 1.5)
    assert run.metrics == {key: 1.5}


@pytest.mark.parametrize("key", ["", "tab\tkey", "new\nline", " padded", "x" * 256])
def test_bad_keys_are_rejected(project, key):
    with mlops.start_run(), pytest.raises(UsageError):
        mlops.log_metric(key, 1.0)


def test_param_values_keep_types_and_reject_unserializable(project):
    with mlops.start_run() as run:
        mlops.log_params(n=3, lr=0.5, name="rf", flags=[1, 2], cfg={"a": None})
        with pytest.raises(UsageError, match="not a JSON value"):
            mlops.log_param("model", object())
        with pytest.raises(UsageError, match="log_artifact"):
            mlops.log_param("big", "x" * 100_000)
    assert run.params == {"n": 3, "lr": 0.5, "name": "rf", "flags": [1, 2], "cfg": {"a": None}}


def test_changing_a_param_keeps_its_history(project):
    with mlops.start_run() as run:
        mlops.log_param("lr", 0.1)
        mlops.log_param("lr", 0.01)
    assert run.params["lr"] == 0.01
    assert list(run.param_history("lr")["value"]) == [0.1, 0.01]


def test_nested_start_run_creates_a_child(project):
    with mlops.start_run("parent") as parent:
        with mlops.start_run("child") as child:
            assert mlops.active_run() == child
        assert mlops.active_run() == parent
    assert mlops.get_run(child.run_id).parent_id == parent.run_id
    assert [c.run_id for c in parent.children] == [child.run_id]


def test_logging_without_a_run_is_a_clear_error(project):
    with pytest.raises(UsageError, match="no active run"):
        mlops.log_metric("x", 1)


def test_artifacts_files_folders_and_objects(project, tmp_path):
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    import pandas as pd

    with mlops.start_run() as run:
        mlops.log_artifact(folder)
        mlops.log_artifact(pd.DataFrame({"x": [1, 2]}), "frame.parquet")
        mlops.log_artifact({"k": 1}, "cfg.json")
        mlops.log_text("hello", "notes/readme.txt")
    paths = [a.path for a in run.artifacts]
    assert paths == [
        "cfg.json",
        "frame.parquet",
        "notes/readme.txt",
        "plots/a.txt",
        "plots/sub/b.txt",
    ]
    readme = next(a for a in run.artifacts if a.path == "notes/readme.txt")
    assert project.blobs.get_bytes(readme.digest) == b"hello"


@pytest.mark.parametrize("name", ["../../x", "/etc/passwd", "a/../../b", "c:\\x", "a\\..\\b"])
def test_artifact_names_cannot_escape(project, tmp_path, name):
    source = tmp_path / "f.txt"
    source.write_text("x")
    with mlops.start_run(), pytest.raises(UsageError, match="relative path"):
        mlops.log_artifact(source, name)


def test_runs_frame_and_filters(any_project):
    for i, model in enumerate(["rf", "rf", "gb"]):
        with mlops.start_run(f"r{i}", params={"model": model, "n": i}):
            mlops.log_metric("auc", 0.7 + 0.1 * i)
    frame = mlops.runs()
    assert len(frame) == 3
    assert {"run_id", "name", "status", "params.model", "metrics.auc"} <= set(frame.columns)
    picked = mlops.runs(filter="metrics.auc > 0.75 and params.model == 'rf'")
    assert list(picked["name"]) == ["r1"]
    assert set(mlops.runs(filter="params.n >= 1")["name"]) == {"r1", "r2"}
    assert set(mlops.runs(filter="params.model in ['gb']")["name"]) == {"r2"}
    assert set(mlops.runs(filter="not metrics.auc < 0.75")["name"]) == {"r1", "r2"}
    assert mlops.runs(experiment="nope").empty


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('x')",
        "metrics.auc > (1).__class__",
        "params.x == y",
        "metrics.auc; DROP TABLE runs",
        "metrics['a'] > '1'",
        "foo.bar == 1",
    ],
)
def test_bad_filters_are_rejected_without_evaluation(project, expr):
    with pytest.raises(UsageError):
        mlops.runs(filter=expr)


def test_sql_metacharacters_in_filter_values_are_just_values(project):
    with mlops.start_run(params={"model": "x'; DROP TABLE runs; --"}):
        pass
    assert len(mlops.runs(filter='params.model == "x\'; DROP TABLE runs; --"')) == 1
    assert len(mlops.runs()) == 1


def test_get_run_unknown_and_prefix(project):
    with mlops.start_run() as run:
        pass
    assert mlops.get_run(run.run_id[:8]).run_id == run.run_id
    with pytest.raises(NotFoundError):
        mlops.get_run("deadbeef")
    with pytest.raises(NotFoundError):
        mlops.get_run("../../etc")


def test_environment_is_captured(project):
    with mlops.start_run() as run:
        pass
    env = run.environment
    assert env["python"].count(".") == 2
    assert "pandas" in env["packages"]
