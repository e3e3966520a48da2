"""Concurrent writers: 8 processes x 20,000 metric points at once, on SQLite and PostgreSQL.

Two more processes poll the run list the whole time. Pass: every point of every writer is
stored, every run finished, and no process saw a lock error or a failed background flush.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import mlops_nb as mlops

WRITERS = 8
POINTS = 20_000

WRITER = """
    import sys, mlops_nb as mlops
    from mlops_nb.tracking.metric_log import FLUSHER
    with mlops.start_run(f"writer-{sys.argv[1]}", params={"writer": int(sys.argv[1])}):
        for i in range(POINTS):
            mlops.log_metric("loss", 1.0 / (i + 1), step=i)
            if i % 5000 == 0:
                mlops.log_metrics({"checkpoint": i}, step=i)
                mlops.set_tags(stage=str(i))
    assert not FLUSHER.errors, FLUSHER.errors
    print("done")
"""

READER = """
    import sys, time, mlops_nb as mlops
    seen = 0
    while sys.stdin.readline() == "poll\\n":
        seen = max(seen, len(mlops.runs()))
        print(seen, flush=True)
"""


def _spawn(code: str, *args: str, stdin: int | None = None) -> subprocess.Popen:
    source = textwrap.dedent(code).replace("POINTS", str(POINTS))
    return subprocess.Popen(
        [sys.executable, "-c", source, *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_8_writers_x_20000_points_and_2_readers_lose_nothing(any_project):
    readers = [_spawn(READER, stdin=subprocess.PIPE) for _ in range(2)]
    writers = [_spawn(WRITER, str(n)) for n in range(WRITERS)]
    polls = 0
    while any(w.poll() is None for w in writers):
        for reader in readers:  # lock-step polling: each answer is one full listing
            reader.stdin.write("poll\n")
            reader.stdin.flush()
            assert reader.stdout.readline().strip().isdigit(), reader.stderr.read()
        polls += 1
    for writer in writers:
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0 and out.strip() == "done", err
        assert "locked" not in err and "Traceback" not in err
    for reader in readers:
        _, err = reader.communicate("stop\n", timeout=120)
        assert reader.returncode == 0 and "locked" not in err, err
    assert polls > 0
    frame = mlops.runs()
    assert len(frame) == WRITERS and set(frame["status"]) == {"finished"}
    assert sorted(frame["params.writer"]) == list(range(WRITERS))
    for run_id in frame["run_id"]:
        run = mlops.get_run(run_id)
        history = run.metric_history("loss")
        assert len(history) == POINTS
        assert history["step"].tolist() == list(range(POINTS))
        assert run.metrics["loss"] == pytest.approx(1.0 / POINTS)
        assert len(run.metric_history("checkpoint")) == POINTS // 5000
        assert run.tags["stage"] == str(POINTS - 5000)


OPEN = """
    import sys
    from mlops_nb.project import Project
    project = Project.find()
    assert project.db.current_revision() is not None
    if sys.argv[1] == "run":
        import mlops_nb as mlops
        with mlops.start_run("first", experiment="brand-new"):
            mlops.log_metric("x", 1.0)
    print("ok")
"""


def _empty_store(backend: str, request, tmp_path) -> str:
    if backend == "postgresql":
        return request.getfixturevalue("pg_cluster").new_database()
    return f"sqlite:///{tmp_path / 'fresh.db'}"


def _open_at_once(uri: str, what: str, tmp_path, count: int = 16) -> list[str]:
    import os

    env = {**os.environ, "MLOPS_STORE_URI": uri, "MLOPS_HOME": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(OPEN), what],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    return [err for p in procs if (err := p.communicate(timeout=300)[1]) and p.returncode]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_16_processes_opening_an_empty_store_migrate_it_once(backend, request, tmp_path):
    failures = _open_at_once(_empty_store(backend, request, tmp_path), "open", tmp_path)
    assert not failures, failures[0]


@pytest.mark.parametrize(
    "backend",
    ["sqlite", "postgresql"],
)
def test_16_processes_starting_runs_in_a_new_experiment_at_once(backend, request, tmp_path):
    failures = _open_at_once(_empty_store(backend, request, tmp_path), "run", tmp_path)
    assert not failures, failures[0]
