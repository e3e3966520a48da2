"""The step cache: content-addressed keys, lookups, and why a key missed.

A step's key is the SHA-256 of its :class:`KeyParts`: the notebook's source digest (outputs
and metadata stripped), the kernel, the resolved parameters, the digests of its inputs
(files, folders, dataset versions), what its upstream steps produced, its own local modules
(``helpers.py`` next to the notebook) and the versions of the packages it imports (plus
Python's). The ``step_cache`` table maps a key to the run that produced it and its outputs;
each run also records its key (``runs.cache_key``) and a ``mlops.cache_scope`` tag
(pipeline file + step, or sweep notebook), which is how a miss is explained against the
previous entry of the same step.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..store import schema
from .execute import digest_path

if TYPE_CHECKING:
    from ..project import Project
    from .notebooks import NotebookSource

SCOPE_TAG = "mlops.cache_scope"
CACHED_FROM_TAG = "mlops.cached_from"


@dataclass
class KeyParts:
    notebook: str
    kernel: str
    parameters: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    upstream: dict[str, str] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def changes(self, previous: dict[str, Any]) -> list[str]:
        """What differs from ``previous`` (an earlier entry's parts), for people."""
        found = []
        if previous.get("notebook") != self.notebook:
            found.append("the notebook changed")
        if previous.get("kernel") != self.kernel:
            found.append(f"kernel {previous.get('kernel')!r} -> {self.kernel!r}")
        found += _dict_changes(
            "parameter", previous.get("parameters", {}), self.parameters, show_values=True
        )
        found += _dict_changes("input", previous.get("inputs", {}), self.inputs)
        found += _dict_changes("upstream step", previous.get("upstream", {}), self.upstream)
        found += _dict_changes("module", previous.get("code", {}), self.code)
        found += _dict_changes(
            "package", previous.get("packages", {}), self.packages, show_values=True
        )
        return found or ["the cache key changed"]


def _shown(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


def _dict_changes(
    what: str, old: dict[str, Any], new: dict[str, Any], show_values: bool = False
) -> list[str]:
    found = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            found.append(f"{what} {name} added")
        elif name not in new:
            found.append(f"{what} {name} removed")
        elif old[name] != new[name]:
            found.append(
                f"{what} {name} {_shown(old[name])} -> {_shown(new[name])}"
                if show_values
                else f"{what} {name} changed"
            )
    return found


# --- environment -------------------------------------------------------------------------


_module_map: dict[str, list[str]] | None = None


def _module_distributions(project: Project) -> dict[str, list[str]]:
    """Top-level module -> distributions providing it; cached on disk per environment."""
    global _module_map
    if _module_map is not None:
        return _module_map
    from ..tracking.environment import environment

    path = project.state_dir / "cache" / f"modules-{environment()[0][:16]}.json"
    try:
        _module_map = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        from importlib.metadata import packages_distributions

        _module_map = {k: sorted(set(v)) for k, v in packages_distributions().items()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_suffix(f".{time.time_ns()}.tmp")
            temp.write_text(json.dumps(_module_map), encoding="utf-8")
            temp.replace(path)
        except OSError:
            pass
    return _module_map


def key_packages(project: Project, source: NotebookSource) -> dict[str, str]:
    """Python's version and the versions of the distributions the notebook imports."""
    from ..tracking.environment import packages

    installed = packages()
    modules = _module_distributions(project)
    found = {"python": ".".join(map(str, sys.version_info[:3]))}
    for module in source.imports:
        for dist in modules.get(module, []):
            name = dist.lower().replace("_", "-").replace(".", "-")
            if name in installed:
                found[name] = installed[name]
    return found


# --- entries -----------------------------------------------------------------------------


@dataclass
class CacheEntry:
    key: str
    run_id: str
    parts: dict[str, Any]
    outputs: dict[str, Any]
    created_at: float
    run_deleted: bool = False


def _entry(row: Any, run_deleted: bool = False) -> CacheEntry:
    data = json.loads(row.outputs)
    return CacheEntry(
        row.cache_key,
        row.run_id,
        data.get("parts", {}),
        data.get("outputs", {}),
        row.created_at,
        run_deleted,
    )


def lookup(project: Project, key: str) -> CacheEntry | None:
    table, runs = schema.step_cache, schema.runs
    with project.db.read() as conn:
        row = conn.execute(
            sa.select(table, runs.c.deleted_at)
            .join(runs, runs.c.run_id == table.c.run_id)
            .where(table.c.cache_key == key)
        ).first()
    return _entry(row, row.deleted_at is not None) if row is not None else None


def previous(project: Project, scope: str) -> CacheEntry | None:
    """The newest entry recorded for this step (pipeline file + step, or sweep notebook)."""
    table, tags = schema.step_cache, schema.tags
    with project.db.read() as conn:
        row = conn.execute(
            sa.select(table)
            .join(tags, tags.c.run_id == table.c.run_id)
            .where(tags.c.key == SCOPE_TAG, tags.c.value == scope)
            .order_by(table.c.created_at.desc())
            .limit(1)
        ).first()
    return _entry(row) if row is not None else None


def record(
    project: Project, key: str, run_id: str, parts: KeyParts, outputs: dict[str, Any]
) -> None:
    """Remember that ``run_id`` produced ``outputs`` for ``key`` (the newest run wins)."""
    table = schema.step_cache
    text = json.dumps({"parts": asdict(parts), "outputs": outputs}, sort_keys=True, default=str)
    with project.db.write() as conn:
        conn.execute(sa.delete(table).where(table.c.cache_key == key))
        conn.execute(
            sa.insert(table).values(
                cache_key=key, run_id=run_id, outputs=text, created_at=time.time()
            )
        )


def set_run_key(project: Project, run_id: str, key: str) -> None:
    with project.db.write() as conn:
        conn.execute(
            sa.update(schema.runs).where(schema.runs.c.run_id == run_id).values(cache_key=key)
        )


def stale(project: Project, folder: Path, entry: CacheEntry) -> str | None:
    """Why an entry can no longer be reused (its run deleted, its outputs missing or
    changed), else None."""
    if entry.run_deleted:
        return f"the run that produced it ({entry.run_id[:8]}) was deleted"
    outputs = entry.outputs
    for path, digest in outputs.get("files", {}).items():
        now = digest_path(folder / path)
        if now is None:
            return f"output {path} is missing"
        if now != digest:
            return f"output {path} changed since it was produced"
    datasets, models = schema.dataset_versions, schema.model_versions
    with project.db.read() as conn:
        for name, info in outputs.get("datasets", {}).items():
            found = conn.execute(
                sa.select(datasets.c.digest).where(datasets.c.id == info["id"])
            ).scalar()
            if found != info["digest"]:
                return f"dataset {name}@{info['version']} no longer exists"
        for name, info in outputs.get("models", {}).items():
            found = conn.execute(
                sa.select(models.c.digest).where(
                    models.c.name == name, models.c.version == info["version"]
                )
            ).scalar()
            if found != info["digest"]:
                return f"model {name}@{info['version']} no longer exists"
    return None
