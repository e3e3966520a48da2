"""Values typed after ``%mlops param`` / ``%mlops log``: ``k=v`` (a Python literal or a
variable) and bare variable names, plus unquoting of option values.

IPython's argument splitter keeps quotes and splits on every space, so ``layers=[64, 32]``
arrives as two tokens; :func:`regroup` joins tokens back until each item is complete Python.
"""

from __future__ import annotations

import ast
import codeop
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import UsageError

_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")
_KEY = re.compile(r"[^\s=\"']+\Z")


def unquote(text: str | None) -> str | None:
    """``"a b"`` or ``'a b'`` -> ``a b``; anything else unchanged."""
    if text and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _complete(item: str) -> bool:
    value = item.split("=", 1)[1] if "=" in item else item
    try:
        return codeop.compile_command(value or "0", symbol="eval") is not None
    except SyntaxError as exc:  # an open string or bracket is unfinished, not invalid
        return not any(word in str(exc.msg) for word in ("unterminated", "never closed"))
    except (ValueError, OverflowError):
        return True  # invalid: reported when the item is parsed


def regroup(tokens: Sequence[str]) -> list[str]:
    """Join space-split tokens back into whole ``k=v`` items."""
    items: list[str] = []
    buffer = ""
    for token in tokens:
        buffer = f"{buffer} {token}" if buffer else token
        if _complete(buffer):
            items.append(buffer)
            buffer = ""
    if buffer:
        items.append(buffer)
    return items


def lookup(name: str, namespace: Mapping[str, Any]) -> Any:
    """The value of a notebook variable (``acc`` or ``result.auc``)."""
    head, *rest = name.split(".")
    if head not in namespace:
        raise UsageError(f"no variable {head!r} in the notebook; define it first")
    value = namespace[head]
    for attr in rest:
        try:
            value = getattr(value, attr)
        except AttributeError:
            raise UsageError(f"{head} has no attribute path {name!r}") from None
    return value


def _value(key: str, text: str, namespace: Mapping[str, Any]) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if _NAME.match(text):
        head = text.split(".")[0]
        if head not in namespace:
            raise UsageError(
                f"{key}={text}: no variable {head!r} in the notebook; "
                f"quote text values ({key}='{text}') or define {head} first"
            )
        return lookup(text, namespace)
    raise UsageError(
        f"bad value in {key}={text}: use a Python literal (0.1, 'rf', [1, 2]) or a variable name"
    )


def parse_assignments(tokens: Sequence[str], namespace: Mapping[str, Any]) -> dict[str, Any]:
    """``["lr=0.1", "acc"]`` -> ``{"lr": 0.1, "acc": <value of acc>}``."""
    if not tokens:
        raise UsageError("give at least one key=value or variable name, e.g. lr=0.01 or acc")
    values: dict[str, Any] = {}
    for item in regroup(tokens):
        if "=" in item:
            key, text = item.split("=", 1)
            if not _KEY.match(key) or not text.strip():
                raise UsageError(
                    f"bad argument {item!r}: expected key=value, e.g. lr=0.01 or model='rf'"
                )
            values[key] = _value(key, text.strip(), namespace)
        elif _NAME.match(item):
            values[item.split(".")[-1]] = lookup(item, namespace)
        else:
            raise UsageError(
                f"bad argument {item!r}: expected key=value (e.g. lr=0.01) or a variable name"
            )
    return values
