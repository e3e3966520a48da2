"""Runs: the paginated list, one run's details, artifact downloads, delete and restore."""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import quote

from tornado import web

from ...errors import NotFoundError, UsageError
from ...names import check_relative_path
from ...tracking.query import BASE_COLUMNS
from ...tracking.runs import STATUSES
from ..serialize import downsample, frame_records, run_summary, to_jsonable
from .base import ApiError, MlopsHandler

MAX_PAGE = 500
DEFAULT_PAGE = 50
MAX_POINTS = 5000
CHUNK = 256 * 1024
DETAIL_FIELDS = (
    *(c for c in BASE_COLUMNS if c != "duration"),
    *("host", "notebook_path", "git_commit", "git_dirty", "description", "deleted_at"),
)


def list_page(
    project: Any,
    limit: int,
    offset: int,
    filter: str | None,
    experiment: str | None,
    status: str | None,
    deleted: bool = False,
) -> dict[str, Any]:
    from ...tracking.query import count_runs, list_runs

    if status is not None:
        if status not in STATUSES:
            raise UsageError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        filter = f"status == '{status}'" + (f" and ({filter})" if filter else "")
    frame = list_runs(
        project, experiment=experiment, filter=filter, limit=limit, offset=offset, deleted=deleted
    )
    total = count_runs(project, experiment=experiment, filter=filter, deleted=deleted)
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "runs": [run_summary(record) for record in frame.to_dict("records")],
    }


def resolve(project: Any, run_id: str) -> Any:
    from ...tracking.query import resolve_run_id
    from ...tracking.runs import Run

    return Run(project, resolve_run_id(project, run_id)).refresh()


