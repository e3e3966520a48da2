"""The metric hot path: an append-only log per (run, process), ingested in the background.

``append`` is one ``os.write`` on an ``O_APPEND`` descriptor: once it returns, the points are
in the kernel's page cache and survive a ``kill -9`` of the process. A daemon thread ingests
new lines into the database about every half second, so other processes see points within a
second. Ingestion is exactly-once: the byte offset reached is stored in the same transaction
as the points. Logs left by dead processes are ingested by the next reader (``recover``).
"""

from __future__ import annotations

import errno
import math
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..errors import StoreError
from ..store import schema
from ..store.upsert import Upsert

if TYPE_CHECKING:
    from ..project import Project

FLUSH_INTERVAL = 0.5
SUFFIX = ".metrics"
Point = tuple[str, int, float, float]

_INSERT_METRICS = sa.insert(schema.metrics)
_OFFSETS = schema.metric_log_offsets
_LATEST = schema.latest_metrics
_upsert_offset = Upsert(_OFFSETS, keys=("log_id",), update=("offset",))
_upsert_latest = Upsert(
    _LATEST,
    keys=("run_id", "key"),
    update=("step", "value", "timestamp"),
    only_if=lambda new: sa.or_(
        new.step > _LATEST.c.step,
        sa.and_(new.step == _LATEST.c.step, new.timestamp >= _LATEST.c.timestamp),
    ),
)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, dead but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _encode(key: str, step: int, value: float, timestamp: float) -> str:
    return f"{key}\t{step}\t{value!r}\t{timestamp!r}\n"


def _parse(data: bytes) -> tuple[list[Point], int]:
    """Complete lines of ``data`` as points, and the number of bytes they span."""
    end = data.rfind(b"\n") + 1
    points = []
    for line in data[:end].decode("utf-8").splitlines():
        key, step, value, timestamp = line.rsplit("\t", 3)
        points.append((key, int(step), float(value), float(timestamp)))
    return points, end


def insert_points(conn: sa.Connection, run_id: str, points: Iterable[Point]) -> None:
    """Insert metric points and advance each key's latest value (highest step, then time)."""
    rows = [
        {
            "run_id": run_id,
            "key": k,
            "step": s,
            "value": None if math.isnan(v) else v,
            "timestamp": t,
        }
        for k, s, v, t in points
    ]
    if not rows:
        return
    conn.execute(_INSERT_METRICS, rows)
    latest: dict[str, dict] = {}
    for row in rows:
        best = latest.get(row["key"])
        if best is None or (row["step"], row["timestamp"]) >= (best["step"], best["timestamp"]):
            latest[row["key"]] = row
    _upsert_latest(conn, list(latest.values()))


def _ingest(conn: sa.Connection, path: Path, run_id: str, offset: int) -> int:
    """Ingest complete lines after ``offset`` inside ``conn``; returns the new offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return offset
    points, consumed = _parse(data)
    if not consumed:
        return offset
    insert_points(conn, run_id, points)
    _upsert_offset(conn, [{"log_id": path.name, "run_id": run_id, "offset": offset + consumed}])
    return offset + consumed


class MetricLog:
    """This process's append-only metric log for one run."""

    def __init__(self, project: Project, run_id: str):
        self.project = project
        self.run_id = run_id
        project.spool_dir.mkdir(parents=True, exist_ok=True)
        name = f"{run_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}{SUFFIX}"
        self.path = project.spool_dir / name
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._write_lock = threading.Lock()
        self._ingest_lock = threading.Lock()
        self._ingested = 0
        self._size = 0
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
        with self._write_lock:
            if self._fd < 0:
                raise RuntimeError("this run has ended; start a new run to log more")
            try:
                if os.write(self._fd, data) != len(data):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            except OSError as exc:
                os.ftruncate(self._fd, self._size)  # never leave half a line behind
                raise StoreError(
                    f"cannot log metrics to {self.path}: {exc.strerror}; free some space and "
                    "retry (points logged before are kept)"
                ) from None
            self._size += len(data)
            self.dirty = True

    def flush(self, finalize: Callable[[sa.Connection], None] | None = None) -> None:
        """Ingest everything appended so far, in one transaction with ``finalize``."""
        with self._ingest_lock:
            closed = self._fd < 0  # checked before reading: nothing can be appended after
            if self.dirty or finalize is not None:
                self.dirty = False
                try:
                    with self.project.db.write() as conn:
                        offset = _ingest(conn, self.path, self.run_id, self._ingested)
                        if finalize is not None:
                            finalize(conn)
                except BaseException:
                    self.dirty = True  # the points are still in the log: the next flush retries
                    raise
                self._ingested = offset
            if closed:  # fully ingested: the log is done
                FLUSHER.unregister(self)
                # The offset row stays: were we killed before this unlink, recovery resumes.
                self.path.unlink(missing_ok=True)

    def close(self, finalize: Callable[[sa.Connection], None] | None = None) -> None:
        """Ingest the rest (with ``finalize`` in the same transaction) and remove the log.

        When the database cannot be reached the error propagates, and the background flusher
        keeps retrying: the points are ingested once the database is back.
        """
        with self._write_lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        self.flush(finalize)


def recover(project: Project) -> None:
    """Ingest and remove logs whose writing process has died (e.g. after ``kill -9``)."""
    try:
        names = os.listdir(project.spool_dir)
    except FileNotFoundError:
        return
    me = os.getpid()
    for name in names:
        if not name.endswith(SUFFIX):
            continue
        run_id, pid, _ = name.split(".", 2)
        if int(pid) == me or pid_alive(int(pid)):
            continue
        path = project.spool_dir / name
        with project.db.write() as conn:
            offset = conn.execute(
                sa.select(_OFFSETS.c.offset).where(_OFFSETS.c.log_id == name).with_for_update()
            ).scalar()
            _ingest(conn, path, run_id, offset or 0)
        path.unlink(missing_ok=True)


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

        last_beat = time.time()
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
