"""The metadata database: engine setup, transactions and schema migrations.

SQLite follows its own guidance for several writer processes: WAL journal, a busy timeout,
and ``BEGIN IMMEDIATE`` for write transactions (so a writer waits for the lock up front
instead of failing on upgrade). Never put a SQLite store on a network filesystem: its locks
are not reliable there; use PostgreSQL for shared stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from ..errors import StoreError
from . import schema

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest schema revision this code knows; ``migrations/versions`` ends with it.
SCHEMA_HEAD = "0003"
KNOWN_REVISIONS = ("0001", "0002", "0003")
BUSY_TIMEOUT_MS = 60_000
# pg_advisory_xact_lock key serialising schema migrations of a PostgreSQL store.
MIGRATION_LOCK_KEY = 0x6D6C6F70_6D696772  # "mlopmigr"


def _sqlite_engine(uri: str) -> sa.Engine:
    engine = sa.create_engine(uri, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        immediate = conn.get_execution_options().get("mlops_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _describe(uri: str) -> str:
    return sa.engine.make_url(uri).render_as_string(hide_password=True)


def unreachable(uri: str, exc: sa.exc.DBAPIError) -> StoreError:
    """The error for a database server that cannot be reached (down, wrong address)."""
    why = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    return StoreError(
        f"cannot reach store {_describe(uri)} ({why}); check that the database server is "
        "running and that MLOPS_STORE_URI (or store.uri in mlops.yaml) is right"
    )


class MetadataStore:
    """Transactions on the metadata database, migrated to the current schema on open."""

    def __init__(self, uri: str, base_dir: Path | None = None):
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////") and base_dir:
            relative = uri[len("sqlite:///") :]
            if relative and relative != ":memory:" and not Path(relative).is_absolute():
                uri = f"sqlite:///{(base_dir / relative).resolve()}"
        self.uri = uri
        self.is_sqlite = uri.startswith("sqlite")
        try:
            self.engine = (
                _sqlite_engine(uri) if self.is_sqlite else sa.create_engine(uri, pool_pre_ping=True)
            )
        except Exception as exc:  # bad URL, missing driver
            raise StoreError(
                f"cannot use store {uri!r}: {exc}; check MLOPS_STORE_URI or store.uri in mlops.yaml"
            ) from None
        self._writer = self.engine.execution_options(mlops_write=True)
        # Lookups that never change once written (experiment ids, stored environment digests).
        self.memo: dict[tuple[str, str], object] = {}
        self.ensure_schema()

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction."""
        with self._server_errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
        with self._server_errors(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _server_errors(self) -> Iterator[None]:
        """A full disk, or a database server that is down or went away: one clear error."""
        try:
            yield
        except sa.exc.OperationalError as exc:
            if self.is_sqlite:
                if "disk is full" not in str(exc.orig):
                    raise
                raise StoreError(
                    f"store {_describe(self.uri)}: the disk is full; free some space and retry "
                    "(the change was rolled back, nothing stored before is lost)"
                ) from None
            # Lost connections are flagged invalidated; failed connects carry no SQLSTATE
            # (errors the server reports, e.g. a deadlock, do).
            if not exc.connection_invalidated and getattr(exc.orig, "sqlstate", "") is not None:
                raise
            raise unreachable(self.uri, exc) from None

    def current_revision(self) -> str | None:
        with self.read() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def ensure_schema(self) -> None:
        """Create or upgrade the schema; refuse a database newer than this code."""
        try:
            revision = self.current_revision()
        except sa.exc.DatabaseError as exc:
            raise StoreError(
                f"store {_describe(self.uri)} is not a readable database "
                f"({str(exc.orig).splitlines()[0]}); restore it from a backup or point "
                "MLOPS_STORE_URI at another store (nothing was written)"
            ) from None
        if revision == SCHEMA_HEAD:
            return
        if revision is not None and revision not in KNOWN_REVISIONS:
            raise StoreError(
                f"store {_describe(self.uri)} has schema revision {revision}, newer than this "
                f"mlops_nb knows ({SCHEMA_HEAD}); upgrade with `pip install -U mlops_nb`"
            )
        if revision is None and self._has_foreign_tables():
            raise StoreError(
                f"store {_describe(self.uri)} already holds tables that are not mlops_nb's; "
                "point MLOPS_STORE_URI at an empty database"
            )
        self.upgrade()

    def _has_foreign_tables(self) -> bool:
        with self.read() as conn:
            existing = set(sa.inspect(conn).get_table_names())
        # alembic_version: a concurrent first open may have just created the schema.
        return bool(existing) and not existing <= {*schema.metadata.tables, "alembic_version"}

    def upgrade(self, revision: str = "head") -> None:
        """Run Alembic migrations up to ``revision``, one process at a time: the write lock
        on SQLite, an advisory lock on PostgreSQL (whose DDL would otherwise race). A process
        that waited finds the work done (Alembic re-reads the revision under the lock)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    def dispose(self) -> None:
        self.engine.dispose()
