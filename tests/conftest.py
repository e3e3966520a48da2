"""Shared fixtures: isolated projects on SQLite and (when a server exists) PostgreSQL.

``MLOPS_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) turns a missing PostgreSQL into a failure
instead of a skip.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import postgres

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_cluster():
    if postgres.server_bin() is None:
        if os.environ.get("MLOPS_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL server binaries missing but MLOPS_REQUIRE_POSTGRES=1")
        pytest.skip("no PostgreSQL server installed (apt-get install postgresql)")
    cluster = postgres.Cluster()
    yield cluster
    cluster.stop(remove=True)


def _reset_process_state() -> None:
    from mlops_nb.project import Project
    from mlops_nb.tracking import context

    while context._stack:
        context.end_run("finished")
    context._attached = None
    Project.forget()


def _open_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_uri: str | None):
    from mlops_nb.project import Project

    _reset_process_state()
    for name in (
        "MLOPS_STORE_URI",
        "MLOPS_ARTIFACT_URI",
        "MLOPS_RUN_ID",
        "MLOPS_USER",
        "JUPYTERHUB_USER",
    ):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.setenv("MLOPS_HOME", str(root))
    if store_uri:
        monkeypatch.setenv("MLOPS_STORE_URI", store_uri)
    monkeypatch.chdir(root)
    return Project.init(root)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A fresh project on the default store (SQLite + local blobs), as the working directory."""
    proj = _open_project(tmp_path, monkeypatch, None)
    yield proj
    _reset_process_state()


@pytest.fixture(params=BACKENDS)
def any_project(request, tmp_path, monkeypatch):
    """The same as ``project``, once on SQLite and once on a real PostgreSQL server."""
    uri = None
    if request.param == "postgresql":
        uri = request.getfixturevalue("pg_cluster").new_database()
    proj = _open_project(tmp_path, monkeypatch, uri)
    yield proj
    _reset_process_state()
