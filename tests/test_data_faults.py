"""Bad input gets a clear error and loses nothing; crashes and corruption are contained."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import mlops_nb as mlops
from mlops_nb.data import chunks
from mlops_nb.data.snapshot import intact
from mlops_nb.errors import IntegrityError, NotFoundError, UsageError
from mlops_nb.store import schema


def version_count(project) -> int:
    with project.db.read() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(schema.dataset_versions)
        ).scalar_one()


@pytest.mark.parametrize(
    "obj, message",
    [
        ([1, 2, 3], "pass a pandas DataFrame, or the path of a file or folder"),
        ({"a": [1]}, "cannot snapshot a builtins.dict"),
        (np.arange(3), "numpy.ndarray"),
        (pd.Series([1, 2]), r"use series.to_frame\(\)"),
        (None, "NoneType"),
    ],
)
def test_unsupported_objects_name_the_supported_kinds(project, obj, message):
    with pytest.raises(UsageError, match=message):
        mlops.snapshot(obj, "train")
    assert version_count(project) == 0


@pytest.mark.parametrize(
    "df, message",
    [
        (pd.DataFrame({"a": pd.Series([1, "x", 2.5], dtype=object)}), "mixes value types"),
        (pd.DataFrame({"a": pd.Series([{"k": 1}, [1]], dtype=object)}), "mixes value types"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "duplicate column names"),
        (pd.DataFrame({0: [1], 1: [2]}), "column names must be strings"),
        (pd.DataFrame({("a", "b"): [1]}), "column names must be strings"),
        (pd.DataFrame(), "has no columns"),
    ],
)
def test_frames_that_cannot_round_trip_are_refused(project, df, message):
    mlops.snapshot(pd.DataFrame({"ok": [1]}), "train")
    with pytest.raises(UsageError, match=message):
        mlops.snapshot(df, "train")
    assert version_count(project) == 1
    assert mlops.load_dataset("train")["ok"].tolist() == [1]


@pytest.mark.parametrize("name", ["a/b", "../x", "..", "x@1", "", " x", "a" * 200, 3])
def test_bad_names_are_refused(project, name):
    with pytest.raises(UsageError, match="dataset name"):
        mlops.snapshot(pd.DataFrame({"a": [1]}), name)
    assert version_count(project) == 0


def test_missing_path_and_empty_inputs(project, tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        mlops.snapshot(tmp_path / "nope.csv", "raw")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    version = mlops.snapshot(empty, "raw")
    assert (version.kind, version.size) == ("file", 0)
    assert mlops.load_dataset("raw").read_bytes() == b""
    frame = pd.DataFrame({"a": pd.Series([], dtype="Int64"), "b": pd.Series([], dtype="str")})
    loaded = mlops.snapshot(frame, "empty").load()
    assert loaded.shape == (0, 2) and loaded.dtypes.tolist() == frame.dtypes.tolist()


def test_missing_versions_are_not_found(project):
    mlops.snapshot(pd.DataFrame({"a": [1]}), "train")
    with pytest.raises(NotFoundError, match="versions are 1 to 1"):
        mlops.load_dataset("train@2")
    with pytest.raises(NotFoundError, match="no dataset named"):
        mlops.diff_datasets("train@1", "other@1")


def _blob_path(project, digest):
    return project.blobs.local_path(digest)


def _corrupt(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))


def test_corrupted_dataframe_blob_is_refused_and_other_versions_still_load(any_project):
    if not any_project.blobs.is_local:
        pytest.skip("needs a local blob store")
    good = pd.DataFrame({"a": range(100)})
    v1 = mlops.snapshot(good, "train")
    v2 = mlops.snapshot(pd.DataFrame({"a": range(100, 300)}), "train")
    manifest = chunks.read_manifest(any_project.blobs, v1.blob_digest, v1.ref)
    _corrupt(_blob_path(any_project, manifest["chunks"][0]))
    with pytest.raises(IntegrityError, match="train@1 is corrupted"):
        mlops.load_dataset("train@1")
    assert len(mlops.load_dataset("train@2")) == 200
    assert v2.version == 2


def test_corrupted_file_blob_is_refused_and_truncated_one_too(project, tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(os.urandom(5000))
    b.write_bytes(os.urandom(5000))
    va, vb = mlops.snapshot(a, "a"), mlops.snapshot(b, "b")
    chunk_a = chunks.read_manifest(project.blobs, va.blob_digest, va.ref)["chunks"][0]
    _corrupt(_blob_path(project, chunk_a))
    with pytest.raises(IntegrityError, match="a@1 is corrupted"):
        mlops.load_dataset("a")
    chunk_b = chunks.read_manifest(project.blobs, vb.blob_digest, vb.ref)["chunks"][0]
    path = _blob_path(project, chunk_b)
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IntegrityError, match="b@1 is corrupted"):
        mlops.load_dataset("b")


def test_corrupted_manifest_is_refused(project, tmp_path):
    source = tmp_path / "a.bin"
    source.write_bytes(b"content")
    version = mlops.snapshot(source, "a")
    _corrupt(_blob_path(project, version.blob_digest))
    with pytest.raises(IntegrityError, match="a@1 is corrupted"):
        mlops.load_dataset("a")


def test_lost_blobs_are_stored_again_by_the_next_identical_snapshot(project):
    df = pd.DataFrame({"a": range(10)})
    version = mlops.snapshot(df, "train")
    manifest = chunks.read_manifest(project.blobs, version.blob_digest, version.ref)
    project.blobs.delete(manifest["chunks"][0])
    assert not intact(project, version)
    again = mlops.snapshot(df, "train")
    assert again.version == 1 and intact(project, again)
    pd.testing.assert_frame_equal(mlops.load_dataset("train"), df)


CHILD = textwrap.dedent("""
    import sys
    import mlops_nb as mlops
    print("start", flush=True)
    mlops.snapshot(sys.argv[1], "big")
    print("done", flush=True)
