"""Validation of names and values logged by users: keys, metric numbers, JSON params."""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

from ..errors import UsageError

MAX_KEY = 255
MAX_PARAM_BYTES = 64 * 1024
_valid_keys: set[str] = set()


def check_key(key: Any, what: str = "key") -> str:
    """A metric/param/tag key: 1-255 printable characters. ``/``, spaces and unicode are fine."""
    if key in _valid_keys:
        return key
    if not isinstance(key, str):
        raise UsageError(f"{what} {key!r} must be a string, not {type(key).__name__}")
    if not key or len(key) > MAX_KEY:
        raise UsageError(f"{what} must be 1-{MAX_KEY} characters, got {len(key)}")
    if not key.isprintable() or key != key.strip():
        raise UsageError(
            f"{what} {key!r} has control characters or surrounding spaces; use a plain name"
        )
    _valid_keys.add(key)
    return key


def check_text(
    value: Any, what: str, max_length: int | None = MAX_KEY, allow_empty: bool = False
) -> str:
    """Free text stored in the database: a str without NUL, within ``max_length``, and not
    blank unless ``allow_empty``."""
    if not isinstance(value, str) or not (allow_empty or value.strip()):
        raise UsageError(f"{what} must be a non-empty string, got {value!r:.40}")
    if "\x00" in value:
        raise UsageError(f"{what} contains a NUL character; remove it")
    if max_length is not None and len(value) > max_length:
        raise UsageError(f"{what} is {len(value)} characters long (limit {max_length})")
    return value


def check_metric_value(key: str, value: Any) -> float:
    """A metric value as a plain float. NaN and +/-inf are stored faithfully."""
    if type(value) is float:
        return value
    if isinstance(value, float):  # numpy.float64 and other float subclasses
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if hasattr(value, "item") and getattr(value, "size", 1) == 1:  # numpy/torch scalar
            return check_metric_value(key, value.item())
        raise UsageError(
            f"metric {key!r} must be a number, got {type(value).__name__} {value!r:.40}; "
            "log text as a tag or param"
        )
    return float(value)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays to Python values; anything else unchanged."""
    if hasattr(value, "tolist") and type(value).__module__.startswith("numpy"):
        return value.tolist()
    return value


def encode_param(key: str, value: Any) -> str:
    """A param value as canonical JSON text (typed: ints stay ints, lists stay lists)."""
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(str(value))
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=_plain_default)
    except (TypeError, ValueError):
        raise UsageError(
            f"param {key!r} is a {type(value).__name__}, not a JSON value (str, number, bool, "
            "None, list, dict); log str(value), or save the object with log_artifact"
        ) from None
    if len(text.encode()) > MAX_PARAM_BYTES:
        raise UsageError(
            f"param {key!r} is {len(text.encode()):,} bytes (limit {MAX_PARAM_BYTES:,}); "
            "log large values with log_artifact"
        )
    return text


def _plain_default(value: Any) -> Any:
    plain = _plain(value)
    if plain is value:
        raise TypeError
    return plain


def decode_param(text: str) -> Any:
    return json.loads(text)
