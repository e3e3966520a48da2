"""Content-addressed blob store: ``<root>/<d[:2]>/<d[2:]>`` keyed by the SHA-256 of the bytes.

Writes go to a temporary name and are renamed into place, so a crash never leaves a partial
blob under a real name. SHA-256 is used because OpenSSL's implementation runs on the CPU's SHA
extensions (about 1 GiB/s here, see ``benchmarks/README.md``). Local folders are handled with
plain ``os`` calls (fast path); any other fsspec URL (``s3://bucket/prefix``) goes through fsspec,
with credentials from the filesystem's usual sources (``AWS_*`` variables, ``~/.aws``) and an
S3-compatible endpoint (MinIO, Ceph) from ``MLOPS_S3_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL``).

Storing a blob that already exists refreshes its modification time, so ``mlops gc`` (which
spares blobs younger than its grace period) never deletes a blob a writer is about to reference.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from ..errors import IntegrityError, MlopsError, NotFoundError, StoreError

CHUNK = 4 * 1024 * 1024
ENDPOINT_ENV = "MLOPS_S3_ENDPOINT_URL"
# A remote blob re-stored after this long is uploaded again to refresh its age (see ``gc``).
REFRESH_AGE = 6 * 3600.0


def new_hasher():  # type: ignore[no-untyped-def]
    """The hash object used for every digest in the store."""
    return hashlib.sha256()


def digest_bytes(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_file(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _is_digest(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def info_time(info: dict) -> float | None:
    """The modification time (epoch seconds) in an fsspec ``info`` dict."""
    value = info.get("LastModified") or info.get("mtime") or info.get("created")
    return value.timestamp() if hasattr(value, "timestamp") else value


def _storage_options(url: str) -> dict:
    """fsspec options for ``url``: the S3 endpoint, and no listing cache (other processes
    write and ``mlops gc`` deletes, so a cached listing would lie)."""
    options: dict = {"use_listings_cache": False}
    endpoint = os.environ.get(ENDPOINT_ENV)
    if endpoint and url.startswith(("s3://", "s3a://")):
        options["endpoint_url"] = endpoint
    return options


class BlobStore:
    """Put and get immutable blobs by digest."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.is_local = "://" not in url or url.startswith("file://")
        if self.is_local:
            self.root = Path(url.removeprefix("file://"))
            self.fs = None
            # Where blobs are written before the rename (``mlops gc`` clears what crashes left).
            self.staging_dir = self.root / "tmp"
        else:
            self.staging_dir = Path(tempfile.gettempdir()) / "mlops-staging"
            import fsspec

            try:
                self.fs, self.root_path = fsspec.core.url_to_fs(
                    self.url, **_storage_options(self.url)
                )
            except (ImportError, ValueError, TypeError) as exc:
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

    def _remote_key(self, digest: str) -> str:
        return f"{self.root_path}/{self._key(digest)}"

    def exists(self, digest: str) -> bool:
        if self.is_local:
            return self.local_path(digest).exists()
        with self._backend_errors(writing=False):
            return self.fs.exists(self._remote_key(digest))

    @contextmanager
    def _backend_errors(self, writing: bool) -> Iterator[None]:
        """Backend failures (disk full, network, credentials) as one clear ``StoreError``."""
        try:
            yield
        except MlopsError:
            raise
        except Exception as exc:  # botocore/aiohttp errors share no base class with OSError
            if isinstance(exc, FileNotFoundError) and not writing:
                raise  # the caller reports a missing blob
            raise self._failed(exc, writing) from None

    def _failed(self, exc: BaseException, writing: bool) -> StoreError:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            why = "no space left on the device; free some space and retry"
        else:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            why = (
                f"{type(exc).__name__}: {detail}; check that the store is reachable and writable "
                "(path, credentials, MLOPS_S3_ENDPOINT_URL), then retry"
            )
        if writing:
            return StoreError(f"cannot write a blob to {self.url}: {why} (nothing was stored)")
        return StoreError(f"cannot read a blob from {self.url}: {why}")

    def modified(self, digest: str) -> float | None:
        """When the blob was last stored (epoch seconds), None when it is absent."""
        try:
            if self.is_local:
                return self.local_path(digest).stat().st_mtime
            with self._backend_errors(writing=False):
                return info_time(self.fs.info(self._remote_key(digest)))
        except FileNotFoundError:
            return None

    def _reuse(self, digest: str) -> bool:
        """True when the blob is already stored; refreshes its age so gc spares it."""
        if self.is_local:
            try:
                os.utime(self.local_path(digest))
            except FileNotFoundError:
                return False
            except PermissionError:  # a read-only shared store: it exists, nothing to refresh
                pass
            return True
        stamp = self.modified(digest)
        return stamp is not None and time.time() - stamp < REFRESH_AGE

    # --- writing ------------------------------------------------------------------------

    @contextmanager
    def _staging_file(self) -> Iterator[tuple[IO[bytes], Path]]:
        """A temp file to write a blob into; removed whatever happens. OS errors (disk full,
        permissions, a lost S3 connection) become one clear ``StoreError``."""
        path = self.staging_dir / f"{uuid.uuid4().hex}.part"
        try:
            with self._backend_errors(writing=True):
                self.staging_dir.mkdir(parents=True, exist_ok=True)
                with open(path, "wb") as handle:
                    yield handle, path
        finally:
            path.unlink(missing_ok=True)

    def _commit(self, staged: Path, digest: str) -> None:
        """Move a fully written, fsynced staging file under its digest."""
        if self._reuse(digest):
            return
        if self.is_local:
            final = self.local_path(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
        else:
            key = self._remote_key(digest)
            self.fs.put_file(str(staged), key)  # a PUT (or a completed multipart) is atomic
            if self.fs.info(key)["size"] != staged.stat().st_size:
                self.fs.rm(key)
                raise OSError(errno.EIO, "the stored object has the wrong size")

    def put_bytes(self, data: bytes | bytearray | memoryview) -> str:
        digest = digest_bytes(data)
        if self.is_local and self._reuse(digest):  # remote: checked once, in _commit
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
            with self._backend_errors(writing=False):
                return self.fs.open(self._remote_key(digest), "rb")
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
            self.fs.rm(self._remote_key(digest))

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
