"""monitor(): drift + model metrics + triggers, stored as runs; the CLI; the closed loop."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from test_pipelines_support import mlops as mlops_cli
from test_pipelines_support import write_notebook

import mlops_nb as mlops
from mlops_nb.errors import UsageError
from mlops_nb.project import Project
from mlops_nb.registry.api import get_model_version


def batch(n: int, seed: int, shift: float = 0.0, flip: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({"a": rng.normal(shift, 1, n), "b": rng.normal(0, 1, n)})
    label = (data.a + data.b > 0).astype(int)
    data["y"] = 1 - label if flip else label
    return data


def fitted(data: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(data[["a", "b"]], data["y"])


def write_config(project: Project, text: str) -> None:
    (project.root / "mlops.yaml").write_text(text, encoding="utf-8")
    Project.forget()


def register_champion(train: pd.DataFrame, test: pd.DataFrame) -> float:
    model = fitted(train)
    accuracy = float((model.predict(test[["a", "b"]]) == test.y).mean())
    version = mlops.register_model(model, "churn", metrics={"accuracy": accuracy})
    mlops.promote("churn", version.version, to="production", reason="first model")
    return accuracy


# --- the Python API -------------------------------------------------------------------------


def test_healthy_check_is_stored_as_a_monitor_run(any_project):
    train = batch(600, seed=1)
    register_champion(train, batch(300, seed=2))
    result = mlops.monitor(
        model="churn@production", reference=train, current=batch(400, seed=3), labels="y"
    )
    assert result.healthy, result.problems
    assert result.drift.drifted_columns == [] and result.degraded == []
    assert set(result.metrics) == {"accuracy", "precision", "recall", "f1", "auc"}
    assert result.baseline == {"accuracy": pytest.approx(result.comparisons[0].baseline)}
    assert result.model == "churn@1" and result.triggered is None
    run = mlops.get_run(result.run_id)
    assert run.kind == "monitor" and run.status == "finished" and run.experiment == "monitor"
    assert run.params["model"] == "churn@production"
    assert run.metrics["healthy"] == 1 and run.metrics["drift_share"] == 0
    assert run.metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])
    assert "drift/a" in run.metrics and "psi/b" in run.metrics
    artifacts = {a.path for a in run.artifacts}
    assert {"drift_report.html", "drift_report.json", "figures/a.svg", "figures/y.svg"} <= artifacts
    assert run.tags["healthy"] == "True"


def test_drift_and_degradation_make_the_check_unhealthy_without_starting_anything(project):
    write_config(
        project,
        "monitor:\n  triggers:\n    - when: metrics.accuracy < 0.8\n      run: retrain.yaml\n",
    )
    (project.root / "retrain.yaml").write_text("steps: {}\n", encoding="utf-8")
    train = batch(600, seed=4)
    register_champion(train, batch(300, seed=5))
    current = batch(400, seed=6, shift=1.0, flip=True)
    result = mlops.monitor(
        model="churn@production", reference=train, current=current, labels="y", trigger=False
    )
    assert not result.healthy
    assert "a" in result.drift.drifted_columns
    assert "accuracy" in result.degraded
    assert [f.when for f in result.fired] == ["metrics.accuracy < 0.8"]
    assert not result.fired[0].started and result.triggered is None
    assert any(p.startswith("accuracy degraded") for p in result.problems)
    assert mlops.get_run(result.run_id).metrics["healthy"] == 0


def test_model_object_without_registration_and_regression_metrics(project):
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"u": rng.normal(size=400), "v": rng.normal(size=400)})
    data["t"] = 3 * data.u - data.v + rng.normal(0, 0.1, 400)
    model = LinearRegression().fit(data[["u", "v"]], data.t)
    current = data.sample(200, random_state=1).reset_index(drop=True)
    current.loc[:49, "t"] = np.nan  # labels not in yet
    result = mlops.monitor(model=model, reference=data, current=current, labels="t")
    assert set(result.metrics) == {"rmse", "mae", "r2"}
    assert result.baseline_source == "reference" and result.comparisons  # no registration
    assert mlops.get_run(result.run_id).metrics["labelled_rows"] == 150
    assert result.healthy


def test_labels_not_arrived_and_triggers_on_missing_values_are_notes(project):
    write_config(project, "monitor:\n  triggers:\n    - when: metrics.auc < 0.7\n")
    train = batch(400, seed=8)
    current = batch(200, seed=9)
    current["y"] = np.nan
    result = mlops.monitor(model=fitted(train), reference=train, current=current, labels="y")
    assert result.metrics == {} and result.healthy
    assert any("no labelled rows" in n for n in result.notes)
    assert any("not evaluated: this check has no metrics.auc" in n for n in result.notes)


def test_drift_only_check_and_the_active_run_as_parent(project):
    write_config(project, "monitor:\n  triggers:\n    - when: drift_share > 0.3\n")
    with mlops.start_run("notebook") as parent:
        result = mlops.monitor(reference=batch(300, 10), current=batch(300, 11, shift=2))
    assert not result.healthy and result.fired[0].when == "drift_share > 0.3"
    assert mlops.get_run(result.run_id).parent_id == parent.run_id


def test_bad_monitor_inputs(project):
    train = batch(100, seed=12)
    with pytest.raises(UsageError, match="current batch is empty"):
        mlops.monitor(reference=train, current=train.iloc[:0])
    with pytest.raises(UsageError, match="nothing to check"):
        mlops.monitor(model=fitted(train), current=train)
    with pytest.raises(UsageError, match="label column 'label' is not in the batch"):
        mlops.monitor(model=fitted(train), current=train, labels="label")
    with pytest.raises(UsageError, match="lacks feature column"):
        mlops.monitor(model=fitted(train), current=train.drop(columns="b"), labels="y")
    write_config(
        project, "monitor:\n  triggers:\n    - when: drift_share > 0\n      run: no.yaml\n"
    )
    with pytest.raises(UsageError, match="no such pipeline file"):
        mlops.monitor(reference=train, current=train)
    assert mlops.runs(filter="kind == 'monitor'").empty  # nothing recorded for bad input


# --- the command line -------------------------------------------------------------------------


def test_cli_exit_codes_and_json(project):
    batch(500, seed=13).to_csv(project.root / "ref.csv", index=False)
    batch(500, seed=14).to_csv(project.root / "same.csv", index=False)
    batch(500, seed=15, shift=1.5).to_parquet(project.root / "shifted.parquet")
    batch(0, seed=16).to_csv(project.root / "empty.csv", index=False)

    healthy = mlops_cli("monitor", "--reference", "ref.csv", "--current", "same.csv")
    assert healthy.returncode == 0, healthy.stderr
    assert "healthy (run" in healthy.stdout

    drifted = mlops_cli("monitor", "-r", "ref.csv", "-c", "shifted.parquet", "--json")
    assert drifted.returncode == 1, drifted.stderr
    data = json.loads(drifted.stdout)
    assert data["healthy"] is False and "a" in data["drift"]["drifted_columns"]
    assert "plot" not in data["drift"]["columns"][0]

    for args, message in [
        (["-r", "ref.csv", "-c", "empty.csv"], "current batch is empty"),
        (["-r", "ref.csv", "-c", "missing.csv"], "no file 'missing.csv'"),
        (["-r", "ref.csv"], "Missing option '--current'"),
        (["-c", "same.csv"], "nothing to check: give a reference"),
        (["-r", "ref.csv", "-c", "same.csv", "-m", "ghost@production"], "ghost"),
    ]:
        bad = mlops_cli("monitor", *args)
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
        assert message in bad.stderr, bad.stderr


# --- the closed loop ---------------------------------------------------------------------------

RETRAIN = """\
import mlops_nb as mlops
from sklearn.linear_model import LogisticRegression

