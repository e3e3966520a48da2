"""Garbage collection of blobs: delete what no row references, never what is young.

Mark: every digest the metadata names (each column called ``digest`` or ``*_digest`` in any
table, and any 64-hex token in a JSON text column), then, transitively, every digest listed
inside a referenced manifest (a model's file list, a dataset's chunk list: small JSON blobs).
Marking is deliberately generous: keeping a blob too many is harmless, deleting one too many
is not.

Sweep: unmarked blobs older than the grace period, and staging files (``*.part``) that a
killed writer left behind. The grace period protects a concurrent writer that has stored a
blob but not yet committed the row naming it (storing an existing blob refreshes its age, see
``blobs.REFRESH_AGE``). Each blob's age is checked again just before it is deleted.
"""

from __future__ import annotations

import json
import os
import re
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import schema
from .blobs import info_time

if TYPE_CHECKING:
    from ..project import Project
    from .blobs import BlobStore

DEFAULT_GRACE = 24 * 3600.0
MANIFEST_MAX = 64 * 1024 * 1024
_HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")

# Columns whose digest must exist as a blob (``mlops doctor`` reports missing ones), with how
# to name the row in messages. Other digest columns only keep blobs alive.
BLOB_COLUMNS: dict[tuple[str, str], str] = {
    ("artifacts", "digest"): "artifact {path!r} of run {run_id:.8}",
    ("dataset_versions", "blob_digest"): "dataset {name}@{version}",
    ("dataset_versions", "row_hashes_digest"): "row hashes of dataset {name}@{version}",
    ("model_versions", "digest"): "model {name}@{version}",
}
# Blobs of these columns are user files: never read as manifests.
LEAF_COLUMNS = {("artifacts", "digest")}


@dataclass
class References:
    """What the metadata references: ``required`` must exist (digest -> who needs it);
    ``kept`` is everything gc must spare (a superset of ``required``)."""

    required: dict[str, str] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    unreadable: dict[str, str] = field(default_factory=dict)  # manifest digest -> why


def _digest_columns(table: sa.Table) -> list[sa.Column]:
    return [c for c in table.columns if c.name == "digest" or c.name.endswith("_digest")]


def _text_columns(table: sa.Table) -> list[sa.Column]:
    return [c for c in table.columns if isinstance(c.type, sa.Text)]


def _rows(conn: sa.Connection, query: sa.Select) -> Iterator[sa.Row]:
    yield from conn.execution_options(yield_per=2000).execute(query)


def _scan_tables(conn: sa.Connection, refs: References, roots: list[tuple[str, str]]) -> None:
    for table in schema.metadata.sorted_tables:
        for column in _digest_columns(table):
            template = BLOB_COLUMNS.get((table.name, column.name))
            fields = [column.name]
            if template is not None:
                fields += [f for _, f, _, _ in string.Formatter().parse(template) if f]
            query = sa.select(*(table.c[f] for f in dict.fromkeys(fields)))
            for row in _rows(conn, query.where(column.is_not(None)).distinct()):
                digest = row._mapping[column.name]
                refs.kept.add(digest)
                if template is not None and digest not in refs.required:
                    refs.required[digest] = template.format(**row._mapping)
                    if (table.name, column.name) not in LEAF_COLUMNS:
                        roots.append((digest, refs.required[digest]))
        for column in _text_columns(table):
            for (text,) in _rows(conn, sa.select(column).where(column.is_not(None))):
                refs.kept.update(_HEX64.findall(text))


def _listed(blobs: BlobStore, digest: str) -> list[str] | None:
    """Digests listed in the blob when it is a JSON manifest, else None."""
    try:
        with blobs.open(digest) as handle:
            head = handle.read(1)
            if head != b"{":
                return None
            data = head + handle.read(MANIFEST_MAX)
    except FileNotFoundError:
        return None
    try:
        body = json.loads(data)
    except ValueError:
        return None
    return _HEX64.findall(json.dumps(body))


