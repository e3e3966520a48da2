"""Data snapshots: DataFrames, files and folders stored, deduplicated and loaded back exactly."""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np
import pandas as pd
import pytest

import mlops_nb as mlops
from mlops_nb.data import api, chunks
from mlops_nb.errors import NotFoundError, UsageError


def every_dtype() -> pd.DataFrame:
    n = 4
    return pd.DataFrame(
        {
            "int": np.arange(n, dtype="int64"),
            "int32": np.arange(n, dtype="int32"),
            "uint8": np.arange(n, dtype="uint8"),
            "float": [1.5, np.nan, 3.0, -0.0],
            "float32": np.arange(n, dtype="float32"),
            "nullable_int": pd.array([1, None, 3, 4], dtype="Int64"),
            "nullable_float": pd.array([1.5, None, 2.0, 3.0], dtype="Float64"),
            "bool": [True, False, True, False],
            "nullable_bool": pd.array([True, None, False, True], dtype="boolean"),
            "category": pd.Categorical(
                ["a", "b", None, "a"], categories=["b", "a", "z"], ordered=True
            ),
            "int_category": pd.Categorical([1, 2, 1, 2]),
            "datetime": pd.date_range("2024-01-01", periods=n, freq="h"),
            "datetime_tz": pd.date_range(
                "2024-03-30 23:00", periods=n, freq="h", tz="Europe/Paris"
            ),
            "datetime_ns": pd.date_range("2024-01-01", periods=n, freq="min").as_unit("ns"),
            "timedelta": pd.to_timedelta([1, 2, 3, None], unit="s"),
            "str": ["a", None, "c", "é✓"],
            "string_python": pd.array(["a", None, "c", "d"], dtype="string[python]"),
            "string_pyarrow": pd.array(["a", None, "c", "d"], dtype="string[pyarrow]"),
            "object_str": pd.Series(["a", None, "c", "d"], dtype=object),
            "bytes": pd.Series([b"a", b"b", None, b"\x00"], dtype=object),
            "period": pd.period_range("2024-01", periods=n, freq="M"),
            "interval": pd.interval_range(0, n),
            "arrow_int": pd.Series([1, 2, None, 4], dtype="int64[pyarrow]"),
        }
    )


def assert_same_frame(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert list(left.columns) == list(right.columns)
    for column in left.columns:
        assert left[column].dtype == right[column].dtype, column
    pd.testing.assert_frame_equal(left, right, check_exact=True)


def test_every_dtype_round_trips_exactly(any_project):
    df = every_dtype()
    version = mlops.snapshot(df, "train", description="all dtypes")
    assert (version.name, version.version, version.kind) == ("train", 1, "dataframe")
    assert (version.rows, version.columns, version.ref) == (4, df.shape[1], "train@1")
    assert version.description == "all dtypes"
    assert_same_frame(mlops.load_dataset("train@1"), df)
    assert_same_frame(version.load(), df)


def test_index_and_empty_frames_round_trip(project):
    indexed = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.Index(["a", "b"], name="key"))
    assert_same_frame(mlops.snapshot(indexed, "indexed").load(), indexed)
    multi = pd.DataFrame(
        {"x": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])
    )
    assert_same_frame(mlops.snapshot(multi, "multi").load(), multi)
    empty = every_dtype().iloc[:0]
    version = mlops.snapshot(empty, "empty")
    assert version.rows == 0
    assert version.profile["columns"]["float"]["bins"] == []
    assert_same_frame(version.load(), empty)


def test_identical_content_returns_the_same_version_and_stores_nothing(any_project):
    df = pd.DataFrame({"a": range(1000), "b": ["x", "y"] * 500})
    first = mlops.snapshot(df, "train")
    blobs_before = set(any_project.blobs.iter_digests())
    again = mlops.snapshot(df.copy(), "train")
    assert again == first and again.version == 1
    assert set(any_project.blobs.iter_digests()) == blobs_before
    reloaded = mlops.snapshot(mlops.load_dataset("train"), "train")
    assert reloaded.version == 1
    changed = mlops.snapshot(df.assign(b=df["b"].where(df.index != 7, "z")), "train")
    assert changed.version == 2 and changed.digest != first.digest
    assert mlops.snapshot(df, "train").version == 1  # old content: the old version
    assert mlops.snapshot(df, "other").version == 1  # same content, another name
    assert set(mlops.datasets()["name"]) == {"train", "other"}


