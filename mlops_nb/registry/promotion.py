"""Promotion (moving an alias through the policy's gates), approval and demotion.

Each runs in one write transaction holding the audit lock: the version is read, the gates
are evaluated against the current state, the alias moves (or not) and the audit event is
appended, all before commit. Two promoters of the same alias are therefore serialised: the
second sees the first one's result (e.g. a new champion to beat), and both are recorded.
Hooks run after commit.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import GateFailed, UsageError
from ..identity import current_user
from ..store import schema
from . import aliases, audit, hooks, versions
from .gates import Check, GateContext
from .policy import Policy, policy_for

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project


@dataclass
class PromotionResult:
    """Every check of one promotion attempt and what happened. Truthy when the version now
    holds the alias."""

    name: str
    version: int
    alias: str
    promoted: bool
    checks: list[Check]
    has_policy: bool
    forced: bool = False
    changed: bool = True
    previous: int | None = None
    reason: str | None = None
    actor: str = ""
    seq: int | None = None
    hooks: list[hooks.HookOutcome] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.promoted

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def summary(self) -> str:
        """One line saying what happened and why."""
        failed = "; ".join(f"{c.rule} (observed: {c.observed})" for c in self.failed)
        if not self.changed:
            return f"{self.ref} already holds {self.alias}; nothing changed"
        if not self.promoted:
            return (
                f"{self.ref} was not promoted to {self.alias}: {len(self.failed)} of "
                f"{len(self.checks)} checks failed: {failed}"
            )
        was = f" (was v{self.previous})" if self.previous is not None else ""
        head = f"{self.ref} is now {self.alias}{was}"
        if self.forced and self.failed:
            return f"{head}, forced past {len(self.failed)} failed checks: {failed}"
        if not self.has_policy:
            return (
                f"{head}; no promotion policy for {self.alias!r} in mlops.yaml, so no "
                "gates were checked"
            )
        return f"{head}: all {len(self.checks)} checks passed" + (" (forced)" * self.forced)

    __str__ = summary

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "promoted": self.promoted,
            "changed": self.changed,
            "forced": self.forced,
            "has_policy": self.has_policy,
            "previous": self.previous,
            "reason": self.reason,
            "actor": self.actor,
            "audit_seq": self.seq,
            "summary": self.summary(),
            "checks": [c.to_dict() for c in self.checks],
            "hooks": [h.to_dict() for h in self.hooks],
        }

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [c.to_dict() for c in self.checks], columns=["rule", "observed", "required", "ok"]
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'✅' if c.ok else '❌'}</td><td>{html.escape(c.rule)}</td>"
            f"<td>{html.escape(c.observed)}</td><td>{html.escape(c.required)}</td></tr>"
            for c in self.checks
        )
        table = (
            (
                f"<table><tr><th></th><th>rule</th><th>observed</th><th>required</th></tr>"
                f"{rows}</table>"
            )
            if rows
            else ""
        )
        return f"<div><p><b>{html.escape(self.summary())}</b></p>{table}</div>"


class PromotionRejected(GateFailed):
    """A promotion whose gates failed; ``.result`` holds every check."""

    def __init__(self, result: PromotionResult):
        super().__init__(result.summary())
        self.result = result


@dataclass(frozen=True)
class Approval:
    name: str
    version: int
    alias: str
    approver: str
    comment: str | None
    created_at: float
    seq: int | None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(f"{what} must be text, not {type(value).__name__}")
    return value.strip() or None


def target(name: str, version: Any) -> tuple[str, int | str | None]:
    """``(name, selector)`` from ``("churn", 3)``, ``("churn", "staging")`` or ``"churn@3"``."""
    ref_name, selector = aliases.parse_ref(name)
    if version is None:
        if selector is None and "@" not in name:
            raise UsageError(
                f"say which version of {ref_name} to use: a number, an alias, or {ref_name}@VERSION"
            )
        return ref_name, selector
    if "@" in name:
        raise UsageError(f"give the version either in {name!r} or as version={version!r}, not both")
    return ref_name, aliases.parse_version(version)


def _details(result: PromotionResult, candidate: versions.ModelVersion) -> dict[str, Any]:
    return {
        "name": result.name,
        "version": result.version,
        "alias": result.alias,
        "previous": result.previous,
        "reason": result.reason,
        "digest": candidate.digest,
        "policy": result.has_policy,
        "forced": result.forced,
        "checks": [c.to_dict() for c in result.checks],
    }


def _evaluate(policy: Policy | None, ctx: GateContext) -> list[Check]:
    checks = []
    for gate in policy.gates if policy else ():
        try:
            checks.append(gate.evaluate(ctx))
        except Exception as exc:  # fail closed: a broken check never lets a model through
            checks.append(Check(gate.rule, f"could not be evaluated: {exc}", "evaluable", False))
    return checks


def promote(
    project: Project,
    name: str,
    version: Any = None,
    to: str = "production",
    reason: str | None = None,
    force: bool = False,
) -> PromotionResult:
    """Move alias ``to`` to a version if the policy's gates pass (or ``force`` with a reason).

    Raises ``PromotionRejected`` (carrying the result) when a check fails and nothing moved.
    """
    alias = aliases.check_alias(to)
    name, selector = target(name, version)
    reason = _text(reason, "reason")
    if force and not reason:
        raise UsageError(
            "force=True needs a reason (it is recorded as an override in the "
            "audit trail): pass reason='...'"
        )
    policy = policy_for(project.config, alias)
    for event_name in ("promote", "reject"):
        hooks.configured(project.config, event_name)  # a bad hook config fails before moving
    actor = current_user()
    with audit.writing(project) as writer:
        candidate = versions.get(project, writer.conn, name, selector)
        previous = aliases.holder(writer.conn, name, alias)
        result = PromotionResult(
            name,
            candidate.version,
            alias,
            True,
            [],
            policy is not None,
            forced=force,
            previous=previous,
            reason=reason,
            actor=actor,
        )
        if previous == candidate.version:
            result.changed = False
            return result
        result.checks = _evaluate(
            policy, GateContext(project, writer.conn, candidate, alias, actor)
        )
        result.promoted = force or not result.failed
        if result.promoted:
            aliases.move(writer.conn, name, alias, candidate.version, previous)
        action = "override" if force else ("promote" if result.promoted else "reject")
        event = writer.record(
            action, audit.model_subject(name, candidate.version), _details(result, candidate), actor
        )
        result.seq = event.seq
    payload = {
        "action": action,
        "seq": event.seq,
        "hash": event.hash,
        "actor": actor,
        **event.details,
    }
    result.hooks = hooks.fire(
        project, "promote" if result.promoted else "reject", event.subject, payload
    )
    if not result.promoted:
        raise PromotionRejected(result)
    return result


def approve(
    project: Project, name: str, version: Any, to: str, comment: str | None = None
) -> Approval:
    """Record the current user's approval of moving ``to`` to that version (idempotent)."""
    alias = aliases.check_alias(to)
    name, selector = target(name, version)
    comment = _text(comment, "comment")
    hooks.configured(project.config, "approve")
    approver = current_user()
    table = schema.approvals
    with audit.writing(project) as writer:
        candidate = versions.get(project, writer.conn, name, selector)
        where = (
            table.c.name == name,
            table.c.version == candidate.version,
            table.c.alias == alias,
            table.c.approver == approver,
        )
        existing = writer.conn.execute(sa.select(table).where(*where)).first()
        if existing is not None:
            return Approval(
                name,
                candidate.version,
                alias,
                approver,
                existing.comment,
                existing.created_at,
                None,
            )
        now = time.time()
        writer.conn.execute(
            sa.insert(table).values(
                name=name,
                version=candidate.version,
                alias=alias,
                approver=approver,
                comment=comment,
                created_at=now,
            )
        )
        details = {
            "name": name,
            "version": candidate.version,
            "alias": alias,
            "comment": comment,
            "digest": candidate.digest,
        }
        event = writer.record(
            "approve", audit.model_subject(name, candidate.version), details, approver
        )
    hooks.fire(
        project,
        "approve",
        event.subject,
        {"action": "approve", "seq": event.seq, "actor": approver, **details},
    )
    return Approval(name, candidate.version, alias, approver, comment, now, event.seq)


def demote(project: Project, name: str, alias: str, reason: str) -> int:
    """Remove ``alias`` from whichever version holds it; returns that version."""
    name = aliases.parse_ref(name)[0]
    alias = aliases.check_alias(alias)
    reason = _text(reason, "reason")
    if not reason:
        raise UsageError(
            f"removing {name}@{alias} needs a reason (it is recorded in the audit trail)"
        )
    hooks.configured(project.config, "demote")
    with audit.writing(project) as writer:
        versions.get(project, writer.conn, name, None)  # NotFoundError: unknown model
        version = aliases.remove(writer.conn, name, alias)
        details = {"name": name, "version": version, "alias": alias, "reason": reason}
        event = writer.record("demote", audit.model_subject(name, version), details)
    hooks.fire(
        project,
        "demote",
        event.subject,
        {"action": "demote", "seq": event.seq, "actor": event.actor, **details},
    )
    return version
