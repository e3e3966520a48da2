"""Artifacts: files, folders and Python objects saved with a run, content-addressed."""

from __future__ import annotations

import io
import json
import mimetypes
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import UsageError
from ..names import check_relative_path
from ..store import schema

if TYPE_CHECKING:
    from ..project import Project


def _object_bytes(obj: Any) -> tuple[bytes, str]:
    """Serialize a supported Python object; returns (bytes, default file name)."""
    module = type(obj).__module__
    if module.startswith("pandas") and hasattr(obj, "to_parquet"):
        buffer = io.BytesIO()
        obj.to_parquet(buffer)
        return buffer.getvalue(), "dataframe.parquet"
    if module.startswith("matplotlib") and hasattr(obj, "savefig"):
        buffer = io.BytesIO()
        obj.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue(), "figure.png"
    if module.startswith("plotly") and hasattr(obj, "to_html"):
        return obj.to_html(include_plotlyjs="cdn").encode(), "figure.html"
    if isinstance(obj, (dict, list)):
        try:
            return json.dumps(obj, indent=2, default=str).encode(), "data.json"
        except (TypeError, ValueError) as exc:
            raise UsageError(f"cannot save this {type(obj).__name__} as JSON: {exc}") from None
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj), "data.bin"
    raise UsageError(
        f"cannot log a {type(obj).__name__} as an artifact: pass a file or folder path, a "
        "DataFrame, a matplotlib/plotly figure, a dict/list or bytes (text: use log_text)"
    )


def _files_of(folder: Path) -> list[tuple[Path, str]]:
    """Regular files under ``folder`` with their relative POSIX paths; refuses escaping links."""
    root = folder.resolve()
    found = []
    for current, dirs, files in os.walk(folder):
        dirs.sort()
        for name in dirs:
            path = Path(current) / name
            if path.is_symlink():
                where = "inside" if path.resolve().is_relative_to(root) else "outside"
                raise UsageError(
                    f"{path} is a link to a folder {where} {folder}; replace the link with a "
                    "copy of the folder (or remove it)"
                )
        for name in sorted(files):
            path = Path(current) / name
            if not path.resolve().is_relative_to(root):
                raise UsageError(
                    f"{path} links outside {folder}; remove the link or copy its target in"
                )
            found.append((path, path.relative_to(folder).as_posix()))
    return found


def _record(conn: sa.Connection, run_id: str, rows: list[dict[str, Any]]) -> None:
    table = schema.artifacts
    paths = [row["path"] for row in rows]
    conn.execute(sa.delete(table).where(table.c.run_id == run_id, table.c.path.in_(paths)))
    conn.execute(sa.insert(table), rows)


def _row(run_id: str, path: str, digest: str, size: int, kind: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "path": path,
        "digest": digest,
        "size": size,
        "kind": kind,
        "media_type": mimetypes.guess_type(path)[0],
        "created_at": time.time(),
    }


def log_artifact(project: Project, run_id: str, path_or_obj: Any, name: str | None = None) -> str:
    """Store a file, a folder (each file under ``name/``) or an object; returns its name."""
    if isinstance(path_or_obj, (str, os.PathLike)):
        source = Path(path_or_obj)
        if not source.exists():
            raise UsageError(f"artifact path {str(source)!r} does not exist")
        name = check_relative_path(name or source.name)
        if source.is_dir():
            rows = []
            for file, rel in _files_of(source):
                digest, size = project.blobs.put_file(file)
                rows.append(_row(run_id, f"{name}/{rel}", digest, size, "file"))
        else:
            digest, size = project.blobs.put_file(source)
            rows = [_row(run_id, name, digest, size, "file")]
    else:
        data, default_name = _object_bytes(path_or_obj)
        name = check_relative_path(name or default_name)
        rows = [_row(run_id, name, project.blobs.put_bytes(data), len(data), "object")]
    if rows:
        with project.db.write() as conn:
            _record(conn, run_id, rows)
    return name


def artifact_digest(project: Project, run_id: str, name: str) -> str:
    from ..errors import NotFoundError

    table = schema.artifacts
    with project.db.read() as conn:
        digest = conn.execute(
            sa.select(table.c.digest).where(table.c.run_id == run_id, table.c.path == name)
        ).scalar()
    if digest is None:
        raise NotFoundError(f"run {run_id[:8]} has no artifact {name!r}")
    return digest
