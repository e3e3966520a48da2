"""Sweeps: a notebook over a grid, locally with parallel kernels and on a real Dask cluster."""

from __future__ import annotations

import json

import pytest
from test_pipelines_support import mlops, write_notebook

import mlops_nb as mlops_api
from mlops_nb.errors import UsageError
from mlops_nb.pipelines.results import StepResult
from mlops_nb.pipelines.sweep import SweepResult, summary_rows

SCORE = (
    "import mlops_nb as mlops, os\n"
    "mlops.log_metric('score', lr * depth)\n"
    "mlops.log_param('pid', os.getpid())"
)


@pytest.fixture
def notebook(project):
    return write_notebook(project.root / "train.ipynb", "lr = 0.1\ndepth = 1", SCORE)


def test_cli_sweep_runs_points_in_parallel_kernels_and_sorts(project, notebook):
    result = mlops(
        "sweep",
        "train.ipynb",
        "-p",
        "lr",
        "0.1,0.3",
        "-p",
        "depth",
        "2",
        "--jobs",
        "2",
        "--sort",
        "metrics.score",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    points = report["points"]
    assert [p["point"] for p in points] == ["lr=0.3,depth=2", "lr=0.1,depth=2"]
    assert [p["metrics.score"] for p in points] == pytest.approx([0.6, 0.2])
    assert all(p["status"] == "run" for p in points)
    parent = mlops_api.get_run(report["run_id"])
    assert parent.kind == "sweep" and parent.status == "finished"
    assert parent.params == {"lr": [0.1, 0.3], "depth": [2]}
    children = parent.children
    assert len(children) == 2 and {c.kind for c in children} == {"notebook"}
    assert len({c.params["pid"] for c in children}) == 2  # separate kernels
    assert parent.tags["mlops.best_run"] == points[0]["run_id"]

    # One more value: only the new point runs, the others come from the cache.
    again = mlops_api.sweep(
        notebook, {"lr": [0.1, 0.3, 0.5], "depth": [2]}, jobs=2, sort="metrics.score:asc"
    )
    assert again.ok
    summary = again.summary
    assert list(summary["point"]) == ["lr=0.1,depth=2", "lr=0.3,depth=2", "lr=0.5,depth=2"]
    assert list(summary["status"]) == ["cached", "cached", "run"]
    assert again.best.name == "lr=0.1,depth=2"


def test_sweep_on_a_dask_local_cluster(project, notebook):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        result = mlops_api.sweep(
            notebook,
            {"lr": [0.5, 1.0], "depth": [3]},
            executor=f"dask://{address}",
            sort="metrics.score",
        )
        worker_pids = {w.process.pid for w in cluster.workers.values()}
    assert result.ok, result.summary
    assert list(result.summary["metrics.score"]) == pytest.approx([3.0, 1.5])
    runs = [mlops_api.get_run(r) for r in result.summary["run_id"]]
    assert all(r.status == "finished" for r in runs)
    assert all(any(a.path == "notebook.ipynb" for a in r.artifacts) for r in runs)
    kernels = {r.params["pid"] for r in runs}
    assert len(kernels) == 2 and not kernels & worker_pids


def test_a_failing_point_fails_the_sweep(project):
    write_notebook(
        project.root / "div.ipynb",
        "d = 1",
        "import mlops_nb as mlops\nmlops.log_metric('inv', 1 / d)",
    )
    result = mlops("sweep", "div.ipynb", "-p", "d", "0,2", "--jobs", "2")
    assert result.returncode == 1
    assert "1 of 2 points failed: d=0: cell 1 of div.ipynb raised ZeroDivisionError" in (
        result.stderr
    )


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"lr": ["fast"]}, "lr expects float"),
        ({"lrr": [0.1]}, "has no parameter 'lrr'"),
        ({"lr": []}, "non-empty list"),
        ({"lr": 0.1}, "non-empty list"),
        ({}, "non-empty mapping"),
    ],
)
def test_bad_grids_fail_before_anything_runs(project, notebook, grid, message):
    with pytest.raises(UsageError, match=message):
        mlops_api.sweep(notebook, grid)
    assert mlops_api.runs().empty


def test_bad_sort_and_missing_grid_are_usage_errors(project, notebook):
    with pytest.raises(UsageError, match="sort 'score'"):
        mlops_api.sweep(notebook, {"lr": [0.1]}, sort="score")
    result = mlops("sweep", "train.ipynb")
    assert result.returncode == 2 and "give the grid" in result.stderr


def test_cli_pipeline_on_a_dask_cluster_of_worker_processes(project):
    pytest.importorskip("distributed")
    write_notebook(project.root / "a.ipynb", "n = 1", SCORE.replace("lr * depth", "n"))
    (project.root / "p.yaml").write_text(
        "steps:\n  one: {notebook: a.ipynb, parameters: {n: 1}}\n"
        "  two: {notebook: a.ipynb, parameters: {n: 2}}\n"
    )
    result = mlops("pipeline", "run", "p.yaml", "--executor", "dask", "--jobs", "2", "--json")
    assert result.returncode == 0, result.stderr
    steps = {s["name"]: s for s in json.loads(result.stdout)["steps"]}
    assert {n: s["metrics"] for n, s in steps.items()} == {
        "one": {"score": 1.0},
        "two": {"score": 2.0},
    }
    runs = [mlops_api.get_run(s["run_id"]) for s in steps.values()]
    assert all(r.status == "finished" for r in runs)
    assert runs[0].params["pid"] != runs[1].params["pid"]


@pytest.mark.parametrize("ascending", [True, False])
def test_summary_sorts_ties_in_grid_order_and_points_without_the_metric_last(ascending):
    points = [
        StepResult("a", "failed", run_id="r1"),
        StepResult("b", "run", run_id="r2", metrics={"auc": 0.7}, parameters={"lr": 1}),
        StepResult("c", "run", run_id="r3", metrics={"auc": 0.9}, parameters={"lr": 2}),
        StepResult("d", "cached", run_id="r4", metrics={"auc": 0.7}, parameters={"lr": 3}),
    ]
    rows = summary_rows(points, {"lr": [1, 2, 3]}, ("metrics.auc", ascending))
    order = ["b", "d", "c", "a"] if ascending else ["c", "b", "d", "a"]
    assert [r["point"] for r in rows] == order
    result = SweepResult("sweep", points, rows)
    assert result.best.name == order[0]
    assert list(result.summary["point"]) == order
    assert result.summary["metrics.auc"].isna().tolist() == [False, False, False, True]
    assert list(result.summary.columns) == [
        "point",
        "status",
        "run_id",
        "params.lr",
        "metrics.auc",
        "duration",
    ]


def test_summary_sorted_by_a_metric_no_point_logged_keeps_every_point():
    points = [StepResult("a", "failed"), StepResult("b", "failed")]
    rows = summary_rows(points, {}, ("metrics.auc", False))
    assert [r["point"] for r in rows] == ["a", "b"]
    assert SweepResult("sweep", points, rows).best is None
