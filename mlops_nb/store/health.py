"""``mlops doctor``: check a project's store and say what is wrong and how to fix it.

Each check yields a ``Finding`` (``ok``, ``warn`` or ``fail``) with a one-line message and,
when something is wrong, a one-line fix. The store is healthy when nothing failed. Like any
read, the doctor first runs the usual crash recovery (metric logs of dead processes are
ingested and their runs marked ``crashed``) and reports what it recovered.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import MlopsError
from . import gc, schema

if TYPE_CHECKING:
    from ..project import Project

DEFAULT_SAMPLE = 20
STAGING_STALE = 3600.0
# Filesystems whose locking SQLite cannot rely on (sqlite.org/wal.html, howtocorrupt.html).
NETWORK_FILESYSTEMS = {
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "lustre", "gpfs", "ceph", "beegfs",
    "glusterfs", "fuse.glusterfs", "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone",
    "fuse.juicefs", "davfs", "fuse.davfs2", "virtiofs",
}  # fmt: skip
MAX_DETAILS = 10


@dataclass
class Finding:
    check: str
    status: str  # "ok" | "warn" | "fail"
    message: str
    fix: str = ""
    details: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ok(check: str, message: str) -> Finding:
    return Finding(check, "ok", message)


def _listing(items: list[str]) -> list[str]:
    more = len(items) - MAX_DETAILS
    return items[:MAX_DETAILS] + ([f"... and {more} more"] if more > 0 else [])


# --- database ------------------------------------------------------------------------------


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem holding ``path`` (Linux ``/proc/mounts``), else None."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, kind = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, parts[2]
    return kind


def check_database(project: Project) -> list[Finding]:
    db = project.db
    url = db.engine.url.render_as_string(hide_password=True)
    with db.read() as conn:
        if db.is_sqlite:
            problems = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
            version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
        else:
            problems = ["ok"]
            version = conn.exec_driver_sql("SHOW server_version").scalar()
    kind = "SQLite" if db.is_sqlite else "PostgreSQL"
    if problems != ["ok"]:
        found = Finding(
            "database",
            "fail",
            f"{kind} {url} fails its integrity check",
            "stop all writers, then restore the database from a backup (or `sqlite3 DB .recover`"
            " into a new file); never copy a live SQLite file",
            _listing(problems),
        )
    else:
        what = "integrity check ok" if db.is_sqlite else "connected"
        found = _ok("database", f"{kind} {version} at {url}: {what}")
    return [found, *_check_filesystem(project)]


def _check_filesystem(project: Project) -> list[Finding]:
    db = project.db
    if not db.is_sqlite or not db.engine.url.database:
        return []
    kind = filesystem_type(Path(db.engine.url.database))
    if kind in NETWORK_FILESYSTEMS:
        return [
            Finding(
                "filesystem",
                "fail",
                f"the SQLite store is on a network filesystem ({kind}): its locks are not "
                "reliable there and concurrent writers can corrupt it",
                "move the project to a local disk, or share a PostgreSQL store instead "
                "(MLOPS_STORE_URI, see docs/team.md)",
            )
        ]
    return [_ok("filesystem", f"the SQLite store is on a local filesystem ({kind or 'unknown'})")]


def check_schema(project: Project) -> list[Finding]:
    from .metadata import SCHEMA_HEAD

    revision = project.db.current_revision()
    with project.db.read() as conn:
        present = set(sa.inspect(conn).get_table_names())
    missing = sorted(set(schema.metadata.tables) - present)
    if revision != SCHEMA_HEAD or missing:
        return [
            Finding(
                "schema",
                "fail",
                f"schema revision {revision} (this mlops_nb expects {SCHEMA_HEAD})"
                + (f"; missing tables: {', '.join(missing)}" if missing else ""),
                "restore the database from a backup; tables were dropped outside mlops_nb",
            )
        ]
    return [_ok("schema", f"schema revision {revision}, matching this mlops_nb")]


# --- blobs ---------------------------------------------------------------------------------


def check_blob_store(project: Project) -> list[Finding]:
    """The artifact store answers, and accepts a write (a probe object, removed again)."""
    blobs = project.blobs
    probe = f"doctor-{uuid.uuid4().hex}.probe"
    try:
        if blobs.is_local:
            blobs.staging_dir.mkdir(parents=True, exist_ok=True)
            path = blobs.staging_dir / probe
            path.write_bytes(b"ok")
            path.unlink()
        else:
            key = f"{blobs.root_path}/tmp/{probe}"
            blobs.fs.pipe_file(key, b"ok")
            blobs.fs.rm(key)
    except Exception as exc:  # any backend error (permissions, network, credentials)
        return [
            Finding(
                "blobs",
                "fail",
                f"cannot write to the artifact store {blobs.url}: {exc}",
                "check MLOPS_ARTIFACT_URI (or store.artifacts), the credentials "
                "(AWS_* variables) and MLOPS_S3_ENDPOINT_URL",
            )
        ]
    return [_ok("blobs", f"artifact store {blobs.url} is reachable and writable")]


def check_blobs(project: Project, sample: int | None = DEFAULT_SAMPLE) -> list[Finding]:
    """Every referenced blob exists; a random ``sample`` (None: all) still matches its digest."""
    refs = gc.references(project)
    stored = set(project.blobs.iter_digests())
    missing = sorted(d for d in refs.required if d not in stored)
    findings = []
    if missing:
        findings.append(
            Finding(
                "references",
                "fail",
                f"blobs missing from {project.blobs.url}: {len(missing)} of the "
                f"{len(refs.required)} referenced",
                "restore them into the artifact store from a backup (storing identical content "
                "again, e.g. re-logging the artifact, also repairs a blob)",
                _listing([f"{refs.required[d]} ({d[:12]})" for d in missing]),
            )
        )
    else:
        findings.append(
            _ok("references", f"every referenced blob is present ({len(refs.required)})")
        )
    present = sorted(d for d in refs.required if d in stored)
    chosen = present if sample is None else random.sample(present, min(sample, len(present)))
    corrupt = [d for d in chosen if not project.blobs.verify(d)]
    if corrupt:
        findings.append(
            Finding(
                "digests",
                "fail",
                f"blobs not matching their digest (corrupted or tampered with): {len(corrupt)} of "
                f"{len(chosen)} checked",
                "restore those blobs from a backup (or delete the damaged file: storing the same "
                "content again re-creates it); `mlops doctor --sample all` checks every blob",
                _listing([f"{refs.required[d]} ({d[:12]})" for d in corrupt]),
            )
        )
    else:
        scope = "all" if sample is None else "a sample of"
        findings.append(
            _ok("digests", f"{scope} {len(chosen)} blobs re-hashed: every digest matches")
        )
    return findings


def check_staging(project: Project) -> list[Finding]:
    cutoff = time.time() - STAGING_STALE
    stale = [s for s in gc.staging_files(project.blobs) if s[2] < cutoff]
    if stale:
        size = sum(s[1] for s in stale)
        return [
            Finding(
                "staging",
                "warn",
                f"unfinished blob writes left by killed processes: {len(stale)} ({size} bytes); "
                "no stored data refers to them",
                "`mlops gc --yes` removes them",
                _listing([str(s[0]) for s in stale]),
            )
        ]
    return [_ok("staging", "no unfinished blob writes")]


# --- runs ----------------------------------------------------------------------------------


def _spool_logs(project: Project) -> list[str]:
    from ..tracking.metric_log import SUFFIX

    try:
        return sorted(n for n in os.listdir(project.spool_dir) if n.endswith(SUFFIX))
    except FileNotFoundError:
        return []


def _running(project: Project) -> list[Any]:
    runs = schema.runs
    with project.db.read() as conn:
        return conn.execute(
            sa.select(runs.c.run_id, runs.c.name, runs.c.host, runs.c.pid, runs.c.heartbeat_at)
            .where(runs.c.status == "running")
            .order_by(runs.c.start_time)
        ).all()


def check_runs(project: Project, fix: bool = False) -> list[Finding]:
    """Recover what crashed processes left, then report runs that still look stuck."""
    from ..tracking import runs as tracking

    logs_before = set(_spool_logs(project))
    running_before = {r.run_id for r in _running(project)}
    findings = []
    try:
        tracking.reap(project)
    except Exception as exc:  # a garbled log must not hide the other checks
        findings.append(
            Finding(
                "spool",
                "fail",
                f"cannot ingest the metric logs of dead processes: {exc}",
                f"move the offending file out of {project.spool_dir} and run the doctor again",
            )
        )
    ingested = len(logs_before - set(_spool_logs(project)))
    running = _running(project)
    crashed = len(running_before - {r.run_id for r in running})
    if not findings:
        pending = len(_spool_logs(project))
        findings.append(
            _ok(
                "spool",
                f"metric logs left by dead processes: {ingested} ingested; logs of live runs: "
                f"{pending}",
            )
        )
    stale_before = time.time() - tracking.HEARTBEAT_LEASE
    stuck = [r for r in running if (r.heartbeat_at or 0) < stale_before]
    if stuck and fix:
        _mark_crashed(project, [r.run_id for r in stuck])
        findings.append(_ok("runs", f"runs without a heartbeat marked crashed: {len(stuck)}"))
    elif stuck:
        findings.append(
            Finding(
                "runs",
                "fail",
                f"runs 'running' without a heartbeat for over {tracking.HEARTBEAT_LEASE:.0f} s: "
                f"{len(stuck)} (their process hangs, or its pid was reused)",
                "stop those processes if they still exist; `mlops doctor --fix` marks the runs "
                "crashed",
                _listing([f"{r.run_id[:8]} {r.name} (host {r.host}, pid {r.pid})" for r in stuck]),
            )
        )
    else:
        findings.append(
            _ok(
                "runs",
                f"runs of dead processes marked crashed: {crashed}; runs still running: "
                f"{len(running)}",
            )
        )
    return findings


def _mark_crashed(project: Project, run_ids: list[str]) -> None:
    runs = schema.runs
    with project.db.write() as conn:
        conn.execute(
            sa.update(runs)
            .where(runs.c.run_id.in_(run_ids), runs.c.status == "running")
            .values(status="crashed", end_time=sa.func.coalesce(runs.c.heartbeat_at, time.time()))
        )


# --- audit ---------------------------------------------------------------------------------


def check_audit(project: Project) -> list[Finding]:
    try:
        from ..registry.api import verify_audit
    except ImportError:
        return []
    result = verify_audit()
    if not result:
        return [
            Finding(
                "audit",
                "fail",
                f"the audit trail is broken: {result.reason}",
                "restore the database from a backup taken before that event; run "
                "`mlops audit verify` for details",
            )
        ]
    return [_ok("audit", f"audit chain intact ({result.events_checked} events)")]


# --- all -----------------------------------------------------------------------------------


def _guarded(name: str, check: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return check()
    except MlopsError as exc:  # its message names the fix
        return [Finding(name, "fail", str(exc))]
    except Exception as exc:  # a check must never take the whole report down
        return [
            Finding(
                name,
                "fail",
                f"the check itself failed: {type(exc).__name__}: {exc}",
                "fix what the message names, or report it with the `mlops doctor --json` output",
            )
        ]


def diagnose(
    project: Project, sample: int | None = DEFAULT_SAMPLE, fix: bool = False
) -> Iterator[Finding]:
    """Run every check; the metadata checks stop at a database that cannot be opened."""
    try:
        project.db  # noqa: B018 - opening it checks the connection and schema revision
    except MlopsError as exc:
        yield Finding("database", "fail", str(exc))  # the message names the fix
        yield from _guarded("blobs", lambda: check_blob_store(project))
        return
    yield from _guarded("database", lambda: check_database(project))
    yield from _guarded("schema", lambda: check_schema(project))
    yield from _guarded("blobs", lambda: check_blob_store(project))
    yield from _guarded("references", lambda: check_blobs(project, sample))
    yield from _guarded("staging", lambda: check_staging(project))
    yield from _guarded("runs", lambda: check_runs(project, fix))
    yield from _guarded("audit", lambda: check_audit(project))
