"""Core objects to the JSON shapes of ``openapi.yaml``: no NaN, times as UNIX seconds."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any


def _missing(value: Any) -> bool:
    """pandas' NA/NaT (and float NaN/inf) become JSON null."""
    if isinstance(value, float):
        return not math.isfinite(value)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False
    return value is pd.NaT or value is pd.NA


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (numpy/pandas scalars, times, frames, dataclasses)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if _missing(value):
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a DataFrame
        return frame_records(value)
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # a numpy scalar
        return to_jsonable(value.item())
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    return str(value)


def dumps(payload: Any) -> str:
    return json.dumps(to_jsonable(payload), allow_nan=False, separators=(",", ":"))


def frame_records(frame: Any) -> list[dict[str, Any]]:
    return [to_jsonable(row) for row in frame.to_dict("records")]


def run_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """One row of ``list_runs`` as ``{fields..., params: {}, metrics: {}}`` (absent = omitted)."""
    from ..tracking.query import BASE_COLUMNS

    out = {key: to_jsonable(record.get(key)) for key in BASE_COLUMNS}
    for group in ("params", "metrics"):
        prefix = group + "."
        out[group] = {
            key[len(prefix) :]: to_jsonable(value)
            for key, value in record.items()
            if key.startswith(prefix) and not _missing(value)
        }
    return out


def downsample(points: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` points evenly spread over the series, first and last kept."""
    if len(points) <= limit:
        return points
    if limit < 2:
        return points[-limit:] if limit else []
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(i * stride)] for i in range(limit)]


def promotion_checks(result: Any) -> list[dict[str, Any]]:
    """The checks of a promotion result (rule, observed, required, ok, message)."""
    checks = getattr(result, "checks", result)
    return [to_jsonable(check) for check in checks or []]
