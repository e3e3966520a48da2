"""Bytes stored as fixed-size, content-addressed chunks in the blob store.

A dataset's bytes (a file, each file of a folder, a DataFrame's Parquet) are cut into
``CHUNK_SIZE`` pieces, each stored as its own SHA-256 blob, so a change in one place of a big
file stores only the chunks it touched. Chunks are hashed and written by a small thread pool
while the next ones are read (hashlib and file writes release the GIL): the bytes are read
once. A manifest (canonical JSON listing the chunk digests) is stored as a blob too; its
digest is the content digest of the file or folder. Every read verifies each chunk.

Hash choice (``benchmarks/data.py``): BLAKE3 hashes about 2.5x faster than SHA-256 here, but
chunks are blobs and blobs are named by SHA-256, so each byte must be SHA-256 hashed anyway;
a separate whole-file BLAKE3 pass would only add work. The content digest is therefore the
SHA-256 of the manifest (a hash over the chunk digests), and every byte is hashed once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import IntegrityError

if TYPE_CHECKING:
    from ..store.blobs import BlobStore

# Part of the stored format: changing it changes every file's content digest.
CHUNK_SIZE = 8 * 1024 * 1024
FILE_FORMAT = "mlops-chunks/1"
FOLDER_FORMAT = "mlops-folder/1"
WORKERS = 4
IN_FLIGHT = 8


class Aborted(Exception):
    """Raised into a writer whose output is no longer wanted."""


def new_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mlops-chunks")


class ChunkWriter(io.RawIOBase):
    """A writable binary stream that stores what it receives as chunks (see ``finish``).

    Chunk buffers are recycled once their blob is stored, so a large write touches at most
    ``IN_FLIGHT + 1`` buffers' worth of fresh memory."""

    def __init__(
        self, blobs: BlobStore, pool: ThreadPoolExecutor, abort: threading.Event | None = None
    ):
        super().__init__()
        self.blobs = blobs
        self.pool = pool
        self.abort = abort
        self.size = 0
        self._spare: list[bytearray] = []
        self._lock = threading.Lock()
        self._buffer = self._take()  # filled in place, handed over when full
        self._filled = 0
        self._futures: list[Future[str]] = []
        self._slots = threading.BoundedSemaphore(IN_FLIGHT)

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        taken = 0
        while taken < len(view):
            count = min(len(view) - taken, CHUNK_SIZE - self._filled)
            self._buffer[self._filled : self._filled + count] = view[taken : taken + count]
            self._filled += count
            taken += count
            self._submit_if_full()
        self.size += len(view)
        return len(view)

    def fill_from(self, source: BinaryIO) -> None:
        """Store everything ``source`` holds, read straight into the chunk buffers."""
        while True:
            got = source.readinto(memoryview(self._buffer)[self._filled :])
            if not got:
                return
            self._filled += got
            self.size += got
            self._submit_if_full()

    def _take(self) -> bytearray:
        with self._lock:
            return self._spare.pop() if self._spare else bytearray(CHUNK_SIZE)

    def _submit_if_full(self) -> None:
        if self._filled == CHUNK_SIZE:
            self._submit(self._buffer, CHUNK_SIZE)
            self._buffer, self._filled = self._take(), 0

    def _submit(self, buffer: bytearray, length: int) -> None:
        if self.abort is not None and self.abort.is_set():
            raise Aborted
        self._slots.acquire()
        future = self.pool.submit(self.blobs.put_bytes, memoryview(buffer)[:length])

        def recycle(_future: Future[str]) -> None:
            with self._lock:
                self._spare.append(buffer)
            self._slots.release()

        future.add_done_callback(recycle)
        self._futures.append(future)

    def finish(self) -> list[str]:
        """Store the last partial chunk and wait: the digests of all chunks, in order."""
        if self._filled:
            self._submit(self._buffer, self._filled)
            self._filled = 0
        digests = [future.result() for future in self._futures]
        self._spare.clear()
        return digests

    def cancel(self) -> None:
        for future in self._futures:
            future.cancel()
        for future in self._futures:
            if not future.cancelled():
                future.exception()


def store_stream(
    blobs: BlobStore, source: BinaryIO, pool: ThreadPoolExecutor
) -> tuple[list[str], int]:
    """Store a readable stream as chunks: (chunk digests, size)."""
    writer = ChunkWriter(blobs, pool)
    try:
        writer.fill_from(source)
        return writer.finish(), writer.size
    except BaseException:
        writer.cancel()
        raise


def canonical(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def file_manifest(chunks: list[str], size: int, chunk_size: int | None = None) -> dict[str, Any]:
    return {
        "format": FILE_FORMAT,
        "chunk_size": chunk_size or CHUNK_SIZE,
        "size": size,
        "chunks": chunks,
    }


def folder_manifest(files: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``files``: dicts with ``path`` (relative POSIX), ``size`` and ``chunks``."""
    return {
        "format": FOLDER_FORMAT,
        "chunk_size": CHUNK_SIZE,
        "files": sorted(files, key=lambda f: f["path"]),
    }


def read_manifest(blobs: BlobStore, digest: str, what: str) -> dict[str, Any]:
    try:
        return json.loads(blobs.get_bytes(digest))
    except IntegrityError:
        raise corrupted(what, digest) from None


def corrupted(what: str, digest: str) -> IntegrityError:
    return IntegrityError(
        f"{what} is corrupted: stored chunk {digest[:12]} does not match its digest; restore "
        "the blob store from a backup (versions that do not share this chunk are unaffected)"
    )


def missing_chunks(blobs: BlobStore, chunks: Iterable[str]) -> bool:
    return any(not blobs.exists(digest) for digest in chunks)


def _read_into(blobs: BlobStore, digest: str, view: memoryview, what: str) -> None:
    with blobs.open(digest) as handle:
        filled = 0
        readinto = getattr(handle, "readinto", None)
        while filled < len(view):
            if readinto is not None:
                got = readinto(view[filled:])
            else:
                data = handle.read(len(view) - filled)
                got = len(data)
                view[filled : filled + got] = data
            if not got:
                break
            filled += got
        extra = handle.read(1)
    if filled != len(view) or extra or hashlib.sha256(view).hexdigest() != digest:
        raise corrupted(what, digest)


def read_bytes(
    blobs: BlobStore, manifest: dict[str, Any], what: str, pool: ThreadPoolExecutor | None = None
) -> bytearray:
    """All the bytes of a file manifest, each chunk verified against its digest."""
    size, chunk_size = manifest["size"], manifest["chunk_size"]
    buffer = bytearray(size)
    view = memoryview(buffer)
    jobs = []
    for i, digest in enumerate(manifest["chunks"]):
        part = view[i * chunk_size : min(size, (i + 1) * chunk_size)]
        if pool is None:
            _read_into(blobs, digest, part, what)
        else:
            jobs.append(pool.submit(_read_into, blobs, digest, part, what))
    for job in jobs:
        job.result()
    return buffer


def write_file(blobs: BlobStore, manifest: dict[str, Any], dest: Path, what: str) -> None:
    """Write a file manifest's bytes to ``dest`` (via a temporary name), verifying each chunk."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    chunk_size = manifest["chunk_size"]
    buffer = bytearray(chunk_size)
    try:
        with open(tmp, "wb") as target:
            remaining = manifest["size"]
            for digest in manifest["chunks"]:
                part = memoryview(buffer)[: min(chunk_size, remaining)]
                _read_into(blobs, digest, part, what)
                target.write(part)
                remaining -= len(part)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
