"""A model version's manifest: its flavor and every file with size and SHA-256.

The manifest is stored as a blob and its digest is the version's ``digest``, so one hash
pins the flavor and every byte of the model. Reading verifies the manifest (and that its
flavor is the registry row's), then each file, before anything is deserialized or handed to
the caller.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import IntegrityError
from ..names import check_relative_path
from ..store.blobs import digest_bytes, digest_file

if TYPE_CHECKING:
    from ..project import Project
    from ..store.blobs import BlobStore

FORMAT = 1


@dataclass(frozen=True)
class FileEntry:
    path: str
    digest: str
    size: int


@dataclass(frozen=True)
class Manifest:
    flavor: str
    files: tuple[FileEntry, ...]

    def to_bytes(self) -> bytes:
        files = [{"path": f.path, "digest": f.digest, "size": f.size} for f in self.files]
        body = {"format": FORMAT, "flavor": self.flavor, "files": files}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="mlops-blobs")


def _put(blobs: BlobStore, content: bytes | Path) -> tuple[str, int]:
    if isinstance(content, bytes):
        return blobs.put_bytes(content), len(content)
    return blobs.put_file(content)


def _manifest(flavor: str, entries: list[FileEntry]) -> bytes:
    return Manifest(flavor, tuple(sorted(entries, key=lambda e: e.path))).to_bytes()


class Storing:
    """The version's blobs being written in the background, all at once: their fsyncs share
    the filesystem's journal commits while the caller reads lineage and writes its rows.
    ``digest`` is the version digest (known at once when every file is bytes); ``wait()``
    returns it once every blob is durable, and must come before the commit of anything that
    references the blobs.
    """

    def __init__(self, blobs: BlobStore, flavor: str, files: list[tuple[str, bytes | Path]]):
        self.blobs, self.flavor = blobs, flavor
        self.files = [(path, _pool().submit(_put, blobs, content)) for path, content in files]
        self.manifest: Future[str] | None = None
        self.digest: str | None = None
        if all(isinstance(content, bytes) for _, content in files):  # digests known now
            known = [FileEntry(p, digest_bytes(c), len(c)) for p, c in files]  # type: ignore[arg-type]
            body = _manifest(flavor, known)
            self.digest = digest_bytes(body)
            self.manifest = _pool().submit(blobs.put_bytes, body)

    def wait(self) -> str:
        entries = [FileEntry(path, *future.result()) for path, future in self.files]
        if self.digest is None:  # files on disk: the manifest can only be written now
            self.digest = self.blobs.put_bytes(_manifest(self.flavor, entries))
        elif self.manifest is not None:
            self.manifest.result()
        return self.digest


def read(blobs: BlobStore, flavor: str, digest: str) -> Manifest:
    """The verified manifest of a ``flavor`` version (IntegrityError when tampered with)."""
    data = blobs.get_bytes(digest, verify=True)
    try:
        body = json.loads(data)
        files = tuple(
            FileEntry(check_relative_path(f["path"], "model file"), f["digest"], int(f["size"]))
            for f in body["files"]
        )
        found = str(body["flavor"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"model manifest {digest[:12]} is malformed ({exc})") from None
    if found != flavor:
        raise IntegrityError(
            f"model manifest {digest[:12]} is for a {found!r} model, not {flavor!r}: the "
            "registry row or the manifest was changed"
        )
    return Manifest(flavor, files)


def _intact(folder: Path, manifest: Manifest) -> bool:
    for entry in manifest.files:
        path = folder / entry.path
        if not path.is_file() or path.stat().st_size != entry.size:
            return False
        if digest_file(path) != entry.digest:
            return False
    return True


def materialize(project: Project, digest: str, manifest: Manifest) -> Path:
    """A local folder holding the version's files, each verified against the manifest.

    Cached under ``<state_dir>/models/<digest>``; a cached copy is re-verified on every call
    and rebuilt when it was changed.
    """
    cache = project.state_dir / "models"
    final = cache / digest
    if final.is_dir() and _intact(final, manifest):
        return final
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache))
    try:
        for entry in manifest.files:
            project.blobs.fetch(entry.digest, staging / entry.path, verify=True)
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(staging, final)
        except OSError:  # another process put an intact copy there first
            if not (final.is_dir() and _intact(final, manifest)):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
