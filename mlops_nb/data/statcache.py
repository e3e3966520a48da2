"""Remember which file content a file had, so unchanged files are not read again.

Like dvc-data's state, entries are keyed on the file's device and inode and trusted only while
its size, mtime and ctime (nanoseconds) are all unchanged; ctime also changes on writes that
restore an old mtime. An entry is recorded only when the file did not change while it was
read and was last modified more than ``RACY_SECONDS`` before the read began (a file modified
again within the filesystem's timestamp granularity could otherwise keep its mtime). The cache
is a local SQLite file in ``.mlops/``; any problem with it means hashing the file again.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

RACY_SECONDS = 2.0
MAX_ENTRIES = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, digest TEXT NOT NULL,
    recorded_at REAL NOT NULL, PRIMARY KEY (dev, ino)
)"""


def same_file_state(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns, a.st_ctime_ns) == (
        b.st_dev,
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
    )


class StatCache:
    """``get(stat)`` -> digest of the content a file with that state had, or None."""

    def __init__(self, path: Path):
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection | None:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, timeout=5, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
                self._conn = conn
            except (sqlite3.Error, OSError):
                return None
        return self._conn

    def get(self, stat: os.stat_result) -> str | None:
        with self._lock:
            db = self._db()
            if db is None:
                return None
            try:
                row = db.execute(
                    "SELECT digest FROM files WHERE dev=? AND ino=? AND size=? AND mtime_ns=? "
                    "AND ctime_ns=?",
                    (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns),
                ).fetchone()
            except sqlite3.Error:
                return None
        return row[0] if row else None

    def put(
        self, before: os.stat_result, after: os.stat_result, digest: str, read_started: float
    ) -> None:
        """Record ``digest`` for a file read between two ``stat`` calls, when safe to trust."""
        if not same_file_state(before, after):
            return
        if after.st_mtime_ns / 1e9 > read_started - RACY_SECONDS:
            return
        with self._lock:
            db = self._db()
            if db is None:
                return
            try:
                db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        after.st_dev,
                        after.st_ino,
                        after.st_size,
                        after.st_mtime_ns,
                        after.st_ctime_ns,
                        digest,
                        time.time(),
                    ),
                )
                if db.total_changes % 1000 == 0:
                    self._prune(db)
            except sqlite3.Error:
                pass

    @staticmethod
    def _prune(db: sqlite3.Connection) -> None:
        db.execute(
            "DELETE FROM files WHERE rowid IN (SELECT rowid FROM files ORDER BY recorded_at DESC "
            "LIMIT -1 OFFSET ?)",
            (MAX_ENTRIES,),
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
