"""The base handler: authentication, JSON in and out, errors as JSON, core calls off the loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, ClassVar, TypeVar

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ...errors import (
    GateFailed,
    IntegrityError,
    MlopsError,
    NotFoundError,
    StoreError,
    UsageError,
)
from ..serialize import dumps

T = TypeVar("T")

# Core calls block (SQL, blob reads): they run here, never on the server's event loop.
EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mlops-api")


class ApiError(web.HTTPError):
    """An HTTP error whose JSON body carries ``message`` and any ``extra`` fields."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(status, reason=None)
        self.message = message
        self.extra = extra


def status_of(exc: MlopsError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, GateFailed):
        return 409
    if isinstance(exc, IntegrityError):
        return 500
    if isinstance(exc, StoreError):
        return 503
    return 500


# Jupyter Server reads these itself (a token in the URL authenticates). JupyterLab's
# ServerConnection also appends a bare timestamp (``?1795768178230``) to every GET.
AUTH_PARAMETERS = frozenset({"token", "_xsrf"})


class MlopsHandler(APIHandler):
    """Every ``/mlops/api`` handler: JSON replies, ``{"error", "status"}`` on failure."""

    # The query parameters the endpoint reads: any other is refused, so a misspelt one
    # (``?limt=10``) says so instead of being ignored.
    query: ClassVar[frozenset[str]] = frozenset()

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.current_user is None:
            return  # @web.authenticated answers it
        unknown = sorted(
            name
            for name, values in self.request.query_arguments.items()
            if name not in self.query
            and name not in AUTH_PARAMETERS
            and not (name.isdigit() and values == [b""])  # JupyterLab's cache buster
        )
        if unknown:
            takes = ", ".join(sorted(self.query)) or "none"
            raise ApiError(
                400, f"unknown query parameter {unknown[0]!r}; this endpoint takes: {takes}"
            )

    @property
    def project(self) -> Any:
        from ...project import Project

        return Project.find(self.settings["mlops_root_dir"])

    async def core(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking core call in the worker pool; map its errors to HTTP errors."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(EXECUTOR, partial(fn, *args, **kwargs))
        except MlopsError as exc:
            raise ApiError(status_of(exc), str(exc), **error_details(exc)) from None

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(dumps(payload))

    # -- request parsing
    def query_value(self, name: str) -> str | None:
        """The value of a query parameter given at most once (None when absent), stripped
        of surrounding whitespace only (Tornado's own getters turn control characters into
        spaces, which would let ``?status=%1B`` pass as "any status")."""
        values = self.request.query_arguments.get(name, [])
        if len(values) > 1:
            raise ApiError(400, f"give {name} once, not {len(values)} times")
        return self.decode_argument(values[0], name=name).strip() if values else None

    def int_argument(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.query_value(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise ApiError(400, f"{name} must be between {low} and {high}, got {value}")
        return value

    def bool_argument(self, name: str) -> bool:
        """``true``/``1`` or ``false``/``0`` (absent or empty: false)."""
        raw = (self.query_value(name) or "false").lower()
        if raw not in ("true", "1", "false", "0"):
            raise ApiError(400, f"{name} must be true or false, got {raw!r}")
        return raw in ("true", "1")

    def text_argument(self, name: str) -> str | None:
        """A text parameter; empty means not given."""
        return self.query_value(name) or None

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; other content types are refused (CSRF hygiene)."""
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/json":
            raise ApiError(415, "send the request body as JSON (Content-Type: application/json)")
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise ApiError(400, "the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return body

    # -- errors
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            message, extra = exc.message, exc.extra
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            message, extra = exc.log_message % exc.args, {}
        elif status_code >= 500:
            message, extra = (
                "internal error in the mlops_nb server extension; see the server log",
                {},
            )
        else:
            message, extra = self._reason, {}
        self.clear_header("Content-Disposition")
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.set_header("Content-Type", "application/json")
        self.finish(dumps({"error": message, "status": status_code, **extra}))

    def allowed_methods(self) -> list[str]:
        """The HTTP methods this handler implements (for ``Allow`` on a 405)."""
        return [
            method
            for method in ("GET", "POST", "OPTIONS")
            if getattr(type(self), method.lower())
            is not getattr(web.RequestHandler, method.lower())
        ]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Log failures without the query string (it may carry the token)."""
        if isinstance(value, web.HTTPError):
            return
        self.log.error(
            "mlops_nb API error on %s %s",
            self.request.method,
            self.request.path,
            exc_info=(typ, value, tb),
        )


def error_details(exc: MlopsError) -> dict[str, Any]:
    """Structured fields of a core error (a rejected promotion carries its checks)."""
    from ..serialize import promotion_checks

    result = getattr(exc, "result", None)
    return {"checks": promotion_checks(result)} if result is not None else {}
