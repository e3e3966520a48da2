"""``mlops demo`` end to end, as a user runs it: a subprocess from a clean directory. The
demo runs once per module; each test then checks one promise against what it printed and
what it left in the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FEATURES = {"radius", "texture", "perimeter", "area"}


def _mlops(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", *args],
        cwd=cwd,
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
    )


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    # A stray store setting must not leak into the demo: it says so and ignores it.
    return env | {"MLOPS_STORE_URI": f"sqlite:///{home / 'elsewhere.db'}", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Run `mlops demo` once in an empty working directory; yield (folder, result)."""
    work = tmp_path_factory.mktemp("user")
    env = _clean_env(work)
    result = _mlops("demo", cwd=work, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    yield work / "mlops-demo", result, env


@pytest.fixture
def store(demo, monkeypatch):
    """The demo folder's store, opened in this process."""
    from mlops_nb.project import Project

    folder = demo[0]
    for name in ("MLOPS_STORE_URI", "MLOPS_ARTIFACT_URI", "MLOPS_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_HOME", str(folder))
    monkeypatch.chdir(folder)
    Project.forget()
    yield Project.find()
    Project.forget()


def test_demo_copies_the_examples_and_uses_its_own_embedded_store(demo):
    folder, result, _ = demo
    assert {"01_prepare.ipynb", "04_monitor.ipynb", "pipeline.yaml", "mlops.yaml"} <= {
        p.name for p in folder.iterdir()
    }
    assert (folder / ".mlops" / "mlops.db").is_file()
    assert (folder / ".mlops" / "blobs").is_dir()
    assert not (folder.parent / "elsewhere.db").exists()
    assert "ignoring MLOPS_STORE_URI" in result.stdout


def test_demo_prints_progress_and_a_summary(demo):
    _, result, _ = demo
    out = result.stdout
    for text in (
        "[1/3] Training pipeline",
        "[2/3] Monitoring",
        "[3/3] Summary",
        "week 1: drift share 0.000",
        "UNHEALTHY",
        "hash chain verified",
        "cd mlops-demo && jupyter lab",
        "MLOps tab",
        "Finished in",
    ):
        assert text in out, f"{text!r} missing from:\n{out}"
    assert "is in production (replacing cancer@" in out
    assert "none failed" in out
    progress = result.stderr
    assert "prepare: done" in progress and "evaluate: done" in progress


def test_the_pipeline_trained_a_sweep_and_promoted_the_best(store):
    import mlops_nb as mlops

    pipelines = mlops.runs(filter="kind == 'pipeline'").set_index("name")
    assert list(pipelines.loc[["cancer", "retrain"], "status"]) == ["finished", "finished"]
    steps = mlops.runs(filter=f"parent_id == '{pipelines.loc['cancer', 'run_id']}'")
    assert (steps["status"] == "finished").all()
    assert set(steps["name"]) == {
        "prepare",
        "train[model=logreg]",
        "train[model=forest]",
        "evaluate",
    }
    points = steps[steps["name"].str.startswith("train[")]
    best = points.sort_values("metrics.cv_auc").iloc[-1]
    versions = mlops.models("cancer")
    chosen = versions[versions["run_id"] == best["run_id"]].iloc[0]
    evaluate = steps[steps["name"] == "evaluate"].iloc[0]
    assert evaluate["params.candidate"] == f"cancer@{chosen['version']}"
    assert chosen["metrics.auc"] >= 0.95 and chosen["metrics.recall"] >= 0.85
    datasets = mlops.datasets()
    assert {"train", "test", "incoming", "production"} <= set(datasets["name"])


def test_monitoring_found_drift_only_after_the_first_week_and_retrained(store):
    import mlops_nb as mlops

    checks = mlops.runs(filter="kind == 'monitor'").sort_values("start_time")
    assert len(checks) >= 2
    first, last = checks.iloc[0], checks.iloc[-1]
    assert first["metrics.drift_share"] == 0.0 and first["metrics.healthy"] == 1
    assert last["metrics.dataset_drift"] == 1 and last["metrics.healthy"] == 0
    # Kolmogorov-Smirnov p-values of the size measurements the scanner inflates
    assert all(last[f"metrics.drift/{column}"] < 0.05 for column in FEATURES)
    assert all(first[f"metrics.drift/{column}"] >= 0.05 for column in FEATURES)
    pipelines = mlops.runs(filter="kind == 'pipeline'").set_index("name")
    retrained = mlops.runs(filter=f"parent_id == '{pipelines.loc['retrain', 'run_id']}'")
    champion = mlops.models("cancer").explode("aliases").set_index("aliases")
    assert champion.loc["production", "run_id"] in set(retrained["run_id"])


def test_the_audit_trail_is_complete_and_verified(store):
    import mlops_nb as mlops

    assert mlops.verify_audit()
    trail = mlops.audit("cancer")
    actions = list(trail["action"])
    assert actions.count("register") >= 2
    promoted = [
        d["alias"] for a, d in zip(actions, trail["details"], strict=True) if a == "promote"
    ]
    assert promoted.count("production") == 2 and promoted.count("staging") == 2


def test_the_pipeline_reruns_from_the_cache(demo):
    folder, _, env = demo
    env = {k: v for k, v in env.items() if not k.startswith("MLOPS_")} | {"MLOPS_HOME": str(folder)}
    result = _mlops("pipeline", "run", "pipeline.yaml", cwd=folder, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cached" in result.stdout + result.stderr


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "mlops-demo").mkdir()
    (tmp_path / "mlops-demo" / "notes.txt").write_text("keep me")
    result = _mlops("demo", cwd=tmp_path, env=_clean_env(tmp_path))
    assert result.returncode == 2
    assert "already exists and is not empty" in result.stderr
    assert "--dir" in result.stderr
    assert sorted(p.name for p in (tmp_path / "mlops-demo").iterdir()) == ["notes.txt"]
