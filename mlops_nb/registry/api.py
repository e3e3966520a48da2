"""The registry's public API (``mlops.register_model``, ``mlops.promote``, ...).

Each function finds the current project and calls the core; the magics, the CLI and the
server call the same core functions, so the gates hold whichever way a user comes in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..tracking import context
from . import audit as _audit
from . import promotion, registration, versions
from .aliases import parse_ref
from .promotion import Approval, PromotionRejected, PromotionResult
from .verify import AuditVerification
from .verify import verify as _verify
from .versions import ModelVersion

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Approval",
    "AuditVerification",
    "ModelVersion",
    "PromotionRejected",
    "PromotionResult",
    "approve",
    "audit",
    "demote",
    "get_model_version",
    "load_model",
    "models",
    "promote",
    "register_model",
    "verify_audit",
]


def register_model(
    obj_or_path: Any,
    name: str,
    metrics: Mapping[str, float] | None = None,
    signature: Any = None,
    description: str | None = None,
    trusted: bool = False,
) -> ModelVersion:
    """Register a fitted model, a file or a folder as the next version of ``name``.

    scikit-learn models are saved with skops (no pickle). Any other object needs
    ``trusted=True`` and is saved as a pickle: loading a pickle runs code chosen by whoever
    wrote it, so only load pickles from people you trust. ``metrics`` default to the active
    run's latest metrics; the run id, the dataset versions the run read, the library
    versions the model needs and the input ``signature`` (pass the training DataFrame, or
    it is taken from the estimator's ``feature_names_in_``) are recorded with it.
    """
    return registration.register(
        context.project(),
        obj_or_path,
        name,
        metrics=metrics,
        signature=signature,
        description=description,
        trusted=trusted,
        run=context.active_run(),
    )


def promote(
    name: str,
    version: int | str | None = None,
    to: str = "production",
    reason: str | None = None,
    force: bool = False,
) -> PromotionResult:
    """Move alias ``to`` to ``name``'s ``version`` when the policy in ``mlops.yaml`` allows it.

    ``version`` is a number, ``"v3"``, an alias (promote what ``staging`` holds), or part of
    ``name`` (``promote("churn@3", to="production")``). Returns a ``PromotionResult`` with
    every check; raises ``PromotionRejected`` (exit code 1 in the CLI) carrying it when a
    check fails. ``force=True`` moves the alias anyway, needs a ``reason`` and is recorded
    as an override. See ``mlops_nb.registry.policy`` for the policy syntax.
    """
    return promotion.promote(context.project(), name, version, to=to, reason=reason, force=force)


def approve(
    name: str, version: int | str | None = None, to: str = "production", comment: str | None = None
) -> Approval:
    """Approve moving alias ``to`` to this version, as the current user (``MLOPS_USER``)."""
    return promotion.approve(context.project(), name, version, to=to, comment=comment)


def demote(name: str, alias: str, reason: str) -> int:
    """Remove ``alias`` from model ``name`` (recorded with ``reason``); returns the version
    that held it."""
    return promotion.demote(context.project(), name, alias, reason)


def get_model_version(ref: str) -> ModelVersion:
    """The version ``"churn@production"``, ``"churn@3"`` or ``"churn"`` (latest) points at."""
    name, selector = parse_ref(ref)
    project = context.project()
    with project.db.read() as conn:
        return versions.get(project, conn, name, selector)


def load_model(ref: str, trusted: bool = False) -> Any:
    """Load ``"churn@production"`` | ``"churn@3"`` | ``"churn"`` (latest), digest verified.

    Files and folders come back as the path of a verified local copy. A pickle is refused
    unless ``trusted=True`` (unpickling runs code from the file).
    """
    return get_model_version(ref).load(trusted=trusted)


def models(name: str | None = None) -> pd.DataFrame:
    """One row per version: ``name, version, aliases, flavor, digest, run_id, created_by,
    created_at, metrics.*``."""
    return versions.frame(context.project(), name)


def audit(name: str | None = None) -> pd.DataFrame:
    """The audit trail (of one model, or all): ``seq, ts, actor, action, subject, details,
    prev_hash, hash``."""
    if name is not None:
        name = parse_ref(name)[0]
    return _audit.events(context.project(), name)


def verify_audit(
    anchor: Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> AuditVerification:
    """Re-walk the audit chain; truthy only when it is intact.

    Reports the first edited, deleted, inserted or reordered event, and a tail cut off
    after the head recorded beside the store (or after ``anchor``: ``{"seq", "hash"}`` or a
    file holding it, e.g. a copy of ``mlops audit verify --json``).
    """
    return _verify(context.project(), anchor)
