"""The data view: dataset versions, one version's schema and profile, and the diff of two
versions (optionally on a key), rendered by the data core's own HTML."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import ipywidgets as widgets

from ...errors import MlopsError
from .. import render
from .base import Fallback, message

COLUMNS = ["name", "version", "kind", "rows", "columns", "size", "created_at", "created_by"]


class DataView(Fallback, widgets.VBox):
    """``DataView(data_api, name=None)``; ``frame`` holds the versions, ``details`` the shown
    version and ``diff`` the last diff."""

    def __init__(self, data: ModuleType, name: str | None = None):
        self.data = data
        self.name = name
        self.details: Any = None
        self.diff: Any = None
        self.table = widgets.HTML()
        self.version = widgets.Dropdown(description="version", layout={"width": "260px"})
        self.version_box = widgets.HTML()
        self.a = widgets.Dropdown(description="diff", layout={"width": "260px"})
        self.b = widgets.Dropdown(description="against", layout={"width": "260px"})
        self.key = widgets.Text(
            placeholder="key column(s), optional: id or id,date", layout={"width": "260px"}
        )
        self.diff_button = widgets.Button(description="Diff", icon="columns")
        self.diff_box = widgets.HTML()
        self.version.observe(lambda _: self.show_version(), "value")
        self.diff_button.on_click(lambda _: self.compare())
        super().__init__(
            [
                self.table,
                self.version,
                self.version_box,
                widgets.HBox([self.a, self.b, self.key, self.diff_button]),
                self.diff_box,
            ]
        )
        self.refresh()

    def refresh(self) -> None:
        self.frame = self.data.datasets(self.name)
        self.table.value = self.html()
        refs = [f"{n}@{v}" for n, v in self.frame[["name", "version"]].itertuples(index=False)]
        self.version.options = refs
        self.a.options = refs
        self.b.options = refs
        if len(refs) >= 2:  # the two newest versions of the newest dataset, by default
            self.a.value, self.b.value = refs[-2], refs[-1]

    def show_version(self) -> None:
        if not self.version.value:
            return
        try:
            self.details = self.data.get_dataset(self.version.value)
        except MlopsError as exc:
            self.version_box.value = message("error", f"{type(exc).__name__}: {exc}")
            return
        self.version_box.value = self.details._repr_html_()

    def compare(self) -> Any:
        """Diff version ``a`` against ``b`` (on the key columns, if given)."""
        keys = [k.strip() for k in self.key.value.split(",") if k.strip()]
        self.diff = None
        try:
            self.diff = self.data.diff_datasets(
                self.a.value, self.b.value, key=(keys[0] if len(keys) == 1 else keys) or None
            )
        except MlopsError as exc:
            self.diff_box.value = message("error", f"{type(exc).__name__}: {exc}")
            return None
        self.diff_box.value = self.diff._repr_html_()
        return self.diff

    def _rows(self) -> tuple[list[str], list[list]]:
        return render.frame_table(self.frame, COLUMNS)

    def html(self) -> str:
        columns, rows = self._rows()
        return render.table_html(columns, rows, caption=f"{len(rows)} dataset versions")

    def text(self) -> str:
        return render.table_text(*self._rows())
