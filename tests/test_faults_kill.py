"""kill -9 at the worst moments: mid tracked run, mid blob write, mid snapshot, mid
``mlops pipeline run``, and a kernel killed mid tracked notebook.

Each time: ``mlops doctor`` passes (exit 0), the affected runs show ``crashed``, nothing
half-written is referenced, and a retry of the same work succeeds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import nbformat
import pytest
from nbclient import NotebookClient
from support.s3 import s3_project, s3_server  # noqa: F401 - fixtures
from test_pipelines_support import PID_CELL, gone, wait_for_file, write_notebook

import mlops_nb as mlops
from mlops_nb.project import Project
from mlops_nb.store import gc


def _spawn(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def _doctor() -> dict:
    Project.forget()
    result = subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", "doctor", "--json", "--sample", "all"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return {c["check"]: c for c in json.loads(result.stdout)["checks"]}


TRACKED = """
    import sys, mlops_nb as mlops
    with mlops.start_run("train", params={"epochs": int(sys.argv[1])}) as run:
        print(run.run_id, flush=True)
        for step in range(int(sys.argv[1])):
            mlops.log_metric("loss", 1 / (step + 1), step=step)
            if step == 1000:
                print("running", flush=True)
    print("finished", flush=True)
"""


def test_kill_9_mid_tracked_run_then_doctor_and_retry(any_project):
    child = _spawn(TRACKED, "100000000")
    run_id = child.stdout.readline().strip()
    assert child.stdout.readline().strip() == "running"
    _kill(child)
    _doctor()
    run = mlops.get_run(run_id)
    assert run.status == "crashed"
    steps = run.metric_history("loss")["step"].tolist()
    assert len(steps) > 1000 and steps == list(range(len(steps)))  # a prefix, no gaps
    retry = _spawn(TRACKED, "2000")
    out, err = retry.communicate(timeout=120)
    assert retry.returncode == 0 and out.split()[-1] == "finished", err
    again = mlops.get_run(out.split()[0])
    assert again.status == "finished" and len(again.metric_history("loss")) == 2000


UPLOAD = """
    import sys, mlops_nb as mlops
    with mlops.start_run("upload") as run:
        print(run.run_id, flush=True)
        mlops.log_artifact(sys.argv[1], "weights.bin")
"""


@pytest.mark.parametrize("store", ["local", "s3"])
def test_kill_9_mid_blob_write_leaves_nothing_half_written(request, store, tmp_path):
    project = request.getfixturevalue("project" if store == "local" else "s3_project")
    before = set(project.blobs.iter_digests())
    fifo = tmp_path / "weights.fifo"
    os.mkfifo(fifo)
    private_tmp = tmp_path / "tmp"  # where a remote store stages its uploads in the child
    private_tmp.mkdir()
    child = _spawn(UPLOAD, str(fifo), env={"TMPDIR": str(private_tmp)})
    run_id = child.stdout.readline().strip()
    with open(fifo, "wb") as writer:  # the child is reading the source into a staging file
        writer.write(os.urandom(6 * 1024 * 1024))  # returns once a 4 MiB chunk is staged
        writer.flush()
        _kill(child)
    assert set(project.blobs.iter_digests()) == before  # no blob under any real name
    checks = _doctor()
    assert checks["references"]["status"] == "ok"
    run = mlops.get_run(run_id)
    assert run.status == "crashed" and run.artifacts == []
    # What the kill left is one staging file, under a temporary name only.
    if store == "local":
        staged = [path for path, _, _ in gc.staging_files(project.blobs)]
    else:  # a remote store stages in the machine's temp folder (the child's TMPDIR)
        staged = list(private_tmp.rglob("*.part"))
    assert len(staged) == 1 and staged[0].stat().st_size >= 4 * 1024 * 1024
    if store == "local":  # gc reclaims it
        assert gc.collect(project, delete=True, grace=0).freed >= 4 * 1024 * 1024
        assert not staged[0].exists()
    data = os.urandom(1024 * 1024)
    (tmp_path / "weights.bin").write_bytes(data)
    with mlops.start_run("retry"):
        mlops.log_artifact(tmp_path / "weights.bin")
        digest = mlops.active_run().artifacts[0].digest
    assert project.blobs.get_bytes(digest) == data


SNAPSHOT = """
    import sys, numpy as np, pandas as pd, mlops_nb as mlops
    frame = pd.DataFrame(np.random.default_rng(0).random((2_000_000, 4)), columns=list("abcd"))
    print("start", flush=True)
    mlops.snapshot(frame, "big")
    print("done", flush=True)
