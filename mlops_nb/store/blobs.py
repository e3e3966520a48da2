"""Content-addressed blob store: ``<root>/<d[:2]>/<d[2:]>`` keyed by the SHA-256 of the bytes.

Writes go to a temporary name and are renamed into place, so a crash never leaves a partial
blob under a real name. SHA-256 is used because OpenSSL's implementation runs on the CPU's SHA
extensions (about 1 GiB/s here, see ``benchmarks/README.md``). Local folders are handled with
plain ``os`` calls (fast path); any other fsspec URL (``s3://bucket/prefix``) goes through fsspec.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from ..errors import IntegrityError, NotFoundError, StoreError

CHUNK = 4 * 1024 * 1024


def new_hasher():  # type: ignore[no-untyped-def]
    """The hash object used for every digest in the store."""
    return hashlib.sha256()


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_file(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _is_digest(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


class BlobStore:
    """Put and get immutable blobs by digest."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.is_local = "://" not in url or url.startswith("file://")
        if self.is_local:
            self.root = Path(url.removeprefix("file://"))
            self.fs = None
        else:
            import fsspec

            try:
                self.fs, self.root_path = fsspec.core.url_to_fs(self.url)
            except (ImportError, ValueError) as exc:
                raise StoreError(
                    f"cannot use artifact store {url!r}: {exc}; install the filesystem's "
                    "package (e.g. `pip install s3fs` for s3://) or fix MLOPS_ARTIFACT_URI"
                ) from None

    # --- naming -------------------------------------------------------------------------

    def _key(self, digest: str) -> str:
        if not _is_digest(digest):
            raise NotFoundError(f"{digest!r} is not a blob digest (64 hex characters)")
        return f"{digest[:2]}/{digest[2:]}"

    def local_path(self, digest: str) -> Path:
        """Where a blob lives on a local store (raises on a remote store)."""
        if not self.is_local:
            raise StoreError(f"artifact store {self.url} is not a local folder")
        return self.root / self._key(digest)

    def exists(self, digest: str) -> bool:
        if self.is_local:
            return self.local_path(digest).exists()
        return self.fs.exists(f"{self.root_path}/{self._key(digest)}")

    # --- writing ------------------------------------------------------------------------

    @contextmanager
    def _staging_file(self) -> Iterator[tuple[IO[bytes], Path]]:
        tmp_dir = self.root / "tmp" if self.is_local else Path(tempfile.gettempdir())
        tmp_dir.mkdir(parents=True, exist_ok=True)
        path = tmp_dir / f"{uuid.uuid4().hex}.part"
        try:
            with open(path, "wb") as handle:
                yield handle, path
        finally:
            path.unlink(missing_ok=True)

    def _commit(self, staged: Path, digest: str) -> None:
        """Move a fully written, fsynced staging file under its digest."""
        if self.is_local:
            final = self.local_path(digest)
            if final.exists():
                return
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
        else:
            key = f"{self.root_path}/{self._key(digest)}"
            if not self.fs.exists(key):
                self.fs.put_file(str(staged), key)  # an object PUT is atomic

    def put_bytes(self, data: bytes) -> str:
        digest = digest_bytes(data)
        if self.exists(digest):
            return digest
        with self._staging_file() as (handle, path):
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            self._commit(path, digest)
        return digest

    def put_stream(self, source: BinaryIO) -> tuple[str, int]:
        """Store a stream, hashing while copying (the bytes are read once)."""
        hasher = new_hasher()
        size = 0
        with self._staging_file() as (handle, path):
            while chunk := source.read(CHUNK):
                hasher.update(chunk)
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            digest = hasher.hexdigest()
            self._commit(path, digest)
        return digest, size

    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        with open(path, "rb") as source:
            return self.put_stream(source)

    # --- reading ------------------------------------------------------------------------

    def _missing(self, digest: str) -> NotFoundError:
        return NotFoundError(
            f"blob {digest[:12]} is missing from {self.url}; the store was moved or pruned "
            "(run `mlops doctor`)"
        )

    def open(self, digest: str) -> BinaryIO:
        """A binary stream of the blob (not verified; use ``get_bytes``/``fetch`` for that)."""
        try:
            if self.is_local:
                return open(self.local_path(digest), "rb")
            return self.fs.open(f"{self.root_path}/{self._key(digest)}", "rb")
        except FileNotFoundError:
            raise self._missing(digest) from None

    def get_bytes(self, digest: str, verify: bool = True) -> bytes:
        with self.open(digest) as handle:
            data = handle.read()
        if verify and digest_bytes(data) != digest:
            raise self._corrupt(digest)
        return data

    def fetch(self, digest: str, dest: str | os.PathLike[str], verify: bool = True) -> Path:
        """Copy a blob to ``dest``, verifying its digest while copying."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        hasher = new_hasher()
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            with self.open(digest) as source, open(tmp, "wb") as target:
                while chunk := source.read(CHUNK):
                    hasher.update(chunk)
                    target.write(chunk)
            if verify and hasher.hexdigest() != digest:
                raise self._corrupt(digest)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def verify(self, digest: str) -> bool:
        with self.open(digest) as handle:
            hasher = new_hasher()
            while chunk := handle.read(CHUNK):
                hasher.update(chunk)
        return hasher.hexdigest() == digest

    def _corrupt(self, digest: str) -> IntegrityError:
        return IntegrityError(
            f"blob {digest[:12]} in {self.url} does not match its digest (corrupted or "
            "tampered with); restore it from a backup or re-create that version"
        )

    def delete(self, digest: str) -> None:
        if self.is_local:
            self.local_path(digest).unlink(missing_ok=True)
        else:
            self.fs.rm(f"{self.root_path}/{self._key(digest)}")

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest (for garbage collection and health checks)."""
        if self.is_local:
            if not self.root.exists():
                return
            for prefix in os.scandir(self.root):
                if prefix.is_dir() and len(prefix.name) == 2:
                    for entry in os.scandir(prefix.path):
                        if _is_digest(prefix.name + entry.name):
                            yield prefix.name + entry.name
        else:
            for path in self.fs.find(self.root_path):
                parts = path.rsplit("/", 2)
                if len(parts) == 3 and _is_digest(parts[1] + parts[2]):
                    yield parts[1] + parts[2]
