"""Notebook (HTML) and plain-text renderings of versions, diffs and check reports."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checks import DataCheckReport
    from .diff import DatasetDiff
    from .versions import DatasetVersion


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def table(rows: Iterable[Sequence[Any]], header: Sequence[str], title: str = "") -> str:
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td style='text-align:left'>{html.escape(fmt(v))}</td>" for v in row)
        + "</tr>"
        for row in rows
    )
    caption = f"<b>{html.escape(title)}</b>" if title else ""
    return f"{caption}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def profile_rows(profile: dict[str, Any] | None) -> list[tuple[Any, ...]]:
    """One row per column: name, dtype, kind, nulls, distinct, min, max, mean, top value."""
    rows = []
    for name, col in ((profile or {}).get("columns") or {}).items():
        top = next(iter((col.get("top") or {}).items()), None)
        rows.append(
            (
                name,
                col["dtype"],
                col["kind"],
                col["nulls"],
                col["distinct"],
                col.get("min"),
                col.get("max"),
                col.get("mean"),
                f"{top[0]} ({top[1]})" if top else None,
            )
        )
    return rows


PROFILE_HEADER = ("column", "dtype", "kind", "nulls", "distinct", "min", "max", "mean", "top")


def version_facts(version: DatasetVersion) -> list[tuple[str, Any]]:
    return [
        ("ref", version.ref),
        ("kind", version.kind),
        ("rows", version.rows),
        ("columns", version.columns),
        ("size", version.size),
        ("digest", version.digest),
        ("created", when(version.created_at)),
        ("created by", version.created_by),
        ("run", version.run_id),
        ("description", version.description),
    ]


def version_html(version: DatasetVersion) -> str:
    parts = [table(version_facts(version), ("field", "value"), f"dataset {version.ref}")]
    if version.profile:
        parts.append(table(profile_rows(version.profile), PROFILE_HEADER, "profile"))
    return "".join(parts)


def diff_sections(diff: DatasetDiff) -> list[tuple[str, Sequence[str], list[tuple[Any, ...]]]]:
    """(title, header, rows) of each non-empty part of a diff."""
    sections: list[tuple[str, Sequence[str], list[tuple[Any, ...]]]] = []
    if diff.rows_added is not None:
        counts = [
            ("rows", diff.rows_a, diff.rows_b),
            ("added", None, diff.rows_added),
            ("removed", diff.rows_removed, None),
            ("unchanged", diff.rows_unchanged, None),
        ]
        if diff.rows_changed is not None:
            counts.append(("changed", diff.rows_changed, None))
        sections.append(("rows", ("", diff.a, diff.b), [(k, a, b) for k, a, b in counts]))
    if diff.schema_changes:
        sections.append(
            (
                "schema changes",
                ("column", "change", diff.a, diff.b),
                [(c["column"], c["change"], c["a"], c["b"]) for c in diff.schema_changes],
            )
        )
    if diff.changed_columns:
        sections.append(
            ("changed columns", ("column", "changed rows"), sorted(diff.changed_columns.items()))
        )
    if diff.profile_deltas:
        sections.append(
            (
                "profile",
                ("column", "stat", diff.a, diff.b, "delta"),
                [(d["column"], d["stat"], d["a"], d["b"], d["delta"]) for d in diff.profile_deltas],
            )
        )
    if diff.new_values:
        sections.append(
            (
                "new values",
                ("column", "values"),
                [(c, ", ".join(v)) for c, v in diff.new_values.items()],
            )
        )
    files = (
        [("added", p) for p in diff.files_added]
        + [("removed", p) for p in diff.files_removed]
        + [("changed", p) for p in diff.files_changed]
    )
    if files:
        sections.append(("files", ("change", "path"), files))
    return sections


def diff_html(diff: DatasetDiff) -> str:
    body = "".join(table(rows, header, title) for title, header, rows in diff_sections(diff))
    return f"<div><p>{html.escape(diff.summary())}</p>{body}</div>"


def diff_text(diff: DatasetDiff) -> str:
    lines = [diff.summary()]
    for title, header, rows in diff_sections(diff):
        lines.append(f"{title}:")
        lines.append("  " + " | ".join(header))
        lines += ["  " + " | ".join(fmt(v) for v in row) for row in rows]
    return "\n".join(lines)


def checks_html(report: DataCheckReport) -> str:
    color = "green" if report.passed else "#c00"
    rows = [
        ("ok" if r["passed"] else "FAIL", r["rule"], r["column"], r["failing"], r["message"])
        for r in report.results
    ]
    return (
        f"<div><p style='color:{color}'>{html.escape(report.summary())}</p>"
        + table(rows, ("", "rule", "column", "failing", "message"))
        + "</div>"
    )
