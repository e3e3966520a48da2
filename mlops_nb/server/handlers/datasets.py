"""Datasets: names and versions, one dataset's schema and profile, the diff of two versions."""

from __future__ import annotations

from typing import Any

from tornado import web

from ...errors import NotFoundError
from ...names import check_name
from ..serialize import to_jsonable
from .base import ApiError, MlopsHandler


def version_record(version: Any, runs: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A version with its schema as ``[{name, dtype}]`` and profile as ``[{column, ...}]``."""
    from ...data.api import LIST_COLUMNS

    record = {field: getattr(version, field) for field in LIST_COLUMNS}
    schema = version.schema or {}
    profile = (version.profile or {}).get("columns", {})
    record["schema"] = [{"name": c["name"], "dtype": c["dtype"]} for c in schema.get("columns", [])]
    record["profile"] = [
        {"column": column, **{k: v for k, v in stats.items() if k not in ("bins", "bin_counts")}}
        for column, stats in profile.items()
    ]
    if runs is not None:
        record["runs"] = runs
    return to_jsonable(record)


def list_datasets(project: Any) -> dict[str, Any]:
    from ...data.versions import list_versions

    by_name: dict[str, list[Any]] = {}
    for version in list_versions(project):
        by_name.setdefault(version.name, []).append(version)
    return to_jsonable(
        {
            "datasets": [
                {
                    "name": name,
                    "latest_version": found[-1].version,
                    "versions": len(found),
                    "kind": found[-1].kind,
                    "rows": found[-1].rows,
                    "columns": found[-1].columns,
                    "created_at": found[-1].created_at,
                }
                for name, found in sorted(by_name.items())
            ]
        }
    )


def dataset_detail(project: Any, name: str) -> dict[str, Any]:
    from ...data.lineage import runs_of
    from ...data.versions import list_versions

    check_name(name, "dataset name")
    found = list_versions(project, name)
    if not found:
        raise NotFoundError(f"no dataset {name!r}; list datasets with `mlops data ls`")
    return {"name": name, "versions": [version_record(v, runs_of(project, v.id)) for v in found]}


def diff(project: Any, name: str, a: str, b: str, key: str | None) -> dict[str, Any]:
    from ...data.diff import diff_datasets

    check_name(name, "dataset name")
    keys = [k.strip() for k in key.split(",") if k.strip()] if key else None
    result = diff_datasets(project, f"{name}@{a}", f"{name}@{b}", keys)
    return to_jsonable({"name": name, **result.to_dict()})


class DatasetsHandler(MlopsHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.core(list_datasets, self.project))


class DatasetHandler(MlopsHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        self.reply(await self.core(dataset_detail, self.project, name))


class DiffHandler(MlopsHandler):
    """``?a=1&b=2[&key=id]``: versions by number (or ``latest``)."""

    query = frozenset({"a", "b", "key"})

    @web.authenticated
    async def get(self, name: str) -> None:
        a, b = self.text_argument("a"), self.text_argument("b")
        if not a or not b:
            raise ApiError(400, "give the two versions to compare: ?a=1&b=2")
        for value in (a, b):
            if not (value.isdigit() or value == "latest"):
                raise ApiError(400, f"version {value!r} must be a number or 'latest'")
        key = self.text_argument("key")
        self.reply(await self.core(diff, self.project, name, a, b, key))
