"""Storing new dataset versions: DataFrames (Parquet + row hashes), files and folders.

Order of writes: every blob (chunks, manifest, row hashes) is durable under its digest before
the version row is inserted, in one transaction, so a crash at any point leaves no row pointing
at a missing or partial blob; a retry reuses the chunks already stored.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from . import chunks, versions
from . import fingerprint as fp
from .parallel import column_pool
from .profile import profile_frame
from .statcache import StatCache, same_file_state

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project
    from ..store.blobs import BlobStore
    from .versions import DatasetVersion

# Values sampled to judge whether a numeric column repeats values (see dictionary_columns).
DICTIONARY_SAMPLE = 10_000


def stat_cache(project: Project) -> StatCache:
    return StatCache(project.state_dir / "statcache.db")


def intact(project: Project, version: DatasetVersion) -> bool:
    """Whether every blob a version needs is present (not verified: that is for loading)."""
    blobs = project.blobs
    if not blobs.exists(version.blob_digest):
        return False
    if version.row_hashes_digest and not blobs.exists(version.row_hashes_digest):
        return False
    manifest = chunks.read_manifest(blobs, version.blob_digest, version.ref)
    files = manifest.get("files", [manifest])
    return not any(chunks.missing_chunks(blobs, f["chunks"]) for f in files)


# --- DataFrames -------------------------------------------------------------------------


def _parquet_error(exc: Exception) -> UsageError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return UsageError(
        f"cannot store this DataFrame as Parquet ({first}); convert the column it names to a "
        "plain type (numbers, strings, datetimes, categories) first"
    )


def dictionary_columns(df: pd.DataFrame) -> list[str]:
    """The columns worth Parquet dictionary encoding: all but numbers and dates whose evenly
    spaced sample is mostly distinct values. For those a dictionary saves nothing, and pyarrow
    would build one per row group until it outgrew its page before falling back to plain
    encoding (a third of the write time of a frame of such columns)."""
    import pandas as pd

    chosen = []
    for name in df.columns:
        series = df[name]
        dtype = series.dtype
        if dtype.kind in "iufmM" and not isinstance(dtype, pd.CategoricalDtype):
            sample = series.iloc[:: max(1, len(series) // DICTIONARY_SAMPLE)]
            if sample.nunique() > len(sample) // 2:
                continue
        chosen.append(name)
    return chosen


def _write_parquet(
    blobs: BlobStore, df: pd.DataFrame, pool: ThreadPoolExecutor, abort: threading.Event
) -> tuple[list[str], int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = chunks.ChunkWriter(blobs, pool, abort)
    try:
        try:
            table = pa.Table.from_pandas(df, preserve_index=None)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise _parquet_error(exc) from None
        pq.write_table(table, writer, use_dictionary=dictionary_columns(df))
        return writer.finish(), writer.size
    except BaseException:
        writer.cancel()
        raise


def snapshot_frame(
    project: Project, df: pd.DataFrame, name: str, description: str | None
) -> tuple[DatasetVersion, bool]:
    """Store a DataFrame version (or find the identical one): ``(version, created)``."""
    fp.validate_frame(df)
    schema = fp.frame_schema(df)
    schema_json = fp.schema_text(schema)
    blobs = project.blobs
    abort = threading.Event()
    writing: Future[tuple[list[str], int]] | None = None
    with (
        warnings.catch_warnings(),
        chunks.new_pool() as pool,
        column_pool() as columns,
        ThreadPoolExecutor(1) as writer_thread,
    ):
        # pyarrow reads tz-aware columns through a deprecated pandas accessor
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")

        def start_writing() -> Future[tuple[list[str], int]]:
            return writer_thread.submit(_write_parquet, blobs, df, pool, abort)

        # A frame no version can equal is written while it is being hashed.
        if not versions.same_shape(project, name, len(df), schema_json):
            writing = start_writing()
        try:
            factorized: dict[str, fp.Factorized] = {}
            hashes = fp.row_hashes(df, factorized, columns)
            digest = fp.digest(schema, hashes, fp.index_hashes(df))
            existing = versions.with_digest(project, digest, name)
            if existing is not None and intact(project, existing):
                abort.set()
                return existing, False
            writing = writing or start_writing()
            row_bytes = memoryview(hashes.astype("<u8", copy=False)).cast("B")
            storing = pool.submit(blobs.put_bytes, row_bytes)
            profile = profile_frame(df, factorized, columns)
            row_hashes_digest = storing.result()
            parts, size = writing.result()
        except BaseException:
            abort.set()
            raise
        finally:
            if writing is not None and abort.is_set():
                writing.exception()  # wait for the writer to stop before the pool closes
    manifest_digest = blobs.put_bytes(chunks.canonical(chunks.file_manifest(parts, size)))
    values = {
        "name": name,
        "digest": digest,
        "kind": "dataframe",
        "blob_digest": manifest_digest,
        "size": size,
        "rows": len(df),
        "columns": df.shape[1],
        "schema": schema_json,
        "profile": profile,
        "row_hashes_digest": row_hashes_digest,
        "description": description,
    }
    if existing is not None:  # its blobs were lost: point it at the ones just stored
        return versions.repair(project, existing, manifest_digest, row_hashes_digest, size), False
    return _insert(project, values)


def _insert(project: Project, values: dict[str, Any]) -> tuple[DatasetVersion, bool]:
    from ..tracking.context import active_run

    run = active_run()
    values["run_id"] = run.run_id if run is not None else None
    return versions.insert(project, values)


# --- files and folders ------------------------------------------------------------------


def store_file(
    project: Project, cache: StatCache, path: Path, pool: ThreadPoolExecutor
) -> tuple[dict[str, Any], str]:
    """Store one file as chunks (or find it unchanged in the stat cache): (manifest, digest)."""
    blobs = project.blobs
    before = os.stat(path)
    cached = cache.get(before)
    if cached is not None and blobs.exists(cached):
        manifest = chunks.read_manifest(blobs, cached, str(path))
        if not chunks.missing_chunks(blobs, manifest["chunks"]):
            return manifest, cached
    started = time.time()
    with open(path, "rb") as source:
        parts, size = chunks.store_stream(blobs, source, pool)
    after = os.stat(path)
    if not same_file_state(before, after) or size != after.st_size:
        raise UsageError(
            f"{path} changed while it was being snapshotted; snapshot it again once nothing "
            "is writing to it"
        )
    manifest = chunks.file_manifest(parts, size)
    digest = blobs.put_bytes(chunks.canonical(manifest))
    cache.put(before, after, digest, started)
    return manifest, digest


def folder_files(folder: Path) -> list[tuple[Path, str]]:
    """Regular files under ``folder`` (sorted), refusing links that lead outside it."""
    from ..tracking.artifacts import _files_of

    found = _files_of(folder)
    for path, _relative in found:
        if not path.is_file():
            raise UsageError(f"{path} is not a regular file; remove it from {folder}")
    return found


def _parquet_shape(path: Path) -> tuple[int | None, int | None, list[dict[str, str]] | None]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        arrow = pq.read_schema(path)
    except Exception:  # not actually Parquet: a plain file
        return None, None, None
    return (
        meta.num_rows,
        len(arrow.names),
        [{"name": f.name, "dtype": str(f.type)} for f in arrow if not f.name.startswith("__")],
    )


def snapshot_path(
    project: Project, path: str | os.PathLike[str], name: str, description: str | None
) -> tuple[DatasetVersion, bool]:
    """Store a file or folder version (or find the identical one): ``(version, created)``."""
    source = Path(path).expanduser()
    if not source.exists():
        raise UsageError(f"{str(source)!r} does not exist; give a file or folder to snapshot")
    cache = stat_cache(project)
    try:
        with chunks.new_pool() as pool:
            if source.is_dir():
                values = _folder_values(project, cache, source, pool)
            elif source.is_file():
                values = _file_values(project, cache, source, pool)
            else:
                raise UsageError(f"{source} is not a regular file or a folder")
    finally:
        cache.close()
    values.update(name=name, description=description)
    return _insert(project, values)


def _file_values(
    project: Project, cache: StatCache, source: Path, pool: ThreadPoolExecutor
) -> dict[str, Any]:
    manifest, digest = store_file(project, cache, source, pool)
    schema: dict[str, Any] = {"file": source.name, "format": source.suffix.lstrip(".").lower()}
    rows = columns = None
    if schema["format"] in ("parquet", "pq"):
        rows, columns, fields = _parquet_shape(source)
        if fields is not None:
            schema["columns"] = fields
    return {
        "digest": digest,
        "kind": "file",
        "blob_digest": digest,
        "size": manifest["size"],
        "rows": rows,
        "columns": columns,
        "schema": schema,
    }


def _folder_values(
    project: Project, cache: StatCache, source: Path, pool: ThreadPoolExecutor
) -> dict[str, Any]:
    files = folder_files(source)

    def store(item: tuple[Path, str]) -> dict[str, Any]:
        manifest, _digest = store_file(project, cache, item[0], pool)
        return {"path": item[1], "size": manifest["size"], "chunks": manifest["chunks"]}

    with ThreadPoolExecutor(chunks.WORKERS) as file_pool:
        entries = list(file_pool.map(store, files))
    manifest = chunks.folder_manifest(entries)
    digest = project.blobs.put_bytes(chunks.canonical(manifest))
    return {
        "digest": digest,
        "kind": "folder",
        "blob_digest": digest,
        "size": sum(e["size"] for e in entries),
        "rows": None,
        "columns": None,
        "schema": {"folder": source.resolve().name, "files": len(entries)},
    }
