"""The metric hot path: an append-only log per (run, process), ingested in the background.

``append`` is one ``os.write`` on an ``O_APPEND`` descriptor: once it returns, the points are
in the kernel's page cache and survive a ``kill -9`` of the process. A daemon thread ingests
new lines into the database about every half second, so other processes see points within a
second. Ingestion is exactly-once: the byte offset reached is stored in the same transaction
as the points. Logs left by dead processes are ingested by the next reader (``recover``).
"""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..store import schema

if TYPE_CHECKING:
    from ..project import Project

FLUSH_INTERVAL = 0.5
SUFFIX = ".metrics"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _encode(key: str, step: int, value: float, timestamp: float) -> str:
    return f"{key}\t{step}\t{value!r}\t{timestamp!r}\n"


def _parse(data: bytes) -> tuple[list[tuple[str, int, float, float]], int]:
    """Complete lines of ``data`` as points, and the number of bytes they span."""
    end = data.rfind(b"\n") + 1
    points = []
    for line in data[:end].decode("utf-8").splitlines():
        key, step, value, timestamp = line.rsplit("\t", 3)
        points.append((key, int(step), float(value), float(timestamp)))
    return points, end


def ingest_file(project: Project, path: Path, run_id: str) -> int:
    """Move new complete lines of one log into the database; returns points ingested."""
    log_id = path.name[: -len(SUFFIX)]
    offsets = schema.metric_log_offsets
    with project.db.write() as conn:
        offset = conn.execute(
            sa.select(offsets.c.offset).where(offsets.c.log_id == log_id).with_for_update()
        ).scalar()
        if offset is None:
            conn.execute(sa.insert(offsets).values(log_id=log_id, run_id=run_id, offset=0))
            offset = 0
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return 0
        points, consumed = _parse(data)
        if not points:
            return 0
        insert_points(conn, run_id, points)
        conn.execute(
            sa.update(offsets)
            .where(offsets.c.log_id == log_id)
            .values(offset=offset + consumed)
        )
    return len(points)


def insert_points(
    conn: sa.Connection, run_id: str, points: Iterable[tuple[str, int, float, float]]
) -> None:
    """Insert metric points and advance each key's latest value (highest step, then time)."""
    rows = [
        {"run_id": run_id, "key": k, "step": s, "value": None if math.isnan(v) else v,
         "timestamp": t}
        for k, s, v, t in points
    ]
    conn.execute(sa.insert(schema.metrics), rows)
    latest: dict[str, dict] = {}
    for row in rows:
        best = latest.get(row["key"])
        if best is None or (row["step"], row["timestamp"]) >= (best["step"], best["timestamp"]):
            latest[row["key"]] = row
    table = schema.latest_metrics
    current = {
        r.key: (r.step, r.timestamp)
        for r in conn.execute(
            sa.select(table.c.key, table.c.step, table.c.timestamp).where(
                table.c.run_id == run_id, table.c.key.in_(list(latest))
            )
        )
    }
    for key, row in latest.items():
        if key not in current:
            conn.execute(sa.insert(table).values(**row))
        elif (row["step"], row["timestamp"]) >= current[key]:
            conn.execute(
                sa.update(table)
                .where(table.c.run_id == run_id, table.c.key == key)
                .values(step=row["step"], value=row["value"], timestamp=row["timestamp"])
            )


class MetricLog:
    """This process's append-only metric log for one run."""

    def __init__(self, project: Project, run_id: str):
        self.project = project
        self.run_id = run_id
        project.spool_dir.mkdir(parents=True, exist_ok=True)
        name = f"{run_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}{SUFFIX}"
        self.path = project.spool_dir / name
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()
        self.dirty = False
        self.last: dict[str, float] = {}
        self._steps: dict[str, int] = {}
        FLUSHER.register(self)

    def next_step(self, key: str) -> int:
        return self._steps.get(key, -1) + 1

    def append(self, points: Iterable[tuple[str, int, float]]) -> None:
        now = time.time()
        lines = []
        for key, step, value in points:
            lines.append(_encode(key, step, value, now))
            self.last[key] = value
            if step > self._steps.get(key, -1):
                self._steps[key] = step
        data = "".join(lines).encode("utf-8")
        with self._lock:
            if self._fd < 0:
                raise RuntimeError("this run has ended; start a new run to log more")
            os.write(self._fd, data)
            self.dirty = True

    def flush(self) -> None:
        """Ingest everything appended so far (synchronously)."""
        with self._lock:
            self.dirty = False
        ingest_file(self.project, self.path, self.run_id)

    def close(self) -> None:
        """Ingest the rest and remove the log."""
        FLUSHER.unregister(self)
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        ingest_file(self.project, self.path, self.run_id)
        _forget(self.project, self.path)


def _forget(project: Project, path: Path) -> None:
    path.unlink(missing_ok=True)
    with project.db.write() as conn:
        conn.execute(
            sa.delete(schema.metric_log_offsets).where(
                schema.metric_log_offsets.c.log_id == path.name[: -len(SUFFIX)]
            )
        )


def recover(project: Project) -> None:
    """Ingest and remove logs whose writing process has died (e.g. after ``kill -9``)."""
    spool = project.spool_dir
    try:
        names = os.listdir(spool)
    except FileNotFoundError:
        return
    me = os.getpid()
    for name in names:
        if not name.endswith(SUFFIX):
            continue
        run_id, pid, _ = name.split(".", 2)
        if int(pid) == me or _pid_alive(int(pid)):
            continue
        ingest_file(project, spool / name, run_id)
        _forget(project, spool / name)


class _Flusher:
    """One daemon thread per process that ingests dirty logs and beats run heartbeats."""

    def __init__(self) -> None:
        self._logs: weakref.WeakSet[MetricLog] = weakref.WeakSet()
        self._heartbeats: dict[str, Project] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []

    def register(self, log: MetricLog) -> None:
        with self._lock:
            self._logs.add(log)
            self._ensure_thread()

    def unregister(self, log: MetricLog) -> None:
        with self._lock:
            self._logs.discard(log)

    def beat(self, run_id: str, project: Project | None) -> None:
        """Start (project given) or stop (None) heartbeats for a run this process owns."""
        with self._lock:
            if project is None:
                self._heartbeats.pop(run_id, None)
            else:
                self._heartbeats[run_id] = project
                self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="mlops-flusher", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        from .runs import HEARTBEAT_INTERVAL, beat_heartbeats

        last_beat = 0.0
        while True:
            time.sleep(FLUSH_INTERVAL)
            with self._lock:
                logs = [log for log in self._logs if log.dirty]
                beats = dict(self._heartbeats)
            for log in logs:
                try:
                    log.flush()
                except Exception as exc:  # keep going; the log file still holds the points
                    self.errors.append(f"{log.path.name}: {exc}")
            if beats and time.time() - last_beat > HEARTBEAT_INTERVAL:
                last_beat = time.time()
                try:
                    beat_heartbeats(beats)
                except Exception as exc:
                    self.errors.append(f"heartbeat: {exc}")


FLUSHER = _Flusher()
