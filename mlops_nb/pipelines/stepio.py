"""Step inputs and outputs: digests of files and dataset versions, and what a run produced.

Dataset references (``train@latest``, ``train@3``, ``train``) are resolved when the step is
about to run, so a step reads one pinned version (``${inputs.train}`` gives ``train@3``) and
its cache key holds that version's digest.
Outputs a run produced are found by the run id: dataset versions it created or recorded as
output lineage, model versions it registered.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import UsageError
from ..store import schema
from .execute import digest_path

if TYPE_CHECKING:
    from ..project import Project
    from .spec import InputDecl, OutputDecl


def input_digests(
    project: Project, folder: Path, inputs: list[InputDecl]
) -> tuple[dict[str, str], dict[str, str]]:
    """(``{"file:path"|"dataset:name": digest}``, ``{dataset name: pinned ref}``)."""
    from ..data.refs import resolve

    digests, pins = {}, {}
    for item in inputs:
        if item.kind == "dataset":
            found = resolve(project, item.value)
            digests[f"dataset:{found.name}"] = f"{found.version}:{found.digest}"
            pins[found.name] = found.ref
        else:
            digest = digest_path(folder / item.value)
            if digest is None:
                raise UsageError(f"input {item.value} does not exist")
            digests[f"file:{item.value}"] = digest
    return digests, pins


def _produced(out: OutputDecl, run_id: str) -> sa.Select:
    """The newest version of a dataset/model output that ``run_id`` created (for datasets:
    or recorded as its output, which a deduplicated snapshot does)."""
    if out.kind == "model":
        models = schema.model_versions
        return (
            sa.select(models.c.version, models.c.digest)
            .where(models.c.name == out.name, models.c.run_id == run_id)
            .order_by(models.c.version.desc())
            .limit(1)
        )
    datasets, lineage = schema.dataset_versions, schema.dataset_lineage
    as_output = sa.select(lineage.c.dataset_version_id).where(
        lineage.c.run_id == run_id, lineage.c.direction == "output"
    )
    return (
        sa.select(datasets.c.id, datasets.c.version, datasets.c.digest)
        .where(
            datasets.c.name == out.name,
            sa.or_(datasets.c.run_id == run_id, datasets.c.id.in_(as_output)),
        )
        .order_by(datasets.c.version.desc())
        .limit(1)
    )


def produced_outputs(
    project: Project,
    run_id: str,
    outputs: list[OutputDecl],
    files: dict[str, str | None],
    folder: Path,
) -> tuple[dict[str, Any], list[str]]:
    """What the run produced for each declared output, and the declared ones it did not."""
    found: dict[str, Any] = {"files": {}, "datasets": {}, "models": {}}
    missing = []
    with project.db.read() as conn:
        for out in outputs:
            if out.kind == "file":
                value = files.get(str(folder / out.name))
            else:
                row = conn.execute(_produced(out, run_id)).first()
                value = dict(row._mapping) if row is not None else None
            if value is None:
                missing.append(f"{out.kind} {out.name}")
            else:
                found[f"{out.kind}s"][out.name] = value
    return found, missing


def output_values(outputs: dict[str, Any], folder: Path, consumer: Path) -> dict[str, Any]:
    """What ``${steps.S.outputs.KEY}`` gives a consuming notebook in folder ``consumer``:
    file paths relative to it, ``name@version`` for datasets and models."""
    values: dict[str, Any] = {}
    for path in outputs.get("files", {}):
        values[path] = Path(os.path.relpath(folder / path, consumer)).as_posix()
    for kind in ("datasets", "models"):
        for name, info in outputs.get(kind, {}).items():
            values[name] = f"{name}@{info['version']}"
    return values


def fingerprint(outputs: dict[str, Any], cache_key: str | None) -> str:
    """What downstream keys see of an upstream step: its outputs' digests when it declares
    any, else its own cache key."""
    if any(outputs.get(kind) for kind in ("files", "datasets", "models")):
        text = json.dumps(outputs, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
    return cache_key or ""
