"""The hash-chained audit trail: append-only, and every kind of tampering is caught."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from test_registry import register

import mlops_nb as mlops
from mlops_nb.registry import anchor
from mlops_nb.registry.audit import event_hash
from mlops_nb.store import schema

DROP_TRIGGERS = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_events_no_update",
        "DROP TRIGGER IF EXISTS audit_events_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events",
        "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
    ],
}


def history(count: int = 3) -> None:
    """``count`` registrations and a promotion of each: 2 * count events."""
    for seed in range(count):
        version = register(seed=seed, auc=0.5 + seed / 10).version
        mlops.promote("churn", version, to="production", reason=f"round {seed}")


def tamper(project, *statements: str, params: dict | None = None) -> None:
    """What someone with write access to the database could do: drop the triggers, edit."""
    with project.db.engine.begin() as conn:
        for statement in DROP_TRIGGERS[conn.dialect.name]:
            conn.exec_driver_sql(statement)
        for statement in statements:
            conn.execute(sa.text(statement), params or {})


def rows(project) -> list:
    with project.db.read() as conn:
        return conn.execute(sa.select(schema.audit_events).order_by("seq")).all()


def rehash_from(project, start: int) -> None:
    """Recompute every hash from ``start`` on, as a careful forger would."""
    table = schema.audit_events
    with project.db.engine.begin() as conn:
        events = conn.execute(sa.select(table).order_by(table.c.seq)).all()
        prev = events[start - 2].hash if start > 1 else "0" * 64
        for event in events[start - 1 :]:
            digest = event_hash(
                event.seq, event.ts, event.actor, event.action, event.subject, event.details, prev
            )
            conn.execute(
                sa.update(table).where(table.c.seq == event.seq).values(prev_hash=prev, hash=digest)
            )
            prev = digest


def test_every_change_is_recorded_and_the_chain_verifies(any_project):
    history()
    trail = mlops.audit()
    assert list(trail.columns) == [
        "seq",
        "ts",
        "actor",
        "action",
        "subject",
        "details",
        "prev_hash",
        "hash",
    ]
    assert list(trail["seq"]) == [1, 2, 3, 4, 5, 6]
    assert list(trail["action"]) == ["register", "promote"] * 3
    assert trail["prev_hash"].iloc[0] == "0" * 64
    assert list(trail["prev_hash"].iloc[1:]) == list(trail["hash"].iloc[:-1])
    result = mlops.verify_audit()
    assert result and result.ok and result.first_bad is None and result.anchored
    assert result.events_checked == 6 and result.head_seq == 6
    assert result.head_hash == trail["hash"].iloc[-1]
    assert result.reason == "audit trail intact: 6 events, head 6"
    assert anchor.read(any_project) == {"seq": 6, "hash": result.head_hash}


def test_an_empty_trail_verifies(project):
    result = mlops.verify_audit()
    assert result.ok and result.events_checked == 0 and not result.anchored
    assert "no anchored head yet" in result.reason


def test_the_database_refuses_updates_and_deletes(any_project):
    history(1)
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            any_project.db.engine.begin() as conn,
        ):
            conn.execute(sa.text(statement))
    assert len(rows(any_project)) == 2


def test_a_hand_edited_row_is_caught(any_project):
    history()
    details = json.loads(rows(any_project)[3].details)
    details["reason"] = "nobody will notice"
    tamper(
        any_project,
        "UPDATE audit_events SET details = :d WHERE seq = 4",
        params={"d": json.dumps(details)},
    )
    result = mlops.verify_audit()
    assert not result and result.first_bad == 4
    assert result.reason == "event 4 does not match its hash: it was edited or moved"
    assert result.events_checked == 3


def test_an_edit_with_its_own_hash_recomputed_breaks_the_next_link(project):
    history()
    tamper(project, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    row = rows(project)[1]
    forged = event_hash(
        row.seq, row.ts, row.actor, row.action, row.subject, row.details, row.prev_hash
    )
    tamper(project, "UPDATE audit_events SET hash = :h WHERE seq = 2", params={"h": forged})
    result = mlops.verify_audit()
    assert result.first_bad == 3 and "does not follow event 2" in result.reason


def test_a_deleted_event_is_caught(any_project):
    history()
    tamper(any_project, "DELETE FROM audit_events WHERE seq = 3")
    result = mlops.verify_audit()
    assert result.first_bad == 3
    assert result.reason == "event 3 is missing (the next is 4): events were deleted"


def test_reordered_events_are_caught(any_project):
    history()
    tamper(
        any_project,
        "UPDATE audit_events SET seq = 100 WHERE seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE seq = 5",
        "UPDATE audit_events SET seq = 5 WHERE seq = 100",
    )
    result = mlops.verify_audit()
    assert not result and result.first_bad == 2


def test_an_inserted_event_is_caught(project):
    history()
    first = rows(project)[0]
    tamper(
        project,
        "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 2",
        "UPDATE audit_events SET seq = seq - 99 WHERE seq >= 102",
    )
    forged = event_hash(2, first.ts, "mallory", "approve", "model:churn@1", "{}", first.hash)
    tamper(
        project,
        "INSERT INTO audit_events VALUES (2, :ts, 'mallory', 'approve', "
        "'model:churn@1', '{}', :prev, :hash)",
        params={"ts": first.ts, "prev": first.hash, "hash": forged},
    )
    result = mlops.verify_audit()
    assert result.first_bad == 3 and "does not follow event 2" in result.reason


def test_a_cut_off_tail_is_caught_only_against_the_anchored_head(any_project):
    history()
    head = mlops.verify_audit()
    tamper(any_project, "DELETE FROM audit_events WHERE seq >= 5")
    result = mlops.verify_audit()
    assert not result and result.first_bad == 5
    assert result.reason == (
        "the trail ends at event 4 but the audit head file records event 6: events were cut "
        "off the tail"
    )
    (any_project.state_dir / anchor.HEAD_FILE).unlink()
    unanchored = mlops.verify_audit()
    assert unanchored.ok and not unanchored.anchored  # a chain alone cannot see this
    exported = {"seq": head.head_seq, "hash": head.head_hash}
    assert not mlops.verify_audit(anchor=exported)  # a copy kept elsewhere still does


def test_a_rebuilt_chain_is_caught_by_the_head_and_its_signature(project, monkeypatch):
    monkeypatch.setenv(anchor.KEY_ENV, "kept-outside-the-project")
    history()
    tamper(project, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    rehash_from(project, 2)
    result = mlops.verify_audit()
    assert result.first_bad == 6 and "chain was rebuilt or rewritten" in result.reason
    path = project.state_dir / anchor.HEAD_FILE
    heads = [json.loads(line) for line in path.read_text().splitlines()]
    heads[-1]["hash"] = rows(project)[-1].hash  # the forger updates the head too...
    path.write_text("".join(json.dumps(h) + "\n" for h in heads))
    result = mlops.verify_audit()
    assert not result and "signature does not match MLOPS_AUDIT_KEY" in result.reason
    monkeypatch.delenv(anchor.KEY_ENV)
    assert mlops.verify_audit()  # ...which only the key can expose


def test_the_head_only_moves_forward_survives_a_torn_line_and_compacts(project, monkeypatch):
    history(1)
    path = project.state_dir / anchor.HEAD_FILE
    anchor.advance(project, 1, "0" * 64)  # an older head arriving late is ignored
    assert anchor.read(project)["seq"] == 2
    with open(path, "a") as handle:
        handle.write('{"store": "sqlite:.mlops/mlops.db", "seq": 9')  # cut by a crash
    assert mlops.verify_audit()
    path.write_text(path.read_text().rsplit("\n", 1)[0] + "\n")
    monkeypatch.setattr(anchor, "COMPACT_BYTES", 10)
    mlops.promote("churn", 1, to="staging")
    assert len(path.read_text().splitlines()) == 1 and anchor.read(project)["seq"] == 3
    assert mlops.verify_audit()
    path.write_text("{not json\n")
    result = mlops.verify_audit()
    assert not result and "unreadable" in result.reason


def test_audit_of_one_model_and_bad_anchors(project):
    register("a_b")
    register("axb")
    assert list(mlops.audit("a_b")["subject"]) == ["model:a_b@1"]
    assert list(mlops.audit("axb@1")["subject"]) == ["model:axb@1"]
    assert mlops.audit("nothing").empty
    with pytest.raises(mlops.UsageError, match="audit anchor"):
        mlops.verify_audit(anchor={"seq": "x"})
