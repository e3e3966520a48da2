"""Dataset references: ``"train@3"``, ``"train@latest"`` or ``"train"`` (the latest)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import NotFoundError, UsageError
from ..names import check_name
from . import versions

if TYPE_CHECKING:
    from ..project import Project
    from .versions import DatasetVersion


def parse_ref(ref: object) -> tuple[str, int | None]:
    """``(name, version)``; version None means the latest."""
    if not isinstance(ref, str):
        raise UsageError(
            f"a dataset reference is a string like 'train@3', 'train@latest' or 'train', "
            f"not a {type(ref).__name__}"
        )
    name, at, version = ref.partition("@")
    check_name(name, "dataset name")
    if not at or version == "latest":
        return name, None
    if not (version.isascii() and version.isdigit()) or int(version) < 1:
        raise UsageError(
            f"dataset reference {ref!r}: the version after '@' must be a positive number or "
            "'latest', e.g. 'train@3'"
        )
    return name, int(version)


def resolve(project: Project, ref: str | DatasetVersion) -> DatasetVersion:
    """The version a reference names; NotFoundError naming what exists when it does not."""
    from .versions import DatasetVersion

    if isinstance(ref, DatasetVersion):
        return ref
    name, number = parse_ref(ref)
    found = (
        versions.latest(project, name) if number is None else versions.get(project, name, number)
    )
    if found is not None:
        return found
    newest = versions.latest(project, name)
    if newest is None:
        raise NotFoundError(
            f"no dataset named {name!r}; list datasets with `mlops data ls` or create one with "
            "mlops.snapshot(df, name)"
        )
    raise NotFoundError(
        f"dataset {name!r} has no version {number}; versions are 1 to {newest.version} "
        f"(see `mlops data ls {name}`)"
    )
