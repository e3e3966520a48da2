"""The example project: its files are complete and valid, and each notebook runs on its own
with plain papermill, in order, on a fresh store (01 -> 02 -> 03 -> 04, retraining included).
``tests/test_demo.py`` runs the same project as pipelines through ``mlops demo``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from mlops_nb.errors import UsageError
from mlops_nb.examples import copy_examples, example_files, examples_dir

NOTEBOOKS = ["01_prepare.ipynb", "02_train.ipynb", "03_evaluate.ipynb", "04_monitor.ipynb"]
FEATURES = ["radius", "texture", "perimeter", "area"]


def _notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(examples_dir() / name, as_version=4)


def test_the_example_project_is_complete():
    files = set(example_files())
    expected = {*NOTEBOOKS, "pipeline.yaml", "retrain.yaml", "mlops.yaml", "README.md"}
    assert expected <= files
    assert not any(".ipynb_checkpoints" in f or f.startswith(".mlops") for f in files)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_clean_documents(name):
    nb = _notebook(name)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one papermill parameters cell"
    assert "%load_ext mlops_nb" in code[0].source and "%mlops track" in code[0].source
    markdown = sum(c.cell_type == "markdown" for c in nb.cells)
    assert markdown >= len(code) / 2, "each step is explained"


def test_pipelines_and_config_validate(tmp_path):
    from mlops_nb.config import load_config
    from mlops_nb.data.checks import validate_rules
    from mlops_nb.monitor.settings import load_settings
    from mlops_nb.pipelines.spec import load_pipeline
    from mlops_nb.registry.policy import policy_for

    folder = copy_examples(tmp_path / "ex")
    training = load_pipeline(folder / "pipeline.yaml")
    assert training.order == ["prepare", "train", "evaluate"]
    retraining = load_pipeline(folder / "retrain.yaml")
    assert retraining.steps["prepare"].parameters == {"with_feedback": True}
    config = load_config(folder)
    for name, rules in config["checks"].items():
        validate_rules(rules, name)
    settings = load_settings(config)
    assert [(t.run, t.jobs) for t in settings.triggers] == [("retrain.yaml", 2)]
    for alias in ("staging", "production"):
        assert policy_for(config, alias).gates


def test_copy_refuses_a_folder_that_is_not_empty(tmp_path):
    target = tmp_path / "demo"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        copy_examples(target)
    assert sorted(os.listdir(target)) == ["keep.txt"]
    with pytest.raises(UsageError, match="is a file"):
        copy_examples(target / "keep.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (copy_examples(empty) / "pipeline.yaml").is_file()


def _papermill(folder: Path, name: str, **parameters) -> nbformat.NotebookNode:
    """Execute a notebook with stock papermill in the venv's python3 kernel."""
    import papermill

    out = folder / f"out-{name}"
    papermill.execute_notebook(
        str(folder / name),
        str(out),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(folder),
        progress_bar=False,
    )
    return nbformat.read(out, as_version=4)


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") if output.output_type == "stream" else "")
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.slow
def test_each_notebook_runs_alone_with_papermill_in_order(project):
    import mlops_nb as mlops
    from mlops_nb.project import Project

    shutil.copytree(examples_dir(), project.root, dirs_exist_ok=True)  # its mlops.yaml too
    Project.forget()
    folder = project.root

    _papermill(folder, NOTEBOOKS[0])
    versions = mlops.datasets()
    assert set(versions["name"]) == {"train", "test", "incoming"}
    assert dict(zip(versions["name"], versions["rows"], strict=True)) == {
        "train": 298,
        "test": 100,
        "incoming": 171,
    }
    prepare = mlops.runs(filter="name == 'prepare'")
    assert list(prepare["status"]) == ["finished"]

    _papermill(folder, NOTEBOOKS[1], C=0.5)
    train_run = mlops.runs(filter="name == 'train'").iloc[0]
    assert train_run["params.C"] == 0.5
    history = mlops.get_run(train_run["run_id"]).metric_history("fold_auc")
    assert list(history["step"]) == [1, 2, 3, 4, 5]
    registered = mlops.models("cancer")
    assert list(registered["version"]) == [1]
    assert registered.iloc[0]["metrics.auc"] > 0.95

    evaluated = _papermill(folder, NOTEBOOKS[2], candidate="cancer@1")
    assert "audit trail intact" in _text(evaluated)
    aliases = mlops.models("cancer").iloc[0]["aliases"]
    assert set(aliases) == {"staging", "production"}

    monitored = _papermill(folder, NOTEBOOKS[3])
    checks = mlops.runs(filter="kind == 'monitor'").sort_values("start_time")
    shares = list(checks["metrics.drift_share"])
    assert shares[0] == 0.0 and checks.iloc[0]["metrics.healthy"] == 1  # week 1: no drift
    assert shares[-1] >= 0.3 and checks.iloc[-1]["metrics.dataset_drift"] == 1
    assert all(checks.iloc[-1][f"metrics.drift/{column}"] < 0.05 for column in FEATURES)
    assert "4 of 11 columns drifted" in _text(monitored)
    retrain = mlops.runs(filter="kind == 'pipeline'")
    assert list(retrain["name"]) == ["retrain"] and list(retrain["status"]) == ["finished"]
    holders = mlops.models("cancer").explode("aliases").set_index("aliases")["version"]
    assert holders["production"] > 1, "a retrained challenger replaced the first model"
    assert mlops.verify_audit()
    actions = list(mlops.audit("cancer")["action"])
    assert actions.count("register") == 3  # the first model, then a grid of two challengers
    assert actions.count("promote") == 4
