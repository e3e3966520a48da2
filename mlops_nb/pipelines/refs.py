"""``${...}`` references in step parameters.

Forms: ``${vars.NAME}`` (or ``${NAME}``), ``${steps.STEP.outputs.KEY}`` (a file path, or a
pinned ``name@version`` for a dataset or model output), ``${steps.STEP.metrics.KEY}`` and
``${inputs.NAME}`` (the pinned version of a dataset input of the same step). A value that is
exactly one reference keeps the referenced value's type; references inside longer text are
formatted into it. ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")


@dataclass(frozen=True)
class Ref:
    """A parsed reference: ``scope`` is vars, inputs or steps."""

    text: str
    scope: str
    name: str
    step: str | None = None
    field: str | None = None  # outputs or metrics


class RefError(ValueError):
    pass


def parse_ref(text: str) -> Ref:
    body = text.strip()
    head, _, rest = body.partition(".")
    if head == "steps":
        step, _, tail = rest.partition(".")
        field, _, key = tail.partition(".")
        if not step or field not in ("outputs", "metrics") or not key:
            raise RefError(
                f"${{{text}}} must look like ${{steps.STEP.outputs.KEY}} or "
                "${steps.STEP.metrics.KEY}"
            )
        return Ref(text, "steps", key, step, field)
    if head in ("vars", "inputs"):
        if not rest:
            raise RefError(f"${{{text}}} must name a {head[:-1]}: ${{{head}.NAME}}")
        return Ref(text, head, rest)
    if not body or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", body):
        raise RefError(
            f"${{{text}}} is not a reference: use ${{vars.NAME}}, ${{inputs.NAME}} "
            "or ${steps.STEP.outputs.KEY}"
        )
    return Ref(text, "vars", body)


def refs_in(value: Any) -> Iterator[Ref]:
    """Every reference in a (nested) parameter value."""
    if isinstance(value, str):
        for match in _REF.finditer(value):
            if match.group(1) is not None:
                yield parse_ref(match.group(1))
    elif isinstance(value, list):
        for item in value:
            yield from refs_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from refs_in(item)


def lookup(ref: Ref, context: Mapping[str, Any]) -> Any:
    """The value of ``ref`` in ``{"vars": ..., "inputs": ..., "steps": {step: {"outputs":
    ..., "metrics": ...}}}``; KeyError when absent."""
    if ref.scope == "steps":
        return context["steps"][ref.step][ref.field][ref.name]
    return context[ref.scope][ref.name]


def resolve(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with its references replaced (raises RefError for a missing value)."""
    if isinstance(value, list):
        return [resolve(v, context) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, context) for k, v in value.items()}
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = _REF.fullmatch(value)
    if whole and whole.group(1) is not None:
        return _value(parse_ref(whole.group(1)), context)

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"
        return str(_value(parse_ref(match.group(1)), context))

    return _REF.sub(replace, value)


def _value(ref: Ref, context: Mapping[str, Any]) -> Any:
    try:
        return lookup(ref, context)
    except KeyError:
        raise RefError(f"${{{ref.text}}} has no value") from None
