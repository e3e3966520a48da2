"""The live status of the tracked run: name, id, status, cells, last metrics, and why the run
is or is not reproducible. Updated from the capture's writer thread (at most once a second)."""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from . import render
from .widgets.base import Fallback, message

if TYPE_CHECKING:
    from .cells import CellCapture

REFRESH_INTERVAL = 1.0
MAX_METRICS = 8


class StatusWidget(Fallback, widgets.HTML):
    """One per capture; ``%mlops status`` displays the same model again, so all views agree."""

    def __init__(self, capture: CellCapture, **kwargs: Any):
        super().__init__(**kwargs)
        self.capture = capture
        self.state: dict[str, Any] = {}
        self._refreshed = 0.0
        self.refresh()

    def refresh(self, throttle: bool = False) -> None:
        if throttle and time.monotonic() - self._refreshed < REFRESH_INTERVAL:
            return
        self._refreshed = time.monotonic()
        self.state = snapshot(self.capture, self.state)
        self.value = self.html()

    def html(self) -> str:
        s = self.state
        if not s:
            return message("muted", "not tracking: start with %mlops track")
        problem = (
            f"<br>{message('error', 'recording problem: ' + s['problem'])}" if s["problem"] else ""
        )
        colour = {"running": "#1a73e8", "finished": "#188038"}.get(s["status"], "#c5221f")
        metrics = " · ".join(
            f"{html.escape(k)} <b>{render.value_text(v)}</b>" for k, v in s["metrics"].items()
        )
        return (
            f"{render.STYLE}<div class='mlops-status'>"
            f"<span style='color:{colour}'>●</span> <b>{html.escape(s['name'])}</b> "
            f"<code>{s['run_id'][:8]}</code> · {html.escape(s['experiment'])} · "
            f"{s['status']}{' (attached)' if s['attached'] else ''} · {s['cells']} cells"
            f"<br>{metrics or '<span class=mlops-muted>no metrics yet</span>'}"
            f"<br>{render.notes_html(s['reproducible'], s['notes'])}{problem}</div>"
        )

    def text(self) -> str:
        s = self.state
        if not s:
            return "not tracking: start with %mlops track"
        metrics = ", ".join(f"{k}={render.value_text(v)}" for k, v in s["metrics"].items())
        return (
            f"run {s['name']!r} ({s['run_id'][:8]}) {s['status']}, {s['cells']} cells"
            + (f"; {metrics}" if metrics else "")
            + f"\n{render.notes_text(s['reproducible'], s['notes'])}"
            + (f"\nrecording problem: {s['problem']}" if s["problem"] else "")
        )


def snapshot(capture: CellCapture, last: dict[str, Any]) -> dict[str, Any]:
    """What the status shows, read from the store (the last state if the run is gone)."""
    run = capture.run or (last.get("run") if last else None)
    if run is None:
        return {}
    row = run.refresh().row
    reproducible, notes = (
        capture.verdict
        if capture.run is not None
        else (row.reproducible, run.reproducibility_notes)
    )
    metrics = dict(list(run.metrics.items())[:MAX_METRICS])
    return {
        "run": run,
        "run_id": run.run_id,
        "name": row.name,
        "experiment": row.experiment,
        "status": row.status,
        "attached": capture.attached and capture.run is not None,
        "cells": len(capture.records),
        "metrics": metrics,
        "reproducible": reproducible,
        "notes": notes,
        "problem": capture.errors[-1] if capture.errors else None,
    }
