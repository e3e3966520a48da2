"""The audit chain's head, kept outside the database: ``<state_dir>/audit-head.jsonl``.

A hash chain alone cannot show that its tail was cut off, and anyone who can write to the
database can rebuild a whole chain. After each commit the new head ``(seq, hash)`` is
appended, one JSON line per head, to a file beside the store; ``verify`` checks the database
still holds the highest recorded head with that hash. With ``MLOPS_AUDIT_KEY`` set, each head
carries an HMAC, so a rebuilt chain cannot be matched by rewriting the file without the key.
Copy the file (or ``mlops audit verify --json``'s ``head``) elsewhere to anchor the chain off
this machine too.

Appending one short line is atomic and cheap (no rename, no fsync on the hot path); the
highest ``seq`` wins, so heads arriving out of order never move it back. A crash can at worst
lose the last lines (the head steps back a little) or leave a torn last line (ignored). The
file is compacted to one line per store, atomically, when it grows past ``COMPACT_BYTES``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from ..project import Project

HEAD_FILE = "audit-head.jsonl"
KEY_ENV = "MLOPS_AUDIT_KEY"
COMPACT_BYTES = 1024 * 1024


def store_key(project: Project) -> str:
    """A stable name for the project's store (no password; paths relative to the root)."""
    return _store_key(project.db.uri, project.root)


@lru_cache(maxsize=64)
def _store_key(uri: str, root: Path) -> str:
    url = sa.engine.make_url(uri)
    if url.get_backend_name() == "sqlite" and url.database:
        path = Path(url.database)
        with contextlib.suppress(ValueError):
            return f"sqlite:{path.resolve().relative_to(root).as_posix()}"
        return f"sqlite:{path}"
    return url.render_as_string(hide_password=True)


def signature(key: str, store: str, seq: int, head_hash: str) -> str:
    message = f"{store}\n{seq}\n{head_hash}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """An exclusive lock on the head file (appends vs compaction), released on exit."""
    with open(state_dir / f"{HEAD_FILE}.lock", "a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: appends stay atomic; compaction may race, rarely
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _parse(line: str) -> dict[str, Any] | None:
    try:
        head = json.loads(line)
    except ValueError:
        return None
    ok = (
        isinstance(head, dict)
        and isinstance(head.get("store"), str)
        and isinstance(head.get("seq"), int)
        and isinstance(head.get("hash"), str)
    )
    return head if ok else None


def _heads(path: Path) -> dict[str, dict[str, Any]] | None:
    """The highest head per store, or None when the file is damaged (not just torn)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError):
        return None
    *lines, _torn = text.split("\n")  # a last line without newline was cut by a crash
    heads: dict[str, dict[str, Any]] = {}
    for line in lines:
        head = _parse(line)
        if head is None:
            return None
        if head["seq"] > heads.get(head["store"], {}).get("seq", 0):
            heads[head["store"]] = head
    return heads


def read(project: Project) -> dict[str, Any] | None:
    """This store's anchored head ``{"seq", "hash"[, "hmac"]}``, or None when there is none.

    A damaged file gives ``{"unreadable": True}``.
    """
    heads = _heads(project.state_dir / HEAD_FILE)
    if heads is None:
        return {"unreadable": True}
    head = heads.get(store_key(project))
    return None if head is None else {k: v for k, v in head.items() if k != "store"}


def _line(store: str, seq: int, head_hash: str) -> str:
    head: dict[str, Any] = {"store": store, "seq": seq, "hash": head_hash}
    key = os.environ.get(KEY_ENV)
    if key:
        head["hmac"] = signature(key, store, seq, head_hash)
    return json.dumps(head, sort_keys=True) + "\n"


def _compact(path: Path) -> None:
    heads = _heads(path)
    if not heads:  # damaged: keep it as evidence
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-head.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(h, sort_keys=True) + "\n" for h in heads.values())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def advance(project: Project, seq: int, head_hash: str) -> None:
    """Append ``(seq, hash)`` as a head of this store (after its commit)."""
    path = project.state_dir / HEAD_FILE
    try:
        project.state_dir.mkdir(parents=True, exist_ok=True)
        with _locked(project.state_dir):
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(_line(store_key(project), seq, head_hash))
                size = handle.tell()
            if size > COMPACT_BYTES:
                _compact(path)
    except OSError as exc:
        warnings.warn(
            f"could not record the audit head in {path}: {exc}; `mlops audit verify` cannot "
            "detect a truncated trail beyond the last recorded head",
            RuntimeWarning,
            stacklevel=3,
        )
