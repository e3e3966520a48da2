"""The metric hot path: durability across kill -9, concurrent writers, crash detection."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

import mlops_nb as mlops
from mlops_nb.project import Project


def _python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def _fresh_reader() -> Project:
    Project.forget()
    return Project.find()


def test_points_survive_kill_9_and_run_shows_crashed(any_project):
    child = _python(
        """
        import os, signal, mlops_nb as mlops
        run = mlops.start_run("doomed")
        print(run.run_id, flush=True)
        for i in range(10_000):
            mlops.log_metric("loss", i * 0.5, step=i)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert child.returncode == -9, child.stderr
    run_id = child.stdout.split()[0]
    _fresh_reader()
    run = mlops.get_run(run_id)
    assert run.status == "crashed"
    history = run.metric_history("loss")
    assert len(history) == 10_000
    assert history["step"].tolist() == list(range(10_000))
    assert run.metrics["loss"] == 9_999 * 0.5


def test_concurrent_writers_lose_nothing(project):
    """4 processes x 20,000 points into one SQLite store: all there, no 'database is locked'."""
    code = """
        import sys, mlops_nb as mlops
        with mlops.start_run(f"writer-{sys.argv[1]}") as run:
            for i in range(20_000):
                mlops.log_metric("x", float(i), step=i)
                if i % 5000 == 0:
                    mlops.log_param(f"p{i}", i)
        """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert "locked" not in err
    frame = mlops.runs()
    assert len(frame) == 4 and set(frame["status"]) == {"finished"}
    for run_id in frame["run_id"]:
        assert len(mlops.get_run(run_id).metric_history("x")) == 20_000


def test_other_processes_see_points_while_the_run_is_live(project):
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
            import sys, time, mlops_nb as mlops
            run = mlops.start_run("live")
            print(run.run_id, flush=True)
            for i in range(100):
                mlops.log_metric("m", i, step=i)
            sys.stdin.readline()  # stay alive until the test has looked
            """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = writer.stdout.readline().strip()
        deadline = time.monotonic() + 30
        seen = 0
        while time.monotonic() < deadline and seen < 100:
            seen = len(mlops.get_run(run_id).metric_history("m"))
            time.sleep(0.1)
        assert seen == 100
        assert mlops.get_run(run_id).status == "running"
    finally:
        writer.communicate("\n", timeout=60)
    assert mlops.get_run(run_id).status == "finished"


def test_recovered_logs_are_ingested_exactly_once(project):
    child = _python(
        """
        import os, signal, mlops_nb as mlops
        run = mlops.start_run()
        print(run.run_id, flush=True)
        mlops.log_metrics({"a": 1.0, "b": 2.0})
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    run_id = child.stdout.split()[0]
    for _ in range(3):
        _fresh_reader()
        mlops.runs()
    assert len(mlops.get_run(run_id).metric_history("a")) == 1
    assert not list(project.spool_dir.iterdir())


@pytest.mark.parametrize("status", ["failed", "finished"])
def test_end_run_status_is_recorded(project, status):
    run = mlops.start_run()
    mlops.end_run(status=status)
    assert run.status == status


def test_a_run_left_open_at_exit_is_finished_with_its_points(project):
    child = _python(
        """
        import mlops_nb as mlops
        run = mlops.start_run("forgot-to-end")
        print(run.run_id)
        mlops.log_metric("m", 3.0)
        """
    )
    assert child.returncode == 0, child.stderr
    run = mlops.get_run(child.stdout.strip())
    assert run.status == "finished"
    assert run.metrics == {"m": 3.0}
