"""Per-column profiles: the statistics shown by ``mlops data show`` and used as a drift reference.

``profile_frame(df)`` returns::

    {"rows": int, "columns": {name: {
        "dtype": str(pandas dtype),
        "kind": "numeric" | "categorical" | "boolean" | "datetime" | "text",
        "count": non-null values, "nulls": int, "distinct": int, "distinct_approx": bool,
        # numeric only
        "min", "max", "mean", "std", "quantiles": {"0.05", "0.25", "0.5", "0.75", "0.95"},
        "bins": 11 decile edges, "bin_counts": 10 ints,
        # categorical, boolean and text only
        "top": {str(value): count},
    }}}

Everything is exact: ``distinct`` counts distinct non-null values (so ``distinct_approx`` is
always false today; the key exists so a future sketch can say otherwise), quantiles and bins
are ``numpy.quantile`` (linear method) of the non-null values, ``bin_counts`` is
``numpy.histogram`` of those values on ``bins``, ``std`` has ``ddof=1`` (None below 2 values).
``top`` holds every value's count when there are at most 1000 distinct values, else the 1000
most frequent plus ``"__other__"`` (the count of all the rest). Columns with no non-null value
get None statistics and empty ``bins``/``bin_counts``. Timedelta columns are profiled as
numbers of seconds. Kinds: bool dtypes are boolean; numbers (including nullable ones) are
numeric; datetimes are datetime; object columns of only booleans are boolean; ``category``
dtypes are categorical; strings and other objects are text when more than 1000 distinct
values make up over half of the non-null values (identifiers, free text), otherwise
categorical.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .fingerprint import Factorized, factorize, numbers
from .parallel import BLOCK, for_rows, ordered_map

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import pandas as pd

QUANTILES = ("0.05", "0.25", "0.5", "0.75", "0.95")
TOP_LIMIT = 1000
OTHER = "__other__"


def kind_of(series: pd.Series, distinct: int | None = None) -> str:
    import pandas as pd

    dtype, types = series.dtype, pd.api.types
    if types.is_bool_dtype(dtype) or (
        types.is_object_dtype(dtype) and types.infer_dtype(series, skipna=True) == "boolean"
    ):
        return "boolean"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if dtype.kind == "M":
        return "datetime"
    if dtype.kind == "m" or types.is_numeric_dtype(dtype):
        return "numeric"
    if distinct is not None and distinct > TOP_LIMIT and distinct > series.count() / 2:
        return "text"
    return "categorical"


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def sorted_quantiles(ordered: np.ndarray, probabilities: list[float]) -> np.ndarray:
    """``numpy.quantile(ordered, probabilities)`` (its default "linear" method, the same
    arithmetic step by step) for values already sorted: no copy and no partition."""
    import numpy as np

    count = len(ordered)
    q = np.asarray(probabilities, dtype=np.float64)
    virtual = (count - 1) * q
    previous = np.floor(virtual)
    following = previous + 1
    last = virtual >= count - 1
    previous[last] = following[last] = -1
    previous[virtual < 0] = following[virtual < 0] = 0
    low, high = previous.astype(np.intp), following.astype(np.intp)
    gamma = virtual - low
    below, above = ordered[low], ordered[high]
    with np.errstate(invalid="ignore"):  # infinite values: as numpy, NaN between them
        step = above - below
        return np.where(gamma >= 0.5, above - step * (1 - gamma), below + step * gamma)


def _std(values: np.ndarray, mean: float) -> float:
    """Sample standard deviation (ddof=1), summed block by block: no column-sized temporary."""
    import numpy as np

    total = 0.0
    scratch = np.empty(min(len(values), BLOCK))
    for start in range(0, len(values), BLOCK):
        block = values[start : start + BLOCK]
        deviations = scratch[: len(block)]
        np.subtract(block, mean, out=deviations)
        total += float(np.dot(deviations, deviations))
    return math.sqrt(total / (len(values) - 1))


def numeric_stats(values: np.ndarray) -> dict[str, Any]:
    """Statistics of the non-null values of a numeric column (float64, sorted in place)."""
    import numpy as np

    if values.size == 0:
        return {
            "distinct": 0,
            "min": None,
            "max": None,
            "mean": None,
            "std": None,
            "quantiles": dict.fromkeys(QUANTILES),
            "bins": [],
            "bin_counts": [],
        }
    values.sort()
    ordered = values
    probabilities = [float(q) for q in QUANTILES] + list(np.linspace(0.0, 1.0, 11))
    points = sorted_quantiles(ordered, probabilities)
    edges = points[len(QUANTILES) :]
    # numpy.histogram's own algorithm for explicit edges, on already sorted values
    cumulative = np.concatenate(
        (ordered.searchsorted(edges[:-1], "left"), ordered.searchsorted(edges[-1:], "right"))
    )
    with np.errstate(invalid="ignore", over="ignore"):
        mean = float(ordered.mean())
        std = _std(ordered, mean) if ordered.size > 1 else math.nan
    return {
        "distinct": int(1 + np.count_nonzero(ordered[1:] != ordered[:-1])),
        "min": _number(ordered[0]),
        "max": _number(ordered[-1]),
        "mean": _number(mean),
        "std": _number(std),
        "quantiles": {q: _number(v) for q, v in zip(QUANTILES, points, strict=False)},
        "bins": [_number(v) for v in edges],
        "bin_counts": [int(c) for c in np.diff(cumulative)],
    }


def numeric_values(series: pd.Series) -> np.ndarray:
    """Non-null values as a new float64 array (timedeltas in seconds), free to reorder."""
    import numpy as np

    present = series.dropna()
    if present.dtype.kind == "m":
        present = present.dt.total_seconds()
    return present.to_numpy(dtype=np.float64, copy=True)


def top_values(fact: Factorized) -> dict[str, int]:
    import numpy as np

    counts = fact.value_counts()
    used = np.flatnonzero(counts)
    order = used[np.argsort(-counts[used], kind="stable")]
    top = {str(fact.uniques[i]): int(counts[i]) for i in order[:TOP_LIMIT]}
    if len(order) > TOP_LIMIT:
        top[OTHER] = int(counts[order[TOP_LIMIT:]].sum())
    return top


def column_profile(series: pd.Series, fact: Factorized | None = None) -> dict[str, Any]:
    import numpy as np

    nulls = int(series.isna().sum())
    entry: dict[str, Any] = {
        "dtype": str(series.dtype),
        "kind": None,
        "count": len(series) - nulls,
        "nulls": nulls,
    }
    probe = kind_of(series)
    if probe == "numeric":
        stats = numeric_stats(numeric_values(series))
        entry.update(kind="numeric", distinct=stats.pop("distinct"), distinct_approx=False)
        entry.update(stats)
        return entry
    if probe == "datetime":
        values = np.sort(numbers(series.dropna()))
        distinct = int(values.size and 1 + np.count_nonzero(values[1:] != values[:-1]))
        entry.update(kind="datetime", distinct=distinct, distinct_approx=False)
        return entry
    fact = fact or factorize(series)
    distinct = int(np.count_nonzero(fact.value_counts()))
    entry.update(
        kind=kind_of(series, distinct),
        distinct=distinct,
        distinct_approx=False,
        top=top_values(fact),
    )
    return entry


def profile_frame(
    df: pd.DataFrame,
    factorized: dict[str, Factorized] | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> dict[str, Any]:
    """The profile of every column (see the module docstring for the format); columns are
    profiled on ``pool`` when given."""
    factorized = factorized or {}
    pool = for_rows(pool, len(df))
    profiles = ordered_map(pool, lambda c: column_profile(df[c], factorized.get(c)), df.columns)
    return {"rows": len(df), "columns": dict(zip(df.columns, profiles, strict=True))}