"""


def _stored_blobs(project: Project) -> int:
    return sum(1 for _ in project.blobs.iter_digests())


# Moments in a snapshot of about 64 MB (eight 8 MiB chunks, the row hashes, a manifest),
# each seen from outside in the store, so the kill lands there on a fast or a slow machine.
MOMENTS = {
    "hashing": lambda project, started: time.monotonic() - started > 0.05,
    "blob-half-written": lambda project, started: bool(gc.staging_files(project.blobs)),
    "blobs-stored-no-version": lambda project, started: _stored_blobs(project) >= 3,
}


@pytest.mark.parametrize("moment", MOMENTS)
def test_kill_9_mid_snapshot_then_doctor_and_retry(project, moment):
    child = _spawn(SNAPSHOT)
    assert child.stdout.readline().strip() == "start"
    started, reached = time.monotonic(), MOMENTS[moment]
    while child.poll() is None and not reached(project, started):
        time.sleep(0.001)
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode in (-signal.SIGKILL, 0)  # 0: it finished just before the kill
    checks = _doctor()
    assert checks["references"]["status"] == "ok"
    versions = mlops.datasets("big") if "big" in set(mlops.datasets()["name"]) else []
    assert len(versions) <= 1  # all or nothing
    retry = _spawn(SNAPSHOT)
    _, err = retry.communicate(timeout=300)
    assert retry.returncode == 0, err
    assert len(mlops.load_dataset("big@1")) == 2_000_000
    assert len(mlops.datasets("big")) == 1  # the retry found or completed the same version


def test_kill_9_of_mlops_pipeline_run_then_doctor_and_retry(project):
    pid_file = project.root / "kernel.pid"
    slow = project.root / "slow.flag"  # while it exists, the step takes minutes
    slow.touch()
    write_notebook(
        project.root / "step.ipynb",
        None,
        PID_CELL.format(path=str(pid_file)),
        "import pathlib, time, mlops_nb as mlops\n"
        f"while pathlib.Path({str(slow)!r}).exists():\n"
        "    mlops.log_metric('tick', time.time())\n    time.sleep(0.1)",
    )
    (project.root / "p.yaml").write_text("steps:\n  step: step.ipynb\n")
    command = [sys.executable, "-m", "mlops_nb.cli", "pipeline", "run", "p.yaml"]
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kernel = int(wait_for_file(pid_file))
    time.sleep(1)
    _kill(cli)
    slow.unlink()  # an orphaned kernel, if any, finishes its loop and exits
    assert gone(kernel, timeout=60)
    _doctor()
    runs = mlops.runs().set_index("kind")
    assert runs.loc["pipeline", "status"] == "crashed"
    assert runs.loc["step", "status"] == "crashed"
    retry = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert retry.returncode == 0, retry.stderr
    statuses = mlops.runs().groupby("kind")["status"].apply(sorted).to_dict()
    assert statuses == {"pipeline": ["crashed", "finished"], "step": ["crashed", "finished"]}


def test_kill_9_of_a_kernel_mid_tracked_notebook_then_doctor_and_retry(project):
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(project.root), env={**os.environ})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        for code in (
            "%load_ext mlops_nb",
            "%mlops track notebook-run --experiment nb",
            "import mlops_nb as mlops\n"
            "for i in range(300): mlops.log_metric('acc', i / 300, step=i)",
            "print(mlops.active_run().run_id)",
        ):
            reply = client.execute_interactive(code, timeout=120, output_hook=_collect)
            assert reply["content"]["status"] == "ok", reply["content"]
        run_id = _collect.last.strip()
        client.execute("import time\nwhile True: time.sleep(0.1)")  # busy when killed
        time.sleep(0.5)
        os.kill(manager.provisioner.process.pid, signal.SIGKILL)
        manager.provisioner.process.wait(timeout=30)  # reaped, as Jupyter's restarter does
    finally:
        client.stop_channels()
        manager.cleanup_resources()
    _doctor()
    run = mlops.get_run(run_id)
    assert run.status == "crashed" and len(run.metric_history("acc")) == 300
    notebook = write_notebook(
        project.root / "retry.ipynb", None,
        "%load_ext mlops_nb", "%mlops track retry --experiment nb",
        "import mlops_nb as mlops\nmlops.log_metric('acc', 1.0)", "%mlops stop",
    )  # fmt: skip
    executed = nbformat.read(notebook, as_version=4)
    resources = {"metadata": {"path": str(project.root)}}
    NotebookClient(executed, kernel_name="python3", resources=resources).execute()
    frame = mlops.runs(experiment="nb").set_index("name")
    assert frame.loc["retry", "status"] == "finished"


def _collect(message: dict) -> None:
    if message["msg_type"] == "stream":
        _collect.last = message["content"]["text"]


_collect.last = ""