def test_digest_depends_on_content_and_dtypes_not_on_storage(project):
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    base = mlops.snapshot(df, "d")
    assert mlops.snapshot(df.astype({"a": "int32"}), "d").digest != base.digest
    assert mlops.snapshot(df.astype({"b": "category"}), "d").digest != base.digest
    assert mlops.snapshot(df[["b", "a"]], "d").digest != base.digest
    assert mlops.snapshot(df.rename(columns={"a": "A"}), "d").digest != base.digest
    assert mlops.snapshot(df.set_axis([5, 6, 7]), "d").digest != base.digest
    assert mlops.snapshot(df.iloc[[1, 0, 2]].reset_index(drop=True), "d").digest != base.digest


def test_references_resolve_and_missing_ones_fail_clearly(project):
    for i in range(3):
        mlops.snapshot(pd.DataFrame({"a": [i]}), "train")
    assert mlops.load_dataset("train")["a"].tolist() == [2]
    assert mlops.load_dataset("train@latest")["a"].tolist() == [2]
    assert mlops.load_dataset("train@2")["a"].tolist() == [1]
    with pytest.raises(NotFoundError, match="has no version 7; versions are 1 to 3"):
        mlops.load_dataset("train@7")
    with pytest.raises(NotFoundError, match="no dataset named 'test'"):
        mlops.load_dataset("test@1")
    for bad in ("train@0", "train@x", "train@", "train@-1", "../train", 3):
        with pytest.raises(UsageError):
            mlops.load_dataset(bad)


def test_datasets_lists_one_row_per_version(project):
    mlops.snapshot(pd.DataFrame({"a": [1, 2]}), "train", description="first")
    mlops.snapshot(pd.DataFrame({"a": [1, 2, 3]}), "train")
    frame = mlops.datasets()
    assert list(frame.columns) == [
        "name",
        "version",
        "digest",
        "kind",
        "rows",
        "columns",
        "size",
        "created_at",
        "created_by",
        "run_id",
        "description",
    ]
    assert frame["version"].tolist() == [1, 2]
    assert frame["rows"].tolist() == [2, 3]
    assert frame["description"][0] == "first" and pd.isna(frame["description"][1])
    assert str(frame["created_at"].dtype).startswith("datetime64")
    assert len(mlops.datasets("nothing")) == 0


def test_capture_appends_batches_and_load_versions_reads_them_back(project):
    batches = [
        pd.DataFrame({"x": [i, i + 1], "c": pd.Categorical([f"v{i}", "v"])}) for i in range(4)
    ]
    for batch in batches:
        mlops.capture(batch)
    assert mlops.capture(batches[0]).version == 1  # identical content dedups
    since = api.load_versions("production", since=3, version_column="batch")
    assert since["batch"].tolist() == [3, 3, 4, 4]
    assert since["x"].tolist() == [2, 3, 3, 4]
    assert isinstance(since["c"].dtype, pd.CategoricalDtype)
    assert len(api.load_versions("production")) == 8
    with pytest.raises(UsageError, match="no version >= 9"):
        api.load_versions("production", since=9)
    with pytest.raises(NotFoundError):
        api.load_versions("absent")


def test_file_snapshot_round_trips_bytes_and_name(any_project, tmp_path):
    source = tmp_path / "raw.csv"
    source.write_bytes(b"a,b\n1,2\n" * 1000)
    version = mlops.snapshot(source, "raw")
    assert (version.kind, version.size, version.rows) == ("file", source.stat().st_size, None)
    path = mlops.load_dataset("raw")
    assert path.name == "raw.csv" and path.read_bytes() == source.read_bytes()
    assert mlops.snapshot(str(source), "raw").version == 1


def test_parquet_file_records_rows_and_columns(project, tmp_path):
    source = tmp_path / "t.parquet"
    pd.DataFrame({"a": range(10), "b": ["x"] * 10}).to_parquet(source)
    version = mlops.snapshot(source, "pq")
    assert (version.rows, version.columns) == (10, 2)
    assert [c["name"] for c in version.schema["columns"]] == ["a", "b"]


