"""``mlops reproduce``: re-execute a recorded run and compare its metrics."""

from __future__ import annotations

import json

from test_pipelines_support import mlops, write_notebook

import mlops_nb as mlops_api


def test_a_deterministic_run_reproduces(project):
    write_notebook(
        project.root / "det.ipynb",
        "n = 10",
        "import mlops_nb as mlops\nmlops.log_metrics(total=sum(range(n)), half=n / 2)",
    )
    run = json.loads(mlops("run", "det.ipynb", "-p", "n", "20", "--json").stdout)
    result = mlops("reproduce", run["run_id"][:8], "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["differences"] == []
    copy = mlops_api.get_run(report["run_id"])
    assert copy.tags["mlops.reproduces"] == run["run_id"]
    assert copy.params["n"] == 20 and copy.metrics == {"total": 190.0, "half": 10.0}
    assert mlops_api.get_run(run["run_id"]).tags["mlops.reproduced"] == "true"


def test_a_drifting_run_does_not_reproduce(project):
    (project.root / "state.txt").write_text("1.0")
    write_notebook(
        project.root / "drift.ipynb",
        "scale = 1.0",
        "import mlops_nb as mlops\n"
        "mlops.log_metric('score', scale * float(open('state.txt').read()))\n"
        "mlops.log_metric('fixed', 3.0)",
    )
    original = mlops_api.run_notebook(project.root / "drift.ipynb", {"scale": 2.0})
    (project.root / "state.txt").write_text("1.0000001")
    assert mlops_api.reproduce(original.run_id, tolerance=1e-6).ok  # within tolerance
    (project.root / "state.txt").write_text("1.5")
    result = mlops("reproduce", original.run_id)
    assert result.returncode == 1
    assert "did not reproduce (1 differences" in result.stderr
    assert "score" in result.stdout and "fixed" not in result.stdout
    result = mlops_api.reproduce(original.run_id)
    assert not result.ok
    row = result.differences.iloc[0]
    assert (row["kind"], row["name"], row["recorded"], row["reproduced"]) == (
        "metric",
        "score",
        2.0,
        3.0,
    )
    assert mlops_api.get_run(original.run_id).tags["mlops.reproduced"] == "false"


def test_dataset_refs_are_pinned_to_the_versions_the_run_read(project):
    import pandas as pd

    mlops_api.snapshot(pd.DataFrame({"a": [1.0, 2.0]}), "train")
    write_notebook(
        project.root / "ref.ipynb",
        "data = 'train@latest'",
        "import mlops_nb as mlops\n"
        "mlops.log_metric('total', float(mlops.load_dataset(data)['a'].sum()))",
    )
    original = mlops_api.run_notebook(project.root / "ref.ipynb")
    assert original.metrics == {"total": 3.0}
    mlops_api.snapshot(pd.DataFrame({"a": [5.0, 5.0]}), "train")  # latest moves on
    result = mlops_api.reproduce(original.run_id)
    assert result.ok, result.differences
    assert mlops_api.get_run(result.run_id).params["data"] == "train@1"


def test_a_run_without_a_notebook_cannot_be_reproduced(project):
    with mlops_api.start_run("manual") as run:
        mlops_api.log_metric("x", 1.0)
    result = mlops("reproduce", run.run_id)
    assert result.returncode == 2 and "has no recorded notebook" in result.stderr
    assert mlops("reproduce", "feedbeef").returncode == 2
