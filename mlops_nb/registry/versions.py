"""Model versions: the ``ModelVersion`` record, reading and inserting ``model_versions`` rows."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import IntegrityError, NotFoundError
from ..store import schema
from . import aliases, audit
from . import manifest as manifests
from .flavors import unpack

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project

LIST_COLUMNS = [
    "name",
    "version",
    "aliases",
    "flavor",
    "digest",
    "run_id",
    "created_by",
    "created_at",
]


def _json(text: str | None, default: Any) -> Any:
    return json.loads(text) if text else default


def _metrics(text: str | None) -> dict[str, float]:
    """Metrics as floats (non-finite values are stored as strings in JSON)."""
    return {k: float(v) if v is not None else math.nan for k, v in _json(text, {}).items()}


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model, with its lineage. ``load()`` returns the model."""

    name: str
    version: int
    digest: str
    flavor: str
    run_id: str | None
    datasets: list[dict[str, Any]]
    metrics: dict[str, float]
    signature: dict[str, Any] | None
    requirements: dict[str, str]
    aliases: list[str]
    created_by: str
    created_at: datetime
    description: str | None
    project: Project = field(repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def load(self, trusted: bool = False) -> Any:
        """The model; for file/folder versions, the path of a verified local copy.

        Every byte is checked against the recorded digest first (IntegrityError on a
        mismatch, recorded in the audit trail). A pickle loads only with ``trusted=True``,
        which is recorded in the audit trail too.
        """
        subject = audit.model_subject(self.name, self.version)
        try:
            manifest = manifests.read(self.project.blobs, self.flavor, self.digest)
            if manifest.flavor == "pickle" and trusted:
                audit.record(
                    self.project,
                    "unsafe_load",
                    subject,
                    {"ref": self.ref, "digest": self.digest, "flavor": "pickle"},
                )
            return unpack(self.project, self.ref, self.digest, manifest, trusted)
        except IntegrityError as exc:
            audit.record(
                self.project,
                "integrity_failure",
                subject,
                {"ref": self.ref, "digest": self.digest, "error": str(exc)},
            )
            raise

    def card(self, format: str = "text") -> str:
        """The model card as ``text``, ``markdown``, ``html`` or ``json``."""
        from .card import render

        return render(self, format)

    def _repr_html_(self) -> str:
        return self.card("html")


def _from_row(project: Project, row: Any, version_aliases: list[str]) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        digest=row.digest,
        flavor=row.flavor,
        run_id=row.run_id,
        datasets=_json(row.datasets, []),
        metrics=_metrics(row.metrics),
        signature=_json(row.signature, None),
        requirements=_json(row.requirements, {}),
        aliases=version_aliases,
        created_by=row.created_by,
        created_at=datetime.fromtimestamp(row.created_at, timezone.utc),
        description=row.description,
        project=project,
    )


def _missing_model(name: str) -> NotFoundError:
    return NotFoundError(
        f"no model named {name!r}; list models with `mlops models ls` or register one with "
        "mlops.register_model(model, name)"
    )


def _not_found(conn: sa.Connection, name: str, selector: int | str | None) -> NotFoundError:
    """Why ``selector`` of ``name`` matched nothing, naming what exists."""
    table = schema.model_versions
    newest = conn.execute(
        sa.select(sa.func.max(table.c.version)).where(table.c.name == name)
    ).scalar()
    if newest is None:
        return _missing_model(name)
    if isinstance(selector, int):
        return NotFoundError(f"model {name} has no version {selector} (latest is {newest})")
    held = sorted({a for names in aliases.of_model(conn, name).values() for a in names})
    known = f"its aliases are {', '.join(held)}" if held else "it has no aliases yet"
    return NotFoundError(f"no version of {name} holds alias {selector!r}; {known}")


_versions, _held = schema.model_versions, schema.model_aliases
_of_name = sa.select(_versions).where(_versions.c.name == sa.bindparam("b_name"))
# Built once: the hot path only binds values.
_LATEST = _of_name.order_by(_versions.c.version.desc()).limit(1)
_NUMBERED = _of_name.where(_versions.c.version == sa.bindparam("b_selector"))
_ALIASED = _of_name.join(
    _held, sa.and_(_held.c.name == _versions.c.name, _held.c.version == _versions.c.version)
).where(_held.c.alias == sa.bindparam("b_selector"))
_NEWEST = (
    sa.select(_versions.c.version, _versions.c.digest, _versions.c.run_id)
    .where(_versions.c.name == sa.bindparam("b_name"))
    .order_by(_versions.c.version.desc())
    .limit(1)
)
_INSERT = sa.insert(_versions)


def _row(conn: sa.Connection, name: str, selector: int | str | None) -> Any:
    """The row a selector (number, alias or None = latest) points at, in one query."""
    if selector is None:
        row = conn.execute(_LATEST, {"b_name": name}).first()
    else:
        query = _NUMBERED if isinstance(selector, int) else _ALIASED
        row = conn.execute(query, {"b_name": name, "b_selector": selector}).first()
    if row is None:
        raise _not_found(conn, name, selector)
    return row


def get(
    project: Project, conn: sa.Connection, name: str, selector: int | str | None
) -> ModelVersion:
    """The version ``selector`` of ``name`` points at (NotFoundError saying what exists)."""
    row = _row(conn, name, selector)
    return _from_row(project, row, aliases.of_version(conn, name, row.version))


def newest(conn: sa.Connection, name: str) -> Any:
    """``(version, digest, run_id)`` of the latest version of ``name``, or None."""
    return conn.execute(_NEWEST, {"b_name": name}).first()


def insert(project: Project, conn: sa.Connection, version: int, **values: Any) -> ModelVersion:
    """Insert ``version`` of ``values["name"]`` (JSON fields given as Python values)."""
    for key in ("metrics", "signature", "requirements", "datasets"):
        if values.get(key) is not None:
            values[key] = audit.canonical_json(values[key])
    conn.execute(_INSERT, {"version": version, **values})
    return _from_row(project, SimpleNamespace(version=version, **values), [])


def frame(project: Project, name: str | None = None) -> pd.DataFrame:
    """One row per version: ``name, version, aliases, flavor, digest, run_id, created_by,
    created_at`` and a ``metrics.X`` column per metric."""
    import pandas as pd

    table = schema.model_versions
    query = sa.select(table).order_by(table.c.name, table.c.version)
    if name is not None:
        query = query.where(table.c.name == name)
    with project.db.read() as conn:
        rows = conn.execute(query).all()
        if name is not None and not rows:
            raise _missing_model(name)
        held = aliases.of_model(conn, name)
    records = []
    for row in rows:
        record = {c: getattr(row, c) for c in LIST_COLUMNS if c != "aliases"}
        record["aliases"] = held.get((row.name, row.version), [])
        record.update({f"metrics.{k}": v for k, v in _metrics(row.metrics).items()})
        records.append(record)
    result = pd.DataFrame(records, columns=LIST_COLUMNS) if not records else pd.DataFrame(records)
    metric_columns = sorted(c for c in result.columns if c.startswith("metrics."))
    result = result[LIST_COLUMNS + metric_columns]
    result["created_at"] = pd.to_datetime(result["created_at"], unit="s", utc=True)
    return result