def test_big_file_is_chunked_and_a_small_change_stores_only_the_changed_chunk(
    project, tmp_path, monkeypatch
):
    monkeypatch.setattr(chunks, "CHUNK_SIZE", 64 * 1024)
    source = tmp_path / "big.bin"
    data = bytearray(os.urandom(10 * 64 * 1024 + 123))
    source.write_bytes(data)
    first = mlops.snapshot(source, "big")
    stored = set(project.blobs.iter_digests())
    data[5 * 64 * 1024 + 10] ^= 0xFF
    source.write_bytes(data)
    second = mlops.snapshot(source, "big")
    added = set(project.blobs.iter_digests()) - stored
    assert second.version == 2
    assert len(added) == 2  # one changed chunk and the new manifest
    assert mlops.load_dataset("big@1").read_bytes() != bytes(data)
    assert mlops.load_dataset("big@2").read_bytes() == bytes(data)
    assert first.digest != second.digest


def age(path, seconds=60):
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_stat_cache_serves_unchanged_files_and_misses_changed_ones(project, tmp_path):
    from mlops_nb.data.snapshot import stat_cache

    source = tmp_path / "data.bin"
    source.write_bytes(b"x" * 1000)
    version = mlops.snapshot(source, "d")
    cache = stat_cache(project)
    assert cache.get(source.stat()) is None  # just written: too recent to trust
    age(source)
    mlops.snapshot(source, "d")
    assert cache.get(source.stat()) == version.digest
    source.write_bytes(b"y" * 1000)  # same size, new mtime and ctime
    age(source)
    assert cache.get(source.stat()) is None
    assert mlops.snapshot(source, "d").version == 2
    cache.close()


def test_corrupt_stat_cache_falls_back_to_hashing(project, tmp_path):
    source = tmp_path / "data.bin"
    source.write_bytes(b"abc" * 100)
    age(source)
    mlops.snapshot(source, "d")
    (project.state_dir / "statcache.db").write_bytes(b"not a database" * 100)
    assert mlops.snapshot(source, "d").version == 1
    source.write_bytes(b"abd" * 100)
    assert mlops.snapshot(source, "d").version == 2


def test_folder_snapshot_dedups_unchanged_files(any_project, tmp_path):
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.txt").write_text("beta")
    (folder / "empty.txt").write_bytes(b"")
    first = mlops.snapshot(folder, "images")
    assert (first.kind, first.size, first.schema["files"]) == ("folder", 9, 3)
    stored = set(any_project.blobs.iter_digests())
    (folder / "c.txt").write_text("gamma")
    second = mlops.snapshot(folder, "images")
    assert second.version == 2
    assert len(set(any_project.blobs.iter_digests()) - stored) == 3  # chunk + 2 manifests
    out = mlops.load_dataset("images@2")
    assert out.name == "images"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.txt",
        "c.txt",
        "empty.txt",
        "sub/b.txt",
    ]
    assert (out / "sub" / "b.txt").read_text() == "beta"
    old = mlops.load_dataset("images@1")
    assert not (old / "c.txt").exists()


def test_checkouts_are_read_only_and_restored_when_modified(project, tmp_path):
    source = tmp_path / "f.txt"
    source.write_text("original")
    mlops.snapshot(source, "f")
    path = mlops.load_dataset("f")
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    path.chmod(0o644)
    path.write_text("tampered")
    assert mlops.load_dataset("f").read_text() == "original"


def test_folder_links_outside_are_refused(project, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (tmp_path / "secret").write_text("s")
    (folder / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(UsageError, match="links outside"):
        mlops.snapshot(folder, "d")


def test_file_digest_is_stable_across_snapshots(project, tmp_path):
    source = tmp_path / "x.bin"
    source.write_bytes(b"hello")
    version = mlops.snapshot(source, "x")
    manifest = chunks.file_manifest([hashlib.sha256(b"hello").hexdigest()], 5)
    assert version.digest == hashlib.sha256(chunks.canonical(manifest)).hexdigest()
