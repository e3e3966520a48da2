"""What every ``mlops_nb`` widget shares: an HTML/text fallback in its display bundle, and a
one-line message area for errors."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from ...errors import MlopsError

if TYPE_CHECKING:
    import ipywidgets as widgets


class Fallback:
    """Adds ``text/html`` and ``text/plain`` renderings to a widget's display bundle.

    Front ends that render widgets pick the widget view; a terminal, an untrusted notebook
    or a static viewer shows the table instead of ``VBox(children=...)``.
    """

    def html(self) -> str:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return {
            "text/plain": self.text(),
            "text/html": self.html(),
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._model_id,  # type: ignore[attr-defined]
            },
        }


def message(kind: str, text: str) -> str:
    """HTML for a one-line message (``kind``: ok, error, muted)."""
    css = {"ok": "mlops-ok", "error": "mlops-bad"}.get(kind, "mlops-muted")
    return f'<span class="{css}">{html.escape(text)}</span>'


def guarded(area: widgets.HTML, action: Any, *args: Any) -> Any:
    """Run a UI action; an ``MlopsError`` becomes one line in ``area`` instead of a traceback."""
    try:
        return action(*args)
    except MlopsError as exc:
        area.value = message("error", f"{type(exc).__name__}: {exc}")
        return None
