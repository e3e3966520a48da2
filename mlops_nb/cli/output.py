"""Output for people (rich tables) and scripts (``--json``)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def to_jsonable(value: Any) -> Any:
    """Make pandas/numpy/datetime values JSON-friendly (NaN -> null)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if value is not None and type(value).__name__ in ("NaTType",):
        return None
    pd = sys.modules.get("pandas")  # only values from pandas need its NA checks
    if pd is not None and not isinstance(value, (str, bytes)):
        try:
            if value is pd.NA or pd.isna(value) is True:
                return None
        except (TypeError, ValueError):
            pass
    return _plain(value)


def print_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def format_cell(value: Any) -> str:
    value = to_jsonable(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        return value[:19].replace("T", " ")
    return str(value)


def print_table(
    rows: Iterable[Sequence[Any]], columns: Sequence[str], title: str | None = None
) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape(format_cell(v)) for v in row))
    Console().print(table)


def print_frame(frame: Any, title: str | None = None, max_rows: int = 200) -> None:
    """A DataFrame as a rich table."""
    shown = frame.head(max_rows)
    print_table(shown.itertuples(index=False), [str(c) for c in shown.columns], title)
    if len(frame) > max_rows:
        click.echo(f"... {len(frame) - max_rows} more rows (use --json for all)")
