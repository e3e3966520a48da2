"""Small reference-vs-current distribution plots: pre-aggregated data and inline SVG.

Plots never embed rows: a numeric column becomes shares over at most 20 bins, a categorical
column the shares of its top categories, so a report stays a few kB per column.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from .columns import Summary, value_counts
from .methods import COUNTED_VALUES, NUMERIC_KINDS, bin_counts, few_values

if TYPE_CHECKING:
    import pandas as pd

HIST_BINS = 20
TOP_CATEGORIES = 8
WIDTH, HEIGHT = 180, 44
REFERENCE_COLOR, CURRENT_COLOR = "#9aa5b1", "#d9480f"


def _quantile(sorted_values: np.ndarray, q: float) -> float:
    return float(sorted_values[round(q * (sorted_values.size - 1))])


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [round(float(v), 5) for v in (counts / total if total else counts)]


def _numeric(ref: Summary, cur: Summary) -> dict[str, Any]:
    if ref.values is not None:
        low = min(_quantile(ref.values, 0.01), _quantile(cur.values, 0.01))
        high = max(_quantile(ref.values, 0.99), _quantile(cur.values, 0.99))
        if high <= low:
            low, high = low - 0.5, high + 0.5
        edges = np.linspace(low, high, HIST_BINS + 1)
        ref_counts = bin_counts(ref.values, edges)
    else:
        edges = np.asarray(ref.edges)
        ref_counts = np.asarray(ref.edge_counts, dtype="float64")
    return {
        "type": "hist",
        "edges": [float(e) for e in edges],
        "reference": _shares(ref_counts),
        "current": _shares(bin_counts(cur.values, edges)),
    }


def _bars(ref_counts: pd.Series, cur_counts: pd.Series) -> dict[str, Any]:
    import pandas as pd

    both = pd.concat(
        [ref_counts / max(ref_counts.sum(), 1), cur_counts / max(cur_counts.sum(), 1)], axis=1
    )
    both = both.fillna(0.0)
    top = both.sum(axis=1).sort_values(ascending=False).index[:TOP_CATEGORIES]
    return {
        "type": "bars",
        "labels": [str(v) for v in top],
        "reference": [round(float(v), 5) for v in both.loc[top].iloc[:, 0]],
        "current": [round(float(v), 5) for v in both.loc[top].iloc[:, 1]],
    }


def distribution(ref: Summary, cur: Summary) -> dict[str, Any] | None:
    """Plot data for one column (bars per value for categories and for numbers with at most
    20 distinct values, else a histogram), or None when a side has nothing to show."""
    if ref.kind in NUMERIC_KINDS:
        if cur.values is None or (ref.values is None and ref.edges is None):
            return None
        if few_values(ref, cur, COUNTED_VALUES):
            return _bars(value_counts(ref.values), value_counts(cur.values))
        return _numeric(ref, cur)
    if cur.counts is None or ref.counts is None:
        return None
    return _bars(ref.counts, cur.counts)


def _hist_path(shares: list[float], top: float) -> str:
    step = WIDTH / len(shares)
    points = [f"0,{HEIGHT}"]
    for i, share in enumerate(shares):
        y = HEIGHT - 2 - (HEIGHT - 4) * share / top
        points += [f"{i * step:.1f},{y:.1f}", f"{(i + 1) * step:.1f},{y:.1f}"]
    points.append(f"{WIDTH},{HEIGHT}")
    return " ".join(points)


def svg(plot: dict[str, Any] | None, title: str = "") -> str:
    """An inline SVG of the plot data (reference grey, current orange); '' for None."""
    if not plot or not plot["reference"]:
        return ""
    top = max(max(plot["reference"]), max(plot["current"]), 1e-12)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img"><title>{escape(title)}</title>'
    ]
    if plot["type"] == "hist":
        parts.append(
            f'<polygon points="{_hist_path(plot["reference"], top)}" '
            f'fill="{REFERENCE_COLOR}" fill-opacity="0.6"/>'
        )
        parts.append(
            f'<polyline points="{_hist_path(plot["current"], top)}" fill="none" '
            f'stroke="{CURRENT_COLOR}" stroke-width="1.5"/>'
        )
    else:
        slot = WIDTH / len(plot["labels"])
        bar = max(slot / 2 - 1, 1)
        for i, label in enumerate(plot["labels"]):
            for j, (key, color) in enumerate(
                (("reference", REFERENCE_COLOR), ("current", CURRENT_COLOR))
            ):
                h = (HEIGHT - 2) * plot[key][i] / top
                parts.append(
                    f'<rect x="{i * slot + j * bar:.1f}" y="{HEIGHT - h:.1f}" width="{bar:.1f}" '
                    f'height="{h:.1f}" fill="{color}"><title>{escape(label)} {key}: '
                    f"{plot[key][i]:.1%}</title></rect>"
                )
    parts.append("</svg>")
    return "".join(parts)
