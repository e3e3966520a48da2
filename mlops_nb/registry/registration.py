"""Registering a model version: files -> blobs + manifest, lineage from the active run, one
row and one audit event in one transaction."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..identity import current_user
from ..names import check_name
from ..tracking.values import check_key, check_metric_value
from . import audit, hooks, versions
from . import manifest as manifests
from .flavors import pack
from .requirements import requirements
from .signature import signature_of

if TYPE_CHECKING:
    from ..project import Project
    from ..tracking.runs import Run


def _checked_metrics(given: Mapping[str, Any]) -> dict[str, float]:
    if not isinstance(given, Mapping):
        raise UsageError(f"metrics must be a mapping of name to number, not {type(given).__name__}")
    return {check_key(k, "metric name"): check_metric_value(k, v) for k, v in given.items()}


def _datasets(project: Project, run_id: str | None) -> list[dict[str, Any]]:
    """The dataset versions the run read (empty when the data part is not installed)."""
    if run_id is None:
        return []
    try:
        from ..data.lineage import inputs_of
    except ImportError:
        return []
    return [
        {"id": d.id, "name": d.name, "version": d.version, "digest": d.digest, "ref": d.ref}
        for d in inputs_of(project, run_id)
    ]


def register(
    project: Project,
    obj_or_path: Any,
    name: str,
    metrics: Mapping[str, Any] | None = None,
    signature: Any = None,
    description: str | None = None,
    trusted: bool = False,
    run: Run | None = None,
) -> versions.ModelVersion:
    """Store the model and record version ``n + 1`` of ``name`` with its lineage.

    Registering the same bytes again from the same run returns the existing latest version
    (re-running a notebook cell does not create duplicates).
    """
    name = check_name(name, "model name")
    if description is not None and not isinstance(description, str):
        raise UsageError("description must be text")
    hooks.configured(project.config, "register")
    actor = current_user()
    model_signature = signature_of(obj_or_path, signature)
    model_metrics = _checked_metrics(metrics) if metrics is not None else None
    packed = pack(obj_or_path, trusted=trusted)
    # Input checked: write the blobs while the lineage is read (it needs no lock).
    storing = manifests.Storing(project.blobs, packed.flavor, packed.files)
    if model_metrics is None:
        model_metrics = run.metrics if run is not None else {}
    record = {
        "name": name,
        "flavor": packed.flavor,
        "metrics": model_metrics,
        "signature": model_signature,
        "requirements": requirements(packed.modules),
        "description": description,
        "created_by": actor,
    }
    run_id = run.run_id if run is not None else None
    datasets = _datasets(project, run_id)
    digest = storing.digest or storing.wait()
    with audit.writing(project) as writer:
        last = versions.newest(writer.conn, name)
        if last is not None and (last.digest, last.run_id) == (digest, run_id):
            storing.wait()
            return versions.get(project, writer.conn, name, last.version)
        version = (last.version if last is not None else 0) + 1
        registered = versions.insert(
            project,
            writer.conn,
            version,
            digest=digest,
            run_id=run_id,
            datasets=datasets,
            created_at=time.time(),
            **record,
        )
        details = {
            "name": name,
            "version": version,
            "digest": digest,
            "flavor": packed.flavor,
            "run_id": run_id,
            "metrics": model_metrics,
            "datasets": [{"ref": d["ref"], "digest": d["digest"]} for d in datasets],
        }
        event = writer.record("register", audit.model_subject(name, version), details, actor)
        storing.wait()  # every blob durable before the commit that names them
    hooks.fire(
        project,
        "register",
        event.subject,
        {"action": "register", "seq": event.seq, "actor": event.actor, **details},
    )
    return registered
