"""The append-only, hash-chained audit trail.

Each event's ``hash`` is the SHA-256 of its fields (``seq, ts, actor, action, subject,
details``) together with the previous event's hash, so editing, deleting, inserting or
reordering an event breaks the chain from that point on. Events are written inside the same
transaction as the change they record (``writing``), after taking the store's audit lock:
``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL. Writers are
therefore serialised and the sequence never forks. After each commit the new head
(``seq``, ``hash``) is written to a file beside the store (see ``anchor``), so that cutting
events off the tail is caught too.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..identity import current_user
from ..store import schema
from . import anchor

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project

GENESIS = "0" * 64
# pg_advisory_xact_lock key shared by every audit writer of a PostgreSQL store.
PG_LOCK_KEY = 0x6D6C6F70_61756474  # "mlopaudt"
EVENT_COLUMNS = ["seq", "ts", "actor", "action", "subject", "details", "prev_hash", "hash"]
_events = schema.audit_events
# Built once: the hot path only binds values.
_HEAD = sa.select(_events.c.seq, _events.c.hash).order_by(_events.c.seq.desc()).limit(1)
_APPEND = sa.insert(_events)


def jsonable(value: Any) -> Any:
    """JSON-ready data: numpy scalars as Python values, non-finite floats as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and type(value).__module__.startswith("numpy"):
        return jsonable(value.item())
    return value


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces; non-finite floats as strings)."""
    return json.dumps(
        jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def event_hash(
    seq: int, ts: float, actor: str, action: str, subject: str, details: str, prev_hash: str
) -> str:
    """The hash of one event; ``details`` is the stored JSON text, hashed as is."""
    fields = [int(seq), f"{ts:.6f}", actor, action, subject, details, prev_hash]
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()


@dataclass(frozen=True)
class Event:
    seq: int
    ts: float
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def lock(conn: sa.Connection) -> None:
    """Serialise audit writers for the rest of this transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PG_LOCK_KEY)))
    # SQLite: the write transaction is BEGIN IMMEDIATE, which already holds the write lock.


@dataclass
class AuditWriter:
    """Appends events on one (locked) write connection."""

    conn: sa.Connection
    events: list[Event] = field(default_factory=list)

    def _head(self) -> tuple[int, str]:
        if self.events:
            return self.events[-1].seq, self.events[-1].hash
        row = self.conn.execute(_HEAD).first()
        return (row.seq, row.hash) if row else (0, GENESIS)

    def record(
        self, action: str, subject: str, details: Mapping[str, Any], actor: str | None = None
    ) -> Event:
        last_seq, prev_hash = self._head()
        seq = last_seq + 1
        ts = round(time.time(), 6)
        actor = actor or current_user()
        plain = jsonable(details)
        text = canonical_json(plain)
        digest = event_hash(seq, ts, actor, action, subject, text, prev_hash)
        self.conn.execute(
            _APPEND,
            {
                "seq": seq,
                "ts": ts,
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": text,
                "prev_hash": prev_hash,
                "hash": digest,
            },
        )
        event = Event(seq, ts, actor, action, subject, plain, prev_hash, digest)
        self.events.append(event)
        return event


@contextmanager
def writing(project: Project) -> Iterator[AuditWriter]:
    """A write transaction holding the audit lock; its events commit with the change."""
    with project.db.write() as conn:
        lock(conn)
        writer = AuditWriter(conn)
        yield writer
    if writer.events:
        last = writer.events[-1]
        anchor.advance(project, last.seq, last.hash)


def record(
    project: Project,
    action: str,
    subject: str,
    details: Mapping[str, Any],
    actor: str | None = None,
) -> Event:
    """Append one event in its own transaction (for events that change nothing else)."""
    with writing(project) as writer:
        return writer.record(action, subject, details, actor)


def model_subject(name: str, version: int | None = None) -> str:
    return f"model:{name}" if version is None else f"model:{name}@{version}"


def events(project: Project, name: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Events in order (optionally of one model), newest last, as a DataFrame."""
    import pandas as pd

    table = schema.audit_events
    query = sa.select(*(table.c[c] for c in EVENT_COLUMNS))
    if name is not None:
        query = query.where(
            sa.or_(
                table.c.subject == model_subject(name),
                table.c.subject.startswith(model_subject(name) + "@", autoescape=True),
            )
        )
    if limit is not None:
        query = query.order_by(table.c.seq.desc()).limit(limit)
    with project.db.read() as conn:
        rows = sorted(conn.execute(query).all(), key=lambda r: r.seq)
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], unit="s", utc=True)
    frame["details"] = [json.loads(d) for d in frame["details"]]
    return frame
