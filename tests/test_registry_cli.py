"""`mlops models ...` and `mlops audit ...` driven as subprocesses: output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import sqlalchemy as sa
from test_registry import register, set_config


def mlops_cli(*args: str, user: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    if user:
        env["MLOPS_USER"] = user
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def as_json(*args: str, user: str | None = None):
    done = mlops_cli(*args, "--json", user=user)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ls_show_and_history(project):
    empty = mlops_cli("models", "ls")
    assert empty.returncode == 0 and "no models registered yet" in empty.stdout
    assert as_json("models", "ls") == []
    register(auc=0.9)
    register(seed=1, auc=0.95)
    listed = as_json("models", "ls", "churn")
    assert [(m["name"], m["version"], m["metrics.auc"]) for m in listed] == [
        ("churn", 1, 0.9),
        ("churn", 2, 0.95),
    ]
    table = mlops_cli("models", "ls")
    assert table.returncode == 0 and "churn" in table.stdout and "metrics.auc" in table.stdout
    promoted = mlops_cli(
        "models", "promote", "churn", "2", "--to", "production", "--reason", "better"
    )
    assert promoted.returncode == 0, promoted.stderr
    assert "churn@2 is now production" in promoted.stdout
    card = mlops_cli("models", "show", "churn@production")
    assert card.returncode == 0 and card.stdout.startswith("churn@2\n=======")
    assert "better" in card.stdout
    markdown = mlops_cli("models", "show", "churn@2", "--format", "markdown").stdout
    assert markdown.startswith("# Model card: churn@2")
    assert (
        "<h2>Model card: churn@1</h2>"
        in mlops_cli("models", "show", "churn@1", "-f", "html").stdout
    )
    assert as_json("models", "show", "churn")["aliases"] == ["production"]
    history = as_json("models", "history", "churn")
    assert [(h["action"], h["version"], h["alias"], h["note"]) for h in history] == [
        ("register", 1, None, None),
        ("register", 2, None, None),
        ("promote", 2, "production", "better"),
    ]


def test_promote_exit_codes(project):
    set_config(project, "promotion: {production: {require: ['metrics.auc >= 0.9']}}")
    register(auc=0.5)
    rejected = mlops_cli("models", "promote", "churn", "1", "--to", "production")
    assert rejected.returncode == 1
    assert "FAILED" in rejected.stdout and "metrics.auc >= 0.9" in rejected.stdout
    assert rejected.stderr.startswith("error: churn@1 was not promoted to production")
    as_data = mlops_cli("models", "promote", "churn@1", "--to", "production", "--json")
    assert as_data.returncode == 1
    assert json.loads(as_data.stdout)["checks"][0]["observed"] == "auc=0.5"
    no_reason = mlops_cli("models", "promote", "churn", "1", "--to", "production", "--force")
    assert no_reason.returncode == 2 and "needs a reason" in no_reason.stderr
    forced = mlops_cli(
        "models", "promote", "churn", "1", "--to", "production", "--force", "--reason", "incident 7"
    )
    assert forced.returncode == 0 and "forced past 1 failed checks" in forced.stdout
    for args in (["churn", "9"], ["nope", "1"]):
        missing = mlops_cli("models", "promote", *args, "--to", "production")
        assert missing.returncode == 2 and missing.stderr.startswith("error: ")
        assert len(missing.stderr.strip().splitlines()) == 1
    bad_alias = mlops_cli("models", "promote", "churn", "1", "--to", "v2")
    assert bad_alias.returncode == 2 and "reserved" in bad_alias.stderr
    assert mlops_cli("models", "show", "churn@").returncode == 2
    assert mlops_cli("models", "promote", "churn", "1").returncode == 2  # --to is required


def test_approve_with_two_users(project):
    set_config(project, "promotion: {production: {approvals: 1}}")
    register()
    assert (
        mlops_cli("models", "promote", "churn", "1", "--to", "production", user="alice").returncode
        == 1
    )
    approval = as_json(
        "models",
        "approve",
        "churn",
        "1",
        "--to",
        "production",
        "--comment",
        "checked the card",
        user="bob",
    )
    assert (approval["approver"], approval["comment"]) == ("bob", "checked the card")
    done = mlops_cli("models", "promote", "churn", "1", "--to", "production", user="alice")
    assert done.returncode == 0 and "1 (bob)" in done.stdout
    demoted = mlops_cli("models", "demote", "churn", "production", "--reason", "rollback")
    assert demoted.returncode == 0 and "removed production from churn@1" in demoted.stdout


def test_audit_log_and_verify(project):
    register()
    register("fraud")
    log = as_json("audit", "log", "churn")
    assert [e["subject"] for e in log] == ["model:churn@1"]
    text = mlops_cli("audit", "log")
    assert text.returncode == 0 and "model:fraud@1" in text.stdout
    verified = mlops_cli("audit", "verify")
    assert verified.returncode == 0 and "intact: 2 events" in verified.stdout
    head = as_json("audit", "verify")
    assert head["ok"] and head["head"]["seq"] == 2
    saved = project.root / "head.json"
    saved.write_text(json.dumps(head))
    with project.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        conn.execute(sa.text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1"))
    broken = mlops_cli("audit", "verify")
    assert broken.returncode == 1
    assert "audit trail BROKEN at event 1: event 1 does not match its hash" in broken.stderr
    report = mlops_cli("audit", "verify", "--json", "--anchor", str(saved))
    assert report.returncode == 1 and json.loads(report.stdout)["first_bad"] == 1
