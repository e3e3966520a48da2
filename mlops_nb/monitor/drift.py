"""Column-by-column comparison of a reference and a current batch.

Each column gets a test (chosen by type and size, or set per column), and signals that
Evidently-style tests cannot see because they drop nulls: a missing column, a changed type,
a jump in the share of nulls, categories the reference never had. Columns are processed one
at a time so that only one column's values are held in memory at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import UsageError
from . import methods
from .columns import Summary
from .plots import distribution
from .settings import ColumnSpec, Settings
from .sources import Source

LABEL_KINDS = ("categorical", "boolean", "text")
NEW_CATEGORIES_SHOWN = 10


@dataclass
class ColumnResult:
    """The verdict on one column; ``statistic`` is a p-value for tests, else a distance."""

    column: str
    kind: str
    method: str  # a method name, "missing" (absent from current) or "skipped" (not tested)
    statistic: float = math.nan
    threshold: float = math.nan
    drifted: bool = False
    psi: float = math.nan
    reference_dtype: str = ""
    current_dtype: str = ""
    reference_count: int = 0  # non-null values compared
    current_count: int = 0
    reference_null_rate: float = math.nan
    current_null_rate: float = math.nan
    new_categories: list[str] = field(default_factory=list)
    new_category_share: float = 0.0
    signals: list[str] = field(default_factory=list)
    note: str = ""
    reference_source: str = "data"  # "profile" when the stored dataset profile sufficed
    plot: dict[str, Any] | None = None

    @property
    def tested(self) -> bool:
        return self.method != "skipped"


def column_specs(
    names: Sequence[str],
    settings: Settings,
    method: str | Mapping[str, str],
    threshold: float | Mapping[str, float] | None,
) -> dict[str, ColumnSpec]:
    """Each column's method and threshold: call arguments over mlops.yaml over defaults."""
    from .settings import number

    if isinstance(method, Mapping):
        chosen = {str(k): methods.canonical_method(v, f"method[{k!r}]") for k, v in method.items()}
        default_method = None
    else:
        chosen, default_method = {}, methods.canonical_method(method)
    if isinstance(threshold, Mapping):
        limits = {str(k): number(v, f"threshold[{k!r}]") for k, v in threshold.items()}
        default_threshold = None
    else:
        limits = {}
        default_threshold = None if threshold is None else number(threshold, "threshold")
        if default_threshold is not None and default_method in (None, "auto"):
            raise UsageError(
                "a single threshold needs a single method (e.g. method='psi', threshold=0.2); "
                "or pass thresholds per column as a dict"
            )
    unknown = (set(chosen) | set(limits)) - set(names)
    if unknown:
        raise UsageError(f"method/threshold given for unknown column(s) {sorted(unknown)}")
    specs = {}
    for name in names:
        if default_method not in (None, "auto"):
            spec = ColumnSpec(default_method, default_threshold)
        else:
            spec = settings.spec(name)
        if name in chosen:
            spec = ColumnSpec(chosen[name])
        if name in limits:
            spec = replace(spec, threshold=limits[name])
        specs[name] = spec
    return specs


def _current_summary(current: Source, column: Any, ref: Summary) -> tuple[Summary, bool]:
    """The current column as the reference's kind; True when its own type differs."""
    cur = current.summary(column)
    if cur.kind == ref.kind:
        return cur, False
    if cur.counts is not None and ref.kind in LABEL_KINDS:
        return replace(cur, kind=ref.kind), True
    return current.summary(column, ref.kind), True


def _new_categories(ref: Summary, cur: Summary, result: ColumnResult) -> None:
    if ref.counts is None or not ref.complete or cur.counts is None:
        return
    unseen = cur.counts[~cur.counts.index.isin(ref.counts.index)]
    if len(unseen):
        top = unseen.sort_values(ascending=False)
        result.new_categories = [str(v) for v in top.index[:NEW_CATEGORIES_SHOWN]]
        result.new_category_share = float(unseen.sum() / max(cur.present, 1))
        result.signals.append("new_categories")


def _test(result: ColumnResult, spec: ColumnSpec, ref: Summary, cur: Summary) -> None:
    """Choose and run the test, and the PSI alongside (LookupError: raw reference needed)."""
    name = spec.method if spec.method != "auto" else methods.choose(ref, cur)
    if name is None:
        result.method = "skipped"
        result.note = (
            f"{ref.kind} column: not tested by default; set monitor.columns.<name>.method "
            "to test it"
        )
        return
    methods.check_applicable(name, ref, result.column)
    method = methods.METHODS[name]
    threshold = method.threshold if spec.threshold is None else spec.threshold
    statistic = methods.compute(name, ref, cur)
    result.method, result.threshold, result.statistic = name, threshold, statistic
    result.drifted = method.drifted(statistic, threshold)
    if name == "psi":
        result.psi = statistic
    else:
        try:
            result.psi = methods.psi(ref, cur)
        except LookupError:
            result.psi = math.nan


def compare_column(
    column: Any, reference: Source, current: Source, spec: ColumnSpec, settings: Settings
) -> ColumnResult:
    """Compare one column of the two sides (it is in the reference)."""
    ref = reference.summary(column)
    result = ColumnResult(
        str(column),
        ref.kind,
        "missing",
        reference_dtype=ref.dtype,
        reference_count=ref.present,
        reference_null_rate=ref.null_rate,
    )
    if column not in current.columns:
        result.drifted = True
        result.signals.append("missing_column")
        result.note = "absent from the current batch"
        return result
    cur, changed = _current_summary(current, column, ref)
    result.current_dtype, result.current_count = cur.dtype, cur.present
    result.current_null_rate = cur.null_rate
    if changed:
        result.signals.append("dtype_changed")
    if abs(cur.null_rate - ref.null_rate) > settings.null_rate_jump:
        result.signals.append("null_rate_jump")
    signalled = "null_rate_jump" in result.signals
    if not cur.present or not ref.present:
        result.method = "skipped"
        if not cur.present:
            result.signals.append("all_null")
        result.note = "no non-null values to compare"
        result.drifted = signalled or bool(cur.present) != bool(ref.present)
        return result
    tested_ref = ref
    try:
        _test(result, spec, ref, cur)
    except LookupError:
        tested_ref = reference.raw_summary(column, ref.kind)
        _test(result, spec, tested_ref, cur)
    else:
        result.reference_source = "profile" if reference.from_profile else "data"
    if result.kind in LABEL_KINDS:
        _new_categories(tested_ref, cur, result)
    result.drifted = bool(result.drifted or signalled)
    if result.tested:
        result.plot = distribution(tested_ref, cur)
    return result


def select_columns(
    reference: Source, columns: Sequence[Any] | None, settings: Settings
) -> list[Any]:
    if columns is None:
        return [c for c in reference.columns if str(c) not in settings.ignore]
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise UsageError("columns must be a list of column names")
    missing = [c for c in columns if c not in reference.columns]
    if missing:
        shown = ", ".join(map(str, reference.columns[:20]))
        raise UsageError(f"column(s) {missing} not in the reference; it has: {shown}")
    if len(set(map(str, columns))) != len(columns):
        raise UsageError("columns lists a name twice")
    return list(columns)
