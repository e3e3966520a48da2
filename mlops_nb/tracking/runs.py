"""Runs: create, log to, end, read. Every function takes the ``Project`` explicitly."""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import NotFoundError, UsageError
from ..identity import current_user, hostname
from ..store import schema
from ..store.upsert import Upsert
from . import metric_log
from .environment import environment, git_state
from .values import check_key, check_metric_value, check_text, decode_param, encode_param

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project

STATUSES = ("running", "finished", "failed", "crashed", "interrupted")
HEARTBEAT_INTERVAL = 15.0
MAX_TAG_VALUE = 5000
# A run on another host whose heartbeat is older than this is considered crashed.
HEARTBEAT_LEASE = 120.0

# Open metric logs of this process, by run id.
_logs: dict[str, metric_log.MetricLog] = {}


@dataclass(frozen=True)
class Artifact:
    path: str
    digest: str
    size: int
    kind: str
    media_type: str | None


def new_run_id() -> str:
    return uuid.uuid4().hex


_insert_experiment = Upsert(schema.experiments, keys=("name",), update=())
_insert_environment = Upsert(schema.environments, keys=("digest",), update=())


def experiment_id(conn: sa.Connection, name: str) -> int:
    """The id of experiment ``name``, created on first use (safe under concurrent creation)."""
    table = schema.experiments
    query = sa.select(table.c.experiment_id).where(table.c.name == name)
    found = conn.execute(query).scalar()
    if found is None:
        _insert_experiment(conn, [{"name": name, "created_at": time.time()}])
        found = conn.execute(query).scalar_one()
    return found


def _store_environment(project: Project, conn: sa.Connection, learned: dict) -> str:
    digest, info = environment()
    if ("env", digest) not in project.db.memo:
        _insert_environment(conn, [{"digest": digest, "info": info}])
        learned["env", digest] = True
    return digest


def _experiment(project: Project, conn: sa.Connection, name: str, learned: dict) -> int:
    found = project.db.memo.get(("experiment", name))
    if found is None:
        found = learned["experiment", name] = experiment_id(conn, name)
    return found  # type: ignore[return-value]


_INSERT_RUN = sa.insert(schema.runs)
_INSERT_ENV = sa.insert(schema.environments)
_INSERT_PARAMS = sa.insert(schema.params)
_INSERT_PARAM_HISTORY = sa.insert(schema.param_history)
_INSERT_TAGS = sa.insert(schema.tags)
_FINISH_RUN = (
    sa.update(schema.runs)
    .where(schema.runs.c.run_id == sa.bindparam("id"))
    .values(status=sa.bindparam("status"), end_time=sa.bindparam("end_time"))
)


def create_run(
    project: Project,
    name: str | None = None,
    experiment: str = "default",
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    kind: str = "run",
    parent_id: str | None = None,
    notebook_path: str | None = None,
) -> Run:
    """Insert a ``running`` run owned by this process, with its params and tags."""
    check_text(experiment, "experiment name")
    run_id = new_run_id()
    name = check_text(str(name) if name is not None else f"{kind}-{run_id[:8]}", "run name")
    param_rows = _param_rows(params or {})
    tag_rows = _tag_rows(tags or {})
    git = git_state(os.getcwd())
    now = time.time()
    learned: dict = {}  # memo entries, kept only once the transaction commits
    with project.db.write() as conn:
        conn.execute(
            _INSERT_RUN,
            {
                "run_id": run_id,
                "name": str(name),
                "experiment_id": _experiment(project, conn, experiment, learned),
                "kind": kind,
                "status": "running",
                "parent_id": parent_id,
                "user": current_user(),
                "host": hostname(),
                "pid": os.getpid(),
                "start_time": now,
                "heartbeat_at": now,
                "notebook_path": notebook_path,
                "git_commit": git.get("commit"),
                "git_dirty": git.get("dirty"),
                "env_digest": _store_environment(project, conn, learned),
            },
        )
        if param_rows:
            rows = [{"run_id": run_id, "key": k, "value": v} for k, v in param_rows.items()]
            conn.execute(_INSERT_PARAMS, rows)
            conn.execute(_INSERT_PARAM_HISTORY, [{**row, "logged_at": now} for row in rows])
        if tag_rows:
            conn.execute(
                _INSERT_TAGS,
                [{"run_id": run_id, "key": k, "value": v} for k, v in tag_rows.items()],
            )
    project.db.memo.update(learned)
    metric_log.FLUSHER.beat(run_id, project)
    return Run(project, run_id)