def lineage(project: Any, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Dataset versions the run read and produced, model versions registered from it."""
    from ...data.lineage import inputs_of, outputs_of
    from ...registry.versions import frame

    def refs(found: list[Any]) -> list[dict[str, Any]]:
        return [{"name": v.name, "version": v.version, "digest": v.digest} for v in found]

    models = frame(project)
    models = models[models["run_id"] == run_id]
    return {
        "datasets_read": refs(inputs_of(project, run_id)),
        "datasets_produced": refs(outputs_of(project, run_id)),
        "models": [
            {"name": r["name"], "version": int(r["version"]), "digest": r["digest"]}
            for r in models.to_dict("records")
        ],
    }


def notebook_artifact(artifacts: list[Any]) -> str | None:
    """The executed notebook saved with the run, if any (the shortest ``.ipynb`` path)."""
    notebooks = sorted((a.path for a in artifacts if a.path.endswith(".ipynb")), key=len)
    return notebooks[0] if notebooks else None


def detail(project: Any, run_id: str, max_points: int) -> dict[str, Any]:
    run = resolve(project, run_id)
    row = run.row
    metrics = run.metrics
    history = {}
    for key in metrics:
        points = frame_records(run.metric_history(key))
        history[key] = {"total": len(points), "points": downsample(points, max_points)}
    artifacts = run.artifacts
    summary = {key: getattr(row, key) for key in DETAIL_FIELDS}
    summary["duration"] = None if row.end_time is None else row.end_time - row.start_time
    return to_jsonable(
        {
            "run": summary,
            "params": run.params,
            "tags": run.tags,
            "metrics": metrics,
            "metric_history": history,
            "artifacts": [
                {
                    "path": a.path,
                    "size": a.size,
                    "digest": a.digest,
                    "kind": a.kind,
                    "media_type": a.media_type,
                }
                for a in artifacts
            ],
            "notebook_artifact": notebook_artifact(artifacts),
            "cells": frame_records(run.cells),
            "reproducibility_notes": run.reproducibility_notes,
            "children": [child.run_id for child in run.children],
            "lineage": lineage(project, run.run_id),
        }
    )


def find_artifact(project: Any, run_id: str, path: str) -> Any:
    """The artifact recorded under exactly ``path`` (never a filesystem lookup)."""
    run = resolve(project, run_id)
    for artifact in run.artifacts:
        if artifact.path == path:
            return artifact
    raise NotFoundError(f"run {run.run_id[:8]} has no artifact {path!r}")


class RunsHandler(MlopsHandler):
    query = frozenset({"limit", "offset", "filter", "experiment", "status", "deleted"})

    @web.authenticated
    async def get(self) -> None:
        page = await self.core(
            list_page,
            self.project,
            limit=self.int_argument("limit", DEFAULT_PAGE, 1, MAX_PAGE),
            offset=self.int_argument("offset", 0, 0, 2**31),
            filter=self.text_argument("filter"),
            experiment=self.text_argument("experiment"),
            status=self.text_argument("status"),
            deleted=self.bool_argument("deleted"),
        )
        self.reply(page)


class RunHandler(MlopsHandler):
    query = frozenset({"max_points"})

    @web.authenticated
    async def get(self, run_id: str) -> None:
        max_points = self.int_argument("max_points", 500, 2, MAX_POINTS)
        self.reply(await self.core(detail, self.project, run_id, max_points))

    @web.authenticated
    async def delete(self, run_id: str) -> None:
        """Delete the run and its children (restorable): ``{"deleted": [ids]}``."""
        from ...tracking.deletion import delete_runs

        self.reply({"deleted": await self.core(delete_runs, self.project, run_id)})


class RestoreHandler(MlopsHandler):
    @web.authenticated
    async def post(self, run_id: str) -> None:
        """Restore a deleted run, its deleted children and parents: ``{"restored": [ids]}``."""
        from ...tracking.deletion import restore_runs

        self.reply({"restored": await self.core(restore_runs, self.project, run_id)})


class ArtifactHandler(MlopsHandler):
    """Streams an artifact's bytes; the last chunk is held back until the digest checks out."""

    query = frozenset({"download"})

    @property
    def content_security_policy(self) -> str:
        # An HTML or SVG artifact must never run script on the Jupyter origin.
        return "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"

    @web.authenticated
    async def get(self, run_id: str, path: str) -> None:
        try:
            path = check_relative_path(path)
        except UsageError as exc:
            raise ApiError(400, str(exc)) from None
        artifact = await self.core(find_artifact, self.project, run_id, path)
        etag = f'"{artifact.digest}"'
        self.set_header("ETag", etag)
        self.set_header("Cache-Control", "private, max-age=0, must-revalidate")
        if self.request.headers.get("If-None-Match") == etag:
            self.set_status(304)
            self.finish()
            return
        media_type = (
            artifact.media_type or mimetypes.guess_type(path)[0] or "application/octet-stream"
        )
        disposition = "attachment" if self.get_query_argument("download", "") else "inline"
        filename = quote(path.rsplit("/", 1)[-1])
        self.set_header("Content-Type", media_type)
        self.set_header("Content-Length", str(artifact.size))
        self.set_header("Content-Disposition", f"{disposition}; filename*=UTF-8''{filename}")
        await self._stream(artifact.digest, path)
        self.finish(set_content_type=media_type)

    async def _stream(self, digest: str, path: str) -> None:
        from ...store.blobs import new_hasher

        source = await self.core(self.project.blobs.open, digest)
        hasher = new_hasher()
        held = b""
        try:
            while block := await self.core(source.read, CHUNK):
                hasher.update(block)
                if held:
                    self.write(held)
                    await self.flush()
                held = block
        finally:
            source.close()
        if hasher.hexdigest() == digest:
            self.write(held)
            return
        self.log.error("mlops_nb: blob %s of artifact %r does not match its digest", digest, path)
        if not self._headers_written:
            raise ApiError(
                500,
                f"artifact {path!r} does not match its recorded digest (corrupted "
                "or tampered with); restore the blob or log the artifact again",
            )
        # Headers are out: the client sees a body shorter than Content-Length, a failed download.
        self.request.connection.close()
        raise web.Finish()
