"""Conditions in config files, evaluated in Python without ``eval``.

Used by promotion gates (``metrics.auc >= 0.85``), pipeline gates and monitor triggers
(``drift_share > 0.3 or metrics.auc < 0.8``). The syntax is Python's expression syntax
restricted to ``and or not``, comparisons, names with dotted/``["key"]`` access into the
namespace, literals, and ``+ - * /`` on numbers.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import UsageError

# Comparison operators by syntax node; the run filter language compiles the same ones to SQL.
COMPARISONS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_COMPARE = {
    **COMPARISONS,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ARITH = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class ConditionError(UsageError):
    """A condition that cannot be evaluated on these values (e.g. comparing text with a number)."""


def _number(value: Any, text: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConditionError(f"arithmetic needs numbers, got {value!r:.40} in {text!r}")
    return value


class MissingValue(LookupError):
    """A name in the condition is not in the namespace (e.g. a metric the run lacks)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class Condition:
    """A parsed condition; ``evaluate(namespace)`` returns a bool or raises MissingValue."""

    text: str
    tree: ast.Expression

    def evaluate(self, namespace: Mapping[str, Any]) -> bool:
        """True or False; raises MissingValue for an absent name, ConditionError for values
        that cannot be compared or computed."""
        return bool(_eval(self.tree.body, namespace, self.text))

    def names(self) -> list[str]:
        """Dotted names the condition reads, e.g. ``["metrics.auc"]``."""
        found = []
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Attribute, ast.Subscript, ast.Name)):
                try:
                    found.append(dotted(node))
                except ValueError:
                    continue
        return sorted({n for n in found if not any(o.startswith(n + ".") for o in found)})

    def __str__(self) -> str:
        return self.text


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return f"{dotted(node.value)}.{node.slice.value}"
    raise ValueError("not a name")


def parse_condition(text: Any, where: str = "condition") -> Condition:
    """Parse and validate ``text``; errors name ``where`` (e.g. ``mlops.yaml promotion``)."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"{where}: a condition must be a non-empty string like 'metrics.x >= 1'")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise UsageError(f"{where}: cannot parse {text!r} (column {exc.offset})") from None
    for node in ast.walk(tree):
        allowed = (
            ast.Expression,
            ast.BoolOp,
            ast.And,
            ast.Or,
            ast.UnaryOp,
            ast.Not,
            ast.USub,
            ast.Compare,
            ast.Name,
            ast.Attribute,
            ast.Subscript,
            ast.Constant,
            ast.Load,
            ast.List,
            ast.Tuple,
            ast.BinOp,
            *_COMPARE,
            *_ARITH,
        )
        if not isinstance(node, allowed):
            raise UsageError(f"{where}: {type(node).__name__} is not allowed in {text!r}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise UsageError(f"{where}: private names are not allowed in {text!r}")
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            try:
                dotted(node)
            except ValueError:
                raise UsageError(
                    f"{where}: {ast.unparse(node)!r} is not a name like metrics.auc or "
                    f"metrics['a/b'] in {text!r}"
                ) from None
    return Condition(text.strip(), tree)


def _lookup(node: ast.AST, namespace: Mapping[str, Any]) -> Any:
    name = dotted(node)
    value: Any = namespace
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise MissingValue(name)
        value = value[part]
    return value


def _eval(node: ast.AST, namespace: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, namespace, text) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, namespace, text)
        return (not value) if isinstance(node.op, ast.Not) else -_number(value, text)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, namespace, text)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, namespace, text)
            try:
                holds = _COMPARE[type(op)](left, right)
            except TypeError:
                raise ConditionError(
                    f"cannot compare {left!r:.40} with {right!r:.40} in {text!r}"
                ) from None
            if not holds:
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp):
        left = _number(_eval(node.left, namespace, text), text)
        right = _number(_eval(node.right, namespace, text), text)
        try:
            return _ARITH[type(node.op)](left, right)
        except (ZeroDivisionError, OverflowError):
            raise ConditionError(f"arithmetic error (division by zero?) in {text!r}") from None
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, namespace, text) for e in node.elts]
    return _lookup(node, namespace)
