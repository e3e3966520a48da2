"""Per-column drift methods (scipy.stats), their default thresholds and the automatic choice.

Defaults follow Evidently's documented data-drift algorithm
(https://docs.evidentlyai.com/reference/data-drift-algorithm): with at most 1000 non-null
reference values, numeric columns get the two-sample Kolmogorov–Smirnov test and categorical
columns the chi-squared test (drift when p < 0.05); above 1000, numeric columns get the
Wasserstein distance divided by the reference standard deviation and categorical columns the
Jensen–Shannon distance (drift when >= 0.1). Numeric columns with at most 5 distinct values
are tested as categorical ones. Differences, on purpose:

- Jensen–Shannon uses log base 2 (range 0..1, as NannyML and most literature); Evidently uses
  natural log, so our 0.1 equals about 0.083 on Evidently's scale (slightly more sensitive).
- chi-squared is the two-sample test of homogeneity (``chi2_contingency``, no continuity
  correction): reference counts are a sample too, so the false-alarm rate stays at the
  nominal 5 % and a category unseen in the reference gives a finite statistic. On two
  categories it equals the two-proportion z-test Evidently uses for binary columns.
- PSI bins numbers at 10 reference deciles (Evidently bins reference + current with
  Sturges' rule), with empty bins smoothed to 1e-4.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UsageError
from .columns import Summary, distinct_sorted, value_counts

if TYPE_CHECKING:
    import pandas as pd

SMALL_REFERENCE = 1000  # non-null reference values up to which p-value tests are used
FEW_VALUES = 5  # numeric columns with at most this many distinct values are tested as labels
COUNTED_VALUES = 20  # ... and up to this many are counted per value (not binned) by label tests
PSI_BINS = 10
PSI_EPSILON = 1e-4
WASSERSTEIN_MIN_STD = 0.001
WASSERSTEIN_PIECE = 1 << 16  # values per side and piece in the bounded-memory Wasserstein
NUMERIC_KINDS = ("numeric", "datetime")


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    threshold: float
    p_value: bool  # drift when statistic < threshold (a test), else when statistic >= threshold
    numeric_only: bool

    def drifted(self, statistic: float, threshold: float) -> bool:
        if np.isnan(statistic):
            return False
        return statistic < threshold if self.p_value else statistic >= threshold


METHODS = {
    "ks": Method("ks", "Kolmogorov–Smirnov p-value", 0.05, True, True),
    "wasserstein": Method("wasserstein", "Wasserstein distance / reference std", 0.1, False, True),
    "chisquare": Method("chisquare", "chi-squared p-value", 0.05, True, False),
    "jensenshannon": Method("jensenshannon", "Jensen–Shannon distance (base 2)", 0.1, False, False),
    "psi": Method("psi", "population stability index", 0.1, False, False),
}
ALIASES = {
    "kolmogorov-smirnov": "ks",
    "ks_2samp": "ks",
    "wasserstein_distance": "wasserstein",
    "chi2": "chisquare",
    "chisquared": "chisquare",
    "chi-squared": "chisquare",
    "js": "jensenshannon",
    "jensen-shannon": "jensenshannon",
    "jensen_shannon": "jensenshannon",
}


def canonical_method(name: Any, where: str = "method") -> str:
    """``auto`` or a method name (aliases like ``chi2``, ``js`` accepted)."""
    if isinstance(name, str):
        key = name.strip().lower()
        key = ALIASES.get(key, key)
        if key == "auto" or key in METHODS:
            return key
    raise UsageError(f"{where}: unknown drift method {name!r}; use auto, {', '.join(METHODS)}")


# --- what a method reads --------------------------------------------------------------------


def few_values(ref: Summary, cur: Summary, limit: int) -> bool | None:
    """Whether reference and current together hold at most ``limit`` distinct numbers.

    None when it cannot be told without the raw reference (a profile with few values).
    """
    if ref.values is None:
        return False if ref.distinct is not None and ref.distinct > limit else None
    if distinct_sorted(ref.values) > limit or distinct_sorted(cur.values) > limit:
        return False
    return np.union1d(ref.values, cur.values).size <= limit


def choose(ref: Summary, cur: Summary) -> str | None:
    """The automatic method for this column, or None when it is not tested (text, datetime).

    Raises LookupError when the choice needs the raw reference values.
    """
    if ref.kind in ("text", "datetime"):
        return None
    small = ref.present <= SMALL_REFERENCE
    if ref.kind == "numeric":
        few = few_values(ref, cur, FEW_VALUES)
        if few is None:
            raise LookupError("distinct values")
        if not few:
            return "ks" if small else "wasserstein"
    return "chisquare" if small else "jensenshannon"


def check_applicable(method: str, ref: Summary, column: str) -> None:
    if METHODS[method].numeric_only and ref.kind not in NUMERIC_KINDS:
        raise UsageError(
            f"column {column!r} is {ref.kind}: {method} needs numbers; "
            "use chisquare, jensenshannon or psi (monitor.columns.<name>.method)"
        )


def decile_edges(ref: Summary) -> np.ndarray:
    if ref.values is not None:
        return np.quantile(ref.values, np.linspace(0, 1, PSI_BINS + 1))
    if ref.edges is None:
        raise LookupError("bins")
    return ref.edges


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in [e0, e1), ..., [e9, e10]; values outside the edges go to the end bins.

    The same as ``np.histogram(np.clip(x, e0, e10), edges)`` on sorted input, without a copy.
    """
    inner = np.searchsorted(sorted_values, edges[1:-1], side="left")
    return np.diff(np.concatenate(([0], inner, [sorted_values.size]))).astype("float64")


