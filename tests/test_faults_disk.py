"""A full disk: a 1 MiB tmpfs mounted for the test (needs root; skipped elsewhere), and a
file-size limit (``RLIMIT_FSIZE``) that fails writes the same way on any machine.

Pass: one clear error naming the problem and the fix, nothing half-written under a real name,
nothing referenced that is not complete, and the same work succeeds once there is room.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import mlops_nb as mlops
from mlops_nb.errors import StoreError
from mlops_nb.project import Project
from mlops_nb.store import health

MiB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def _nothing_half_written(project: Project) -> None:
    assert not list(project.blobs.staging_dir.glob("*.part"))
    for digest in project.blobs.iter_digests():
        assert project.blobs.verify(digest)


def test_blob_write_on_a_full_disk_fails_clearly_and_retries(project, small_disk, monkeypatch):
    monkeypatch.setenv("MLOPS_ARTIFACT_URI", str(small_disk / "blobs"))
    Project.forget()
    proj = Project.find()
    with mlops.start_run("full") as run:
        mlops.log_artifact(b"small and fine", "ok.txt")
        with pytest.raises(StoreError, match=r"no space left on the device.*nothing was stored"):
            mlops.log_artifact(os.urandom(2 * MiB), "weights.bin")
        mlops.log_metric("still_logging", 1.0)
    assert [a.path for a in run.artifacts] == ["ok.txt"]
    _nothing_half_written(proj)
    assert os.statvfs(small_disk).f_bfree * os.statvfs(small_disk).f_frsize > 900 * 1024
    with mlops.start_run("retry") as retry:
        data = os.urandom(MiB // 2)
        mlops.log_artifact(data, "weights.bin")
    assert proj.blobs.get_bytes(retry.artifacts[0].digest) == data
    assert all(f.status != "fail" for f in health.diagnose(proj, sample=None))


def test_whole_project_on_a_full_disk_fails_clearly(small_disk, monkeypatch):
    from conftest import _reset_process_state

    _reset_process_state()
    for name in ("MLOPS_STORE_URI", "MLOPS_ARTIFACT_URI", "MLOPS_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_HOME", str(small_disk))
    monkeypatch.chdir(small_disk)
    project = Project.init(small_disk)
    try:
        run = mlops.start_run("fills-the-disk")
        for i in range(100):
            mlops.log_metric("kept", i, step=i)
        mlops.get_run(run.run_id)  # ingested
        filler = small_disk / "filler"
        with pytest.raises(OSError), open(filler, "wb") as handle:
            handle.write(os.urandom(2 * MiB))  # the rest of the disk
        with pytest.raises(StoreError, match=r"cannot log metrics .*free some space"):
            for i in range(100, 100_000):
                mlops.log_metric("kept", i, step=i)
        with pytest.raises(StoreError, match="disk is full; free some space"):
            mlops.log_param("lr", 0.1)
        filler.unlink()
        mlops.log_param("lr", 0.1)
        mlops.end_run()
        run = mlops.get_run(run.run_id)
        steps = run.metric_history("kept")["step"].tolist()
        assert steps[:100] == list(range(100)) and steps == list(range(len(steps)))
        assert run.status == "finished" and run.params == {"lr": 0.1}
        assert all(f.status != "fail" for f in health.diagnose(project))
    finally:
        _reset_process_state()
        project.close()


FSIZE_CHILD = """
    import os, resource, signal, sys, mlops_nb as mlops
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))
    with mlops.start_run("limited") as run:
        try:
            mlops.log_artifact(os.urandom(3 * 1024 * 1024), "weights.bin")
        except mlops.StoreError as exc:
            print("error:", exc)
        mlops.log_artifact(b"fits", "small.bin")
    print(run.run_id)
"""


def test_file_size_limit_while_writing_a_blob_fails_clearly(project):
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FSIZE_CHILD)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    message, run_id = child.stdout.strip().splitlines()
    assert message.startswith("error: cannot write a blob") and "nothing was stored" in message
    assert [a.path for a in mlops.get_run(run_id).artifacts] == ["small.bin"]
    _nothing_half_written(project)
