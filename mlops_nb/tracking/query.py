"""Listing runs as a pandas DataFrame: one row a run, ``params.*`` and ``metrics.*`` columns."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..errors import NotFoundError, UsageError
from ..store import schema
from .filters import compile_filter
from .runs import reap
from .values import decode_param

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project

BASE_COLUMNS = [
    "run_id",
    "name",
    "experiment",
    "status",
    "kind",
    "parent_id",
    "user",
    "start_time",
    "end_time",
    "duration",
    "reproducible",
]

NULLABLE = {"end_time", "duration", "parent_id", "reproducible"}  # sorted after the others


def run_query(
    experiment: str | None = None,
    filter: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    deleted: bool = False,
) -> sa.Select:
    """Runs (deleted ones only with ``deleted``) as listing rows."""
    runs, exps = schema.runs, schema.experiments
    query = sa.select(
        runs.c.run_id,
        runs.c.name,
        exps.c.name.label("experiment"),
        runs.c.status,
        runs.c.kind,
        runs.c.parent_id,
        runs.c.user,
        runs.c.start_time,
        runs.c.end_time,
        runs.c.reproducible,
    ).join(exps, exps.c.experiment_id == runs.c.experiment_id)
    query = query.where(is_deleted(deleted))
    if experiment is not None:
        query = query.where(exps.c.name == experiment)
    if status is not None:
        query = query.where(runs.c.status == status)
    if kind is not None:
        query = query.where(runs.c.kind == kind)
    if filter:
        query = query.where(compile_filter(filter))
    return query


def is_deleted(deleted: bool = True) -> sa.ColumnElement[bool]:
    """The condition on ``runs`` that a run is deleted (or, with False, that it is not)."""
    column = schema.runs.c.deleted_at
    return column.is_not(None) if deleted else column.is_(None)


def list_runs(
    project: Project,
    experiment: str | None = None,
    filter: str | None = None,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    order_by: str = "start_time",
    descending: bool = True,
    deleted: bool = False,
) -> pd.DataFrame:
    """Runs newest first, with the latest value of each metric and each param's value.

    ``order_by`` is a column of the listing or ``metrics.NAME`` (its latest value; runs
    without it come last either way), so ``limit`` can take the best runs. ``deleted`` lists
    the deleted runs instead (restorable until ``mlops gc`` purges them).
    """
    import pandas as pd

    reap(project)
    query = run_query(experiment, filter, status, kind, deleted)
    query = _sorted_by(query, order_by, descending)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    ids = query.subquery()
    with project.db.read() as conn:
        rows = conn.execute(query).all()
        params = conn.execute(
            sa.select(schema.params.c.run_id, schema.params.c.key, schema.params.c.value).where(
                schema.params.c.run_id.in_(sa.select(ids.c.run_id))
            )
        ).all()
        metrics = conn.execute(
            sa.select(
                schema.latest_metrics.c.run_id,
                schema.latest_metrics.c.key,
                schema.latest_metrics.c.value,
            ).where(schema.latest_metrics.c.run_id.in_(sa.select(ids.c.run_id)))
        ).all()
    names = [c for c in BASE_COLUMNS if c != "duration"]
    frame = pd.DataFrame([tuple(row) for row in rows], columns=names)
    frame.insert(
        frame.columns.get_loc("end_time") + 1, "duration", frame["end_time"] - frame["start_time"]
    )
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    position = {run_id: i for i, run_id in enumerate(frame["run_id"])}
    extra = {
        **_pivot(params, "params.", position, _decode_cached(), None),
        **_pivot(metrics, "metrics.", position, _nan_for_null, math.nan),
    }
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)
    return frame


def _sorted_by(query: sa.Select, order_by: str, descending: bool) -> sa.Select:
    """The query ordered by a listed column or ``metrics.NAME`` (joined to that metric);
    values that can be missing sort last either way, then runs by id."""
    runs = schema.runs
    nullable = order_by in NULLABLE
    if order_by.startswith("metrics.") and len(order_by) > len("metrics."):
        metric = schema.latest_metrics.alias("sort_metric")
        query = query.outerjoin(
            metric,
            sa.and_(metric.c.run_id == runs.c.run_id, metric.c.key == order_by[len("metrics.") :]),
        )
        sort, nullable = metric.c.value, True
    elif order_by == "duration":
        sort = runs.c.end_time - runs.c.start_time
    else:
        sort = {c.name: c for c in query.selected_columns}.get(order_by)
        if sort is None:
            raise UsageError(
                f"cannot sort by {order_by!r}; use metrics.NAME or one of {', '.join(BASE_COLUMNS)}"
            )
    missing_last = [sort.is_(None)] if nullable else []
    return query.order_by(*missing_last, sort.desc() if descending else sort.asc(), runs.c.run_id)


def _decode_cached():  # type: ignore[no-untyped-def]
    """decode_param with a memo for immutable values (params repeat a lot across runs)."""
    memo: dict[str, object] = {}

    def decode(text: str) -> object:
        value = memo.get(text, memo)
        if value is memo:
            value = decode_param(text)
            if isinstance(value, (list, dict)):
                return value
            memo[text] = value
        return value

    return decode


def _nan_for_null(value: float | None) -> float:
    return math.nan if value is None else value


def _pivot(items, prefix, position, decode, missing):  # type: ignore[no-untyped-def]
    """(run_id, key, value) rows as ``{prefix + key: values aligned with position}``."""
    columns: dict[str, list] = {}
    size = len(position)
    for run_id, key, value in items:
        column = columns.get(key)
        if column is None:
            column = columns[key] = [missing] * size
        column[position[run_id]] = decode(value)
    return {prefix + key: columns[key] for key in sorted(columns)}


def count_runs(
    project: Project,
    experiment: str | None = None,
    filter: str | None = None,
    deleted: bool = False,
) -> int:
    query = run_query(experiment, filter, deleted=deleted).subquery()
    with project.db.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(query)).scalar_one()


def resolve_run_id(project: Project, run_id: str) -> str:
    """A full run id from an id or a unique prefix (at least 6 characters)."""
    if not isinstance(run_id, str) or not run_id.isalnum():
        raise NotFoundError(f"no run {run_id!r}; run ids are hex strings (see `mlops runs ls`)")
    reap(project)
    runs = schema.runs
    with project.db.read() as conn:
        if len(run_id) == 32:
            found = conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == run_id)).all()
        elif len(run_id) >= 6:
            found = conn.execute(
                sa.select(runs.c.run_id).where(runs.c.run_id.startswith(run_id)).limit(2)
            ).all()
        else:
            found = []
    if len(found) != 1:
        why = "is ambiguous" if found else "does not exist"
        raise NotFoundError(f"run {run_id!r} {why}; give more of the id (see `mlops runs ls`)")
    return found[0][0]
