"""Monitoring: data drift, model performance decay, and triggers that start retraining.

Public functions live in :mod:`mlops_nb.monitor.api` (``detect_drift``, ``monitor``).

The package shares its name with the public function ``mlops_nb.monitor``: once any
submodule is imported, Python binds the attribute ``mlops_nb.monitor`` to this package. So
that ``mlops.monitor(model=..., ...)`` works whatever was imported first, calling the package
calls :func:`mlops_nb.monitor.api.monitor`.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .api import monitor

        return monitor(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
