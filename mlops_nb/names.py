"""Validation of user-chosen names that become store paths or references."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

from .errors import UsageError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def check_name(name: object, what: str = "name") -> str:
    """A dataset/model/alias/experiment-like name: letters, digits, ``_ . -``; no ``..``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise UsageError(
            f"{what} {name!r} is not valid: use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (no '/', '..' or '@')"
        )
    return name


def check_relative_path(path: object, what: str = "artifact name") -> str:
    """A relative POSIX path that stays inside its root (no ``..``, no absolute, no ``\\``)."""
    if not isinstance(path, str) or not path:
        raise UsageError(f"{what} must be a non-empty string")
    normalized = unicodedata.normalize("NFKC", path)
    bad = (
        normalized.startswith(("/", "~"))
        or "\\" in normalized
        or ":" in normalized
        or not normalized.isprintable()
        or any(part in ("..", ".", "") for part in normalized.split("/"))
    )
    if bad or normalized != path:
        raise UsageError(
            f"{what} {path!r} must be a relative path inside the run (no '..', no leading '/', "
            "no '\\\\' or ':'), e.g. 'plots/roc.png'"
        )
    return str(PurePosixPath(path))
