"""``DriftReport``: the result of ``detect_drift``, as a table, a dict, and HTML with plots."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .drift import ColumnResult
from .methods import METHODS
from .plots import CURRENT_COLOR, REFERENCE_COLOR, svg

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "mlops_nb.drift/1"
HEADERS = ("column", "", "method", "statistic", "threshold", "PSI", "distribution", "signals")
TABLE_COLUMNS = [
    "column",
    "kind",
    "method",
    "statistic",
    "threshold",
    "drifted",
    "psi",
    "reference_count",
    "current_count",
    "reference_null_rate",
    "current_null_rate",
    "new_categories",
    "signals",
    "note",
]


def plain(value: Any) -> Any:
    """JSON-ready: NaN and infinities become None, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _signal_detail(result: ColumnResult, signal: str) -> str:
    if signal == "missing_column":
        return "absent from the current batch"
    if signal == "dtype_changed":
        return f"type {result.reference_dtype} -> {result.current_dtype}"
    if signal == "null_rate_jump":
        return f"nulls {result.reference_null_rate:.1%} -> {result.current_null_rate:.1%}"
    if signal == "all_null":
        return "every current value is null"
    if signal == "new_categories":
        shown = ", ".join(result.new_categories)
        return f"unseen categories ({result.new_category_share:.1%} of values): {shown}"
    return signal


@dataclass
class DriftReport:
    """Per-column drift verdicts and the dataset-level decision.

    ``dataset_drift`` is True when ``drift_share`` (drifted / tested columns) reaches
    ``drift_share_threshold`` (``monitor.drift_share``, default 0.5).
    """

    results: list[ColumnResult]
    reference: dict[str, Any]
    current: dict[str, Any]
    drift_share_threshold: float
    new_columns: list[str] = field(default_factory=list)

    # -- the verdicts
    @property
    def tested(self) -> list[ColumnResult]:
        return [r for r in self.results if r.tested or r.drifted]

    @property
    def drifted_columns(self) -> list[str]:
        return [r.column for r in self.results if r.drifted]

    @property
    def drift_share(self) -> float:
        tested = self.tested
        return len(self.drifted_columns) / len(tested) if tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.tested) and self.drift_share >= self.drift_share_threshold

    @property
    def signals(self) -> list[dict[str, str]]:
        """Missing/new columns, type changes, null-rate jumps, unseen categories."""
        found = [
            {"column": r.column, "signal": s, "detail": _signal_detail(r, s)}
            for r in self.results
            for s in r.signals
        ]
        found += [
            {"column": c, "signal": "new_column", "detail": "only in the current batch"}
            for c in self.new_columns
        ]
        return found

    def __getitem__(self, column: str) -> ColumnResult:
        for result in self.results:
            if result.column == column:
                return result
        raise KeyError(column)

    @cached_property
    def columns(self) -> pd.DataFrame:
        """One row per column: column, method, statistic, threshold, drifted, psi, signals..."""
        import pandas as pd

        rows = [{name: getattr(r, name) for name in TABLE_COLUMNS} for r in self.results]
        return pd.DataFrame(rows, columns=TABLE_COLUMNS)

    # -- exports
    def to_dict(self, plots: bool = True) -> dict[str, Any]:
        """JSON-ready: the verdicts, every column (with its plot data), and the signals."""
        columns = []
        for r in self.results:
            entry = {name: getattr(r, name) for name in TABLE_COLUMNS}
            entry.update(
                reference_dtype=r.reference_dtype,
                current_dtype=r.current_dtype,
                new_category_share=r.new_category_share,
                reference_source=r.reference_source,
            )
            if plots:
                entry["plot"] = r.plot
            columns.append(entry)
        return plain(
            {
                "format": FORMAT,
                "reference": self.reference,
                "current": self.current,
                "dataset_drift": self.dataset_drift,
                "drift_share": self.drift_share,
                "drift_share_threshold": self.drift_share_threshold,
                "drifted_columns": self.drifted_columns,
                "tested_columns": len(self.tested),
                "columns": columns,
                "signals": self.signals,
            }
        )

    def figures(self) -> dict[str, str]:
        """Column name -> inline SVG of reference vs current."""
        return {r.column: svg(r.plot, r.column) for r in self.results if r.plot}

    def to_html(self, path: str | Path | None = None) -> str:
        """A standalone HTML page (no scripts, no raw rows); written to ``path`` when given."""
        page = (
            '<!doctype html><html><head><meta charset="utf-8"><title>Drift report</title>'
            f"</head><body>{self._repr_html_()}</body></html>"
        )
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def summary(self) -> str:
        verdict = "DRIFT" if self.dataset_drift else "no dataset drift"
        return (
            f"{verdict}: {len(self.drifted_columns)} of {len(self.tested)} columns drifted "
            f"(share {self.drift_share:.2f}, threshold {self.drift_share_threshold:.2f})"
        )

    def __repr__(self) -> str:
        drifted = ", ".join(self.drifted_columns[:10])
        more = "" if len(self.drifted_columns) <= 10 else ", ..."
        return f"<DriftReport {self.summary()}{': ' + drifted + more if drifted else ''}>"

    def _repr_html_(self) -> str:
        return render_html(self)


