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


def _renumber(schema: Any, names: set[str]) -> dict[str, str]:
    """Renumber ids and files in place, in a fixed walk order; returns {old file: new}."""
    ids: dict[int, int] = {}
    files: dict[str, str] = {}
    containers = (dict, list)
    stack = [schema]
    while stack:
        node = stack.pop()
        if type(node) is list:
            stack.extend(v for v in node if type(v) in containers)
            continue
        saved_id = node.get("__id__")
        if type(saved_id) is int:
            node["__id__"] = ids.setdefault(saved_id, len(ids) + 1)
        name = node.get("file")
        if type(name) is str and name in names:
            node["file"] = files.setdefault(name, f"{len(files)}{PurePosixPath(name).suffix}")
        stack.extend(v for v in node.values() if type(v) in containers)
    return files


def canonical_skops(data: bytes) -> bytes:
    """``data`` rewritten deterministically (loads exactly like the original)."""
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
        names = set(source.namelist())
        schema = json.loads(source.read(SCHEMA))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return data
    files = _renumber(schema, names)
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
