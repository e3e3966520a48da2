"""Helpers shared by the pipeline, run and sweep tests (tiny generated notebooks, the CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil

KERNELSPEC = {"name": "python3", "language": "python", "display_name": "Python 3"}


def write_notebook(
    path: Path, parameters: str | None, *cells: str, kernel: str = "python3"
) -> Path:
    """A notebook with an optional ``parameters`` cell followed by code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {**KERNELSPEC, "name": kernel}
    nb.metadata.language_info = {"name": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata.tags = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def mlops(*args: str, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    """Run the ``mlops`` CLI in a subprocess (inherits the test's MLOPS_HOME and cwd)."""
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def wait_for_file(path: Path, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


def gone(pid: int, timeout: float = 15) -> bool:
    """True when process ``pid`` has exited and was reaped (no zombie) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                time.sleep(0.1)
                continue
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def zombie_children() -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(os.getpid()).children(recursive=True)
        if p.status() == psutil.STATUS_ZOMBIE
    ]


PID_CELL = "import os, pathlib; pathlib.Path({path!r}).write_text(str(os.getpid()))"


def write_sleepy(path: Path, pid_file: Path) -> Path:
    """A notebook that writes its kernel's PID to ``pid_file``, then sleeps ten minutes."""
    return write_notebook(
        path, None, PID_CELL.format(path=str(pid_file)), "import time\ntime.sleep(600)"
    )
