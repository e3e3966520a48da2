"""The run filter language, parsed (never ``eval``'d) and compiled to SQLAlchemy.

Grammar: Python expression syntax restricted to ``and``/``or``/``not``, comparisons
(``== != < <= > >= in not in``) between a field and literals. Fields: ``metrics.NAME``,
``params.NAME``, ``tags.NAME`` (``metrics["train/loss"]`` for names that are not
identifiers), and ``run_id name status experiment kind user start_time end_time``.
Example: ``metrics.auc > 0.8 and params.model == 'rf'``.
"""

from __future__ import annotations

import ast
import json
from typing import Any

import sqlalchemy as sa

from ..conditions import COMPARISONS
from ..errors import UsageError
from ..store import schema

COLUMNS = {
    "run_id": schema.runs.c.run_id,
    "name": schema.runs.c.name,
    "status": schema.runs.c.status,
    "kind": schema.runs.c.kind,
    "user": schema.runs.c.user,
    "start_time": schema.runs.c.start_time,
    "end_time": schema.runs.c.end_time,
    "parent_id": schema.runs.c.parent_id,
    "experiment": schema.experiments.c.name,
}
MAX_LENGTH = 4000


class FilterError(UsageError):
    pass


def _fail(expr: str, why: str) -> FilterError:
    return FilterError(
        f"bad filter {expr!r}: {why}; e.g. \"metrics.auc > 0.8 and params.model == 'rf'\""
    )


def _field(node: ast.AST, expr: str) -> tuple[str, str | None]:
    """('metrics'|'params'|'tags'|'column', key)."""
    if isinstance(node, ast.Name):
        if node.id in COLUMNS:
            return "column", node.id
        raise _fail(expr, f"unknown field {node.id!r}")
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        group, key = node.value.id, node.attr
    elif (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        group, key = node.value.id, node.slice.value
    else:
        raise _fail(expr, "the left side must be a field like metrics.auc or params.model")
    if group not in ("metrics", "params", "tags"):
        raise _fail(expr, f"unknown field group {group!r} (use metrics, params or tags)")
    return group, key


def _literal(node: ast.AST, expr: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        raise _fail(expr, "the right side must be a literal (number, 'text', True, list)") from None
    return value


def _numeric_param(column: sa.ColumnElement) -> sa.ColumnElement:
    """A JSON-text param as a float where it holds a number, else NULL (no cast errors)."""
    is_number = sa.and_(
        column.notin_(["true", "false", "null"]),
        ~column.startswith('"'),
        ~column.startswith("["),
        ~column.startswith("{"),
    )
    return sa.case((is_number, sa.cast(column, sa.Float)), else_=sa.null())


def _comparison(group: str, key: str | None, op: ast.cmpop, value: Any, expr: str):  # type: ignore[no-untyped-def]
    if isinstance(op, (ast.In, ast.NotIn)):
        if not isinstance(value, (list, tuple, set)):
            raise _fail(expr, "'in' needs a list, e.g. params.model in ['rf', 'gb']")
        clauses = [_comparison(group, key, ast.Eq(), v, expr) for v in value]
        combined = sa.or_(*clauses) if clauses else sa.false()
        return ~combined if isinstance(op, ast.NotIn) else combined
    if type(op) not in COMPARISONS:
        raise _fail(expr, f"unsupported operator {type(op).__name__}")
    compare = COMPARISONS[type(op)]
    if group == "column":
        return compare(COLUMNS[key], value)
    runs = schema.runs
    if group == "metrics":
        table = schema.latest_metrics
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _fail(expr, f"metrics compare with numbers, not {value!r}")
        cond = compare(table.c.value, value)
    elif group == "tags":
        table = schema.tags
        cond = compare(table.c.value, str(value))
    else:
        table = schema.params
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            cond = compare(_numeric_param(table.c.value), value)
        elif isinstance(op, (ast.Eq, ast.NotEq)):
            cond = compare(table.c.value, json.dumps(value, sort_keys=True, ensure_ascii=False))
        else:
            raise _fail(expr, "order comparisons (<, >) on params need a number")
    return sa.exists().where(table.c.run_id == runs.c.run_id, table.c.key == key, cond)


def _compile(node: ast.AST, expr: str):  # type: ignore[no-untyped-def]
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, expr) for v in node.values]
        return sa.and_(*parts) if isinstance(node.op, ast.And) else sa.or_(*parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return sa.not_(_compile(node.operand, expr))
    if isinstance(node, ast.Compare):
        clauses = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            group, key = _field(left, expr)
            clauses.append(_comparison(group, key, op, _literal(right, expr), expr))
            left = right
        return sa.and_(*clauses)
    raise _fail(expr, "expected comparisons joined by and/or/not")


def compile_filter(expr: str) -> sa.ColumnElement[bool]:
    """A SQLAlchemy condition on ``runs`` (joined with ``experiments``) for ``expr``."""
    if not isinstance(expr, str) or not expr.strip():
        raise FilterError("a filter must be a non-empty string")
    if len(expr) > MAX_LENGTH:
        raise _fail(expr[:40] + "...", f"longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise _fail(expr, f"syntax error at column {exc.offset}") from None
    except (ValueError, MemoryError, RecursionError):
        raise _fail(expr, "cannot parse") from None
    try:
        return _compile(tree.body, expr)
    except RecursionError:
        raise _fail(expr, "nested too deeply") from None
