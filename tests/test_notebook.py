"""The notebook face end to end: generated notebooks executed by nbclient in a real
``python3`` kernel (MLOPS_HOME pointing at a temporary project), asserted on the store."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import mlops_nb as mlops
from mlops_nb.tracking.runs import create_run, end_run

pytestmark = pytest.mark.slow

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

TRAIN = [
    "%load_ext mlops_nb",
    "import math\nepochs = 4",
    "%mlops track trainer --experiment churn --tag team=risk",
    "%mlops param lr=0.1 epochs model='rf'",
    "import mlops_nb as mlops\nfor step in range(epochs):\n"
    "    mlops.log_metric('loss', 1 / (step + 1), step=step)\nacc = 0.91",
    "%mlops log acc auc=0.88",
    "%mlops stop",
]


def write_notebook(folder: Path, sources: Sequence[str], name: str = "train.ipynb") -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    path = folder / name
    nbformat.write(notebook, path)
    return path


def run_cells(path: Path, order: Sequence[int] | None = None, env: dict | None = None):
    """Execute the notebook's cells (all, or by index in ``order``) in a fresh kernel, as
    JupyterLab would run it (the kernel knows its notebook through JPY_SESSION_NAME)."""
    notebook = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.update({"JPY_SESSION_NAME": str(path), **(env or {})})
    try:
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            allow_errors=True,
            timeout=120,
            resources={"metadata": {"path": str(path.parent)}},
        )
        with client.setup_kernel():
            for index in range(len(notebook.cells)) if order is None else order:
                client.execute_cell(notebook.cells[index], index)
            client.set_widgets_metadata()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


def errors(notebook) -> list[tuple[str, list[str]]]:
    return [
        (output.ename, output.traceback)
        for cell in notebook.cells
        for output in cell.outputs
        if output.output_type == "error"
    ]


def only_run(kind: str = "notebook") -> mlops.Run:
    frame = mlops.runs()
    ids = list(frame[frame["kind"] == kind]["run_id"])
    assert len(ids) == 1, frame[["name", "kind", "status"]]
    return mlops.get_run(ids[0])


def widget_models(notebook) -> list[dict]:
    return list(notebook.metadata["widgets"][WIDGET_STATE]["state"].values())


def test_clean_top_to_bottom_run_is_recorded_and_reproducible(project):
    path = write_notebook(project.root, TRAIN)
    notebook = run_cells(path)
    assert errors(notebook) == []
    run = only_run()
    assert (run.name, run.experiment, run.status) == ("trainer", "churn", "finished")
    assert run.notebook_path == "train.ipynb"  # relative to the project root, as runners record
    assert run.tags["team"] == "risk"
    assert run.params == {"lr": 0.1, "epochs": 4, "model": "rf"}
    assert run.metrics == {"loss": 0.25, "acc": 0.91, "auc": 0.88}
    assert list(run.metric_history("loss")["step"]) == [0, 1, 2, 3]
    cells = run.cells
    assert list(cells["source"]) == TRAIN[2:]  # from the %mlops track cell on, in order
    assert list(cells["execution_count"]) == [3, 4, 5, 6, 7]
    assert cells["ok"].all() and cells["duration"].notna().all()
    assert run.reproducible is True and run.reproducibility_notes == []
    assert [a.path for a in run.artifacts] == ["train.ipynb"]
    # The status widget is in the saved widget state, showing the run.
    htmls = [
        m["state"].get("value", "")
        for m in widget_models(notebook)
        if m["model_name"] == "HTMLModel"
    ]
    assert any("trainer" in value and run.run_id[:8] in value for value in htmls)
    # and its text/html fallback is in the output for viewers without widgets
    bundle = notebook.cells[2].outputs[0]["data"]
    assert {"text/html", "text/plain", "application/vnd.jupyter.widget-view+json"} <= set(bundle)


def test_out_of_order_execution_is_flagged(project):
    path = write_notebook(project.root, TRAIN)
    run_cells(path, order=[0, 1, 2, 4, 3, 5, 6])  # training ran before the param cell
    run = only_run()
    assert run.reproducible is False
    assert run.reproducibility_notes == ["out of order: cell 4 (In [5]) ran after cell 5"]


def test_rerun_cell_is_flagged_and_param_history_kept(project):
    sources = [*TRAIN[:6], "%mlops param lr=0.2", TRAIN[6]]
    path = write_notebook(project.root, sources)
    # train, then change lr and re-run the training cell, then change lr again and stop
    notebook = run_cells(path, order=[0, 1, 2, 3, 4, 5, 6, 4, 3, 7])
    assert errors(notebook) == []
    run = only_run()
    assert run.reproducible is False
    notes = run.reproducibility_notes
    assert "re-run: cell 4 ran 2 times, cell 5 ran 2 times" in notes
    assert any(n.startswith("out of order: ") for n in notes)
    # the param cell re-ran with lr=0.1 after the last metrics, which saw lr=0.2
    assert "param changed: lr is 0.1 but the final metrics were logged with lr=0.2" in notes
    assert list(run.param_history("lr")["value"]) == [0.1, 0.2, 0.1]
    assert json.loads(run.tags["mlops.params_at_final_metrics"]) == {"lr": 0.2}


def test_failed_cell_edited_cell_and_hidden_state_are_flagged(project):
    sources = [
        "%load_ext mlops_nb",
        "%mlops track",
        "ratio = 1 / 0",
        "total = secret + 1",
        "%mlops stop",
    ]
    path = write_notebook(project.root, sources)
    notebook = nbformat.read(path, as_version=4)
    stray = nbformat.v4.new_code_cell("secret = 41")  # run, but not in the saved notebook
    notebook.cells.insert(1, stray)
    nbformat.write(notebook, path.with_name("scratch.ipynb"))
    saved = dict(os.environ)
    os.environ["JPY_SESSION_NAME"] = str(path)
    try:
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            allow_errors=True,
            timeout=120,
            resources={"metadata": {"path": str(path.parent)}},
        )
        with client.setup_kernel():
            for index in range(5):
                client.execute_cell(notebook.cells[index], index)
            edited = nbformat.read(path, as_version=4)
            edited.cells[3].source = "total = 0"  # edited and saved after it ran
            nbformat.write(edited, path)
            client.execute_cell(notebook.cells[5], 5)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    run = only_run()
    assert run.reproducible is False
    assert run.reproducibility_notes == [
        "failed: cell 3 (In [4]) raised ZeroDivisionError",
        "skipped: cell 4 never ran",  # the saved cell 4 is not the code that ran
        "edited: In [5] ran code that the saved notebook does not contain (edited or deleted "
        "after it ran)",
        "hidden state: used secret defined before tracking started",
    ]
    assert list(run.cells["error_type"].fillna("")) == ["", "ZeroDivisionError", "", ""]


def test_rerunning_the_track_cell_starts_a_fresh_run(project):
    sources = ["%load_ext mlops_nb", "%mlops track", "x = 1", "%mlops stop"]
    path = write_notebook(project.root, sources, name="explore.ipynb")
    notebook = run_cells(path, order=[0, 1, 2, 1, 2, 3])
    assert errors(notebook) == []
    assert "finished run 'explore'" in notebook.cells[1].outputs[-2]["text"]
    runs = mlops.runs().sort_values("start_time")
    assert list(runs["name"]) == ["explore", "explore"]
    assert list(runs["status"]) == ["finished", "finished"]
    first, second = (mlops.get_run(r) for r in runs["run_id"])
    assert len(first.cells) == 2 and len(second.cells) == 3
    assert second.reproducible is True  # x was re-created after the fresh start


def test_cell_magic_runs_the_cell_as_a_child_run(project):
    sources = [
        "%load_ext mlops_nb",
        "%mlops track parent",
        "%%mlops track fold-1 --metrics score,n\nscore = 0.75\nn = 10",
        "%%mlops track fold-2\nraise ValueError('bad fold')",
        "%mlops stop",
    ]
    notebook = run_cells(write_notebook(project.root, sources))
    parent = only_run()
    children = {child.name: child for child in parent.children}
    assert children["fold-1"].metrics == {"score": 0.75, "n": 10.0}
    assert children["fold-1"].status == "finished"
    assert children["fold-1"].kind == "cell"
    assert children["fold-1"].reproducible is True  # the notebook's verdict when it ran
    assert children["fold-2"].status == "failed"
    name, traceback = errors(notebook)[-1]
    assert name == "ValueError" and traceback[-1].endswith("(run 'fold-2' marked failed)")
    assert list(parent.cells["error_type"].fillna("")) == ["", "", "ValueError", ""]


def test_headless_kernel_records_into_the_runner_s_run(project):
    sources = [
        "%load_ext mlops_nb",
        "import mlops_nb as mlops\nmlops.log_metric('auc', 0.7)",
        "%mlops track",
        "%mlops stop",
    ]
    path = write_notebook(project.root, sources)
    run = create_run(project, "step", kind="notebook", notebook_path="train.ipynb")
    notebook = run_cells(path, env={"MLOPS_RUN_ID": run.run_id, "JPY_SESSION_NAME": ""})
    assert errors(notebook) == []
    assert "belongs to the runner" in notebook.cells[3].outputs[-1]["text"]
    assert run.status == "running"  # the runner ends it, not the notebook
    assert run.metrics == {"auc": 0.7}
    assert list(run.cells["source"]) == sources
    assert run.reproducible is True
    end_run(project, run.run_id)
    assert [r for r in mlops.runs()["run_id"]] == [run.run_id]


def test_papermill_run_with_injected_parameters_is_reproducible(project):
    import papermill

    sources = [
        "%load_ext mlops_nb",
        "alpha = 1",
        "import mlops_nb as mlops\nmlops.log_metric('alpha', alpha)",
    ]
    path = write_notebook(project.root, sources)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[1].metadata["tags"] = ["parameters"]
    nbformat.write(notebook, path)
    run = create_run(project, "step", kind="notebook", notebook_path=str(path))
    saved = dict(os.environ)
    os.environ["MLOPS_RUN_ID"] = run.run_id
    try:
        papermill.execute_notebook(
            str(path),
            str(path.with_name("out.ipynb")),
            parameters={"alpha": 3},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(project.root),
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert run.metrics == {"alpha": 3.0}
    assert len(run.cells) == 4  # with papermill's injected-parameters cell
    assert run.reproducible is True, run.reproducibility_notes
