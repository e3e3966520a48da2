"""Helpers shared by the benchmarks: timing, isolated stores, ratio tables."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn: Callable[[], object], repeat: int = 3) -> float:
    """Median wall time of ``repeat`` calls (the first call warms caches on both sides)."""
    times = sorted(timed(fn) for _ in range(repeat))
    return times[len(times) // 2]


def import_seconds(module: str, repeat: int = 3) -> float:
    """Best-of-``repeat`` wall time of ``python -c 'import module'`` in a fresh interpreter."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        best = min(best, time.perf_counter() - start)
    return best


@contextmanager
def mlops_project() -> Iterator[Path]:
    """A throwaway mlops_nb project as MLOPS_HOME, warmed up by one small run (the peer's
    store is likewise created and warm before it is measured)."""
    import mlops_nb as mlops
    from mlops_nb.project import Project

    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        old = os.environ.get("MLOPS_HOME")
        os.environ["MLOPS_HOME"] = tmp
        Project.forget()
        with mlops.start_run("warm-up"):
            mlops.log_metrics({"x": 1.0})
        try:
            yield Path(tmp)
        finally:
            Project.forget()
            if old is None:
                os.environ.pop("MLOPS_HOME", None)
            else:
                os.environ["MLOPS_HOME"] = old


def print_rows(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    """rows: (workload, peer figure, ours figure, ratio)."""
    print(f"\n{title}")
    widths = [
        max(len(r[i]) for r in [("workload", "peer", "mlops_nb", "ratio"), *rows]) for i in range(4)
    ]
    for row in [("workload", "peer", "mlops_nb", "ratio"), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
