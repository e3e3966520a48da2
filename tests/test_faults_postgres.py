"""The PostgreSQL server stopped and restarted under a live run (a cluster of its own).

Metric points go to the append-only log first, so logging never waits on the server; the
background flusher retries until the server is back. Calls that need the server fail with
one clear error, and nothing already logged is lost.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from support import postgres

import mlops_nb as mlops
from mlops_nb.errors import StoreError
from mlops_nb.project import Project


@pytest.fixture(scope="module")
def cluster():
    if postgres.server_bin() is None:
        pytest.skip("no PostgreSQL server installed")
    server = postgres.Cluster()
    yield server
    server.stop(remove=True)


@pytest.fixture
def pg_project(cluster, tmp_path, monkeypatch):
    from conftest import _open_project, _reset_process_state

    project = _open_project(tmp_path, monkeypatch, cluster.new_database())
    yield project
    _reset_process_state()


def _wait_for_points(run_id: str, key: str, count: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = len(mlops.get_run(run_id).metric_history(key))
        if seen >= count:
            break
        time.sleep(0.2)
    return seen


def test_server_restart_mid_run_loses_no_points(pg_project, cluster):
    run = mlops.start_run("through-a-restart")
    for i in range(1000):
        mlops.log_metric("loss", i, step=i)
    assert _wait_for_points(run.run_id, "loss", 1000) == 1000
    cluster.stop()
    try:
        for i in range(1000, 2000):  # never waits on the server
            mlops.log_metric("loss", i, step=i)
        with pytest.raises(StoreError, match=r"cannot reach store .*server is running"):
            mlops.log_param("lr", 0.1)
        with pytest.raises(StoreError, match="cannot reach store"):
            mlops.runs()
        time.sleep(1.5)  # the flusher fails a few times meanwhile
    finally:
        cluster.start()
    assert _wait_for_points(run.run_id, "loss", 2000) == 2000
    mlops.log_param("lr", 0.1)
    mlops.end_run()
    run = mlops.get_run(run.run_id)
    assert run.status == "finished" and run.params == {"lr": 0.1}
    assert run.metric_history("loss")["step"].tolist() == list(range(2000))


def test_ending_a_run_while_the_server_is_down_fails_clearly_and_keeps_points(pg_project, cluster):
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            """
            import sys, time, mlops_nb as mlops
            run = mlops.start_run("ends-during-outage")
            print(run.run_id, flush=True)
            for i in range(500):
                mlops.log_metric("x", i, step=i)
            sys.stdin.readline()  # the server is down now
            try:
                mlops.end_run()
            except mlops.MlopsError as exc:
                print("error:", exc, flush=True)
            sys.stdin.readline()  # the server is back: give the flusher a moment, then exit
            time.sleep(2)
            """
        )],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    run_id = child.stdout.readline().strip()
    cluster.stop()
    try:
        child.stdin.write("\n")
        child.stdin.flush()
        message = child.stdout.readline()
    finally:
        cluster.start()
    assert message.startswith("error: cannot reach store"), message
    _, err = child.communicate("\n", timeout=120)
    assert child.returncode == 0 and "Traceback" not in err, err
    Project.forget()
    run = mlops.get_run(run_id)
    assert run.status == "crashed"  # never ended; its process is gone
    assert run.metric_history("x")["step"].tolist() == list(range(500))
