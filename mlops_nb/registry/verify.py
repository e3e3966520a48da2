"""Re-walking the audit chain: the first edited, deleted, inserted or reordered event."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import UsageError
from ..store import schema
from . import anchor
from .audit import GENESIS, event_hash

if TYPE_CHECKING:
    from ..project import Project


@dataclass(frozen=True)
class AuditVerification:
    """The outcome of ``verify_audit()``: truthy only when the whole chain is intact."""

    ok: bool
    events_checked: int
    first_bad: int | None = None
    reason: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS
    anchored: bool = False

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return self.reason


def _load_anchor(value: Any) -> dict[str, Any]:
    """An exported head: a mapping ``{"seq", "hash"}`` or a JSON file holding one."""
    if isinstance(value, (str, os.PathLike)):
        try:
            value = json.loads(Path(value).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read audit anchor {value}: {exc}") from None
        if isinstance(value, dict) and isinstance(value.get("head"), dict):
            value = value["head"]  # the output of `mlops audit verify --json`
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("seq"), int)
        or not isinstance(value.get("hash"), str)
    ):
        raise UsageError('an audit anchor must look like {"seq": 12, "hash": "<64 hex>"}')
    return value


def _walk(project: Project, wanted: set[int]) -> tuple[AuditVerification, dict[int, str]]:
    """Check seq continuity, links and hashes; return the result and hashes at ``wanted``."""
    table = schema.audit_events
    expected, prev, checked = 1, GENESIS, 0
    seen: dict[int, str] = {}
    query = sa.select(table).order_by(table.c.seq)
    with project.db.read() as conn:
        for row in conn.execution_options(yield_per=1000).execute(query):
            problem = None
            if row.seq != expected:
                problem = (
                    f"event {expected} is missing (the next is {row.seq}): events were deleted"
                )
                bad = expected
            elif row.prev_hash != prev:
                problem = (
                    f"event {row.seq} does not follow event {row.seq - 1}: an earlier event "
                    "was rewritten, or events were inserted or reordered"
                )
                bad = row.seq
            elif (
                event_hash(
                    row.seq, row.ts, row.actor, row.action, row.subject, row.details, row.prev_hash
                )
                != row.hash
            ):
                problem = f"event {row.seq} does not match its hash: it was edited or moved"
                bad = row.seq
            if problem:
                return AuditVerification(False, checked, bad, problem, expected - 1, prev), seen
            if row.seq in wanted:
                seen[row.seq] = row.hash
            checked += 1
            expected, prev = row.seq + 1, row.hash
    return AuditVerification(True, checked, None, "", expected - 1, prev), seen


def _check_anchor(
    result: AuditVerification, seen: dict[int, str], head: dict[str, Any], source: str
) -> str | None:
    seq = head["seq"]
    if seq > result.head_seq:
        return (
            f"the trail ends at event {result.head_seq} but {source} records event {seq}: "
            "events were cut off the tail"
        )
    if seen.get(seq) != head["hash"]:
        return f"event {seq} differs from {source}: the chain was rebuilt or rewritten"
    return None


def verify(project: Project, anchor_head: Any = None) -> AuditVerification:
    """Walk the chain, then check it against the head file (and ``anchor_head`` if given)."""
    heads: list[tuple[dict[str, Any], str]] = []
    on_file = anchor.read(project)
    if on_file and on_file.get("unreadable"):
        return AuditVerification(
            False,
            0,
            None,
            f"the audit head file {project.state_dir / anchor.HEAD_FILE} is unreadable: "
            "restore it from a backup",
        )
    if on_file:
        heads.append((on_file, "the audit head file"))
    if anchor_head is not None:
        heads.append((_load_anchor(anchor_head), "the given anchor"))
    result, seen = _walk(project, {int(h["seq"]) for h, _ in heads})
    if not result.ok:
        return result
    key = os.environ.get(anchor.KEY_ENV)
    if on_file and key:
        expected = anchor.signature(key, anchor.store_key(project), on_file["seq"], on_file["hash"])
        if on_file.get("hmac") != expected:
            return AuditVerification(
                False,
                result.events_checked,
                on_file["seq"],
                f"the audit head file's signature does not match {anchor.KEY_ENV}: the head "
                "was written without the key or tampered with",
                result.head_seq,
                result.head_hash,
                True,
            )
    for head, source in heads:
        problem = _check_anchor(result, seen, head, source)
        if problem:
            first_bad = min(int(head["seq"]), result.head_seq + 1)
            return AuditVerification(
                False,
                result.events_checked,
                first_bad,
                problem,
                result.head_seq,
                result.head_hash,
                True,
            )
    note = "" if heads else " (no anchored head yet: a cut-off tail would not be detected)"
    return AuditVerification(
        True,
        result.events_checked,
        None,
        f"audit trail intact: {result.events_checked} events, head {result.head_seq}{note}",
        result.head_seq,
        result.head_hash,
        bool(heads),
    )
