"""Inputs of a drift check: a DataFrame, a data file, or a dataset ref like ``train@3``.

A dataset ref used as the reference starts from its stored profile; the raw rows are loaded
(once) only for columns whose method needs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .columns import Summary, from_profile, summarize

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project

READERS = {
    ".csv": ("read_csv", {}),
    ".tsv": ("read_csv", {"sep": "\t"}),
    ".parquet": ("read_parquet", {}),
    ".pq": ("read_parquet", {}),
    ".json": ("read_json", {}),
    ".jsonl": ("read_json", {"lines": True}),
    ".ndjson": ("read_json", {"lines": True}),
    ".feather": ("read_feather", {}),
}


def read_file(path: Path) -> pd.DataFrame:
    """A data file as a DataFrame, by its extension; errors name the file and the fix."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise UsageError(
            f"cannot read {str(path)!r}: unknown file type {suffix or '(none)'}; "
            f"use one of {', '.join(READERS)}"
        )
    reader, options = READERS[suffix]
    try:
        return getattr(pd, reader)(path, **options)
    except (OSError, ValueError, ImportError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot read {str(path)!r}: {first}") from None


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or Path(text).suffix.lower() in READERS


class Source:
    """One side of a drift check: a frame, or a dataset profile with a lazy loader."""

    def __init__(
        self,
        label: str,
        frame: pd.DataFrame | None = None,
        profile: dict[str, Any] | None = None,
        loader: Callable[[], pd.DataFrame] | None = None,
    ):
        self.label = label
        self.version: Any = None  # the DatasetVersion when the source is a dataset ref
        self._frame = frame
        self.profile = profile
        self._loader = loader
        self.loaded_raw = False
        if frame is not None:
            self.columns = list(frame.columns)
            self.rows = len(frame)
        else:
            assert profile is not None
            self.columns = list(profile.get("columns", {}))
            self.rows = int(profile.get("rows", 0))

    @property
    def frame(self) -> pd.DataFrame:
        """The raw rows, loading them on first use for a profile-backed source."""
        if self._frame is None:
            assert self._loader is not None
            self._frame = as_frame(self._loader(), self.label)
            self.loaded_raw = True
        return self._frame

    @property
    def from_profile(self) -> bool:
        return self.profile is not None and not self.loaded_raw

    def summary(self, column: Any, kind: str | None = None) -> Summary:
        """The column summarized: from the profile when there is one and rows are not loaded."""
        if self._frame is None and self.profile is not None:
            return from_profile(self.profile["columns"][column], self.rows)
        return summarize(self.frame[column], kind)

    def raw_summary(self, column: Any, kind: str | None = None) -> Summary:
        return summarize(self.frame[column], kind)


def as_frame(value: Any, what: str) -> pd.DataFrame:
    import pandas as pd

    if isinstance(value, pd.Series):
        value = value.to_frame()
    if not isinstance(value, pd.DataFrame):
        raise UsageError(
            f"{what} must be a DataFrame, a data file path or a dataset ref like 'train@3', "
            f"not {type(value).__name__}"
        )
    if not value.columns.is_unique:
        dupes = sorted({str(c) for c in value.columns[value.columns.duplicated()]})
        raise UsageError(f"{what} has duplicate column names {dupes}; rename them first")
    return value


def open_source(value: Any, role: str, project: Project, use_profile: bool = False) -> Source:
    """A Source for ``value``: DataFrame/Series, existing file path, or dataset ref.

    ``use_profile``: start from a dataset's stored profile (for the reference side).
    """
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        path = Path(text).expanduser()
        if not path.is_absolute() and not path.exists():
            path = project.root / path
        if path.is_file():
            return Source(text, as_frame(read_file(path), role))
        if isinstance(value, os.PathLike) or _looks_like_path(text):
            raise UsageError(f"{role}: no file {text!r}; pass an existing data file")
        return _dataset_source(text, role, project, use_profile)
    from ..data.versions import DatasetVersion

    if isinstance(value, DatasetVersion):
        return _dataset_source(value.ref, role, project, use_profile)
    frame = as_frame(value, role)
    return Source(f"DataFrame {frame.shape[0]}x{frame.shape[1]}", frame)


def _dataset_frame(project: Project, version: Any, role: str) -> pd.DataFrame:
    from ..data.load import load_version

    data = load_version(project, version, record=False)
    if isinstance(data, Path):
        if not data.is_file():
            raise UsageError(f"{role}: {version.ref} is a folder; pass a DataFrame or a file")
        data = read_file(data)
    return as_frame(data, role)


def _dataset_source(ref: str, role: str, project: Project, use_profile: bool) -> Source:
    from ..data.refs import resolve

    version = resolve(project, ref)
    profile = version.profile if use_profile else None
    if isinstance(profile, dict) and isinstance(profile.get("columns"), dict):
        source = Source(
            version.ref, profile=profile, loader=lambda: _dataset_frame(project, version, role)
        )
    else:
        source = Source(version.ref, _dataset_frame(project, version, role))
    source.version = version
    return source