def references(project: Project) -> References:
    """Every digest the store references (see the module docstring)."""
    from ..errors import NotFoundError

    refs = References()
    roots: list[tuple[str, str]] = []
    with project.db.read() as conn:
        _scan_tables(conn, refs, roots)
    seen: set[str] = set()
    while roots:
        digest, owner = roots.pop()
        if digest in seen:
            continue
        seen.add(digest)
        try:
            listed = _listed(project.blobs, digest)
        except NotFoundError:
            continue  # a missing manifest: doctor reports it
        for child in listed or ():
            refs.kept.add(child)
            if child not in refs.required:
                refs.required[child] = f"part of {owner}"
                roots.append((child, refs.required[child]))
    return refs


# --- what is stored ------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    digest: str
    size: int
    modified: float


def stored_blobs(blobs: BlobStore) -> Iterator[Stored]:
    """Every blob with its size and last modification time."""
    if blobs.is_local:
        for digest in blobs.iter_digests():
            try:
                stat = blobs.local_path(digest).stat()
            except FileNotFoundError:
                continue
            yield Stored(digest, stat.st_size, stat.st_mtime)
        return
    for path, info in blobs.fs.find(blobs.root_path, detail=True).items():
        parts = path.rsplit("/", 2)
        digest = "".join(parts[-2:])
        if len(parts) == 3 and _HEX64.fullmatch(digest):
            yield Stored(digest, int(info.get("size") or 0), info_time(info) or 0.0)


def staging_files(blobs: BlobStore) -> list[tuple[Path, int, float]]:
    """Temp files of blob writes (``*.part``): (path, size, mtime)."""
    try:
        entries = list(os.scandir(blobs.staging_dir))
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        if entry.name.endswith(".part") and entry.is_file():
            stat = entry.stat()
            found.append((Path(entry.path), stat.st_size, stat.st_mtime))
    return found


# --- collecting ----------------------------------------------------------------------------


@dataclass
class GcReport:
    stored: int = 0
    referenced: int = 0
    unreferenced: list[Stored] = field(default_factory=list)  # old enough to delete
    young: int = 0  # unreferenced but within the grace period: kept
    staging: list[tuple[Path, int, float]] = field(default_factory=list)
    deleted: int = 0
    freed: int = 0
    dry_run: bool = True

    @property
    def reclaimable(self) -> int:
        return sum(b.size for b in self.unreferenced) + sum(s[1] for s in self.staging)

    def to_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "stored_blobs": self.stored,
            "referenced_blobs": self.referenced,
            "unreferenced_blobs": [b.digest for b in self.unreferenced],
            "young_unreferenced_blobs": self.young,
            "stale_staging_files": [str(s[0]) for s in self.staging],
            "reclaimable_bytes": self.reclaimable,
            "deleted": self.deleted,
            "freed_bytes": self.freed,
        }


def collect(project: Project, delete: bool = False, grace: float = DEFAULT_GRACE) -> GcReport:
    """Find (and with ``delete``, remove) unreferenced blobs older than ``grace`` seconds."""
    blobs = project.blobs
    refs = references(project)
    cutoff = time.time() - grace
    report = GcReport(dry_run=not delete)
    for blob in stored_blobs(blobs):
        report.stored += 1
        if blob.digest in refs.kept:
            report.referenced += 1
        elif blob.modified > cutoff:
            report.young += 1
        else:
            report.unreferenced.append(blob)
    report.staging = [s for s in staging_files(blobs) if s[2] <= cutoff]
    if not delete:
        return report
    for blob in report.unreferenced:
        modified = blobs.modified(blob.digest)
        if modified is None or modified > cutoff:  # gone, or stored again meanwhile
            continue
        blobs.delete(blob.digest)
        report.deleted += 1
        report.freed += blob.size
    for path, size, _ in report.staging:
        path.unlink(missing_ok=True)
        report.freed += size
    return report
