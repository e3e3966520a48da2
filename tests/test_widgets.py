"""The widgets against a populated store: their model state (rows, columns, selection,
chart traces, promotion outcome, diff), and the HTML/text fallback they carry."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

import mlops_nb as mlops
from mlops_nb.notebook.widgets.compare import Comparison
from mlops_nb.notebook.widgets.data import DataView
from mlops_nb.notebook.widgets.models import ModelsView
from mlops_nb.notebook.widgets.runs import RunsTable
from mlops_nb.tracking.runs import create_run, end_run, log_batch

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def store(project):
    """Five runs in two experiments; auc grows with the run number, loss over 10 steps."""
    ids = []
    for i in range(5):
        run = create_run(
            project,
            f"run{i}",
            experiment="churn" if i < 4 else "other",
            params={"lr": 0.1 * (i + 1), "model": "rf"},
        )
        log_batch(
            project,
            run.run_id,
            metrics=[("loss", 1.0 / (s + 1 + i), s) for s in range(10)]
            + [("auc", 0.7 + 0.05 * i, None)],
        )
        end_run(project, run.run_id)
        ids.append(run.run_id)
    return ids


def cell_texts(table: RunsTable) -> list[list[str]]:
    """The table as shown: header and rows, each a list of cell texts."""
    header, *rows = table.grid.children
    lines = [header.value] + [row.children[1].value for row in rows]
    return [[html.unescape(t) for t in re.findall(r">([^<]*)</div>", line)] for line in lines]


def test_runs_table_pages_sorts_filters_and_selects(store):
    table = RunsTable(mlops.Project.find(), page_size=2)
    assert table.total == 5 and table.rows == store[::-1][:2]  # newest first
    assert table.columns[:7] == [
        "run_id",
        "name",
        "experiment",
        "status",
        "start_time",
        "duration",
        "reproducible",
    ]
    assert {"metrics.auc", "metrics.loss", "params.lr", "params.model"} <= set(table.columns)
    header, *rows = cell_texts(table)
    assert header[:5] == ["run", "name", "experiment", "status", "started ▼"]
    assert [r[1] for r in rows] == ["run4", "run3"]
    assert rows[0][0] == store[4][:8] and rows[0][3] == "finished"
    assert "page 1 of 3" in table.page_label.value and table.prev.disabled
    table.next.click()
    assert table.rows == [store[2], store[1]]
    table.sort_by.value = "metrics.auc"  # best auc first, back on page 1
    assert table.page == 0 and table.rows == [store[4], store[3]]
    assert cell_texts(table)[0][7] == "auc ▼"
    table.direction.value = "asc"
    assert table.rows == [store[0], store[1]]
    table.experiment.value = "other"
    assert table.rows == [store[4]] and table.total == 1
    table.experiment.value = ""
    table.filter.value = "metrics.auc > 0.79 and params.lr < 0.45"
    assert sorted(table.rows) == sorted(store[2:4]) and table.total == 2
    shown = table.rows
    table.filter.value = "metrics.auc >"  # a bad filter: one error line, the rows stay
    assert "FilterError" in table.message.value and table.rows == shown
    table.filter.value = ""
    assert table.message.value == ""


def test_ticking_two_runs_compares_them(store):
    table = RunsTable(mlops.Project.find())
    boxes = {box.run_id: box for box in table._boxes}
    boxes[store[1]].value = True
    assert table.comparison is None and table.selected == [store[1]]
    boxes[store[3]].value = True
    comparison = table.comparison
    assert table.selected == [store[1], store[3]]
    assert comparison is not None and comparison in table.compare_box.children
    assert comparison.best_by.value == "auc" and comparison.goal.value == "max"
    assert comparison.best == store[3]
    loss = {t.run_id: t for t in comparison.traces["loss"]}
    assert loss[store[1]].steps == tuple(range(10))
    assert loss[store[3]].values[0] == pytest.approx(0.25) and loss[store[3]].best
    assert set(comparison.traces) == {"loss"}  # auc has one point per run: the table shows it
    assert [len(image.value) > 1000 for image in comparison.charts.children] == [True]
    comparison.best_by.value = "loss"  # lower is better for a loss
    assert comparison.goal.value == "min" and comparison.best == store[3]
    comparison.goal.value = "max"
    assert comparison.best == store[1]
    assert "params.lr" in comparison.html() and "★" in comparison.html()
    boxes[store[1]].value = False
    assert table.comparison is None


def test_comparison_downsamples_long_curves(project):
    ids = []
    for name in ("a", "b"):
        run = create_run(project, name)
        log_batch(project, run.run_id, metrics=[("loss", 1 / (s + 1), s) for s in range(5000)])
        end_run(project, run.run_id)
        ids.append(run.run_id)
    comparison = Comparison(project, ids)
    steps = comparison.traces["loss"][0].steps
    assert len(steps) <= 1000 and steps[0] == 0 and steps[-1] == 4999


def test_widgets_carry_html_and_text_fallbacks(store):
    table = RunsTable(mlops.Project.find(), page_size=3)
    bundle = table._repr_mimebundle_()
    assert bundle[WIDGET_VIEW]["model_id"] == table.model_id
    assert "<table" in bundle["text/html"] and "run4" in bundle["text/html"]
    assert "3 of 5 runs" in bundle["text/plain"]
    comparison = Comparison(mlops.Project.find(), store[:2])
    assert "best by auc (max): run1" in comparison._repr_mimebundle_()["text/plain"]


def test_models_view_promotes_through_the_gates(project):
    from sklearn.linear_model import LogisticRegression

    (project.root / "mlops.yaml").write_text(
        "promotion:\n  production:\n    require:\n      - metrics.auc >= 0.9\n"
    )
    mlops.Project.forget()
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    for auc, c in ((0.8, 1.0), (0.95, 0.5)):  # two different models
        model = LogisticRegression(C=c).fit(frame[["x"]], frame.y)
        mlops.register_model(model, "churn", metrics={"auc": auc})
    from mlops_nb.registry import api as registry

    view = ModelsView(registry)
    assert list(view.frame["version"]) == [1, 2]
    assert "metrics.auc" in view.columns and "churn" in view.table.value
    assert view.form.layout.display == "none"
    view.promote_button.click()
    assert view.form.layout.display == "flex"
    view.version.value = "churn@1"
    view.alias.value, view.reason.value = "production", "quarterly refresh"
    view.confirm.click()
    assert view.outcome is not None and not view.outcome.promoted
    assert [(c.rule, c.ok) for c in view.outcome.checks] == [("metrics.auc >= 0.9", False)]
    assert "❌" in view.result.value and "not promoted" in view.result.value
    view.version.value = "churn@2"
    view.confirm.click()
    assert view.outcome.promoted and view.form.layout.display == "none"
    assert list(view.frame["aliases"]) == [[], ["production"]]
    assert ("churn@2 (production)", "churn@2") in view.version.options
    view.ask()
    view.reason.value = ""
    view.confirm.click()
    assert "give an alias and a reason" in view.result.value


def test_data_view_shows_versions_and_diffs(project):
    from mlops_nb.data import api as data

    first = pd.DataFrame({"id": [1, 2, 3], "x": [0.1, 0.2, 0.3]})
    data.snapshot(first, "train")
    data.snapshot(pd.DataFrame({"id": [1, 2, 4], "x": [0.1, 0.25, 0.4]}), "train")
    view = DataView(data)
    assert list(view.frame["version"]) == [1, 2]
    assert (view.a.value, view.b.value) == ("train@1", "train@2")
    view.version.value = "train@2"
    assert view.details.version == 2 and "profile" in view.version_box.value
    view.key.value = "id"
    view.diff_button.click()
    diff = view.diff
    assert (diff.rows_added, diff.rows_removed, diff.rows_changed) == (1, 1, 1)
    assert "added" in view.diff_box.value
    view.key.value = "nope"
    view.diff_button.click()
    assert view.diff is None and "UsageError" in view.diff_box.value
    assert "train" in view.text()
