"""Splitting column work: over threads (NumPy, pandas and pyarrow release the GIL) and into
cache-sized blocks."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

COLUMN_WORKERS = min(4, os.cpu_count() or 1)
BLOCK = 1 << 16  # values per block: a block of float64 and its scratch stay in the L2 cache


def column_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(COLUMN_WORKERS, thread_name_prefix="mlops-columns")


def for_rows(pool: ThreadPoolExecutor | None, rows: int) -> ThreadPoolExecutor | None:
    """``pool`` when there are more than a block of rows; else None: threads would cost more
    than they save."""
    return pool if rows > BLOCK else None


def ordered_map(
    pool: ThreadPoolExecutor | None, fn: Callable[[T], R], items: Iterable[T]
) -> Iterator[R]:
    """``map(fn, items)`` run on ``pool``, in order, with few results waiting at a time (a
    result can be a whole column's worth of memory). Without a pool, runs in this thread."""
    if pool is None:
        yield from map(fn, items)
        return
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > COLUMN_WORKERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
