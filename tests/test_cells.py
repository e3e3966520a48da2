"""Cell history in the core: storing records, reading them back, and the reproducibility
verdict (no kernel here; tests/test_notebook.py drives real kernels)."""

from __future__ import annotations

import json

import pytest

import mlops_nb as mlops
from mlops_nb.tracking import cell_store
from mlops_nb.tracking import cells as core


def records(*sources: str, failed: int | None = None) -> list[core.CellRecord]:
    out = []
    for seq, source in enumerate(sources):
        record = core.CellRecord(seq, source, 100.0 + seq, execution_count=seq + 1)
        record.ended_at, record.ok = 100.5 + seq, seq != failed
        record.error_type = "KeyError" if seq == failed else None
        out.append(record)
    return out


def document(tmp_path, *sources: str, ids: bool = False, skip: int | None = None) -> core.Document:
    """A saved notebook: a title, then these code cells (``skip``: the one tagged
    skip-execution, by its index among them)."""
    cells = [{"cell_type": "markdown", "source": "# title", "metadata": {}}] + [
        {
            "cell_type": "code",
            "source": s,
            "metadata": {"tags": ["skip-execution"]} if i == skip else {},
            "outputs": [],
            "execution_count": None,
            **({"id": f"c{i}"} if ids else {}),
        }
        for i, s in enumerate(sources)
    ]
    path = tmp_path / "nb.ipynb"
    path.write_text(
        json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    found = core.read_document(path)
    assert found is not None
    return found


def test_clean_history_is_reproducible(tmp_path):
    doc = document(tmp_path, "a = 1", "", "b = a + 1")
    assert core.assess(records("a = 1", "b = a + 1"), doc) == (True, [])


@pytest.mark.parametrize(
    ("executed", "failed", "note"),
    [
        (["a = 1", "b = a + 1", "b = a + 1"], None, "re-run: cell 3 ran 2 times"),
        (["b = a + 1", "a = 1"], None, "out of order: cell 2 (In [2]) ran after cell 3"),
        (["a = 1", "c = 3"], None, "skipped: cell 3 never ran"),
        (["a = 1", "b = a + 1"], 1, "failed: cell 3 (In [2]) raised KeyError"),
        (["a = 1", "b = 2 * a"], None, "edited: In [2] ran code that the saved notebook does not"),
    ],
)
def test_each_problem_has_its_reason(tmp_path, executed, failed, note):
    doc = document(tmp_path, "a = 1", "b = a + 1", "c = 3")
    reproducible, notes = core.assess(records(*executed, failed=failed), doc)
    assert reproducible is False
    assert any(n.startswith(note) for n in notes), notes


def test_cell_ids_tell_edits_from_reruns(tmp_path):
    doc = document(tmp_path, "a = 1", "b = a + 2", ids=True)
    history = records("a = 1", "b = a + 1")
    history[0].cell_id, history[1].cell_id = "c0", "c1"
    history[1].ended_at = 0.0  # ran before the file was saved with the new source
    assert core.assess(history, doc)[1] == ["edited: cell 3 (In [2]) changed after it ran"]
    history[1].ended_at = doc.mtime + 10  # ran after the last save: not saved yet
    assert core.assess(history, doc)[1] == [
        "edited: cell 3 (In [2]) ran code that is not saved yet; save the notebook"
    ]


def test_hidden_state_is_names_from_before_tracking_not_recreated(tmp_path):
    doc = document(
        tmp_path,
        "import pandas as pd\ndf = pd.DataFrame()",
        "%mlops track",
        "model = fit(df, secret)",
    )
    history = records("%mlops track", "model = fit(df, secret)")
    pre = {"df", "secret", "unused"}
    assert core.assess(history, doc, pre)[1] == [
        "hidden state: used secret defined before tracking started"
    ]
    assert core.assess(history, None, pre)[1] == [  # no notebook: df is hidden state too
        "hidden state: used df, secret defined before tracking started"
    ]
    redefined = records("%mlops track", "secret = 1\ndf = 2", "model = fit(df, secret)")
    assert core.assess(redefined, None, pre) == (True, [])


def test_cells_tagged_skip_execution_are_exploration(tmp_path):
    doc = document(tmp_path, "a = 1", "a = 100  # try a big one", "b = a + 1", skip=1)
    assert core.assess(records("a = 1", "b = a + 1"), doc) == (True, [])  # left out: fine
    tried = records("a = 1", "b = a + 1", "a = 100  # try a big one", "a = 100  # try a big one")
    assert core.assess(tried, doc) == (True, [])  # ran last, twice: nothing depends on it
    assert core.assess(records("a = 1", "a = 100  # try a big one", "b = a + 1"), doc)[1] == [
        "hidden state: cell 3 tagged skip-execution ran before later cells; "
        "a top-to-bottom run leaves it out"
    ]


def test_injected_runner_cells_are_not_problems(tmp_path):
    doc = document(tmp_path, "alpha = 1", "print(alpha)")
    history = records("%load_ext mlops_nb", "alpha = 1", "# Parameters\nalpha = 3", "print(alpha)")
    assert core.assess(history, doc) == (True, [])


def test_history_round_trips_and_verdict_is_stored(any_project):
    run = mlops.start_run("nb")
    history = records("x = 1", "y = x / 0", failed=1)
    history.append(core.CellRecord(2, "x = 1", 200.0))  # still running: no end yet
    cell_store.store_cells(any_project, run.run_id, history, (False, ["failed: it"]))
    history[2].ended_at, history[2].ok = 201.0, True
    cell_store.store_cells(any_project, run.run_id, history[2:], discard=[1])
    cells = mlops.get_run(run.run_id).cells
    assert list(cells.columns) == core.HISTORY_COLUMNS
    assert list(cells["seq"]) == [0, 2]
    assert list(cells["source"]) == ["x = 1", "x = 1"]
    assert cells["source_digest"].nunique() == 1
    assert list(cells["duration"]) == [0.5, 1.0]
    assert run.reproducible is False and run.reproducibility_notes == ["failed: it"]
    assert [r.seq for r in cell_store.load_cells(any_project, run.run_id)] == [0, 2]


def test_param_changed_after_final_metrics_is_noted(project):
    run = mlops.start_run()
    mlops.log_param("lr", 0.1)
    mlops.log_metric("auc", 0.8)
    run.metrics  # noqa: B018 - ingest the points now
    mlops.log_param("lr", 0.2)
    seen, notes = cell_store.param_notes(project, run.run_id)
    assert seen == {"lr": 0.1}
    assert notes == ["param changed: lr is 0.2 but the final metrics were logged with lr=0.1"]
    mlops.log_metric("auc", 0.9)
    run.metrics  # noqa: B018
    assert cell_store.param_notes(project, run.run_id) == ({"lr": 0.2}, [])


# --- a runner's kernel: recording starts before the run is looked up -------------------------


@pytest.fixture
def shell(monkeypatch):
    """An in-process IPython shell whose capture looks its run up only when asked (no writer
    thread), so cells are recorded before the lookup every time."""
    from IPython.core.interactiveshell import InteractiveShell

    from mlops_nb.notebook.cells import CellCapture

    monkeypatch.setattr(CellCapture, "_start_writer", lambda self: None)
    instance = InteractiveShell.instance()
    yield instance
    InteractiveShell.clear_instance()


def test_cells_recorded_before_the_lookup_follow_the_runs_stored_cells(project, shell, monkeypatch):
    from mlops_nb.notebook.extension import load

    run = mlops.start_run("headless")
    cell_store.store_cells(project, run.run_id, records("a = 1", "b = a"))
    monkeypatch.setenv("MLOPS_RUN_ID", run.run_id)
    load(shell)
    shell.run_cell("c = 2", store_history=True)
    shell.run_cell("d = c + 1", store_history=True)
    shell._mlops_capture.finish()
    stored = cell_store.load_cells(project, run.run_id)
    assert [(c.seq, c.source) for c in stored] == [
        (0, "a = 1"),
        (1, "b = a"),
        (2, "c = 2"),
        (3, "d = c + 1"),
    ]
    assert [(c.ok, c.execution_count) for c in stored[2:]] == [(True, 1), (True, 2)]


def test_an_unknown_runner_run_is_reported_and_the_notebook_still_runs(
    project, shell, monkeypatch, capsys
):
    from mlops_nb.notebook.extension import load

    monkeypatch.setenv("MLOPS_RUN_ID", "no-such-run")
    load(shell)
    assert shell.run_cell("x = 40 + 2").success and shell.user_ns["x"] == 42
    shell._mlops_capture.finish()
    assert "mlops: not recording cells into run no-such-run" in capsys.readouterr().err
    assert not shell._mlops_capture.tracking


def test_starting_a_run_replaces_a_runner_run_not_looked_up_yet(project, shell, monkeypatch):
    from mlops_nb.notebook.extension import load

    runner = mlops.start_run("runner")
    monkeypatch.setenv("MLOPS_RUN_ID", runner.run_id)
    load(shell)
    mine = mlops.start_run("mine")
    shell._mlops_capture.start(mine, attached=False)
    shell.run_cell("z = 1", store_history=True)
    assert shell._mlops_capture.run.run_id == mine.run_id
    shell._mlops_capture.finish()
    assert [c.source for c in cell_store.load_cells(project, mine.run_id)] == ["z = 1"]
    assert cell_store.load_cells(project, runner.run_id) == []
