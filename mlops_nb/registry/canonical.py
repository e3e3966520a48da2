"""Deterministic skops bytes: the same fitted model gives the same digest in any process.

``skops.io.dumps`` names array files and object ids after ``id()`` and stamps zip entries
with the current time, so identical models would get different digests. This renumbers ids
and files in schema order (keeping shared references shared) and writes the zip with fixed
timestamps. Anything that does not look like a skops file is returned unchanged.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import PurePosixPath
from typing import Any

SCHEMA = "schema.json"
EPOCH = (1980, 1, 1, 0, 0, 0)


def _renumber(node: Any, ids: dict[int, int], files: dict[str, str], names: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _renumber(item, ids, files, names)
        return
    if not isinstance(node, dict):
        return
    saved_id = node.get("__id__")
    if isinstance(saved_id, int) and not isinstance(saved_id, bool):
        node["__id__"] = ids.setdefault(saved_id, len(ids) + 1)
    name = node.get("file")
    if isinstance(name, str) and name in names:
        node["file"] = files.setdefault(name, f"{len(files)}{PurePosixPath(name).suffix}")
    for value in node.values():
        _renumber(value, ids, files, names)


def canonical_skops(data: bytes) -> bytes:
    """``data`` rewritten deterministically (loads exactly like the original)."""
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
        names = set(source.namelist())
        schema = json.loads(source.read(SCHEMA))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return data
    files: dict[str, str] = {}
    _renumber(schema, {}, files, names)
    if names - set(files) != {SCHEMA}:  # a member the schema does not reference: leave as is
        return data
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        entries = [(SCHEMA, json.dumps(schema, sort_keys=True, separators=(",", ":")).encode())]
        entries += [
            (new, source.read(old)) for old, new in sorted(files.items(), key=lambda f: f[1])
        ]
        for name, content in entries:
            target.writestr(zipfile.ZipInfo(name, EPOCH), content)
    return out.getvalue()
