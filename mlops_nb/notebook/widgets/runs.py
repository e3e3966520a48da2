"""The runs table: experiment selector, filter box, sortable columns, one page at a time,
selectable rows; two or more selected runs open a :class:`Comparison` below the table.

Only the page on screen is read from the store (``list_runs`` with ``limit``/``offset`` and
``count_runs``), so a store with 10,000 runs opens as fast as one with 20.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import sqlalchemy as sa

from ...store import schema
from ...tracking.query import count_runs, list_runs, run_query
from .. import render
from .base import Fallback, guarded
from .compare import Comparison

if TYPE_CHECKING:
    import pandas as pd

    from ...project import Project

PAGE_SIZE = 20
MAX_EXTRA_COLUMNS = 10
BASE = ["name", "experiment", "status", "start_time", "duration", "reproducible"]
SORTABLE = {"name", "experiment", "status", "start_time", "reproducible"}
TITLES = {"run_id": "run", "start_time": "started", "reproducible": "repro."}
CHAR_PX, MAX_COLUMN_PX, BOX_PX = 8, 240, 24
CELL_STYLE = "overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding:2px 6px"


def row_html(template: str, texts: Any, bold: bool = False) -> str:
    """One table row as a CSS grid; every row with the same ``template`` lines up."""
    weight = "font-weight:bold;" if bold else ""
    cells = "".join(
        f"<div style='{CELL_STYLE}' title='{html.escape(t)}'>{html.escape(t)}</div>" for t in texts
    )
    return (
        f"<div style='display:grid;grid-template-columns:{template};font-size:12px;{weight}"
        f"border-bottom:1px solid #e0e0e0'>{cells}</div>"
    )


def experiments(project: Project) -> list[str]:
    table = schema.experiments
    with project.db.read() as conn:
        return list(conn.execute(sa.select(table.c.name).order_by(table.c.name)).scalars())


def page_by_metric(
    project: Project,
    key: str,
    experiment: str | None,
    filter: str | None,
    descending: bool,
    limit: int,
    offset: int,
) -> pd.DataFrame:
    """One page of runs ordered by the latest value of metric ``key`` (runs without it last)."""
    runs = run_query(experiment, filter).subquery()
    latest = schema.latest_metrics
    value = latest.c.value
    query = (
        sa.select(runs.c.run_id)
        .select_from(
            runs.outerjoin(latest, sa.and_(latest.c.run_id == runs.c.run_id, latest.c.key == key))
        )
        .order_by(value.is_(None), value.desc() if descending else value.asc(), runs.c.run_id)
        .limit(limit)
        .offset(offset)
    )
    with project.db.read() as conn:
        ids = list(conn.execute(query).scalars())
    frame = list_runs(project, filter=f"run_id in {ids!r}")
    return frame.set_index("run_id").loc[ids].reset_index()


class RunsTable(Fallback, widgets.VBox):
    """``RunsTable(project, experiment=None, filter=None)``.

    ``rows`` (run ids on the page), ``columns``, ``selected`` (run ids, kept across pages),
    ``total`` and ``comparison`` hold what is on screen.
    """

    def __init__(
        self,
        project: Project,
        experiment: str | None = None,
        filter: str | None = None,
        page_size: int = PAGE_SIZE,
    ):
        self.project = project
        self.page_size = page_size
        self.page = 0
        self.order_by, self.descending = "start_time", True
        self.selected: list[str] = []
        self.frame: pd.DataFrame | None = None
        self.total = 0
        self.rows: list[str] = []
        self.columns: list[str] = []
        self.comparison: Comparison | None = None
        self._boxes: list[widgets.Checkbox] = []
        names = experiments(project)
        self.experiment = widgets.Dropdown(
            options=[("all experiments", "")] + [(n, n) for n in names],
            value=experiment if experiment in names else "",
            layout={"width": "220px"},
        )
        self.filter = widgets.Text(
            value=filter or "",
            placeholder="filter: metrics.auc > 0.8 and params.model == 'rf'  (Enter)",
            continuous_update=False,
            layout={"width": "420px"},
        )
        self.prev = widgets.Button(
            icon="chevron-left", layout={"width": "36px"}, tooltip="Previous page"
        )
        self.next = widgets.Button(
            icon="chevron-right", layout={"width": "36px"}, tooltip="Next page"
        )
        self.page_label = widgets.HTML()
        self.message = widgets.HTML()
        self.grid = widgets.VBox(layout={"overflow": "auto"})
        self.sort_by = widgets.Dropdown(description="sort by", layout={"width": "200px"})
        self.direction = widgets.ToggleButtons(
            options=[("▼", "desc"), ("▲", "asc")],
            style={"button_width": "32px"},
            tooltips=["descending", "ascending"],
        )
        self.compare_box = widgets.VBox()
        self.experiment.observe(self._reset, "value")
        self.filter.observe(self._reset, "value")
        self.sort_by.observe(self._on_sort, "value")
        self.direction.observe(self._on_direction, "value")
        self.prev.on_click(lambda _: self.go(self.page - 1))
        self.next.on_click(lambda _: self.go(self.page + 1))
        super().__init__(
            [
                widgets.HBox([self.experiment, self.filter, self.sort_by, self.direction]),
                self.grid,
                widgets.HBox([self.prev, self.page_label, self.next, self.message]),
                self.compare_box,
            ]
        )
        self.refresh()

    # -- data ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the current page from the store and redraw (raises on a bad filter)."""
        experiment = self.experiment.value or None
        filter = self.filter.value.strip() or None
        offset = self.page * self.page_size
        self.total = count_runs(self.project, experiment, filter)
        if self.order_by.startswith("metrics."):
            frame = page_by_metric(
                self.project,
                self.order_by[len("metrics.") :],
                experiment,
                filter,
                self.descending,
                self.page_size,
                offset,
            )
        else:
            frame = list_runs(
                self.project,
                experiment,
                filter,
                limit=self.page_size,
                offset=offset,
                order_by=self.order_by,
                descending=self.descending,
            )
        self.frame = frame
        self.rows = list(frame["run_id"])
        self.columns = self._columns(frame)
        self._draw()

    def _columns(self, frame: pd.DataFrame) -> list[str]:
        metrics = [c for c in frame.columns if c.startswith("metrics.")]
        params = [c for c in frame.columns if c.startswith("params.")]
        return ["run_id", *BASE, *(metrics + params)[:MAX_EXTRA_COLUMNS]]

    def _reload(self) -> None:
        """Refresh for a click or an edit: a bad filter becomes the message line."""
        self.message.value = ""
        guarded(self.message, self.refresh)

    def _reset(self, _: Any = None) -> None:
        self.page = 0
        self._reload()

    def go(self, page: int) -> None:
        last = max((self.total - 1) // self.page_size, 0)
        self.page = min(max(page, 0), last)
        self._reload()

    def sort(self, column: str) -> None:
        """Sort by ``column`` (again: flip the direction), back on the first page."""
        if column == self.order_by:
            self.descending = not self.descending
        else:
            self.order_by, self.descending = column, column != "name"
        self._reset()

    def _on_sort(self, change: dict[str, Any]) -> None:
        if change["new"] and change["new"] != self.order_by:
            self.sort(change["new"])

    def _on_direction(self, change: dict[str, Any]) -> None:
        if (change["new"] == "desc") != self.descending:
            self.descending = change["new"] == "desc"
            self._reset()

    def select(self, run_ids: list[str]) -> None:
        """Set the selected runs (as ticking their boxes does)."""
        self.selected = list(dict.fromkeys(run_ids))
        for box in self._boxes:
            box.value = box.run_id in self.selected  # type: ignore[attr-defined]
        self._show_comparison()

    # -- drawing -------------------------------------------------------------------------

    def _widths(self) -> list[int]:
        """Pixel width of each column, from the longest text on the page (rows align)."""
        assert self.frame is not None
        widths = []
        for column in self.columns:
            texts = [render.cell_text(column, v) for v in self.frame[column]]
            longest = max([len(self._title(column)) + 2, *map(len, texts)])
            widths.append(min(longest * CHAR_PX + 14, MAX_COLUMN_PX))
        return widths

    def _title(self, column: str) -> str:
        title = TITLES.get(column, column.removeprefix("params.").removeprefix("metrics."))
        if column == self.order_by:
            title += " ▼" if self.descending else " ▲"
        return title

    def _draw(self) -> None:
        assert self.frame is not None
        template = " ".join(f"{w}px" for w in self._widths())
        header = widgets.HTML(
            row_html(template, map(self._title, self.columns), bold=True),
            layout={"margin": f"0 0 0 {BOX_PX}px"},
        )
        self._boxes = []
        lines: list[widgets.Widget] = [header]
        for row in self.frame[self.columns].itertuples(index=False, name=None):
            box = widgets.Checkbox(
                value=row[0] in self.selected,
                indent=False,
                layout={"width": f"{BOX_PX}px", "margin": "0"},
            )
            box.run_id = row[0]  # type: ignore[attr-defined]
            box.observe(self._on_tick, "value")
            self._boxes.append(box)
            texts = (render.cell_text(c, v) for c, v in zip(self.columns, row, strict=True))
            lines.append(
                widgets.HBox(
                    [box, widgets.HTML(row_html(template, texts))], layout={"align_items": "center"}
                )
            )
        self.grid.children = lines
        self.sort_by.unobserve(self._on_sort, "value")
        self.sort_by.options = [
            (self._title(c).split(" ")[0], c)
            for c in self.columns
            if c in SORTABLE or c.startswith("metrics.")
        ]
        self.sort_by.value = self.order_by
        self.sort_by.observe(self._on_sort, "value")
        self.direction.value = "desc" if self.descending else "asc"
        self._show_position()

    def _show_position(self) -> None:
        pages = max((self.total - 1) // self.page_size + 1, 1)
        self.page_label.value = (
            f"<span style='{CELL_STYLE}'>page {self.page + 1} of {pages} · "
            f"{self.total:,} runs · {len(self.selected)} selected</span>"
        )
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page + 1 >= pages

    def _on_tick(self, change: dict[str, Any]) -> None:
        run_id = change["owner"].run_id
        if change["new"] and run_id not in self.selected:
            self.selected.append(run_id)
        elif not change["new"] and run_id in self.selected:
            self.selected.remove(run_id)
        self._show_comparison()
        self._show_position()

    def _show_comparison(self) -> None:
        if len(self.selected) < 2:
            self.comparison = None
            self.compare_box.children = [
                widgets.HTML("<i class='mlops-muted'>tick two or more runs to compare them</i>")
            ]
            return
        self.comparison = Comparison(self.project, self.selected)
        self.compare_box.children = [self.comparison]

    # -- fallback ------------------------------------------------------------------------

    def _table(self) -> tuple[list[str], list[list]]:
        if self.frame is None:
            return [], []
        return render.frame_table(self.frame, self.columns)

    def html(self) -> str:
        columns, rows = self._table()
        return render.table_html(
            columns, rows, caption=f"{len(rows)} of {self.total:,} runs (page {self.page + 1})"
        )

    def text(self) -> str:
        columns, rows = self._table()
        return render.table_text(columns, rows) + f"\n{len(rows)} of {self.total:,} runs"
