"""The metadata schema (SQLAlchemy Core). Alembic migrations in ``migrations/`` build it.

Times are UNIX epoch seconds (float); structured values are JSON text.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# An auto-increment 64-bit id that is a real ROWID alias on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
RunId = sa.String(32)

# --- tracking ------------------------------------------------------------------------------

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("experiment_id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", RunId, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("experiment_id", BigId, sa.ForeignKey("experiments.experiment_id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False, server_default="run"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("parent_id", RunId, nullable=True),
    sa.Column("user", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("start_time", sa.Float, nullable=False),
    sa.Column("end_time", sa.Float, nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=True),
    sa.Column("notebook_path", sa.Text, nullable=True),
    sa.Column("git_commit", sa.String(64), nullable=True),
    sa.Column("git_dirty", sa.Boolean, nullable=True),
    sa.Column("env_digest", sa.String(64), nullable=True),
    sa.Column("reproducible", sa.Boolean, nullable=True),
    sa.Column("reproducibility_notes", sa.Text, nullable=True),
    sa.Column("cache_key", sa.String(64), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("deleted_at", sa.Float, nullable=True),  # soft-deleted: hidden, restorable
    sa.Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    sa.Index("ix_runs_parent", "parent_id"),
    sa.Index("ix_runs_status", "status"),
    sa.Index("ix_runs_cache_key", "cache_key"),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_id", RunId, sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Every value a param took (notebook cells get re-run with new values).
param_history = sa.Table(
    "param_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", RunId, nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("logged_at", sa.Float, nullable=False),
    sa.Index("ix_param_history_run", "run_id", "key"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", RunId, nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_id", RunId, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Index("ix_latest_metrics_key_value", "key", "value"),
)

# How far each append-only metric log has been ingested (exactly-once ingestion).
metric_log_offsets = sa.Table(
    "metric_log_offsets",
    metadata,
    sa.Column("log_id", sa.String(64), primary_key=True),
    sa.Column("run_id", RunId, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_id", RunId, sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("run_id", RunId, sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("media_type", sa.String(255), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_artifacts_digest", "digest"),
)

environments = sa.Table(
    "environments",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("info", sa.Text, nullable=False),
)

cell_sources = sa.Table(
    "cell_sources",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
)

cells = sa.Table(
    "cells",
    metadata,
    sa.Column("run_id", RunId, sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("execution_count", sa.Integer, nullable=True),
    sa.Column("cell_id", sa.String(64), nullable=True),
    sa.Column("source_digest", sa.String(64), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Column("ok", sa.Boolean, nullable=True),
    sa.Column("error_type", sa.String(255), nullable=True),
)

# --- data ----------------------------------------------------------------------------------

dataset_versions = sa.Table(
    "dataset_versions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("blob_digest", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("rows", sa.BigInteger, nullable=True),
    sa.Column("columns", sa.Integer, nullable=True),
    sa.Column("schema", sa.Text, nullable=True),
    sa.Column("profile", sa.Text, nullable=True),
    sa.Column("row_hashes_digest", sa.String(64), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("run_id", RunId, nullable=True),
    sa.UniqueConstraint("name", "version", name="uq_dataset_versions_name_version"),
    sa.Index("ix_dataset_versions_name_digest", "name", "digest"),
)

# Which runs read (input) or produced (output) which dataset versions.
dataset_lineage = sa.Table(
    "dataset_lineage",
    metadata,
    sa.Column("run_id", RunId, primary_key=True),
    sa.Column("dataset_version_id", BigId, primary_key=True),
    sa.Column("direction", sa.String(8), primary_key=True),
    sa.Index("ix_dataset_lineage_version", "dataset_version_id"),
)

data_check_results = sa.Table(
    "data_check_results",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", RunId, nullable=True),
    sa.Column("dataset_version_id", BigId, nullable=True),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_data_check_results_version", "dataset_version_id"),
)

# --- registry ------------------------------------------------------------------------------

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("flavor", sa.String(32), nullable=False),
    sa.Column("run_id", RunId, nullable=True),
    sa.Column("metrics", sa.Text, nullable=True),
    sa.Column("signature", sa.Text, nullable=True),
    sa.Column("requirements", sa.Text, nullable=True),
    sa.Column("datasets", sa.Text, nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("alias", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("alias", sa.String(255), nullable=False),
    sa.Column("approver", sa.String(255), nullable=False),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("name", "version", "alias", "approver", name="uq_approvals_once"),
)

# Append-only, hash-chained: each row's hash covers its fields and the previous hash.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_events_subject", "subject"),
)

# The database itself refuses UPDATE and DELETE of audit events (the hash chain still catches
# anyone who drops these triggers first). Created by the 0001 migration.
AUDIT_APPEND_ONLY_DDL = {
    "sqlite": [
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
        "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
    ],
}
for _dialect, _statements in AUDIT_APPEND_ONLY_DDL.items():
    for _statement in _statements:
        sa.event.listen(
            audit_events, "after_create", sa.DDL(_statement).execute_if(dialect=_dialect)
        )

# --- pipelines -----------------------------------------------------------------------------

step_cache = sa.Table(
    "step_cache",
    metadata,
    sa.Column("cache_key", sa.String(64), primary_key=True),
    sa.Column("run_id", RunId, nullable=False),
    sa.Column("outputs", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
