"""``DatasetVersion`` and the ``dataset_versions`` table: insert (with dedup), read, list."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import StoreError
from ..identity import current_user
from ..store import schema

if TYPE_CHECKING:
    from ..project import Project

KINDS = ("dataframe", "file", "folder")
INSERT_ATTEMPTS = 5


@dataclass(frozen=True, eq=False)
class DatasetVersion:
    """One immutable version of a named dataset. ``load()`` returns its data."""

    id: int
    name: str
    version: int
    digest: str
    kind: str
    rows: int | None
    columns: int | None
    schema: dict[str, Any] | None
    profile: dict[str, Any] | None
    size: int | None
    created_at: float
    created_by: str
    run_id: str | None
    description: str | None
    blob_digest: str
    row_hashes_digest: str | None
    project: Project = field(repr=False)

    @property
    def ref(self) -> str:
        """``"name@version"``, accepted by ``load_dataset`` and the CLI."""
        return f"{self.name}@{self.version}"

    def load(self) -> Any:
        """The data: a DataFrame, or a local path for file and folder versions."""
        from .load import load_version

        return load_version(self.project, self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatasetVersion) and (self.id, self.digest) == (
            other.id,
            other.digest,
        )

    def __hash__(self) -> int:
        return hash((self.id, self.digest))

    def __repr__(self) -> str:
        shape = f"rows={self.rows}, columns={self.columns}, " if self.rows is not None else ""
        return (
            f"DatasetVersion({self.ref!r}, kind={self.kind!r}, {shape}digest={self.digest[:12]!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (the CLI's ``--json``)."""
        return {
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "kind": self.kind,
            "rows": self.rows,
            "columns": self.columns,
            "size": self.size,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "run_id": self.run_id,
            "description": self.description,
            "schema": self.schema,
            "profile": self.profile,
        }

    def _repr_html_(self) -> str:
        from .display import version_html

        return version_html(self)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def from_row(project: Project, row: Any) -> DatasetVersion:
    values = dict(row._mapping)
    values["schema"], values["profile"] = _loads(values["schema"]), _loads(values["profile"])
    return DatasetVersion(project=project, **values)


def _select() -> sa.Select:
    return sa.select(schema.dataset_versions)


def fetch_one(project: Project, query: sa.Select) -> DatasetVersion | None:
    with project.db.read() as conn:
        row = conn.execute(query).first()
    return None if row is None else from_row(project, row)


def get(project: Project, name: str, version: int) -> DatasetVersion | None:
    table = schema.dataset_versions
    return fetch_one(project, _select().where(table.c.name == name, table.c.version == version))


def latest(project: Project, name: str) -> DatasetVersion | None:
    table = schema.dataset_versions
    return fetch_one(
        project, _select().where(table.c.name == name).order_by(table.c.version.desc()).limit(1)
    )


def by_id(project: Project, version_id: int) -> DatasetVersion | None:
    return fetch_one(project, _select().where(schema.dataset_versions.c.id == version_id))


def previous(project: Project, name: str, before: int | None) -> DatasetVersion | None:
    """The newest version of ``name`` older than ``before`` (None: the newest of all)."""
    table = schema.dataset_versions
    query = _select().where(table.c.name == name)
    if before is not None:
        query = query.where(table.c.version < before)
    return fetch_one(project, query.order_by(table.c.version.desc()).limit(1))


def with_digest(project: Project, digest: str, name: str | None = None) -> DatasetVersion | None:
    """The newest version (of ``name``, or of any name) whose content digest is ``digest``."""
    table = schema.dataset_versions
    query = _select().where(table.c.digest == digest)
    if name is not None:
        query = query.where(table.c.name == name)
    return fetch_one(project, query.order_by(table.c.created_at.desc()).limit(1))


def list_versions(
    project: Project, name: str | None = None, since: int | None = None
) -> list[DatasetVersion]:
    table = schema.dataset_versions
    query = _select().order_by(table.c.name, table.c.version)
    if name is not None:
        query = query.where(table.c.name == name)
    if since is not None:
        query = query.where(table.c.version >= since)
    with project.db.read() as conn:
        return [from_row(project, row) for row in conn.execute(query)]


def same_shape(project: Project, name: str, rows: int, schema_json: str) -> bool:
    """Whether some version of ``name`` has this row count and schema (a possible duplicate)."""
    table = schema.dataset_versions
    with project.db.read() as conn:
        found = conn.execute(
            sa.select(table.c.id)
            .where(table.c.name == name, table.c.rows == rows, table.c.schema == schema_json)
            .limit(1)
        ).first()
    return found is not None


def insert(project: Project, values: dict[str, Any]) -> tuple[DatasetVersion, bool]:
    """Add a version of ``values["name"]`` unless one has the same digest.

    Returns ``(version, created)``. The version number is the next one for the name, taken in
    the write transaction; a concurrent writer that took it first makes us retry.
    """
    table = schema.dataset_versions
    name, digest = values["name"], values["digest"]
    for _attempt in range(INSERT_ATTEMPTS):
        try:
            with project.db.write() as conn:
                existing = conn.execute(
                    _select()
                    .where(table.c.name == name, table.c.digest == digest)
                    .order_by(table.c.version)
                    .limit(1)
                ).first()
                if existing is not None:
                    return from_row(project, existing), False
                top = conn.execute(
                    sa.select(sa.func.max(table.c.version)).where(table.c.name == name)
                ).scalar()
                row = {
                    **values,
                    "version": (top or 0) + 1,
                    "created_at": time.time(),
                    "created_by": current_user(),
                }
                for key in ("schema", "profile"):
                    if row.get(key) is not None and not isinstance(row[key], str):
                        row[key] = json.dumps(row[key], ensure_ascii=False)
                new_id = conn.execute(sa.insert(table).values(**row)).inserted_primary_key[0]
                created = conn.execute(_select().where(table.c.id == new_id)).first()
                return from_row(project, created), True
        except sa.exc.IntegrityError:
            continue
    raise StoreError(
        f"could not record a new version of {name!r}: too many concurrent writers; retry"
    )


def repair(
    project: Project,
    version: DatasetVersion,
    blob_digest: str,
    row_hashes_digest: str | None,
    size: int,
) -> DatasetVersion:
    """Point a version whose blobs were lost at the same content stored again."""
    table = schema.dataset_versions
    with project.db.write() as conn:
        conn.execute(
            sa.update(table)
            .where(table.c.id == version.id)
            .values(blob_digest=blob_digest, row_hashes_digest=row_hashes_digest, size=size)
        )
    return by_id(project, version.id)  # type: ignore[return-value]
