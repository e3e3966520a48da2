"""Parameter grids: every combination of values, checked against the parameters cell, and
the ordering that picks the best point (``metrics.auc`` descending, ``metrics.loss:asc``)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import UsageError
from .notebooks import NotebookSource
from .parameters import check_parameters


def expand_grid(source: NotebookSource, grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, each checked against the parameters cell."""
    if not isinstance(grid, Mapping) or not grid:
        raise UsageError("grid must be a non-empty mapping of parameter name to list of values")
    axes = []
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise UsageError(f"grid {name}: give a non-empty list of values, not {values!r}")
        axes.append([(name, v) for v in values])
    points = [dict(combo) for combo in itertools.product(*axes)]
    return [check_parameters(source.parameters, p, source.path.name) for p in points]


def point_label(point: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in point.items())


def parse_sort(sort: str | None) -> tuple[str, bool] | None:
    """``metrics.auc`` (descending), ``metrics.loss:asc``, ``params.lr:asc`` -> (column, asc)."""
    if not sort:
        return None
    column, _, direction = sort.partition(":")
    if not column.startswith(("metrics.", "params.")) or direction not in ("", "asc", "desc"):
        raise UsageError(
            f"sort {sort!r}: use metrics.NAME or params.NAME, optionally with "
            ":asc or :desc (metrics sort descending by default)"
        )
    return column, direction == "asc"