def _statistic_cell(r: ColumnResult) -> str:
    if math.isnan(r.statistic):
        return ""
    method = METHODS[r.method]
    prefix = "p=" if method.p_value else ""
    return f'<span title="{escape(method.label)}">{prefix}{r.statistic:.3g}</span>'


def _badge(r: ColumnResult) -> str:
    if r.drifted:
        return '<b style="color:#c92a2a">drift</b>'
    if not r.tested:
        return '<span style="color:#868e96">n/a</span>'
    return '<span style="color:#2b8a3e">ok</span>'


def _row(r: ColumnResult) -> str:
    badge = _badge(r)
    threshold = "" if math.isnan(r.threshold) else f"{r.threshold:g}"
    psi = "" if math.isnan(r.psi) else f"{r.psi:.3f}"
    signals = "<br>".join(escape(_signal_detail(r, s)) for s in r.signals)
    note = escape(r.note)
    return (
        f"<tr><td><b>{escape(r.column)}</b><br><small>{escape(r.kind)}</small></td>"
        f"<td>{badge}</td><td>{escape(r.method)}</td><td>{_statistic_cell(r)}</td>"
        f"<td>{threshold}</td><td>{psi}</td><td>{svg(r.plot, r.column)}</td>"
        f"<td><small>{signals}{'<br>' if signals and note else ''}{note}</small></td></tr>"
    )


def render_html(report: DriftReport) -> str:
    """The report as an HTML fragment: header, legend and one row (with a plot) per column."""
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "column",
            "",
            "method",
            "statistic",
            "threshold",
            "PSI",
            "distribution",
            "signals",
        )
    )
    color = "#c92a2a" if report.dataset_drift else "#2b8a3e"
    ref, cur = report.reference, report.current
    new = ""
    if report.new_columns:
        new = f"<p>Only in current: {escape(', '.join(report.new_columns))}</p>"
    return (
        '<div class="mlops-drift" style="font-family:sans-serif;font-size:13px">'
        f'<p style="font-size:15px;color:{color}"><b>{escape(report.summary())}</b></p>'
        f"<p>reference <code>{escape(str(ref.get('label')))}</code> ({ref.get('rows')} rows) vs "
        f"current <code>{escape(str(cur.get('label')))}</code> ({cur.get('rows')} rows); "
        f'<span style="color:{REFERENCE_COLOR}">&#9632; reference</span> '
        f'<span style="color:{CURRENT_COLOR}">&#9632; current</span></p>{new}'
        '<table style="border-collapse:collapse" cellpadding="4">'
        f"<thead><tr>{head}</tr></thead><tbody>"
        + "".join(_row(r) for r in report.results)
        + "</tbody></table></div>"
    )
