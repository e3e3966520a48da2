"""Step inputs and outputs: digests of files and dataset versions, and what a run produced.

Dataset references (``train@latest``, ``train@3``, ``train``) are resolved against the
``dataset_versions`` table when the step is about to run, so a step reads one pinned version
(``${inputs.train}`` gives ``train@3``) and its cache key holds that version's digest.
Outputs a run produced are found by the run id: dataset versions it created or recorded as
output lineage, model versions it registered.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import NotFoundError, UsageError
from ..store import schema
from .execute import digest_path

if TYPE_CHECKING:
    from ..project import Project
    from .spec import InputDecl, OutputDecl


@dataclass(frozen=True)
class DatasetVersionRef:
    id: int
    name: str
    version: int
    digest: str

    @property
    def pinned(self) -> str:
        return f"{self.name}@{self.version}"


def parse_dataset_ref(ref: str) -> tuple[str, int | None]:
    """``name@3`` -> (name, 3); ``name@latest`` and ``name`` -> (name, None)."""
    name, _, version = ref.partition("@")
    if not name:
        raise UsageError(f"dataset ref {ref!r} has no name; write NAME@VERSION or NAME@latest")
    if version in ("", "latest"):
        return name, None
    if not version.isdigit():
        raise UsageError(f"dataset ref {ref!r}: the version must be a number or 'latest'")
    return name, int(version)


def resolve_dataset(project: Project, ref: str) -> DatasetVersionRef:
    name, version = parse_dataset_ref(ref)
    table = schema.dataset_versions
    query = sa.select(table.c.id, table.c.name, table.c.version, table.c.digest).where(
        table.c.name == name
    )
    query = query.where(table.c.version == version) if version is not None else query
    with project.db.read() as conn:
        row = conn.execute(query.order_by(table.c.version.desc()).limit(1)).first()
    if row is None:
        raise NotFoundError(f"dataset {ref!r} does not exist; snapshot it first "
                            "(mlops.snapshot(df, name)) or fix the reference")
    return DatasetVersionRef(row.id, row.name, row.version, row.digest)


def input_digests(project: Project, folder: Path,
                  inputs: list[InputDecl]) -> tuple[dict[str, str], dict[str, str]]:
    """(``{"file:path"|"dataset:name": digest}``, ``{dataset name: pinned ref}``)."""
    digests, pins = {}, {}
    for item in inputs:
        if item.kind == "dataset":
            found = resolve_dataset(project, item.value)
            digests[f"dataset:{found.name}"] = f"{found.version}:{found.digest}"
            pins[found.name] = found.pinned
        else:
            digest = digest_path(folder / item.value)
            if digest is None:
                raise UsageError(f"input {item.value} does not exist")
            digests[f"file:{item.value}"] = digest
    return digests, pins


def produced_outputs(project: Project, run_id: str, outputs: list[OutputDecl],
                     files: dict[str, str | None], folder: Path) -> tuple[dict[str, Any], list[str]]:
    """What the run produced for each declared output, and the declared ones it did not."""
    found: dict[str, Any] = {"files": {}, "datasets": {}, "models": {}}
    missing = []
    datasets, lineage, models = schema.dataset_versions, schema.dataset_lineage, schema.model_versions
    with project.db.read() as conn:
        for out in outputs:
            if out.kind == "file":
                digest = files.get(str(folder / out.name))
                if digest is None:
                    missing.append(f"file {out.name}")
                else:
                    found["files"][out.name] = digest
            elif out.kind == "dataset":
                by_run = sa.or_(
                    datasets.c.run_id == run_id,
                    datasets.c.id.in_(
                        sa.select(lineage.c.dataset_version_id).where(
                            lineage.c.run_id == run_id, lineage.c.direction == "output"
                        )
                    ),
                )
                row = conn.execute(
                    sa.select(datasets.c.id, datasets.c.version, datasets.c.digest)
                    .where(datasets.c.name == out.name, by_run)
                    .order_by(datasets.c.version.desc()).limit(1)
                ).first()
                if row is None:
                    missing.append(f"dataset {out.name}")
                else:
                    found["datasets"][out.name] = {"id": row.id, "version": row.version,
                                                   "digest": row.digest}
            else:
                row = conn.execute(
                    sa.select(models.c.version, models.c.digest)
                    .where(models.c.name == out.name, models.c.run_id == run_id)
                    .order_by(models.c.version.desc()).limit(1)
                ).first()
                if row is None:
                    missing.append(f"model {out.name}")
                else:
                    found["models"][out.name] = {"version": row.version, "digest": row.digest}
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
