"""mlops_nb: Jupyter-first MLOps. ``import mlops_nb as mlops``.

The public API is loaded lazily (PEP 562) so that ``import mlops_nb`` stays fast; each name
resolves to a function of the core on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .errors import GateFailed, IntegrityError, MlopsError, NotFoundError, StoreError, UsageError

_API = {
    # tracking
    "start_run": "mlops_nb.tracking.context",
    "end_run": "mlops_nb.tracking.context",
    "active_run": "mlops_nb.tracking.context",
    "log_param": "mlops_nb.tracking.context",
    "log_params": "mlops_nb.tracking.context",
    "log_metric": "mlops_nb.tracking.context",
    "log_metrics": "mlops_nb.tracking.context",
    "log_artifact": "mlops_nb.tracking.context",
    "log_text": "mlops_nb.tracking.context",
    "set_tags": "mlops_nb.tracking.context",
    "get_run": "mlops_nb.tracking.context",
    "runs": "mlops_nb.tracking.context",
    "delete_run": "mlops_nb.tracking.context",
    "restore_run": "mlops_nb.tracking.context",
    "Run": "mlops_nb.tracking.runs",
    "Project": "mlops_nb.project",
    # data
    "snapshot": "mlops_nb.data.api",
    "load_dataset": "mlops_nb.data.api",
    "diff_datasets": "mlops_nb.data.api",
    "check_data": "mlops_nb.data.api",
    "datasets": "mlops_nb.data.api",
    "capture": "mlops_nb.data.api",
    "load_versions": "mlops_nb.data.api",
    "get_dataset": "mlops_nb.data.api",
    # registry
    "register_model": "mlops_nb.registry.api",
    "promote": "mlops_nb.registry.api",
    "approve": "mlops_nb.registry.api",
    "load_model": "mlops_nb.registry.api",
    "models": "mlops_nb.registry.api",
    "audit": "mlops_nb.registry.api",
    "verify_audit": "mlops_nb.registry.api",
    "PromotionRejected": "mlops_nb.registry.api",
    "PromotionResult": "mlops_nb.registry.api",
    "ModelVersion": "mlops_nb.registry.api",
    "AuditVerification": "mlops_nb.registry.api",
    "get_model_version": "mlops_nb.registry.api",
    "demote": "mlops_nb.registry.api",
    # pipelines
    "run_notebook": "mlops_nb.pipelines.api",
    "run_pipeline": "mlops_nb.pipelines.api",
    "sweep": "mlops_nb.pipelines.api",
    "reproduce": "mlops_nb.pipelines.api",
    # monitoring
    "detect_drift": "mlops_nb.monitor.api",
    "monitor": "mlops_nb.monitor.api",
}

__all__ = [
    "GateFailed",
    "IntegrityError",
    "MlopsError",
    "NotFoundError",
    "StoreError",
    "UsageError",
    "__version__",
    *_API,
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'mlops_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


# --- Jupyter and IPython entry points ---------------------------------------------------


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext mlops_nb``: register the ``%mlops`` magics and cell-history capture."""
    from .notebook.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook.extension import unload

    unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "mlops-nb"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mlops_nb.server"}]
