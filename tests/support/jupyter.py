"""A real Jupyter Server in-process (pytest-jupyter's fixtures) and a small client for our API.

``from support.jupyter import *`` in a test module brings pytest-jupyter's fixtures into that
module only (its autouse event-loop and cleanup fixtures then apply to that module alone,
not to the whole test session), plus ``jp_server_config`` and ``api``.
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - fixtures, scoped to the importer
from traitlets.config import Config

API = "mlops/api"


@pytest.fixture
def jp_server_config():
    """Only our extension, authentication always required (as in production)."""
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"mlops_nb": True},
                "allow_unauthenticated_access": False,
            }
        }
    )


class Response:
    def __init__(self, raw: Any):
        self.code = raw.code
        self.headers = raw.headers
        self.body = raw.body or b""

    def json(self) -> Any:
        return json.loads(self.body)


class ApiClient:
    """Synchronous requests to ``{base_url}mlops/api/`` on the test server."""

    def __init__(self, client: Any, loop: Any, base_url: str, token: str):
        self.client, self.loop, self.token = client, loop, token
        self.base = f"{base_url.rstrip('/')}/{API}"

    def fetch(
        self,
        path: str,
        method: str = "GET",
        body: str | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Response:
        """``path`` is sent as given (already escaped), relative to the API root."""
        headers = dict(headers or {})
        if auth:
            headers.setdefault("Authorization", f"token {self.token}")
        request = self.client.fetch(
            f"{self.base}/{path}",
            method=method,
            body=body,
            headers=headers,
            raise_error=False,
            follow_redirects=False,
        )
        return Response(self.loop.run_until_complete(request))

    def get(self, *parts: str, **params: str) -> Response:
        path = "/".join(quote(str(p), safe="") for p in parts)
        return self.fetch(path + (f"?{urlencode(params)}" if params else ""))

    def post(self, *parts: str, body: Any, content_type: str = "application/json") -> Response:
        path = "/".join(quote(str(p), safe="") for p in parts)
        return self.fetch(
            path, method="POST", body=json.dumps(body), headers={"Content-Type": content_type}
        )

    def json(self, *parts: str, **params: str) -> Any:
        response = self.get(*parts, **params)
        assert response.code == 200, response.body
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        return response.json()


def session_cookies(api: ApiClient, base_url: str) -> SimpleCookie:
    """The cookies a browser holds after logging in: the auth cookie and ``_xsrf``."""
    login = api.fetch(f"version?token={api.token}", auth=False)
    page = api.loop.run_until_complete(  # the login page sets the _xsrf cookie
        api.client.fetch(f"{base_url}login", raise_error=False)
    )
    cookies = SimpleCookie()
    for header in login.headers.get_list("Set-Cookie") + page.headers.get_list("Set-Cookie"):
        cookies.load(header)
    return cookies


def error_body(response: Response) -> dict[str, Any]:
    """The JSON error of a failed response: ``{"error": one line, "status": code, ...}``."""
    assert response.code >= 400, response.body
    body = response.json()
    assert body["status"] == response.code
    assert isinstance(body["error"], str) and "Traceback" not in body["error"]
    return body


@pytest.fixture
def api(http_server_client, jp_asyncio_loop, jp_serverapp, jp_base_url):
    return ApiClient(
        http_server_client, jp_asyncio_loop, jp_base_url, jp_serverapp.identity_provider.token
    )
