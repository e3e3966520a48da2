"""Comparison of runs: params and final metrics side by side, metric curves over steps, and
the best run (by a chosen metric and direction) highlighted everywhere."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ...errors import UsageError
from ...tracking.runs import Run
from .. import render
from . import charts
from .base import Fallback

if TYPE_CHECKING:
    from ...project import Project

MAX_CHARTS = 12
PREFERRED = ("auc", "roc_auc", "accuracy", "acc", "f1", "r2", "precision", "recall", "loss")


def label(run: Run) -> str:
    return f"{run.name} ({run.run_id[:6]})"


def default_metric(keys: Sequence[str]) -> str | None:
    for name in PREFERRED:
        if name in keys:
            return name
    return keys[0] if keys else None


def best_run(values: dict[str, float], lower: bool) -> str | None:
    """The run id with the best value (NaN never wins)."""
    scored = [(v, r) for r, v in values.items() if v is not None and not math.isnan(v)]
    if not scored:
        return None
    return (min if lower else max)(scored)[1]


class Comparison(Fallback, widgets.VBox):
    """``Comparison(project, [id_a, id_b])``; ``best``, ``traces`` hold what is shown."""

    def __init__(self, project: Project, run_ids: Sequence[str], best_by: str | None = None):
        if len(run_ids) < 2:
            raise UsageError("compare needs two or more runs")
        self.project = project
        self.runs = [Run(project, run_id).refresh() for run_id in run_ids]
        self.params = {run.run_id: run.params for run in self.runs}
        self.metrics = {run.run_id: run.metrics for run in self.runs}
        keys = sorted({k for values in self.metrics.values() for k in values})
        self.metric_keys = keys
        metric = best_by if best_by in keys else default_metric(keys)
        self.best_by = widgets.Dropdown(
            options=keys, value=metric, description="best by", layout={"width": "260px"}
        )
        self.goal = widgets.ToggleButtons(
            options=[("max", "max"), ("min", "min")],
            value="min" if metric and charts.lower_is_better(metric) else "max",
            style={"button_width": "56px"},
        )
        self.tables = widgets.HTML()
        self.charts = widgets.GridBox(
            layout={"grid_template_columns": "repeat(auto-fill, minmax(440px, 1fr))"}
        )
        self.history = self._load_history(keys[:MAX_CHARTS])
        self.best: str | None = None
        self.traces: dict[str, list[charts.Trace]] = {}
        self.best_by.observe(self._on_metric, "value")
        self.goal.observe(lambda _: self.update(), "value")
        super().__init__([widgets.HBox([self.best_by, self.goal]), self.tables, self.charts])
        self.update()

    def _load_history(self, keys: Sequence[str]) -> dict[str, dict[str, tuple]]:
        """Each metric's curve per run; metrics logged once per run are left to the table."""
        history: dict[str, dict[str, tuple]] = {}
        for key in keys:
            for run in self.runs:
                if key in self.metrics[run.run_id]:
                    frame = run.metric_history(key)
                    steps = [int(s) for s in frame["step"]]
                    history.setdefault(key, {})[run.run_id] = charts.downsample(
                        steps, list(frame["value"])
                    )
        return {
            key: series
            for key, series in history.items()
            if any(len(steps) > 1 for steps, _ in series.values())
        }

    def _on_metric(self, change: dict[str, Any]) -> None:
        self.goal.value = "min" if charts.lower_is_better(change["new"] or "") else "max"
        self.update()

    def update(self) -> None:
        metric = self.best_by.value
        values = {r.run_id: self.metrics[r.run_id].get(metric) for r in self.runs}
        self.best = best_run(values, self.goal.value == "min") if metric else None
        self.traces = {
            key: [
                charts.Trace(
                    run.run_id, label(run), *series[run.run_id], best=run.run_id == self.best
                )
                for run in self.runs
                if run.run_id in series
            ]
            for key, series in self.history.items()
        }
        self.tables.value = self.html()
        if charts.available():
            self.charts.children = [
                widgets.Image(value=charts.curve_png(key, traces), format="png")
                for key, traces in self.traces.items()
            ]
        else:
            self.charts.children = [
                widgets.HTML("<i>metric charts need matplotlib: pip install 'mlops_nb[plots]'</i>")
            ]

    def _rows(self) -> tuple[list[str], list[tuple[str, list[Any], bool]]]:
        """Header, and (name, values per run, differs) for every param then metric."""
        header = [label(run) for run in self.runs]
        rows = []
        for group, data in (("params", self.params), ("metrics", self.metrics)):
            keys = sorted({k for values in data.values() for k in values})
            for key in keys:
                values = [data[run.run_id].get(key) for run in self.runs]
                texts = {render.value_text(v) for v in values}
                rows.append((f"{group}.{key}", values, len(texts) > 1))
        return header, rows

    def html(self) -> str:
        header, rows = self._rows()
        best = [run.run_id == self.best for run in self.runs]
        style = "background:#e6f4ea;font-weight:bold"
        head = "".join(
            f"<th style='{style if b else ''}'>{html.escape(h)}{' ★' if b else ''}</th>"
            for h, b in zip(header, best, strict=True)
        )
        body = "".join(
            f"<tr><td>{'<b>' if differs else ''}{html.escape(name)}{'</b>' if differs else ''}"
            "</td>"
            + "".join(
                f"<td style='{style if b else ''}'>{html.escape(render.value_text(v))}</td>"
                for v, b in zip(values, best, strict=True)
            )
            + "</tr>"
            for name, values, differs in rows
        )
        return (
            f"{render.STYLE}<table class='mlops-table'><thead><tr><th></th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )

    def text(self) -> str:
        header, rows = self._rows()
        best = next((label(r) for r in self.runs if r.run_id == self.best), "none")
        table = render.table_text(["", *header], [[name, *values] for name, values, _ in rows])
        return f"{table}\nbest by {self.best_by.value} ({self.goal.value}): {best}"
