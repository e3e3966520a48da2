"""Reading versions back: DataFrames with their exact dtypes, files and folders as local paths.

Every chunk is verified against its digest while it is read, so a corrupted blob raises
``IntegrityError`` naming the version (other versions, which do not share that chunk, still
load). Files and folders are materialised read-only under ``.mlops/checkout/<digest>/``; a
checkout left unchanged since it was written (same inode, size, mtime and ctime) is reused.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IntegrityError
from . import chunks, lineage
from .snapshot import stat_cache
from .statcache import RACY_SECONDS, StatCache

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project
    from .versions import DatasetVersion


def load_version(project: Project, version: DatasetVersion, record: bool = True) -> Any:
    """The data of a version; inside a run the version is recorded as the run's input."""
    data = (
        read_frame(project, version) if version.kind == "dataframe" else checkout(project, version)
    )
    if record:
        lineage.record_active(project, version, "input")
    return data


def pandas_dtype(entry: dict[str, Any]) -> Any:
    """The exact dtype a schema entry (see ``fingerprint.column_schema``) describes."""
    import pandas as pd

    if "categories" in entry:
        categories = pd.Index(entry["categories"], dtype=entry["categories_dtype"])
        return pd.CategoricalDtype(categories, ordered=entry["ordered"])
    return pd.api.types.pandas_dtype(entry["dtype"])


def restore_dtypes(df: pd.DataFrame, schema: dict[str, Any]) -> pd.DataFrame:
    """Cast the columns Parquet brought back with another dtype to the recorded one."""
    for entry in schema["columns"]:
        dtype = pandas_dtype(entry)
        if df[entry["name"]].dtype != dtype:
            df[entry["name"]] = df[entry["name"]].astype(dtype)
    index = schema["index"]
    if index["kind"] == "values" and len(index["dtypes"]) == 1:
        dtype = pandas_dtype({"dtype": index["dtypes"][0]})
        if df.index.dtype != dtype:
            df.index = df.index.astype(dtype)
    return df


def parquet_bytes(project: Project, version: DatasetVersion) -> bytearray:
    """The Parquet bytes of a dataframe version, verified chunk by chunk."""
    manifest = chunks.read_manifest(project.blobs, version.blob_digest, version.ref)
    with chunks.new_pool() as pool:
        return chunks.read_bytes(project.blobs, manifest, version.ref, pool)


def read_table(data: bytearray, version: DatasetVersion, columns: list[str] | None = None) -> Any:
    """A dataframe version's Parquet bytes (or some of its columns) as a ``pyarrow.Table``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.py_buffer(data), columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise IntegrityError(
            f"{version.ref} cannot be read as Parquet ({exc}); restore the blob store from a backup"
        ) from None
    if table.num_rows != version.rows:
        raise IntegrityError(
            f"{version.ref} has {table.num_rows} rows, {version.rows} were "
            "recorded; restore the blob store from a backup"
        )
    return table


def frame_from_table(table: Any, version: DatasetVersion, whole: bool = True) -> pd.DataFrame:
    """A table read from a version as a DataFrame with the recorded dtypes; unless ``whole``
    (some columns or rows only), the index is a fresh range."""
    schema = dict(version.schema or {})
    if not whole:
        schema["columns"] = [c for c in schema["columns"] if c["name"] in table.column_names]
        schema["index"] = {"kind": "range"}
    frame = table.to_pandas()
    if not whole:
        frame = frame.reset_index(drop=True)
    return restore_dtypes(frame, schema)


def read_frame(project: Project, version: DatasetVersion) -> pd.DataFrame:
    """A dataframe version with its exact dtypes."""
    return frame_from_table(read_table(parquet_bytes(project, version), version), version)


# --- files and folders ------------------------------------------------------------------


def _file_digest(entry: dict[str, Any]) -> str:
    from ..store.blobs import digest_bytes

    manifest = chunks.file_manifest(entry["chunks"], entry["size"], entry["chunk_size"])
    return digest_bytes(chunks.canonical(manifest))


def _is_current(cache: StatCache, path: Path, digest: str) -> bool:
    try:
        return cache.get(os.stat(path)) == digest
    except OSError:
        return False


def _materialize(
    project: Project, cache: StatCache, entry: dict[str, Any], dest: Path, what: str, stamp: float
) -> None:
    chunks.write_file(project.blobs, entry, dest, what)
    os.chmod(dest, 0o444)
    stamp = min(stamp, time.time() - 2 * RACY_SECONDS)
    os.utime(dest, (stamp, stamp))  # an old mtime lets the stat cache trust the checkout
    state = os.stat(dest)
    cache.put(state, state, _file_digest(entry), time.time())


def checkout(project: Project, version: DatasetVersion) -> Path:
    """A local, read-only copy of a file or folder version (reused while unchanged)."""
    base = project.state_dir / "checkout" / version.digest[:24]
    manifest = chunks.read_manifest(project.blobs, version.blob_digest, version.ref)
    cache = stat_cache(project)
    try:
        if version.kind == "file":
            dest = base / version.schema["file"]
            if not _is_current(cache, dest, version.digest):
                _materialize(project, cache, manifest, dest, version.ref, version.created_at)
            return dest
        dest = base / version.schema["folder"]
        files = [{**entry, "chunk_size": manifest["chunk_size"]} for entry in manifest["files"]]
        if dest.is_dir() and _folder_is_current(cache, dest, files):
            return dest
        staging = base / f".{uuid.uuid4().hex}.part"
        try:
            for entry in files:
                _materialize(
                    project, cache, entry, staging / entry["path"], version.ref, version.created_at
                )
            staging.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(staging, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dest
    finally:
        cache.close()


def _folder_is_current(cache: StatCache, dest: Path, files: list[dict[str, Any]]) -> bool:
    present = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if not p.is_dir()}
    if present != {entry["path"] for entry in files}:
        return False
    return all(_is_current(cache, dest / e["path"], _file_digest(e)) for e in files)
