"""What a run ran on: Python, platform, installed packages, and the git state of the code."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

GIT_CACHE_SECONDS = 2.0
_git_cache: dict[str, tuple[float, dict[str, Any]]] = {}


@lru_cache(maxsize=1)
def packages() -> dict[str, str]:
    """Installed distributions and versions (a ``pip freeze`` equivalent), read once.

    Read from the ``NAME-VERSION.dist-info`` folder names on ``sys.path`` (milliseconds),
    falling back to ``importlib.metadata`` for anything else.
    """
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            entries = os.scandir(folder or ".")
        except OSError:
            continue
        with entries:
            for entry in entries:
                stem, dot, suffix = entry.name.rpartition(".")
                if dot and suffix in ("dist-info", "egg-info") and "-" in stem:
                    name, _, version = stem.partition("-")
                    found.setdefault(_normalize(name), version.split("-")[0])
    if not found:
        for dist in metadata.distributions():
            if dist.metadata.get("Name"):
                found.setdefault(_normalize(dist.metadata["Name"]), dist.version)
    return dict(sorted(found.items()))


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@lru_cache(maxsize=1)
def environment() -> tuple[str, str]:
    """This interpreter's environment as (digest, JSON text); computed once per process."""
    info = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
        "packages": packages(),
    }
    text = json.dumps(info, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest(), text


def _find_repo(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def git_state(start: str) -> dict[str, Any]:
    """``{"commit": sha, "dirty": bool}`` when ``start`` is inside a git work tree, else {}.

    Cached for a couple of seconds, so creating many runs in a loop runs git once.
    """
    cached = _git_cache.get(start)
    if cached and time.monotonic() - cached[0] < GIT_CACHE_SECONDS:
        return cached[1]
    repo = _find_repo(Path(start).resolve())
    if repo is None:
        _git_cache[start] = (time.monotonic(), {})
        return {}
    state: dict[str, Any] = {}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10
        )
        if commit.returncode == 0:
            status = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=repo,
                capture_output=True,
                text=True,
                timeout=10,
            )
            state = {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        state = {}
    _git_cache[start] = (time.monotonic(), state)
    return state
