"""A model's input signature: column names and dtypes it expects.

Given explicitly (a training DataFrame or a sample of it, a list of column names, or a dict
``{"inputs": [{"name", "type"}]}``), else inferred from a fitted estimator's
``feature_names_in_`` (set when it was fitted on a DataFrame).
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError


def _inputs(names: Any, dtypes: Any = None) -> dict[str, Any]:
    columns = []
    for index, name in enumerate(names):
        column = {"name": str(name)}
        if dtypes is not None:
            column["type"] = str(dtypes.iloc[index])
        columns.append(column)
    return {"inputs": columns}


def signature_of(model: Any, given: Any = None) -> dict[str, Any] | None:
    """The signature to record for ``model`` (None when nothing is known)."""
    if given is None:
        names = getattr(model, "feature_names_in_", None)
        return _inputs(names) if names is not None else None
    if hasattr(given, "columns") and hasattr(given, "dtypes"):  # a DataFrame
        return _inputs(given.columns, given.dtypes)
    if isinstance(given, dict) and isinstance(given.get("inputs"), list):
        return given
    if isinstance(given, (list, tuple)) and all(isinstance(n, str) for n in given):
        return _inputs(given)
    raise UsageError(
        "signature must be the training DataFrame (or a sample), a list of column names or "
        "{'inputs': [{'name': ..., 'type': ...}]}"
    )
