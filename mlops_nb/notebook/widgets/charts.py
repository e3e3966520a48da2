"""Metric curves over steps, one chart per metric, drawn with matplotlib into PNG images.

Why matplotlib and not plotly: the PNG lives in an ``ipywidgets.Image`` model, so the chart
renders from saved widget state, in static viewers and in exports with no extra JupyterLab
extension and no network; matplotlib's object API (``Figure`` on the Agg canvas) touches no
global pyplot state and so never disturbs the user's own plots. What it gives up is hover and
zoom; the exact numbers sit in the tables beside the charts.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

MAX_POINTS = 1000
LOWER_IS_BETTER = ("loss", "error", "err", "mse", "mae", "rmse", "mape", "perplexity", "time")


@dataclass(frozen=True)
class Trace:
    """One run's curve of one metric."""

    run_id: str
    label: str
    steps: tuple[int, ...]
    values: tuple[float, ...]
    best: bool = False


def lower_is_better(metric: str) -> bool:
    name = metric.lower()
    return any(word in name for word in LOWER_IS_BETTER)


def downsample(steps: Sequence[int], values: Sequence[float], limit: int = MAX_POINTS):  # type: ignore[no-untyped-def]
    """At most ``limit`` evenly spaced points, always keeping the last one."""
    if len(steps) <= limit:
        return tuple(steps), tuple(values)
    stride = -(-(len(steps) - 1) // (limit - 1))
    keep = [*range(0, len(steps) - 1, stride), len(steps) - 1]
    return tuple(steps[i] for i in keep), tuple(values[i] for i in keep)


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def curve_png(metric: str, traces: Sequence[Trace]) -> bytes:
    """A PNG chart of ``metric`` over steps, the best run's line drawn thicker."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.4, 2.7), dpi=100)
    axes = figure.add_subplot()
    for trace in traces:
        axes.plot(
            trace.steps,
            trace.values,
            label=trace.label + (" (best)" if trace.best else ""),
            linewidth=2.6 if trace.best else 1.2,
            marker="o" if len(trace.steps) < 3 else None,
            zorder=3 if trace.best else 2,
        )
    axes.set_title(metric, fontsize=10)
    axes.set_xlabel("step", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