data = mlops.load_dataset("production@latest")
train, test = data.iloc[::2], data.iloc[1::2]
model = LogisticRegression().fit(train[["a", "b"]], train["y"])
accuracy = float((model.predict(test[["a", "b"]]) == test["y"]).mean())
mlops.log_metric("accuracy", accuracy)
version = mlops.register_model(model, "churn", metrics={"accuracy": accuracy})
mlops.promote("churn", version.version, to="production", reason="retrained: monitor trigger")
"""


@pytest.mark.slow
def test_label_flip_triggers_retraining_and_promotion_end_to_end(project):
    write_config(
        project,
        "promotion:\n  production:\n    require:\n      - metrics.accuracy >= 0.9\n"
        "monitor:\n  triggers:\n    - when: drift_share > 0.5 or metrics.accuracy < 0.8\n"
        "      run: retrain.yaml\n",
    )
    write_notebook(project.root / "retrain.ipynb", None, RETRAIN)
    (project.root / "retrain.yaml").write_text(
        "name: retrain\nsteps:\n  train:\n    notebook: retrain.ipynb\n"
        "    inputs: [production@latest]\n    outputs: [{model: churn}]\n",
        encoding="utf-8",
    )
    train = batch(600, seed=20)
    mlops.snapshot(train, "train")
    register_champion(train, batch(300, seed=21))
    mlops.capture(batch(400, seed=22, flip=True), name="production")

    cli = mlops_cli(
        "monitor", "--model", "churn@production", "--reference", "train@latest",
        "--current", "production@latest", "--labels", "y", "--json", timeout=600,
    )  # fmt: skip
    assert cli.returncode == 1, cli.stderr
    check = json.loads(cli.stdout)
    assert check["degraded"] and "accuracy" in check["degraded"]
    fired = check["triggers"][0]
    assert fired["started"] and fired["ok"], fired

    monitor_run = mlops.get_run(check["run_id"])
    pipeline_run = mlops.get_run(fired["run_id"])
    assert monitor_run.tags["triggered_run_id"] == pipeline_run.run_id
    assert pipeline_run.tags["triggered_by"] == monitor_run.run_id
    assert pipeline_run.kind == "pipeline" and pipeline_run.status == "finished"
    assert get_model_version("churn@production").version == 2

    again = mlops.monitor(
        model="churn@production", reference="train@latest", current="production@latest",
        labels="y", trigger=False,
    )  # fmt: skip
    assert again.model == "churn@2" and again.metrics["accuracy"] > 0.9
    assert again.degraded == []


def test_monitor_is_callable_whatever_was_imported_first(project):
    code = (
        "import mlops_nb as mlops, mlops_nb.monitor.methods, pandas as pd\n"
        "frame = pd.DataFrame({'x': [1.0, 2.0, 3.0] * 20})\n"
        "mlops.detect_drift(frame, frame)\n"
        "print(mlops.monitor(reference=frame, current=frame).healthy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr


def test_a_failing_retraining_pipeline_is_recorded_not_raised(project):
    write_config(
        project, "monitor:\n  triggers:\n    - {when: drift_share > 0, run: re.yaml, jobs: 2}\n"
    )
    write_notebook(project.root / "boom.ipynb", None, "raise ValueError('no data')")
    (project.root / "re.yaml").write_text("steps:\n  train:\n    notebook: boom.ipynb\n")
    result = mlops.monitor(reference=batch(300, 30), current=batch(300, 31, shift=2))
    fired = result.fired[0]
    assert fired.started and fired.ok is False and not result.healthy
    assert any(p.startswith("pipeline re.yaml failed") for p in result.problems)
    run = mlops.get_run(result.run_id)
    assert run.status == "finished" and run.tags["triggered_run_id"] == fired.run_id
    pipeline_run = mlops.get_run(fired.run_id)
    assert pipeline_run.status == "failed" and pipeline_run.tags["mlops.jobs"] == "2"


def test_multiclass_metrics_and_a_batch_with_one_class(project):
    rng = np.random.default_rng(40)
    data = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    data["y"] = np.select([data.a < -0.5, data.a > 0.5], ["low", "high"], "mid")
    model = LogisticRegression().fit(data[["a", "b"]], data.y)
    result = mlops.monitor(model=model, current=data.iloc[:300], labels="y")
    assert set(result.metrics) == {"accuracy", "precision", "recall", "f1", "auc"}
    assert result.metrics["auc"] > 0.9 and result.drift is None
    one_class = data[data.y == "high"]
    result = mlops.monitor(model=model, current=one_class, labels="y")
    assert "auc" not in result.metrics and result.metrics["accuracy"] > 0.8
