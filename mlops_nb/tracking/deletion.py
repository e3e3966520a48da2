"""Deleting runs: hidden at once and restorable, removed for good by ``mlops gc``.

A deleted run leaves the listings (``runs()``, ``mlops runs ls``, the sidebar) and the
pipeline cache, while ``get_run`` still reads it. Deleting a run deletes its child runs too.
Refused: runs still running, and runs behind a registered model version, whose lineage the
registry and its audit trail point at.

Purging removes a deleted run's rows (params, metrics, tags, artifact records, cell history,
lineage, cache entries); the blobs only it referenced are then reclaimed by the same ``gc``.
Datasets the run created stay, without their link to it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..errors import UsageError
from ..store import schema
from .query import is_deleted, resolve_run_id

if TYPE_CHECKING:
    from ..project import Project

runs = schema.runs

# Rows that belong to a run and go with it when it is purged. The metric-log offsets stay:
# they stop a log a live process still holds from being ingested again.
RUN_ROWS = (
    schema.params,
    schema.param_history,
    schema.metrics,
    schema.latest_metrics,
    schema.tags,
    schema.artifacts,
    schema.cells,
    schema.dataset_lineage,
    schema.step_cache,
)
# Rows that outlive the run, unlinked from it.
RUN_LINKS = (schema.dataset_versions, schema.data_check_results)


def delete_runs(project: Project, run_ids: str | Iterable[str]) -> list[str]:
    """Delete these runs and their descendants (restorable until purged); the ids deleted."""
    given = _resolve(project, run_ids)
    with project.db.write() as conn:
        found = _with_descendants(conn, given)
        _refuse_running(conn, found)
        _refuse_registered(conn, found)
        deleted = _ids(conn, found, deleted=False)
        conn.execute(
            sa.update(runs).where(runs.c.run_id.in_(deleted)).values(deleted_at=time.time())
        )
    return deleted


def restore_runs(project: Project, run_ids: str | Iterable[str]) -> list[str]:
    """Bring back deleted runs, their deleted descendants and their deleted ancestors (so a
    restored run never points at a parent that ``gc`` may purge); the ids restored."""
    given = _resolve(project, run_ids)
    with project.db.write() as conn:
        found = _with_descendants(conn, given) | _with_ancestors(conn, given)
        restored = _ids(conn, found, deleted=True)
        conn.execute(sa.update(runs).where(runs.c.run_id.in_(restored)).values(deleted_at=None))
    return restored


def deleted_runs(project: Project, older_than: float = 0.0) -> list[str]:
    """Runs deleted at least ``older_than`` seconds ago."""
    cutoff = time.time() - older_than
    with project.db.read() as conn:
        return list(
            conn.execute(
                sa.select(runs.c.run_id)
                .where(is_deleted(), runs.c.deleted_at <= cutoff)
                .order_by(runs.c.run_id)
            ).scalars()
        )


def purge_runs(project: Project, run_ids: list[str]) -> list[str]:
    """Remove these deleted runs for good (one transaction); the ids purged. A run restored
    meanwhile, or behind a model version, is left alone."""
    if not run_ids:
        return []
    with project.db.write() as conn:
        registered = sa.select(schema.model_versions.c.run_id).where(
            schema.model_versions.c.run_id.is_not(None)
        )
        purged = list(
            conn.execute(
                sa.select(runs.c.run_id).where(
                    runs.c.run_id.in_(run_ids),
                    is_deleted(),
                    runs.c.run_id.not_in(registered),
                )
            ).scalars()
        )
        for table in RUN_ROWS:
            conn.execute(sa.delete(table).where(table.c.run_id.in_(purged)))
        for table in RUN_LINKS:
            conn.execute(sa.update(table).where(table.c.run_id.in_(purged)).values(run_id=None))
        conn.execute(sa.delete(runs).where(runs.c.run_id.in_(purged)))
    return purged


def _resolve(project: Project, run_ids: str | Iterable[str]) -> set[str]:
    given = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    found = {resolve_run_id(project, run_id) for run_id in given}
    if not found:
        raise UsageError("name at least one run to delete or restore (see `mlops runs ls`)")
    return found


def _with_descendants(conn: sa.Connection, ids: set[str]) -> set[str]:
    return _closure(conn, ids, runs.c.parent_id, runs.c.run_id)


def _with_ancestors(conn: sa.Connection, ids: set[str]) -> set[str]:
    return _closure(conn, ids, runs.c.run_id, runs.c.parent_id)


def _closure(
    conn: sa.Connection, ids: set[str], link: sa.Column[str], to: sa.Column[str]
) -> set[str]:
    """``ids`` and every run reached from them by following ``link`` -> ``to``, repeatedly
    (parent -> child for descendants, child -> parent for ancestors)."""
    found, frontier = set(ids), set(ids)
    while frontier:
        reached = conn.execute(sa.select(to).where(link.in_(frontier), to.is_not(None)))
        frontier = set(reached.scalars()) - found
        found |= frontier
    return found


def _ids(conn: sa.Connection, ids: set[str], deleted: bool) -> list[str]:
    return list(
        conn.execute(
            sa.select(runs.c.run_id)
            .where(runs.c.run_id.in_(ids), is_deleted(deleted))
            .order_by(runs.c.run_id)
        ).scalars()
    )


def _refuse_running(conn: sa.Connection, ids: set[str]) -> None:
    running = conn.execute(
        sa.select(runs.c.run_id, runs.c.name).where(
            runs.c.run_id.in_(ids), runs.c.status == "running"
        )
    ).first()
    if running is not None:
        raise UsageError(
            f"run {running.run_id:.8} ({running.name}) is still running; "
            "end it (or let it finish), then delete it"
        )


def _refuse_registered(conn: sa.Connection, ids: set[str]) -> None:
    versions = schema.model_versions
    model = conn.execute(
        sa.select(versions.c.name, versions.c.version, versions.c.run_id)
        .where(versions.c.run_id.in_(ids))
        .order_by(versions.c.name, versions.c.version)
    ).first()
    if model is not None:
        raise UsageError(
            f"run {model.run_id:.8} produced model {model.name}@{model.version}; runs behind "
            "registered models are kept for their lineage and the audit trail"
        )
