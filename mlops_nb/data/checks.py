"""Data checks: declarative rules evaluated on a DataFrame, reported and stored with the run.

Rules (a dict, or the ``checks:`` section for a dataset name in ``mlops.yaml``)::

    checks:
      train:
        rows: {min: 1000, max: 5000000}     # row count bounds (either may be left out)
        no_schema_change: true              # same columns and dtypes as the previous version
        allow_extra_columns: true           # false: only the columns listed below
        columns:
          id:      {dtype: int64, not_null: true, unique: true}
          age:     {dtype: integer, min: 0, max: 120}
          country: {allowed: [FR, DE, US]}
          note:    {required: false}

Every listed column is required unless ``required: false``. ``dtype`` is either an exact
pandas dtype (``int64``, ``Int64``, ``category``, ``datetime64[us, UTC]``) or a family:
``integer``, ``float``, ``numeric``, ``boolean``, ``string``, ``categorical``, ``datetime``.
``unique`` ignores nulls; ``min``/``max``/``allowed`` judge non-null values (use
``not_null`` for nulls). Rules are evaluated with vectorised pandas operations over the whole
frame; each result names the rule, the column, how many rows fail, and a sample of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import GateFailed, UsageError
from ..store import schema as tables

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project

SAMPLE_ROWS = 5
FRAME_RULES = {"rows", "no_schema_change", "allow_extra_columns", "columns"}
COLUMN_RULES = {"dtype", "required", "not_null", "unique", "min", "max", "allowed"}
FAMILIES: dict[str, Callable[[Any], bool]] = {}


def _families() -> dict[str, Callable[[Any], bool]]:
    import pandas as pd

    types = pd.api.types
    if not FAMILIES:
        FAMILIES.update(
            integer=lambda d: types.is_integer_dtype(d) and not types.is_bool_dtype(d),
            float=types.is_float_dtype,
            numeric=lambda d: types.is_numeric_dtype(d) and not types.is_bool_dtype(d),
            boolean=types.is_bool_dtype,
            string=lambda d: types.is_string_dtype(d) and not isinstance(d, pd.CategoricalDtype),
            categorical=lambda d: isinstance(d, pd.CategoricalDtype),
            datetime=lambda d: d.kind == "M",
        )
    return FAMILIES


def validate_rules(rules: Any, where: str) -> dict[str, Any]:
    """Check the shape of a rules mapping; unknown keys are errors naming the valid ones."""
    if not isinstance(rules, dict):
        raise UsageError(f"{where}: data check rules must be a mapping (rows:, columns:, ...)")
    unknown = set(rules) - FRAME_RULES
    if unknown:
        raise UsageError(
            f"{where}: unknown check {sorted(unknown)[0]!r}; use {', '.join(sorted(FRAME_RULES))}"
        )
    columns = rules.get("columns") or {}
    if not isinstance(columns, dict):
        raise UsageError(f"{where}: 'columns' must map column names to their rules")
    for name, spec in columns.items():
        if spec is None:
            continue
        if not isinstance(spec, dict):
            raise UsageError(
                f"{where}: rules of column {name!r} must be a mapping, e.g. {{not_null: true}}"
            )
        bad = set(spec) - COLUMN_RULES
        if bad:
            raise UsageError(
                f"{where}: unknown rule {sorted(bad)[0]!r} for column {name!r}; "
                f"use {', '.join(sorted(COLUMN_RULES))}"
            )
        if "allowed" in spec and not isinstance(spec["allowed"], list):
            raise UsageError(f"{where}: 'allowed' of column {name!r} must be a list of values")
    bounds = rules.get("rows") or {}
    if not isinstance(bounds, dict) or set(bounds) - {"min", "max"}:
        raise UsageError(f"{where}: 'rows' takes {{min: N, max: N}}")
    return rules


def rules_for(project: Project, name: str | None) -> dict[str, Any] | None:
    """The ``checks:`` rules configured in ``mlops.yaml`` for dataset ``name``, if any."""
    from ..config import section

    if name is None:
        return None
    rules = section(project.config, "checks").get(name)
    return None if rules is None else validate_rules(rules, f"mlops.yaml checks.{name}")


def dtype_matches(expected: str, dtype: Any) -> bool:
    family = _families().get(expected)
    return family(dtype) if family is not None else str(dtype) == str(expected)


# --- evaluation -------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _result(
    rule: str,
    column: str | None,
    failing: int,
    message: str,
    sample: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "rule": rule,
        "column": column,
        "passed": failing == 0,
        "failing": failing,
        "message": message,
        "sample": sample or [],
    }


def _row_rule(df: pd.DataFrame, rule: str, column: str, mask: Any, what: str) -> dict[str, Any]:
    failing = int(mask.sum())
    sample = []
    if failing:
        rows = df.loc[mask.to_numpy()].head(SAMPLE_ROWS)
        rows = rows.astype(object).where(rows.notna(), None)
        sample = _jsonable(
            [
                {"index": idx, **row}
                for idx, row in zip(
                    rows.index.tolist(), rows.to_dict(orient="records"), strict=False
                )
            ]
        )
    message = f"{failing} rows {what}" if failing else "ok"
    return _result(rule, column, failing, message, sample)


def _bound(series: pd.Series, value: Any) -> Any:
    import pandas as pd

    if series.dtype.kind == "M":
        stamp = pd.Timestamp(value)
        tz = getattr(series.dtype, "tz", None)
        if tz is not None and stamp.tz is None:
            stamp = stamp.tz_localize(tz)
        return stamp
    return value


def _column_results(df: pd.DataFrame, name: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    if name not in df.columns:
        if spec.get("required", True):
            return [_result("required", name, 1, f"column {name!r} is missing")]
        return []
    series = df[name]
    out = []
    if "dtype" in spec:
        ok = dtype_matches(str(spec["dtype"]), series.dtype)
        out.append(
            _result(
                "dtype",
                name,
                0 if ok else 1,
                "ok" if ok else f"dtype is {series.dtype}, expected {spec['dtype']}",
            )
        )
    present = series.notna()
    if spec.get("not_null"):
        out.append(_row_rule(df, "not_null", name, ~present, "are null"))
    if spec.get("unique"):
        out.append(
            _row_rule(
                df,
                "unique",
                name,
                series.duplicated(keep=False) & present,
                "share a value with another row",
            )
        )
    for rule, compare in (("min", lambda s, v: s < v), ("max", lambda s, v: s > v)):
        if rule in spec:
            try:
                mask = compare(series, _bound(series, spec[rule])).fillna(False).astype(bool)
            except (TypeError, ValueError) as exc:
                raise UsageError(
                    f"check {rule}: {spec[rule]!r} on column {name!r} ({series.dtype}): {exc}"
                ) from None
            word = "below the minimum" if rule == "min" else "above the maximum"
            out.append(_row_rule(df, rule, name, mask & present, f"are {word} {spec[rule]}"))
    if "allowed" in spec:
        allowed = spec["allowed"]
        mask = ~series.isin(allowed) & present
        out.append(_row_rule(df, "allowed", name, mask, "hold values not in the allowed list"))
    return out


def _schema_result(df: pd.DataFrame, previous: dict[str, Any] | None) -> dict[str, Any]:
    from .fingerprint import dtype_spec

    if previous is None or "columns" not in previous or "row_hash" not in previous:
        return _result("no_schema_change", None, 0, "ok (no previous dataframe version)")
    before = {c["name"]: c["dtype"] for c in previous["columns"]}
    now = {str(c): dtype_spec(df[c].dtype) for c in df.columns}
    changes = [f"+{c}" for c in now if c not in before]
    changes += [f"-{c}" for c in before if c not in now]
    changes += [f"{c}: {before[c]} -> {now[c]}" for c in now if c in before and before[c] != now[c]]
    if not changes and list(before) != list(now):
        changes.append("column order changed")
    return _result(
        "no_schema_change",
        None,
        len(changes),
        "ok" if not changes else "schema changed: " + "; ".join(changes),
    )


def evaluate(
    df: pd.DataFrame, rules: dict[str, Any], previous_schema: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every rule's result, in a stable order (frame rules first, then by column)."""
    results = []
    bounds = rules.get("rows") or {}
    if bounds:
        low, high = bounds.get("min"), bounds.get("max")
        bad = (low is not None and len(df) < low) or (high is not None and len(df) > high)
        results.append(
            _result(
                "rows",
                None,
                int(bad),
                f"{len(df)} rows, expected {low or 0}..{high or 'any'}" if bad else "ok",
            )
        )
    if rules.get("no_schema_change"):
        results.append(_schema_result(df, previous_schema))
    columns = rules.get("columns") or {}
    if rules.get("allow_extra_columns") is False:
        extra = [str(c) for c in df.columns if c not in columns]
        results.append(
            _result(
                "allow_extra_columns",
                None,
                len(extra),
                f"unexpected columns: {', '.join(extra)}" if extra else "ok",
            )
        )
    for name, spec in columns.items():
        results.extend(_column_results(df, name, spec or {}))
    return results