""")


def test_kill_9_during_a_large_snapshot_leaves_no_broken_version(project, tmp_path):
    source = tmp_path / "big.bin"
    with open(source, "wb") as handle:
        for _ in range(16):  # 128 MiB: 16 chunks
            handle.write(os.urandom(8 * 1024 * 1024))
    blob_root = project.blobs.root
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(source)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert child.stdout.readline().strip() == "start"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stored = [p for p in blob_root.glob("??/*")]
        if len(stored) >= 2:
            break
        time.sleep(0.002)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert version_count(project) == 0  # killed before any version row was written
    leftovers = list((blob_root / "tmp").glob("*.part"))
    assert all(p.stat().st_size <= chunks.CHUNK_SIZE for p in leftovers)
    version = mlops.snapshot(source, "big")  # the retry succeeds and reuses stored chunks
    assert version.version == 1 and intact(project, version)
    assert mlops.load_dataset("big").read_bytes() == source.read_bytes()


def test_file_changing_while_snapshotted_is_refused(project, tmp_path, monkeypatch):
    source = tmp_path / "growing.log"
    source.write_bytes(b"x" * 100)
    original = chunks.store_stream

    def store_then_append(blobs, stream, pool):
        result = original(blobs, stream, pool)
        with open(source, "ab") as handle:
            handle.write(b"more")
        return result

    monkeypatch.setattr(chunks, "store_stream", store_then_append)
    with pytest.raises(UsageError, match="changed while it was being snapshotted"):
        mlops.snapshot(source, "log")
    assert version_count(project) == 0


WRITER = textwrap.dedent("""
    import sys
    import pandas as pd
    import mlops_nb as mlops
    n = int(sys.argv[1])
    for i in range(3):
        mlops.snapshot(pd.DataFrame({"writer": [n], "i": [i]}), "shared")
    mlops.snapshot(pd.DataFrame({"same": [1]}), "shared")
""")


def test_concurrent_writers_get_distinct_versions(any_project):
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(n)],
            cwd=any_project.root,
            env={**os.environ},
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for writer in writers:
        assert writer.wait(timeout=120) == 0, writer.stderr.read()
    listed = mlops.datasets("shared")
    assert sorted(listed["version"]) == list(range(1, 14))  # 12 distinct frames + 1 shared
    assert listed["digest"].is_unique
    loaded = {tuple(mlops.load_dataset(f"shared@{v}").iloc[0]) for v in listed["version"]}
    assert len(loaded) == 13
