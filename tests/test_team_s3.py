"""The S3 artifact store for real: moto's S3 server on loopback, reached through s3fs.

Artifacts, dataset snapshots and registered models land in the bucket (nothing under
``.mlops/blobs``), come back intact, and are verified against their digest on every read.
"""

# ruff: noqa: F811 - pytest fixtures imported from support.s3 are test parameters

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from support.s3 import s3_project, s3_server  # noqa: F401 - fixtures (F811 below: their parameters)

import mlops_nb as mlops
from mlops_nb.errors import IntegrityError, StoreError
from mlops_nb.store import gc
from mlops_nb.store.blobs import BlobStore


def _key(project, digest: str) -> str:
    return f"store/{digest[:2]}/{digest[2:]}"


def _tamper(s3_server, project, digest: str, data: bytes) -> None:
    s3_server.client().put_object(Bucket=project.bucket, Key=_key(project, digest), Body=data)


def test_artifacts_land_in_the_bucket_and_are_verified_on_read(s3_project, s3_server, tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")
    (folder / "b.txt").write_text("beta")
    with mlops.start_run("s3") as run:
        mlops.log_artifact({"auc": 0.91}, "metrics.json")
        mlops.log_artifact(folder)
        mlops.log_metric("loss", 0.1)
    objects = s3_server.objects(s3_project.bucket)
    digests = {a.path: a.digest for a in run.artifacts}
    assert set(objects) == {_key(s3_project, d) for d in digests.values()}
    assert objects[_key(s3_project, digests["report/b.txt"])] == b"beta"
    assert not (s3_project.state_dir / "blobs").exists()
    blobs = s3_project.blobs
    assert json.loads(blobs.get_bytes(digests["metrics.json"])) == {"auc": 0.91}
    _tamper(s3_server, s3_project, digests["report/a.txt"], b"ALPHA")
    with pytest.raises(IntegrityError, match="does not match its digest"):
        blobs.get_bytes(digests["report/a.txt"])
    with pytest.raises(IntegrityError):
        blobs.fetch(digests["report/a.txt"], tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()


def test_dataset_snapshots_land_in_the_bucket_and_a_flipped_byte_is_refused(s3_project, s3_server):
    frame = pd.DataFrame({"id": range(1000), "amount": [i * 0.5 for i in range(1000)]})
    version = mlops.snapshot(frame, "transactions")
    before = set(s3_server.objects(s3_project.bucket))
    assert _key(s3_project, version.blob_digest) in before
    assert mlops.snapshot(frame, "transactions").version == version.version  # dedup
    assert set(s3_server.objects(s3_project.bucket)) == before
    pd.testing.assert_frame_equal(mlops.load_dataset("transactions@1"), frame)
    chunks = [d for d, o in gc.references(s3_project).required.items() if o.startswith("part")]
    assert chunks
    data = bytearray(s3_server.objects(s3_project.bucket)[_key(s3_project, chunks[0])])
    data[len(data) // 2] ^= 0xFF
    _tamper(s3_server, s3_project, chunks[0], bytes(data))
    with pytest.raises(IntegrityError):
        mlops.load_dataset("transactions@1")


def test_registered_models_land_in_the_bucket_and_a_swapped_blob_is_refused(s3_project, s3_server):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    version = mlops.register_model(model, "churn", metrics={"auc": 0.9})
    required = gc.references(s3_project).required
    files = [d for d, owner in required.items() if owner == "part of model churn@1"]
    stored = s3_server.objects(s3_project.bucket)
    assert _key(s3_project, version.digest) in stored
    assert files and all(_key(s3_project, d) in stored for d in files)
    assert mlops.load_model("churn@1").predict([[3.0]]).tolist() == [1]
    other = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [1, 1, 0, 0])
    mlops.register_model(other, "other", metrics={"auc": 0.1})
    refs = gc.references(s3_project).required
    swapped = next(d for d, o in refs.items() if o == "part of model other@1")
    _tamper(s3_server, s3_project, files[0], s3_project.blobs.get_bytes(swapped))
    with pytest.raises(IntegrityError):
        mlops.load_model("churn@1")


def test_doctor_and_gc_work_on_the_bucket(s3_project, s3_server):
    with mlops.start_run():
        mlops.log_artifact(b"kept", "kept.bin")
    orphan = s3_project.blobs.put_bytes(b"orphan")
    env = {**os.environ}
    doctor = subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", "doctor", "--json", "--sample", "all"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    report = gc.collect(s3_project, delete=True, grace=0)
    assert [b.digest for b in report.unreferenced] == [orphan] and report.deleted == 1
    keys = set(s3_server.objects(s3_project.bucket))
    assert _key(s3_project, orphan) not in keys and len(keys) == 1
    s3_server.client().delete_object(Bucket=s3_project.bucket, Key=keys.pop())
    doctor = subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", "doctor", "--json"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert doctor.returncode == 1
    assert "kept.bin" in doctor.stdout


def test_unreachable_endpoint_is_one_clear_error(s3_project, monkeypatch):
    from support.postgres import free_port

    monkeypatch.setenv("MLOPS_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    blobs = BlobStore(f"s3://{s3_project.bucket}/elsewhere")
    with pytest.raises(StoreError, match=r"cannot (read|write) a blob .*127\.0\.0\.1"):
        blobs.put_bytes(b"x")
