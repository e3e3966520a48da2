"""Storing a run's cell history and reproducibility verdict (sources deduplicated by digest).

The verdict goes to ``runs.reproducible`` and ``runs.reproducibility_notes`` (a JSON list of
reasons); see ``cells`` for the records and how they are judged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..store import schema
from ..store.upsert import Upsert
from .cells import HISTORY_COLUMNS, CellRecord, flush_buffered
from .values import decode_param

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project


_UPSERT_SOURCES = Upsert(schema.cell_sources, ["digest"], ["source"])
_UPSERT_CELLS = Upsert(
    schema.cells,
    ["run_id", "seq"],
    ["execution_count", "cell_id", "source_digest", "started_at", "ended_at", "ok", "error_type"],
)


def store_cells(
    project: Project,
    run_id: str,
    records: Sequence[CellRecord],
    verdict: tuple[bool, list[str]] | None = None,
    discard: Sequence[int] = (),
) -> None:
    """Write (or rewrite, by ``seq``) cell records, drop the ``discard`` ones, and write the
    verdict, in one transaction."""
    with project.db.write() as conn:
        if discard:
            table = schema.cells
            conn.execute(
                sa.delete(table).where(table.c.run_id == run_id, table.c.seq.in_(list(discard)))
            )
        if records:
            sources = {r.digest: r.source for r in records}
            _UPSERT_SOURCES(conn, [{"digest": d, "source": s} for d, s in sources.items()])
            _UPSERT_CELLS(
                conn,
                [
                    {
                        "run_id": run_id,
                        "seq": r.seq,
                        "execution_count": r.execution_count,
                        "cell_id": r.cell_id,
                        "source_digest": r.digest,
                        "started_at": r.started_at,
                        "ended_at": r.ended_at,
                        "ok": r.ok,
                        "error_type": r.error_type,
                    }
                    for r in records
                ],
            )
        if verdict is not None:
            _write_verdict(conn, run_id, *verdict)


def _write_verdict(conn: sa.Connection, run_id: str, reproducible: bool, notes: list[str]) -> None:
    conn.execute(
        sa.update(schema.runs)
        .where(schema.runs.c.run_id == run_id)
        .values(reproducible=reproducible, reproducibility_notes=json.dumps(notes))
    )


def record_verdict(project: Project, run_id: str, reproducible: bool, notes: list[str]) -> None:
    with project.db.write() as conn:
        _write_verdict(conn, run_id, reproducible, notes)


def _select_history(run_id: str) -> sa.Select:
    cells, sources = schema.cells, schema.cell_sources
    return (
        sa.select(
            cells.c.seq,
            cells.c.execution_count,
            cells.c.cell_id,
            sources.c.source,
            cells.c.source_digest,
            cells.c.started_at,
            cells.c.ended_at,
            cells.c.ok,
            cells.c.error_type,
        )
        .join(sources, sources.c.digest == cells.c.source_digest)
        .where(cells.c.run_id == run_id)
        .order_by(cells.c.seq)
    )


def load_cells(project: Project, run_id: str) -> list[CellRecord]:
    """The stored records of a run, in execution order."""
    with project.db.read() as conn:
        rows = conn.execute(_select_history(run_id)).all()
    return [
        CellRecord(
            seq=r.seq,
            source=r.source,
            started_at=r.started_at,
            execution_count=r.execution_count,
            cell_id=r.cell_id,
            ended_at=r.ended_at,
            ok=r.ok,
            error_type=r.error_type,
        )
        for r in rows
    ]


def cell_history(project: Project, run_id: str) -> pd.DataFrame:
    """The cell history of a run as a DataFrame, one row per execution, in order."""
    import pandas as pd

    flush_buffered(run_id)
    with project.db.read() as conn:
        rows = conn.execute(_select_history(run_id)).all()
    columns = [c for c in HISTORY_COLUMNS if c != "duration"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.insert(columns.index("ended_at") + 1, "duration", frame["ended_at"] - frame["started_at"])
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame


# --- params and the final metrics ----------------------------------------------------------


def params_seen_by_final_metrics(project: Project, run_id: str) -> dict[str, Any]:
    """For each param that took several values, the value in force when the last metric
    point was logged (a notebook's param cell may be re-run after training)."""
    from .runs import _logs

    if run_id in _logs:
        _logs[run_id].flush()
    history = schema.param_history
    with project.db.read() as conn:
        last_metric = conn.execute(
            sa.select(sa.func.max(schema.latest_metrics.c.timestamp)).where(
                schema.latest_metrics.c.run_id == run_id
            )
        ).scalar()
        rows = conn.execute(
            sa.select(history.c.key, history.c.value, history.c.logged_at)
            .where(history.c.run_id == run_id)
            .order_by(history.c.id)
        ).all()
    if last_metric is None:
        return {}
    values: dict[str, list[tuple[str, float]]] = {}
    for key, value, logged_at in rows:
        values.setdefault(key, []).append((value, logged_at))
    seen = {}
    for key, taken in values.items():
        if len(taken) > 1:
            before = [value for value, at in taken if at <= last_metric]
            seen[key] = decode_param(before[-1]) if before else None
    return seen


def param_notes(project: Project, run_id: str) -> tuple[dict[str, Any], list[str]]:
    """(params seen by the final metrics, reasons for those changed since)."""
    seen = params_seen_by_final_metrics(project, run_id)
    if not seen:
        return {}, []
    table = schema.params
    with project.db.read() as conn:
        current = dict(
            conn.execute(
                sa.select(table.c.key, table.c.value).where(
                    table.c.run_id == run_id, table.c.key.in_(list(seen))
                )
            ).all()
        )
    notes = []
    for key, value in seen.items():
        now = decode_param(current[key]) if key in current else None
        if now != value:
            notes.append(
                f"param changed: {key} is {now!r} but the final metrics were logged with "
                f"{key}={value!r}"
            )
    return seen, notes
