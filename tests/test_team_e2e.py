"""A team on shared infrastructure: PostgreSQL + S3 + a Dask cluster, two users.

Alice runs the example pipeline (its training step is a grid of sweep points) and a sweep of
the training notebook on a Dask cluster (scheduler + 2 worker processes on loopback); runs,
datasets and models land in PostgreSQL and S3, nothing in the project folder's local store.
Bob, in another process with another identity, sees her runs and promotes the sweep's best
model; the audit trail names him.
"""

# ruff: noqa: F811 - pytest fixtures imported from support.s3 are test parameters

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa
from support.dask_cluster import DaskCluster
from support.s3 import s3_server  # noqa: F401 - fixture (F811 below: its parameter)

from mlops_nb.examples import copy_examples
from mlops_nb.project import Project
from mlops_nb.store import schema

ALICE = """
    import json, sys, mlops_nb as mlops
    executor = sys.argv[1]
    pipeline = mlops.run_pipeline("pipeline.yaml", executor=executor, jobs=2)
    assert pipeline.ok, [(s.name, s.status, s.error and s.error.details()) for s in pipeline.steps]
    sweep = mlops.sweep("02_train.ipynb", {"model": ["logreg"], "C": [0.3, 3.0]},
                        executor=executor, jobs=2, experiment="cancer-sweep")
    assert sweep.ok, [(p.name, p.status, p.error and p.error.details()) for p in sweep.points]
    print(json.dumps({"sweep_run": sweep.run_id}))
"""

BOB = """
    import json, sys, mlops_nb as mlops
    runs = mlops.runs(filter="user == 'alice'")
    sweep_points = runs[runs["parent_id"] == sys.argv[1]]
    models = mlops.models("cancer")
    best = sweep_points.sort_values("metrics.auc", ascending=False).iloc[0]
    version = models[models["run_id"] == best["run_id"]]["version"].iloc[0]
    mlops.promote(f"cancer@{version}", to="staging", reason="best AUC of alice's sweep")
    print(json.dumps({"runs": len(runs), "points": len(sweep_points), "version": int(version)}))
"""


def _as_user(user: str, code: str, *args: str, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=900, env={**env, "MLOPS_USER": user},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_pipeline_and_sweep_on_postgres_s3_dask_then_another_user_promotes(
    pg_cluster, s3_server, tmp_path, monkeypatch
):
    folder = copy_examples(tmp_path / "team")
    bucket = s3_server.new_bucket()
    env = {
        **os.environ,
        **s3_server.env(),
        "MLOPS_HOME": str(folder),
        "MLOPS_STORE_URI": pg_cluster.new_database(),
        "MLOPS_ARTIFACT_URI": f"s3://{bucket}/team",
    }
    env.pop("MLOPS_RUN_ID", None)
    cluster = DaskCluster(workers=2, env=s3_server.env())
    try:
        monkeypatch.chdir(folder)
        alice = _as_user("alice", ALICE, cluster.executor, env=env)
        executed = cluster.finished_tasks()
    except AssertionError:
        print(cluster.logs()[-5000:])
        raise
    finally:
        cluster.stop()
    bob = _as_user("bob", BOB, alice["sweep_run"], env=env)
    assert bob["points"] == 2

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    Project.forget()
    project = Project.find()
    with project.db.read() as conn:
        runs = conn.execute(sa.select(schema.runs.c.user, schema.runs.c.status)).all()
        parents = set(conn.execute(sa.select(schema.runs.c.parent_id)).scalars())
        leaves = set(conn.execute(sa.select(schema.runs.c.run_id)).scalars()) - parents
        datasets = conn.execute(sa.select(schema.dataset_versions.c.name)).scalars().all()
        versions = conn.execute(sa.select(schema.model_versions.c.created_by)).scalars().all()
        staging = conn.execute(
            sa.select(schema.model_aliases.c.version).where(
                schema.model_aliases.c.name == "cancer", schema.model_aliases.c.alias == "staging"
            )
        ).scalar()
        promoters = conn.execute(
            sa.select(schema.audit_events.c.actor).where(schema.audit_events.c.action == "promote")
        ).scalars().all()  # fmt: skip
    # Every notebook ran on a Dask worker: the pipeline's steps and grid points, the sweep's.
    assert len(leaves) >= 5 and {f"mlops-{run_id}" for run_id in leaves} <= executed
    assert {user for user, _ in runs} == {"alice"} and {s for _, s in runs} == {"finished"}
    assert bob["runs"] == len(runs)
    assert {"train", "test", "incoming"} <= set(datasets)
    assert len(versions) >= 3 and set(versions) == {"alice"}  # pipeline + 2 sweep points
    assert staging == bob["version"] and "bob" in promoters

    stored = s3_server.objects(bucket, "team/")
    digests = {key.removeprefix("team/").replace("/", "") for key in stored}
    with project.db.read() as conn:
        for column in (schema.artifacts.c.digest, schema.dataset_versions.c.blob_digest,
                       schema.model_versions.c.digest):  # fmt: skip
            referenced = set(conn.execute(sa.select(column)).scalars())
            assert referenced and referenced <= digests, column
    assert not (folder / ".mlops" / "blobs").exists()
    doctor = subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", "doctor", "--json"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
