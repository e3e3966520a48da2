"""The model registry view: every version with its aliases and metrics, and a Promote button
that asks for the alias and a reason and calls the registry's ``promote`` (so the gates in
``mlops.yaml`` hold); a rejection shows every check, the failing ones marked."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import ipywidgets as widgets

from ...errors import MlopsError
from .. import render
from .base import Fallback, message

COLUMNS = ["name", "version", "aliases", "flavor", "created_by", "created_at"]
ALIASES = ["production", "staging", "champion", "challenger"]


class ModelsView(Fallback, widgets.VBox):
    """``ModelsView(registry_api, name=None)``; ``frame`` holds the versions shown and
    ``outcome`` the last promotion's ``PromotionResult`` (None before one, or on error)."""

    def __init__(self, registry: ModuleType, name: str | None = None):
        self.registry = registry
        self.name = name
        self.outcome: Any = None
        self.table = widgets.HTML()
        self.version = widgets.Dropdown(description="version", layout={"width": "260px"})
        self.promote_button = widgets.Button(
            description="Promote…", button_style="warning", icon="arrow-up"
        )
        self.alias = widgets.Combobox(
            placeholder="alias, e.g. production",
            options=ALIASES,
            description="to",
            layout={"width": "260px"},
        )
        self.reason = widgets.Textarea(
            placeholder="why (kept in the audit trail)",
            description="reason",
            layout={"width": "520px"},
        )
        self.confirm = widgets.Button(description="Promote", button_style="danger")
        self.cancel = widgets.Button(description="Cancel")
        self.form = widgets.VBox(
            [self.alias, self.reason, widgets.HBox([self.confirm, self.cancel])],
            layout={"display": "none"},
        )
        self.result = widgets.HTML()
        self.promote_button.on_click(lambda _: self.ask())
        self.cancel.on_click(lambda _: self.close_form())
        self.confirm.on_click(lambda _: self.promote())
        super().__init__(
            [
                self.table,
                widgets.HBox([self.version, self.promote_button]),
                self.form,
                self.result,
            ]
        )
        self.refresh()

    def refresh(self) -> None:
        self.frame = self.registry.models(self.name)
        self.columns = COLUMNS + [c for c in self.frame.columns if c.startswith("metrics.")]
        self.table.value = self.html()
        current = self.version.value
        self.version.options = [
            (f"{n}@{v}" + (f" ({', '.join(a)})" if a else ""), f"{n}@{v}")
            for n, v, a in self.frame[["name", "version", "aliases"]].itertuples(index=False)
        ]
        if current in {value for _, value in self.version.options}:
            self.version.value = current

    def ask(self) -> None:
        """Show the alias/reason form for the selected version."""
        self.form.layout.display = "flex"
        self.result.value = ""

    def close_form(self) -> None:
        self.form.layout.display = "none"

    def promote(self) -> Any:
        """Call the registry's ``promote`` with the form's alias and reason."""
        alias, reason = self.alias.value.strip(), self.reason.value.strip()
        self.outcome = None
        if not self.version.value or not alias or not reason:
            self.result.value = message("error", "pick a version and give an alias and a reason")
            return None
        try:
            self.outcome = self.registry.promote(self.version.value, to=alias, reason=reason)
        except self.registry.PromotionRejected as exc:
            self.outcome = exc.result
        except MlopsError as exc:
            self.result.value = message("error", f"{type(exc).__name__}: {exc}")
            return None
        self.result.value = self.outcome._repr_html_()
        if self.outcome.promoted:
            self.close_form()
            self.refresh()
        return self.outcome

    def _rows(self) -> tuple[list[str], list[list]]:
        columns, rows = render.frame_table(self.frame, self.columns)
        index = columns.index("aliases")
        for row in rows:
            row[index] = ", ".join(row[index])
        return columns, rows

    def html(self) -> str:
        columns, rows = self._rows()
        return render.table_html(columns, rows, caption=f"{len(rows)} model versions")

    def text(self) -> str:
        return render.table_text(*self._rows())