def _aligned(ref: pd.Series, cur: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    index = ref.index.union(cur.index, sort=False)
    return (
        ref.reindex(index, fill_value=0).to_numpy(dtype="float64"),
        cur.reindex(index, fill_value=0).to_numpy(dtype="float64"),
    )


def counts(ref: Summary, cur: Summary, binned: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Paired counts: per category, per distinct number (few values), else per reference decile.

    ``binned`` forces decile bins for numbers (PSI). Raises LookupError when the reference
    profile lacks what is needed (the caller then loads the raw reference).
    """
    if ref.kind not in NUMERIC_KINDS:
        if ref.counts is None or not ref.complete:
            raise LookupError("category counts")
        return _aligned(ref.counts, cur.counts)
    if not binned:
        few = few_values(ref, cur, COUNTED_VALUES)
        if few is None:
            raise LookupError("distinct values")
        if few:
            return _aligned(value_counts(ref.values), value_counts(cur.values))
    edges = decile_edges(ref)
    ref_counts = bin_counts(ref.values, edges) if ref.values is not None else ref.edge_counts
    return ref_counts, bin_counts(cur.values, edges)


# --- the statistics ---------------------------------------------------------------------------


def _shares(values: np.ndarray) -> np.ndarray:
    total = values.sum()
    return values / total if total else values


def ks(ref: Summary, cur: Summary) -> float:
    from scipy import stats

    with warnings.catch_warnings():  # "exact calculation unsuccessful, switching to asymp"
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ks_2samp(ref.values, cur.values).pvalue)


def _piece(values: np.ndarray, low: float, high: float, last: bool) -> tuple:
    """The sorted values in [low, high) (``last``: [low, high]) with point masses at both ends
    carrying the counts below and above, as (values, weights) for scipy."""
    start = np.searchsorted(values, low, side="left")
    end = np.searchsorted(values, high, side="right" if last else "left")
    inside = values[start:end]
    points = np.concatenate(([low], inside, [high]))
    weights = np.concatenate(([start], np.ones(inside.size), [values.size - end]))
    return points, weights


def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """``scipy.stats.wasserstein_distance`` of two sorted samples, in bounded memory.

    W1 is the integral of |F_u - F_v| over the line, so it is the sum of the integrals over
    pieces [c_k, c_k+1). On each piece scipy gets the piece's values plus point masses at
    both ends holding the mass below and above, so its CDFs equal the full samples' there
    and are equal (0 or 1) elsewhere. Memory is O(WASSERSTEIN_PIECE), the result the same.
    """
    from scipy import stats

    if u.size + v.size <= 2 * WASSERSTEIN_PIECE:
        return float(stats.wasserstein_distance(u, v))
    top = max(u[-1], v[-1])
    cuts = np.unique(np.concatenate((u[::WASSERSTEIN_PIECE], v[::WASSERSTEIN_PIECE], [top])))
    total = 0.0
    with _one_blas_thread():
        for k in range(cuts.size - 1):
            last = k == cuts.size - 2
            u_points, u_weights = _piece(u, cuts[k], cuts[k + 1], last)
            v_points, v_weights = _piece(v, cuts[k], cuts[k + 1], last)
            total += stats.wasserstein_distance(u_points, v_points, u_weights, v_weights)
    return float(total)


def _one_blas_thread() -> Any:
    """scipy's final dot product per piece is tiny: BLAS threads only add wake-up latency
    (tens of ms per call on a busy machine). Limit them when threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def wasserstein(ref: Summary, cur: Summary) -> float:
    scale = max(float(np.std(ref.values)), WASSERSTEIN_MIN_STD)
    return wasserstein_sorted(ref.values, cur.values) / scale


def chisquare(ref: Summary, cur: Summary) -> float:
    from scipy import stats

    table = np.vstack(counts(ref, cur))
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0  # one category on both sides: nothing changed
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def jensenshannon(ref: Summary, cur: Summary) -> float:
    from scipy.spatial import distance

    ref_counts, cur_counts = counts(ref, cur)
    return float(distance.jensenshannon(_shares(ref_counts), _shares(cur_counts), base=2))


def psi(ref: Summary, cur: Summary) -> float:
    """Population stability index: sum((c - r) * ln(c / r)) over bins or categories."""
    ref_counts, cur_counts = counts(ref, cur, binned=True)
    keep = (ref_counts + cur_counts) > 0
    r, c = _shares(ref_counts[keep]), _shares(cur_counts[keep])
    r, c = np.where(r > 0, r, PSI_EPSILON), np.where(c > 0, c, PSI_EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


STATISTICS = {
    "ks": ks,
    "wasserstein": wasserstein,
    "chisquare": chisquare,
    "jensenshannon": jensenshannon,
    "psi": psi,
}


def compute(method: str, ref: Summary, cur: Summary) -> float:
    """The method's statistic; LookupError when a profile-backed reference lacks the data."""
    if METHODS[method].numeric_only and (ref.values is None or cur.values is None):
        raise LookupError("values")
    return STATISTICS[method](ref, cur)
