"""Deterministic skops bytes: the same fitted model gives the same digest in any process.

``skops.io.dumps`` names array files and object ids after ``id()`` and stamps zip entries
with the current time, so identical models would get different digests. This renumbers ids
and files in schema order (keeping shared references shared) and writes the zip with fixed
timestamps. Anything that does not look like a skops file is returned unchanged.

It also returns the file's *type signature*: every descriptive string of the schema (classes,
modules, loaders, function paths, dtypes), leaving out data (JSON-encoded values, file
names). Files with one signature hold the same types, so the registry asks skops which of
them are untrusted once per signature, not once per model.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import PurePosixPath
from typing import Any

SCHEMA = "schema.json"
EPOCH = (1980, 1, 1, 0, 0, 0)


Signature = frozenset[tuple[str, str]]


def _renumber(schema: Any, names: set[str]) -> tuple[dict[str, str], Signature]:
    """Renumber ids and files in place, in a fixed walk order; returns ({old file: new},
    the type signature)."""
    ids: dict[int, int] = {}
    files: dict[str, str] = {}
    described: set[tuple[str, str]] = set()
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
        data = "content" if node.get("__loader__") == "JsonNode" else "file"
        described.update(
            (k, v) for k, v in node.items() if type(v) is str and k != data and k != "file"
        )
        stack.extend(v for v in node.values() if type(v) in containers)
    return files, frozenset(described)


def canonical_skops(data: bytes) -> tuple[bytes, Signature | None]:
    """``data`` rewritten deterministically (loads exactly like the original), and its type
    signature (None when ``data`` does not look like a skops file)."""
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
        names = set(source.namelist())
        schema = json.loads(source.read(SCHEMA))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return data, None
    with source:
        rewritten = _rewrite(schema, source, names - {SCHEMA})
    return rewritten if rewritten is not None else (data, None)


def skops_bytes(obj: Any) -> tuple[bytes, Signature | None]:
    """``canonical_skops(skops.io.dumps(obj))``, byte for byte, made without the round trip:
    skops' own state walk writes the arrays, and the schema goes straight to the canonical
    file instead of through skops' indented JSON and back (a third of a registration's time
    for a small model). Falls back to the round trip if skops' internals move."""
    import skops
    import skops.io

    try:
        from skops.io._utils import SaveContext, get_state
    except ImportError:
        return canonical_skops(skops.io.dumps(obj))
    scratch = io.BytesIO()
    with zipfile.ZipFile(scratch, "w", zipfile.ZIP_STORED) as members:
        context = SaveContext(zip_file=members)
        state = get_state(obj, context)
        context.clear_memo()
    state["protocol"] = context.protocol
    state["_skops_version"] = skops.__version__
    with zipfile.ZipFile(scratch) as source:
        rewritten = _rewrite(state, source, set(source.namelist()))
    return rewritten if rewritten is not None else canonical_skops(skops.io.dumps(obj))


def _rewrite(
    schema: Any, source: zipfile.ZipFile, members: set[str]
) -> tuple[bytes, Signature] | None:
    """The canonical zip of ``schema`` and the ``members`` of ``source`` it references (None
    when some member is not referenced: such a file is left as it is)."""
    files, signature = _renumber(schema, members)
    if members != set(files):
        return None
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        entries = [(SCHEMA, json.dumps(schema, sort_keys=True, separators=(",", ":")).encode())]
        entries += [
            (new, source.read(old)) for old, new in sorted(files.items(), key=lambda f: f[1])
        ]
        for name, content in entries:
            target.writestr(zipfile.ZipInfo(name, EPOCH), content)
    return out.getvalue(), signature
