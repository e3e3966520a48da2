"""Plain HTML and text renderings of tables and values.

The widgets build their cells from these, and every widget also carries them as its
``text/html`` and ``text/plain`` fallback, so a terminal IPython, an untrusted notebook or a
static notebook viewer still shows a readable table where no widget front end exists.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

STYLE = (
    "<style>.mlops-table{border-collapse:collapse;font-size:12px}"
    ".mlops-table th,.mlops-table td{padding:2px 8px;text-align:left;"
    "border-bottom:1px solid #ddd;white-space:nowrap}"
    ".mlops-table tr.mlops-best td{background:#e6f4ea;font-weight:bold}"
    ".mlops-ok{color:#188038}.mlops-bad{color:#c5221f}.mlops-muted{color:#777}</style>"
)


def has_widget_frontend(shell: Any) -> bool:
    """True in a Jupyter kernel (a front end may render widgets), False in a terminal."""
    return shell is not None and getattr(shell, "kernel", None) is not None


def duration(seconds: Any) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def value_text(value: Any) -> str:
    """A table cell as short text: numbers to 4 significant digits, times to the minute."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, datetime):
        return "" if value != value else value.strftime("%Y-%m-%d %H:%M")
    if hasattr(value, "item") and getattr(value, "size", 2) == 1:  # numpy scalar
        return value_text(value.item())
    try:
        if value != value:  # NaN-like (pandas NA/NaT)
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def cell_text(column: str, value: Any) -> str:
    if column == "duration":
        return duration(value)
    if column == "run_id" and isinstance(value, str):
        return value[:8]
    return value_text(value)


def table_html(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    best: int | None = None,
    caption: str | None = None,
) -> str:
    """An HTML table; ``rows`` hold raw values, formatted by :func:`cell_text`."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for index, row in enumerate(rows):
        cls = ' class="mlops-best"' if index == best else ""
        cells = "".join(
            f"<td>{html.escape(cell_text(c, v))}</td>" for c, v in zip(columns, row, strict=True)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'{STYLE}<table class="mlops-table">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def table_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A fixed-width text table."""
    cells = [[cell_text(c, v) for c, v in zip(columns, row, strict=True)] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.extend(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
    return "\n".join(lines)


def frame_table(frame: Any, columns: Sequence[str] | None = None) -> tuple[list[str], list[list]]:
    """(columns, rows of raw values) of a DataFrame, for :func:`table_html`/`table_text`."""
    columns = [c for c in (columns or frame.columns) if c in frame.columns]
    rows = [list(row) for row in frame[columns].itertuples(index=False, name=None)]
    return columns, rows


def notes_html(reproducible: bool | None, notes: Sequence[str]) -> str:
    if reproducible is None:
        return '<span class="mlops-muted">reproducibility not assessed</span>'
    if reproducible:
        return '<span class="mlops-ok">✓ reproducible top to bottom</span>'
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f'<span class="mlops-bad">✗ not reproducible</span><ul>{items}</ul>'


def notes_text(reproducible: bool | None, notes: Sequence[str]) -> str:
    if reproducible is None:
        return "reproducibility not assessed"
    if reproducible:
        return "reproducible top to bottom"
    return "not reproducible: " + "; ".join(notes)