# --- the report -------------------------------------------------------------------------


@dataclass
class DataCheckReport:
    """The outcome of ``check_data``: ``passed``, one result per rule, ``summary()``."""

    target: str
    rows: int
    results: list[dict[str, Any]]
    dataset_version_id: int | None = None
    run_id: str | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def passed(self) -> bool:
        return all(r["passed"] for r in self.results)

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["passed"]]

    def summary(self) -> str:
        """One line, e.g. ``train@3: 2 of 9 checks failed: not_null(age) 12 rows, rows``."""
        total = len(self.results)
        if self.passed:
            return f"{self.target}: all {total} data checks passed"
        failed = ", ".join(
            f"{r['rule']}({r['column']})" + (f" {r['failing']} rows" if r["sample"] else "")
            if r["column"]
            else r["rule"]
            for r in self.failures
        )
        return f"{self.target}: {len(self.failures)} of {total} data checks failed: {failed}"

    def raise_if_failed(self) -> DataCheckReport:
        """Raise ``GateFailed`` (exit code 1 in the CLI) when a check failed."""
        if not self.passed:
            raise GateFailed(self.summary())
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "passed": self.passed,
            "rows": self.rows,
            "summary": self.summary(),
            "results": self.results,
            "run_id": self.run_id,
            "created_at": self.created_at,
        }

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            self.results, columns=["rule", "column", "passed", "failing", "message"]
        )

    def __str__(self) -> str:
        lines = [self.summary()]
        lines += [
            f"  {'ok  ' if r['passed'] else 'FAIL'} {r['rule']:<20} "
            f"{r['column'] or '':<20} {r['message']}"
            for r in self.results
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from .display import checks_html

        return checks_html(self)


def store(project: Project, report: DataCheckReport) -> None:
    """Record a report (with its run and dataset version) in ``data_check_results``."""
    with project.db.write() as conn:
        conn.execute(
            sa.insert(tables.data_check_results).values(
                run_id=report.run_id,
                dataset_version_id=report.dataset_version_id,
                passed=report.passed,
                report=json.dumps(report.to_dict(), default=str),
                created_at=report.created_at,
            )
        )


def data_checks_status(project: Project, dataset_version_id: int) -> tuple[bool | None, str]:
    """The latest recorded check result of a version: (passed or None if never checked, line)."""
    table = tables.data_check_results
    with project.db.read() as conn:
        row = conn.execute(
            sa.select(table.c.passed, table.c.report)
            .where(table.c.dataset_version_id == dataset_version_id)
            .order_by(table.c.created_at.desc(), table.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None, "no data checks recorded for this dataset version"
    return bool(row.passed), json.loads(row.report).get("summary", "")