def end_run(project: Project, run_id: str, status: str = "finished") -> None:
    """Ingest the run's metrics and set its final status, in one transaction."""
    if status not in STATUSES or status == "running":
        raise UsageError(f"status must be one of {', '.join(STATUSES[1:])}, not {status!r}")
    metric_log.FLUSHER.beat(run_id, None)

    def finish(conn: sa.Connection) -> None:
        conn.execute(_FINISH_RUN, {"id": run_id, "status": status, "end_time": time.time()})

    log = _logs.pop(run_id, None)
    if log is not None:
        log.close(finalize=finish)
    else:
        with project.db.write() as conn:
            finish(conn)


def close_log(run_id: str) -> None:
    log = _logs.pop(run_id, None)
    if log is not None:
        log.close()


def log_of(project: Project, run_id: str) -> metric_log.MetricLog:
    log = _logs.get(run_id)
    if log is None:
        log = _logs[run_id] = metric_log.MetricLog(project, run_id)
    return log


# --- logging -----------------------------------------------------------------------------


def _param_rows(params: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(params, Mapping):
        raise UsageError(f"params must be a mapping of name to value, not {type(params).__name__}")
    return {check_key(k, "param name"): encode_param(k, v) for k, v in params.items()}


def _tag_rows(tags: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(tags, Mapping):
        raise UsageError(f"tags must be a mapping of name to value, not {type(tags).__name__}")
    return {
        check_key(k, "tag name"): check_text(str(v), f"tag {k!r}", MAX_TAG_VALUE, allow_empty=True)
        for k, v in tags.items()
    }


def _write_params(conn: sa.Connection, run_id: str, rows: dict[str, str], now: float) -> None:
    if not rows:
        return
    table = schema.params
    current = dict(
        conn.execute(
            sa.select(table.c.key, table.c.value).where(
                table.c.run_id == run_id, table.c.key.in_(list(rows))
            )
        ).all()
    )
    for key, value in rows.items():
        if key not in current:
            conn.execute(_INSERT_PARAMS, {"run_id": run_id, "key": key, "value": value})
        elif current[key] != value:
            conn.execute(
                sa.update(table)
                .where(table.c.run_id == run_id, table.c.key == key)
                .values(value=value)
            )
    changed = [
        {"run_id": run_id, "key": k, "value": v, "logged_at": now}
        for k, v in rows.items()
        if current.get(k) != v
    ]
    if changed:
        conn.execute(_INSERT_PARAM_HISTORY, changed)


def _write_tags(conn: sa.Connection, run_id: str, rows: dict[str, str]) -> None:
    if not rows:
        return
    table = schema.tags
    conn.execute(sa.delete(table).where(table.c.run_id == run_id, table.c.key.in_(list(rows))))
    conn.execute(
        sa.insert(table), [{"run_id": run_id, "key": k, "value": v} for k, v in rows.items()]
    )


def log_batch(
    project: Project,
    run_id: str,
    metrics: Iterable[tuple[str, Any, int | None]] = (),
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> None:
    """The one logging primitive: metric points (key, value, step) go to the append-only log,
    params and tags to the database in one transaction. Steps default to the key's next step."""
    log = None
    points = []
    for key, value, step in metrics:
        check_key(key, "metric name")
        number = check_metric_value(key, value)
        if log is None:
            log = log_of(project, run_id)
        if step is None:
            step = log.next_step(key)
        elif type(step) is not int:
            if hasattr(step, "item") and not isinstance(step, bool):
                step = int(step.item())
            else:
                raise UsageError(f"step must be an integer, got {step!r}")
        points.append((key, step, number))
    param_rows = _param_rows(params or {})
    tag_rows = _tag_rows(tags or {})
    if points:
        log.append(points)
    if param_rows or tag_rows:
        with project.db.write() as conn:
            _write_params(conn, run_id, param_rows, time.time())
            _write_tags(conn, run_id, tag_rows)


# --- liveness ----------------------------------------------------------------------------


def beat_heartbeats(beats: Mapping[str, Project]) -> None:
    now = time.time()
    by_project: dict[int, tuple[Project, list[str]]] = {}
    for run_id, project in beats.items():
        by_project.setdefault(id(project), (project, []))[1].append(run_id)
    for project, run_ids in by_project.values():
        with project.db.write() as conn:
            conn.execute(
                sa.update(schema.runs)
                .where(schema.runs.c.run_id.in_(run_ids), schema.runs.c.status == "running")
                .values(heartbeat_at=now)
            )


def reap(project: Project) -> None:
    """Ingest logs of dead processes and mark their runs ``crashed`` (not ``running`` forever).

    Dead means: on this host, the owning pid is gone; elsewhere, the heartbeat lease expired.
    """
    metric_log.recover(project)
    runs = schema.runs
    with project.db.read() as conn:
        candidates = conn.execute(
            sa.select(runs.c.run_id, runs.c.host, runs.c.pid, runs.c.heartbeat_at).where(
                runs.c.status == "running"
            )
        ).all()
    now = time.time()
    me = os.getpid()
    dead = [
        r
        for r in candidates
        if (r.host == hostname() and r.pid != me and r.pid and not metric_log.pid_alive(r.pid))
        or (r.host != hostname() and (r.heartbeat_at or 0) < now - HEARTBEAT_LEASE)
    ]
    if not dead:
        return
    with project.db.write() as conn:
        for row in dead:
            conn.execute(
                sa.update(runs)
                .where(runs.c.run_id == row.run_id, runs.c.status == "running")
                .values(status="crashed", end_time=row.heartbeat_at or now)
            )


# --- reading -----------------------------------------------------------------------------


def _decode_metric(value: float | None) -> float:
    return math.nan if value is None else value


class Run:
    """A handle on one run. Attributes read the store, so they are always current."""

    def __init__(self, project: Project, run_id: str, row: Any = None):
        self.project = project
        self.run_id = run_id
        self._row = row

    # -- the row
    def refresh(self) -> Run:
        if self.run_id in _logs:
            _logs[self.run_id].flush()
        runs, exps = schema.runs, schema.experiments
        with self.project.db.read() as conn:
            row = conn.execute(
                sa.select(runs, exps.c.name.label("experiment"))
                .join(exps, exps.c.experiment_id == runs.c.experiment_id)
                .where(runs.c.run_id == self.run_id)
            ).first()
        if row is None:
            raise NotFoundError(f"no run {self.run_id!r}; list runs with `mlops runs ls`")
        self._row = row
        return self

    @property
    def row(self) -> Any:
        if self._row is None:
            self.refresh()
        return self._row

    name = property(lambda self: self.row.name)
    experiment = property(lambda self: self.row.experiment)
    kind = property(lambda self: self.row.kind)
    parent_id = property(lambda self: self.row.parent_id)
    user = property(lambda self: self.row.user)
    host = property(lambda self: self.row.host)
    start_time = property(lambda self: self.row.start_time)
    end_time = property(lambda self: self.row.end_time)
    notebook_path = property(lambda self: self.row.notebook_path)
    git_commit = property(lambda self: self.row.git_commit)

    @property
    def status(self) -> str:
        return self.refresh().row.status

    @property
    def deleted_at(self) -> float | None:
        """When the run was deleted (it is restorable until purged), else None."""
        return self.refresh().row.deleted_at

    @property
    def reproducible(self) -> bool | None:
        return self.refresh().row.reproducible

    @property
    def reproducibility_notes(self) -> list[str]:
        notes = self.refresh().row.reproducibility_notes
        return json.loads(notes) if notes else []

    @property
    def cells(self) -> pd.DataFrame:
        """The cell history (one row per executed cell, in order) of a tracked notebook."""
        from .cell_store import cell_history

        return cell_history(self.project, self.run_id)

    # -- logged values
    def _pairs(self, table: sa.Table) -> list[Any]:
        with self.project.db.read() as conn:
            return conn.execute(
                sa.select(table.c.key, table.c.value)
                .where(table.c.run_id == self.run_id)
                .order_by(table.c.key)
            ).all()

    @property
    def params(self) -> dict[str, Any]:
        return {k: decode_param(v) for k, v in self._pairs(schema.params)}

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._pairs(schema.tags))

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of each metric (highest step)."""
        if self.run_id in _logs:
            _logs[self.run_id].flush()
        return {k: _decode_metric(v) for k, v in self._pairs(schema.latest_metrics)}

    def param_history(self, key: str | None = None) -> pd.DataFrame:
        """Every value each param took, in order (notebook cells get re-run)."""
        import pandas as pd

        table = schema.param_history
        query = sa.select(table.c.key, table.c.value, table.c.logged_at).where(
            table.c.run_id == self.run_id
        )
        if key is not None:
            query = query.where(table.c.key == key)
        with self.project.db.read() as conn:
            rows = conn.execute(query.order_by(table.c.id)).all()
        frame = pd.DataFrame(rows, columns=["key", "value", "logged_at"])
        frame["value"] = [decode_param(v) for v in frame["value"]]
        return frame

    def metric_history(self, key: str) -> pd.DataFrame:
        """Every point of one metric: ``step``, ``value``, ``timestamp`` in step order."""
        import pandas as pd

        if self.run_id in _logs:
            _logs[self.run_id].flush()
        table = schema.metrics
        with self.project.db.read() as conn:
            rows = conn.execute(
                sa.select(table.c.step, table.c.value, table.c.timestamp)
                .where(table.c.run_id == self.run_id, table.c.key == key)
                .order_by(table.c.step, table.c.timestamp, table.c.id)
            ).all()
        frame = pd.DataFrame(rows, columns=["step", "value", "timestamp"])
        frame["value"] = frame["value"].astype(float)
        return frame

    @property
    def artifacts(self) -> list[Artifact]:
        table = schema.artifacts
        with self.project.db.read() as conn:
            rows = conn.execute(
                sa.select(
                    table.c.path, table.c.digest, table.c.size, table.c.kind, table.c.media_type
                )
                .where(table.c.run_id == self.run_id)
                .order_by(table.c.path)
            ).all()
        return [Artifact(*row) for row in rows]

    @property
    def environment(self) -> dict[str, Any]:
        table = schema.environments
        with self.project.db.read() as conn:
            info = conn.execute(
                sa.select(table.c.info).where(table.c.digest == self.row.env_digest)
            ).scalar()
        return json.loads(info) if info else {}

    @property
    def children(self) -> list[Run]:
        """Child runs, oldest first; deleted ones only when this run is deleted too."""
        runs = schema.runs
        shown = runs.c.deleted_at.is_(None) if self.deleted_at is None else sa.true()
        with self.project.db.read() as conn:
            ids = (
                conn.execute(
                    sa.select(runs.c.run_id)
                    .where(runs.c.parent_id == self.run_id, shown)
                    .order_by(runs.c.start_time)
                )
                .scalars()
                .all()
            )
        return [Run(self.project, run_id) for run_id in ids]

    # -- use as a context manager: `with mlops.start_run() as run:`
    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        from . import context

        status = (
            "finished"
            if exc_type is None
            else ("interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed")
        )
        context.end_run(status=status, run=self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.run_id == self.run_id

    def __hash__(self) -> int:
        return hash(self.run_id)

    def __repr__(self) -> str:
        return f"<Run {self.run_id[:8]} {self.row.name!r} {self.row.status}>"
