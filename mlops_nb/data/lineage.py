"""Which runs read (``input``) or produced (``output``) which dataset versions.

Semantics: ``load_dataset`` in a run records the version as an input of the run.
``snapshot`` in a run records it as an output (the run produced it) and as an input (a
notebook snapshots the frame it is about to train on, so the registry can tell which data a
model was trained on). ``capture`` records an output only: it stores production data, it
does not train on it. ``check_data`` records none (its report is stored with the run).
Recording is idempotent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import UsageError
from ..store import schema
from . import versions

if TYPE_CHECKING:
    from ..project import Project
    from .versions import DatasetVersion

DIRECTIONS = ("input", "output")


def _insert_ignore(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).values(**values).on_conflict_do_nothing())


def record(project: Project, run_id: str, dataset_version_id: int, direction: str) -> None:
    """Record that run ``run_id`` read (input) or produced (output) a dataset version."""
    if direction not in DIRECTIONS:
        raise UsageError(f"lineage direction must be 'input' or 'output', not {direction!r}")
    with project.db.write() as conn:
        _insert_ignore(
            conn,
            schema.dataset_lineage,
            {"run_id": run_id, "dataset_version_id": dataset_version_id, "direction": direction},
        )


def record_active(project: Project, version: DatasetVersion, *directions: str) -> str | None:
    """Record lineage for the active run, if any; returns its id."""
    from ..tracking.context import active_run

    run = active_run()
    if run is None:
        return None
    for direction in directions:
        record(project, run.run_id, version.id, direction)
    return run.run_id


def inputs_of(project: Project, run_id: str) -> list[DatasetVersion]:
    """The dataset versions a run read, by name and version."""
    return _versions_of(project, run_id, "input")


def outputs_of(project: Project, run_id: str) -> list[DatasetVersion]:
    """The dataset versions a run produced, by name and version."""
    return _versions_of(project, run_id, "output")


def _versions_of(project: Project, run_id: str, direction: str) -> list[DatasetVersion]:
    table, lineage = schema.dataset_versions, schema.dataset_lineage
    query = (
        sa.select(table)
        .join(lineage, lineage.c.dataset_version_id == table.c.id)
        .where(lineage.c.run_id == run_id, lineage.c.direction == direction)
        .order_by(table.c.name, table.c.version)
    )
    with project.db.read() as conn:
        return [versions.from_row(project, row) for row in conn.execute(query)]


def runs_of(project: Project, dataset_version_id: int) -> list[dict[str, str]]:
    """The runs that read or produced a version: ``[{"run_id", "direction"}]``, oldest first."""
    lineage, runs = schema.dataset_lineage, schema.runs
    query = (
        sa.select(lineage.c.run_id, lineage.c.direction)
        .join(runs, runs.c.run_id == lineage.c.run_id, isouter=True)
        .where(lineage.c.dataset_version_id == dataset_version_id)
        .order_by(runs.c.start_time, lineage.c.run_id, lineage.c.direction)
    )
    with project.db.read() as conn:
        return [{"run_id": r.run_id, "direction": r.direction} for r in conn.execute(query)]
