"""The store: schema migrations, refusing bad databases, blobs, project discovery."""

from __future__ import annotations

import os
import sqlite3

import pytest
import sqlalchemy as sa

from mlops_nb.errors import IntegrityError, StoreError, UsageError
from mlops_nb.project import Project
from mlops_nb.store import schema
from mlops_nb.store.blobs import BlobStore, digest_bytes
from mlops_nb.store.metadata import SCHEMA_HEAD, MetadataStore


def test_migrations_build_exactly_the_declared_schema(any_project):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with any_project.db.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def test_old_database_upgrades_itself_and_keeps_data(tmp_path):
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    old = sa.create_engine(uri)  # a database as release 0001 left it
    from alembic import command
    from alembic.config import Config

    from mlops_nb.store.metadata import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with old.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(sa.insert(schema.experiments).values(name="legacy", created_at=1.0))
    old.dispose()
    upgraded = MetadataStore(uri)
    assert upgraded.current_revision() == SCHEMA_HEAD
    with upgraded.read() as conn:
        assert conn.execute(sa.select(schema.experiments.c.name)).scalars().all() == ["legacy"]
        assert sa.inspect(conn).has_table("step_cache")
        assert "deleted_at" in {c["name"] for c in sa.inspect(conn).get_columns("runs")}


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "new.db"
    MetadataStore(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"newer than this mlops_nb.*pip install -U"):
        MetadataStore(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_corrupt_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a readable database"):
        MetadataStore(f"sqlite:///{path}")
    assert path.read_bytes() == b"this is not a database" * 100


def test_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StoreError, match="not mlops_nb's"):
        MetadataStore(f"sqlite:///{path}")


def test_sqlite_runs_in_wal_mode_with_busy_timeout(project):
    with project.db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000


def test_blobs_are_content_addressed_and_verified(tmp_path):
    blobs = BlobStore(str(tmp_path / "blobs"))
    digest = blobs.put_bytes(b"hello")
    assert digest == digest_bytes(b"hello")
    assert blobs.put_bytes(b"hello") == digest
    assert blobs.get_bytes(digest) == b"hello"
    source = tmp_path / "f.bin"
    source.write_bytes(os.urandom(10_000))
    file_digest, size = blobs.put_file(source)
    assert size == 10_000 and blobs.verify(file_digest)
    assert not list((tmp_path / "blobs" / "tmp").iterdir())  # no staging files left
    blobs.local_path(digest).write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="does not match its digest"):
        blobs.get_bytes(digest)
    with pytest.raises(IntegrityError):
        blobs.fetch(digest, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    assert blobs.fetch(file_digest, tmp_path / "copy.bin").read_bytes() == source.read_bytes()


def test_project_found_upward_from_a_subfolder(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    monkeypatch.delenv("MLOPS_STORE_URI", raising=False)
    Project.forget()
    (tmp_path / ".mlops").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert Project.find().root == tmp_path.resolve()
    Project.forget()


def test_project_created_in_working_directory_when_none_found(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    monkeypatch.delenv("MLOPS_STORE_URI", raising=False)
    Project.forget()
    monkeypatch.chdir(tmp_path)
    import mlops_nb as mlops

    with mlops.start_run():
        pass
    assert (tmp_path / ".mlops" / "mlops.db").exists()
    Project.forget()


def test_config_and_environment_choose_the_store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_STORE_URI", raising=False)
    monkeypatch.delenv("MLOPS_ARTIFACT_URI", raising=False)
    (tmp_path / "mlops.yaml").write_text("store:\n  uri: sqlite:///meta.db\n  artifacts: art\n")
    project = Project(tmp_path)
    assert project.artifact_uri == str(tmp_path / "art")
    assert project.db.uri == f"sqlite:///{tmp_path / 'meta.db'}"
    monkeypatch.setenv("MLOPS_ARTIFACT_URI", "s3://bucket/prefix")
    assert project.artifact_uri == "s3://bucket/prefix"
    project.close()


def test_bad_yaml_names_file_and_line(tmp_path):
    (tmp_path / "mlops.yaml").write_text("store:\n  uri: [unclosed\n")
    with pytest.raises(UsageError, match=r"mlops.yaml line \d+: invalid YAML"):
        Project(tmp_path)


def test_yaml_python_tags_are_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "mlops.yaml").write_text(f"x: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(UsageError, match="invalid YAML"):
        Project(tmp_path)
    assert not marker.exists()


def test_init_creates_state_and_config(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    monkeypatch.delenv("MLOPS_STORE_URI", raising=False)
    project = Project.init(tmp_path / "new")
    assert (project.root / ".mlops").is_dir()
    assert (project.root / "mlops.yaml").read_text().startswith("# mlops_nb")
    Project.forget()
