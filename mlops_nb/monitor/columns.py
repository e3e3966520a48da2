"""One column of one side reduced to what the drift methods read.

A :class:`Summary` comes from a pandas Series (sorted finite numbers, or category counts) or
from a stored dataset profile (decile edges and counts, or the ``top`` category counts).
Kinds follow the dataset profile: numeric, categorical, boolean, datetime, text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("numeric", "categorical", "boolean", "datetime", "text")
OTHER = "__other__"


@dataclass
class Summary:
    """What one side of one column holds; ``values`` or ``counts`` or ``edges`` is set."""

    dtype: str
    kind: str
    rows: int
    nulls: int
    values: np.ndarray | None = None  # sorted finite numbers (numeric, datetime in seconds)
    counts: pd.Series | None = None  # category label -> count, nulls excluded
    edges: np.ndarray | None = None  # profile decile edges (numeric)
    edge_counts: np.ndarray | None = None
    complete: bool = True  # counts hold every category (no "__other__" bucket)
    distinct: int | None = None

    @property
    def present(self) -> int:
        return self.rows - self.nulls

    @property
    def null_rate(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


def _kind_and_counts(series: pd.Series) -> tuple[str, pd.Series | None]:
    """The column's kind, and its label counts when they were needed to tell text apart."""
    import pandas as pd

    from ..data.profile import kind_of

    kind = kind_of(series)
    if kind != "categorical" or isinstance(series.dtype, pd.CategoricalDtype):
        return kind, None
    counts = labels_of(series)
    return kind_of(series, len(counts)), counts


def _sorted_finite(values: np.ndarray) -> np.ndarray:
    mask = np.isfinite(values)
    if mask.all():
        return np.sort(values)
    kept = values[mask]
    kept.sort()
    return kept


def numbers_of(series: pd.Series, kind: str) -> np.ndarray:
    """Sorted finite numbers of ``series``: datetimes as seconds since the epoch (UTC),
    timedeltas as seconds, text that does not parse as a number dropped (a null)."""
    import pandas as pd
    from pandas.api import types

    if kind == "datetime" or types.is_datetime64_any_dtype(series.dtype):
        stamps = pd.to_datetime(series, errors="coerce", utc=True)
        series = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    elif types.is_timedelta64_dtype(series.dtype):
        series = series.dt.total_seconds()
    elif not types.is_numeric_dtype(series.dtype) or types.is_bool_dtype(series.dtype):
        series = pd.to_numeric(series.astype(object), errors="coerce")
    if series.dtype == np.float64:
        return _sorted_finite(series.to_numpy())
    return _sorted_finite(series.to_numpy(dtype="float64", na_value=np.nan))


def labels_of(series: pd.Series) -> pd.Series:
    """Category counts with string labels (as in dataset profiles), nulls excluded."""
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts.to_numpy() > 0]
    counts.index = counts.index.astype(str)
    if not counts.index.is_unique:
        counts = counts.groupby(level=0).sum()
    return counts.astype("int64")


def value_counts(values: np.ndarray) -> pd.Series:
    """Counts of each distinct number (a numeric column tested like a categorical one)."""
    import pandas as pd

    unique, counts = np.unique(values, return_counts=True)
    return pd.Series(counts, index=unique, dtype="int64")


def distinct_sorted(values: np.ndarray) -> int:
    return int(values.size and 1 + np.count_nonzero(values[1:] != values[:-1]))


def summarize(series: pd.Series, kind: str | None = None) -> Summary:
    """Summarize ``series`` as ``kind`` (default: inferred); values that do not fit are nulls."""
    counts = None
    if kind is None:
        kind, counts = _kind_and_counts(series)
    rows = len(series)
    dtype = str(series.dtype)
    if kind in ("numeric", "datetime"):
        values = numbers_of(series, kind)
        return Summary(dtype, kind, rows, rows - values.size, values=values)
    if counts is None:
        counts = labels_of(series)
    present = int(counts.sum())
    return Summary(dtype, kind, rows, rows - present, counts=counts, distinct=len(counts))


def from_profile(entry: dict[str, Any], rows: int) -> Summary:
    """A reference Summary from a dataset profile's column entry (no raw values)."""
    import pandas as pd

    kind = entry.get("kind", "categorical")
    nulls = int(entry.get("nulls", 0))
    summary = Summary(str(entry.get("dtype", "")), kind, rows, nulls)
    summary.distinct = entry.get("distinct")
    if kind == "numeric" and entry.get("bins") is not None and entry.get("bin_counts"):
        summary.edges = np.asarray(entry["bins"], dtype="float64")
        summary.edge_counts = np.asarray(entry["bin_counts"], dtype="float64")
    top = entry.get("top")
    if kind != "numeric" and isinstance(top, dict):
        summary.complete = OTHER not in top
        kept = {str(k): int(v) for k, v in top.items() if k != OTHER and v}
        summary.counts = pd.Series(kept, dtype="int64")
    return summary
