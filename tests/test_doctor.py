"""``mlops doctor`` and ``mlops gc``, driven as subprocesses: findings, fixes, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest
import sqlalchemy as sa

import mlops_nb as mlops
from mlops_nb.project import Project
from mlops_nb.store import gc, health, schema
from mlops_nb.tracking.metric_log import FLUSHER

DAY = 86400


def mlops_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def doctor(*args: str) -> tuple[int, dict]:
    result = mlops_cli("doctor", "--json", *args)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def failed(report: dict) -> dict[str, dict]:
    return {c["check"]: c for c in report["checks"] if c["status"] == "fail"}


def _artifact_run(content: bytes = b"weights") -> tuple[str, str]:
    with mlops.start_run("r") as run:
        mlops.log_metric("loss", 0.5)
        mlops.log_artifact(content, "model.bin")
    return run.run_id, run.artifacts[0].digest


def _age(project, digest: str, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(project.blobs.local_path(digest), (stamp, stamp))


def test_healthy_store_exits_0_and_names_every_check(any_project):
    _artifact_run()
    mlops.snapshot(pd.DataFrame({"a": [1, 2, 3]}), "train")
    code, report = doctor()
    assert code == 0 and report["healthy"], report
    checks = {c["check"] for c in report["checks"]}
    assert {"database", "schema", "blobs", "references", "digests", "runs", "spool"} <= checks
    human = mlops_cli("doctor")
    assert human.returncode == 0 and "healthy" in human.stdout


def test_missing_blob_is_reported_with_its_owner_and_a_fix(project):
    run_id, digest = _artifact_run()
    project.blobs.local_path(digest).unlink()
    code, report = doctor()
    assert code == 1 and not report["healthy"]
    problem = failed(report)["references"]
    assert f"artifact 'model.bin' of run {run_id[:8]}" in problem["details"][0]
    assert "backup" in problem["fix"]
    human = mlops_cli("doctor")
    assert human.returncode == 1 and "FAIL" in human.stdout and "fix:" in human.stdout


def test_swapped_blob_fails_the_digest_check(project):
    _, digest = _artifact_run()
    project.blobs.local_path(digest).write_bytes(b"evil weights")
    code, report = doctor("--sample", "all")
    assert code == 1
    assert "model.bin" in failed(report)["digests"]["details"][0]


def test_dataset_chunks_and_model_files_count_as_referenced(project):
    from sklearn.linear_model import LogisticRegression

    version = mlops.snapshot(pd.DataFrame({"x": range(50), "y": [0, 1] * 25}), "train")
    model = LogisticRegression().fit([[0], [1], [2], [3]], [0, 0, 1, 1])
    mlops.register_model(model, "churn", metrics={"auc": 0.9})
    refs = gc.references(project)
    owners = set(refs.required.values())
    assert "dataset train@1" in owners and "model churn@1" in owners
    assert any(o.startswith("part of model churn@1") for o in owners)
    stored = set(project.blobs.iter_digests())
    assert stored <= refs.kept  # nothing stored is garbage
    # A chunk of the dataset gone: named as part of the dataset.
    chunk = next(d for d, o in refs.required.items() if o == "part of dataset train@1")
    project.blobs.local_path(chunk).unlink()
    code, report = doctor()
    assert code == 1
    assert "part of dataset train@1" in failed(report)["references"]["details"][0]
    assert version.version == 1


def test_corrupt_sqlite_file_is_a_clear_failure(project):
    _artifact_run()
    db_file = project.root / ".mlops" / "mlops.db"
    project.close()
    Project.forget()  # every connection closed: the WAL is checkpointed into the file
    assert not db_file.with_name("mlops.db-wal").exists()
    with open(db_file, "r+b") as handle:
        handle.write(b"garbage" * 20)
    code, report = doctor()
    assert code == 1
    assert "database" in failed(report)
    assert "Traceback" not in mlops_cli("doctor").stderr


def test_unreachable_postgres_is_a_clear_failure(project):
    from support.postgres import free_port

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    result = mlops_cli("doctor", env={"MLOPS_STORE_URI": url})
    assert result.returncode == 1
    assert "cannot reach" in result.stdout and "Traceback" not in result.stderr


def test_a_run_without_heartbeat_fails_until_fixed(project):
    run = mlops.start_run("hung")
    FLUSHER.beat(run.run_id, None)  # this process stops beating for it, as a hung one would
    with project.db.write() as conn:  # a live pid that stopped beating: hung or reused
        conn.execute(
            sa.update(schema.runs)
            .where(schema.runs.c.run_id == run.run_id)
            .values(heartbeat_at=time.time() - 3600, pid=os.getppid())
        )
    code, report = doctor()
    assert code == 1 and run.run_id[:8] in failed(report)["runs"]["details"][0]
    code, report = doctor("--fix")
    assert code == 0
    assert mlops.get_run(run.run_id).status == "crashed"


def test_killed_run_is_recovered_by_the_doctor(any_project):
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, mlops_nb as m\n"
            "r = m.start_run('killed'); print(r.run_id, flush=True)\n"
            "[m.log_metric('x', i) for i in range(500)]\n"
            "os.kill(os.getpid(), signal.SIGKILL)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    run_id = child.stdout.strip()
    code, report = doctor()
    assert code == 0, report
    checks = {c["check"]: c["message"] for c in report["checks"]}
    assert "dead processes: 1 ingested" in checks["spool"]
    assert "marked crashed: 1;" in checks["runs"]
    run = mlops.get_run(run_id)
    assert run.status == "crashed" and len(run.metric_history("x")) == 500


def test_broken_audit_chain_fails(project):
    from sklearn.linear_model import LogisticRegression

    mlops.register_model(LogisticRegression().fit([[0], [1]], [0, 1]), "m", metrics={"a": 1.0})
    with project.db.write() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        conn.execute(sa.update(schema.audit_events).values(actor="mallory"))
    code, report = doctor()
    assert code == 1 and "audit" in failed(report)


def test_sqlite_on_a_network_filesystem_is_refused(project, monkeypatch):
    kind = health.filesystem_type(project.root)
    assert kind  # this machine's /proc/mounts names it
    monkeypatch.setattr(health, "NETWORK_FILESYSTEMS", {kind})
    found = {f.check: f for f in health.diagnose(project)}
    assert found["filesystem"].status == "fail"
    assert "PostgreSQL" in found["filesystem"].fix


# --- gc ------------------------------------------------------------------------------------


def test_gc_is_a_dry_run_by_default_and_spares_young_blobs(any_project):
    project = any_project
    _, kept = _artifact_run(b"kept")
    orphan = project.blobs.put_bytes(b"orphan")
    young = project.blobs.put_bytes(b"young orphan")
    if project.blobs.is_local:
        _age(project, orphan, 2 * DAY)
        _age(project, kept, 2 * DAY)
    result = mlops_cli("gc", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dry_run"] and report["unreferenced_blobs"] == [orphan]
    assert project.blobs.exists(orphan)
    result = mlops_cli("gc", "--yes")
    assert result.returncode == 0 and "deleted 1 blobs" in result.stdout
    assert not project.blobs.exists(orphan)
    assert project.blobs.exists(young) and project.blobs.exists(kept)


def test_gc_keeps_everything_datasets_and_models_need(project):
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"x": range(200), "y": [0, 1] * 100})
    mlops.snapshot(frame, "train")
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    mlops.register_model(model, "churn", metrics={"auc": 0.9})
    _artifact_run()
    orphan = project.blobs.put_bytes(b"left by a deleted run")
    report = gc.collect(project, delete=True, grace=0)
    assert [b.digest for b in report.unreferenced] == [orphan] and report.deleted == 1
    pd.testing.assert_frame_equal(mlops.load_dataset("train@1"), frame)
    assert mlops.load_model("churn@1").predict(frame[["x"]]).shape == (200,)
    code, _ = doctor("--sample", "all")
    assert code == 0


def test_gc_removes_unfinished_writes_left_by_a_crash(project):
    staging = project.blobs.staging_dir
    staging.mkdir(parents=True, exist_ok=True)
    left = staging / "0123.part"
    left.write_bytes(b"half a blob")
    stamp = time.time() - 2 * DAY
    os.utime(left, (stamp, stamp))
    code, report = doctor()
    assert code == 0
    assert any(c["check"] == "staging" and c["status"] == "warn" for c in report["checks"])
    result = mlops_cli("gc", "--yes")
    assert result.returncode == 0 and "1 unfinished writes" in result.stdout
    assert not left.exists()


@pytest.mark.parametrize("grace", ["-1h", "soon", "1x"])
def test_gc_rejects_bad_grace_periods(project, grace):
    result = mlops_cli("gc", "--grace", grace)
    assert result.returncode == 2 and "grace" in result.stderr.lower() + result.stdout.lower()
