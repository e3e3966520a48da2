"""Data snapshots on an S3 blob store (a real S3-protocol server on loopback)."""

from __future__ import annotations

import pandas as pd
import pytest
from support.s3 import s3_project, s3_server  # noqa: F401 - fixtures

import mlops_nb as mlops
from mlops_nb.data import chunks
from mlops_nb.errors import IntegrityError


def test_frames_files_and_folders_round_trip_through_s3(s3_project, s3_server, tmp_path):  # noqa: F811
    df = pd.DataFrame({"a": range(1000), "c": pd.Categorical(["x", "y"] * 500)})
    version = mlops.snapshot(df, "train")
    assert mlops.snapshot(df, "train").version == 1
    pd.testing.assert_frame_equal(mlops.load_dataset("train"), df)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")
    mlops.snapshot(folder, "docs")
    assert (mlops.load_dataset("docs") / "a.txt").read_text() == "alpha"
    assert not (s3_project.state_dir / "blobs").exists()
    diff = mlops.diff_datasets("train@1", df.iloc[:900])
    assert (diff.rows_removed, diff.rows_unchanged) == (100, 900)
    chunk = chunks.read_manifest(s3_project.blobs, version.blob_digest, version.ref)["chunks"][0]
    key = f"store/{chunk[:2]}/{chunk[2:]}"
    s3_server.client().put_object(Bucket=s3_project.bucket, Key=key, Body=b"tampered")
    with pytest.raises(IntegrityError, match="train@1 is corrupted"):
        mlops.load_dataset("train")
