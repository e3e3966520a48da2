"""``MonitorResult``: what one ``monitor`` check found, as text, a dict and HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from .report import DriftReport, plain

if TYPE_CHECKING:
    from .performance import Comparison
    from .triggers import Fired


@dataclass
class MonitorResult:
    """One production check. ``healthy`` is False when dataset drift was found, a metric
    degraded, or a trigger fired; ``problems`` says which."""

    healthy: bool
    drift: DriftReport | None
    metrics: dict[str, float]
    baseline: dict[str, float]
    baseline_source: str  # "registry", "reference" (scored on labelled reference) or ""
    degraded: list[str]
    comparisons: list[Comparison]
    fired: list[Fired]
    run_id: str | None
    model: str | None = None  # the registered version checked, e.g. "churn@3"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def triggered(self) -> Any:
        """The result of the first pipeline a trigger started, or None."""
        started = [f for f in self.fired if f.started]
        return started[0].result if started else None

    def to_dict(self, plots: bool = False) -> dict[str, Any]:
        """JSON-ready (the CLI's ``--json``); ``plots`` adds each column's plot data."""
        return plain(
            {
                "healthy": self.healthy,
                "run_id": self.run_id,
                "model": self.model,
                "problems": self.problems,
                "notes": self.notes,
                "metrics": self.metrics,
                "baseline": self.baseline,
                "baseline_source": self.baseline_source,
                "degraded": self.degraded,
                "comparisons": [c.__dict__ | {"change": c.change} for c in self.comparisons],
                "triggers": [f.to_dict() for f in self.fired],
                "drift": self.drift.to_dict(plots=plots) if self.drift is not None else None,
            }
        )

    def __repr__(self) -> str:
        state = "healthy" if self.healthy else "UNHEALTHY: " + "; ".join(self.problems)
        run = f" run {self.run_id[:8]}" if self.run_id else ""
        return f"<MonitorResult {state}{run}>"

    def _repr_html_(self) -> str:
        color = "#2b8a3e" if self.healthy else "#c92a2a"
        lines = ["healthy"] if self.healthy else self.problems
        items = "".join(f"<li>{escape(p)}</li>" for p in lines + self.notes)
        metrics = "".join(
            f"<tr><td>{escape(c.metric)}</td><td>{c.baseline:.4g}</td><td>{c.current:.4g}</td>"
            f"<td>{'degraded' if c.degraded else 'ok'}</td></tr>"
            for c in self.comparisons
        )
        table = (
            "<table><tr><th>metric</th><th>baseline</th><th>current</th><th></th></tr>"
            f"{metrics}</table>"
            if metrics
            else ""
        )
        drift = self.drift._repr_html_() if self.drift is not None else ""
        return f'<div style="color:{color}"><ul>{items}</ul></div>{table}{drift}'
