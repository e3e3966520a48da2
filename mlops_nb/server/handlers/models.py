"""Models: the registry's names, one model's versions/aliases/audit, promote and approve.

Promotion and approval call the registry core, so the project's gates hold here exactly as
in the notebook and the CLI; a rejection is a 409 whose body carries every check.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ...names import check_name
from ..serialize import frame_records, to_jsonable
from .base import ApiError, MlopsHandler


def version_records(project: Any, name: str | None = None) -> list[dict[str, Any]]:
    """Every version (of one model) as ``{name, version, ..., aliases, metrics: {}}``."""
    from ...registry.versions import frame

    records = []
    for row in frame_records(frame(project, name)):
        metrics = {k[len("metrics.") :]: row.pop(k) for k in list(row) if k.startswith("metrics.")}
        records.append({**row, "metrics": {k: v for k, v in metrics.items() if v is not None}})
    return records


def alias_map(records: list[dict[str, Any]]) -> dict[str, int]:
    return {alias: r["version"] for r in records for alias in r["aliases"]}


def list_models(project: Any) -> dict[str, Any]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for record in version_records(project):
        by_name.setdefault(record["name"], []).append(record)
    return {
        "models": [
            {
                "name": name,
                "latest_version": max(r["version"] for r in records),
                "versions": len(records),
                "aliases": alias_map(records),
                "updated_at": max(r["created_at"] for r in records),
            }
            for name, records in sorted(by_name.items())
        ]
    }


def model_detail(project: Any, name: str) -> dict[str, Any]:
    from ...registry.audit import events

    check_name(name, "model name")
    records = version_records(project, name)
    return {
        "name": name,
        "versions": records,
        "aliases": alias_map(records),
        "audit": frame_records(
            events(project, name)[["seq", "ts", "actor", "action", "subject", "details"]]
        ),
    }


def promote(project: Any, name: str, version: Any, to: str, reason: str) -> dict[str, Any]:
    from ...registry.promotion import promote as core_promote

    check_name(name, "model name")
    return to_jsonable(core_promote(project, name, version, to=to, reason=reason).to_dict())


def approve(project: Any, name: str, version: Any, to: str, comment: str | None) -> dict[str, Any]:
    from ...registry.promotion import approve as core_approve

    check_name(name, "model name")
    return to_jsonable(core_approve(project, name, version, to=to, comment=comment).to_dict())


def _version(body: dict[str, Any]) -> int | str:
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise ApiError(400, 'give the version to act on: {"version": 3} (or an alias)')
    return version


def _text(body: dict[str, Any], key: str, required: bool) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{key} must be a string")
    if required and not (value or "").strip():
        raise ApiError(400, f"{key} is required")
    return value


class ModelsHandler(MlopsHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.core(list_models, self.project))


class ModelHandler(MlopsHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        self.reply(await self.core(model_detail, self.project, name))


class PromoteHandler(MlopsHandler):
    """``{"version", "to", "reason"}`` -> the promotion result; 409 with checks if rejected."""

    @web.authenticated
    async def post(self, name: str) -> None:
        body = self.json_body()
        version = _version(body)
        to = _text(body, "to", required=True)
        reason = _text(body, "reason", required=True)
        self.reply(await self.core(promote, self.project, name, version, to, reason))


class ApproveHandler(MlopsHandler):
    """``{"version", "to", "comment"}`` -> the approval, recorded as the server's user."""

    @web.authenticated
    async def post(self, name: str) -> None:
        body = self.json_body()
        version = _version(body)
        to = _text(body, "to", required=True)
        comment = _text(body, "comment", required=False)
        self.reply(await self.core(approve, self.project, name, version, to, comment), status=201)
