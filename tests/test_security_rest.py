"""The REST API against browser-side attacks, on a real jupyter_server with our extension.

Token, wrong-token, XSRF and path-traversal cases live in ``test_server.py``; this module
adds what a hostile web page can try: cross-origin simple requests riding the session
cookie, preflights, reflected headers, token leaks into the log, and injected ids.
"""

from __future__ import annotations

import json
import logging
from http.cookies import SimpleCookie
from urllib.parse import quote

import pytest
from support.jupyter import *  # noqa: F403 - pytest-jupyter fixtures for this module
from support.jupyter import error_body
from support.seed import seed_all
from traitlets.config import Config

import mlops_nb as mlops

EVIL = "https://evil.example"


@pytest.fixture
def seeded(project):
    return seed_all(project)


def _session_cookies(api, jp_base_url) -> str:
    """The cookies a browser holds after logging in (the auth cookie and ``_xsrf``)."""
    login = api.fetch(f"version?token={api.token}", auth=False)
    page = api.loop.run_until_complete(api.client.fetch(f"{jp_base_url}login", raise_error=False))
    cookies = SimpleCookie()
    for header in login.headers.get_list("Set-Cookie") + page.headers.get_list("Set-Cookie"):
        cookies.load(header)
    return "; ".join(f"{k}={v.value}" for k, v in cookies.items())


def _production(name: str = "churn") -> int | None:
    frame = mlops.models(name)
    held = frame[frame["aliases"].map(lambda a: "production" in a)]
    return None if held.empty else int(held["version"].iloc[0])


@pytest.fixture
def jp_server_config():
    """Authentication always required, and a CORS allow-list naming one trusted site."""
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"mlops_nb": True},
                "allow_unauthenticated_access": False,
                "allow_origin_pat": r"https://trusted\.example",
            }
        }
    )


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_cross_origin_simple_post_with_the_session_cookie_is_refused(
    api, jp_base_url, seeded, content_type
):
    """CVE-2023-43472: a page on another site posts a no-preflight request; the browser
    attaches the victim's cookie. It is refused (Jupyter answers 404 to a foreign origin,
    403 without the XSRF token) and changes nothing."""
    before = _production()
    jar = _session_cookies(api, jp_base_url)
    body = json.dumps({"version": 1, "to": "production", "reason": "pwned", "force": True})
    for origin in (EVIL, "https://trusted.example"):
        response = api.fetch(
            "models/churn/promote",
            method="POST",
            body=body,
            auth=False,
            headers={"Cookie": jar, "Content-Type": content_type, "Origin": origin},
        )
        assert response.code in (403, 404)
        assert "Access-Control-Allow-Origin" not in response.headers
    assert _production() == before


@pytest.mark.parametrize(
    "origin",
    [
        EVIL,
        "null",
        "https://trusted.example.evil.example",
        "https://evil.example/https://trusted.example",
    ],
)
def test_cross_origin_reads_with_the_session_cookie_are_blocked(api, jp_base_url, seeded, origin):
    """CVE-2026-40110: the allow-list must match the whole origin, not a prefix of it."""
    jar = _session_cookies(api, jp_base_url)
    read = api.fetch("runs", auth=False, headers={"Cookie": jar, "Origin": origin})
    assert read.code in (403, 404) and b"run_id" not in read.body
    assert "Access-Control-Allow-Origin" not in read.headers
    preflight = api.fetch(
        "models/churn/promote",
        method="OPTIONS",
        auth=False,
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") in (None, "")


def test_the_allowed_origin_may_read_with_the_session_cookie(api, jp_base_url, seeded):
    jar = _session_cookies(api, jp_base_url)
    origin = "https://trusted.example"
    read = api.fetch("runs", auth=False, headers={"Cookie": jar, "Origin": origin})
    assert read.code == 200 and read.headers["Access-Control-Allow-Origin"] == origin


def test_json_responses_cannot_be_sniffed_or_included_as_script(api, seeded):
    response = api.get("runs")
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.body.lstrip().startswith(b"{")  # an object, never a bare array (XSSI)


def test_hostile_input_in_errors_is_never_served_as_html(api, seeded):
    """CVE-2023-6568: a header reflected into an HTML error page. Headers and bodies are not
    echoed at all; ids in the path may be quoted back, but only inside JSON (nosniff)."""
    script = "<script>alert(1)</script>"
    echoed = [
        api.fetch("models/churn/promote", method="POST", body="{}",
                  headers={"Content-Type": script}),
        api.fetch("models/churn/promote", method="POST", body=script,
                  headers={"Content-Type": "application/json"}),
    ]  # fmt: skip
    quoted = [api.fetch(f"{route}/{quote(script, safe='')}") for route in ("runs", "models")]
    for response in echoed + quoted:
        error_body(response)
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    for response in echoed:
        assert script not in response.body.decode()


@pytest.mark.parametrize(
    "path",
    [
        "runs/'%20OR%20'1'='1",
        "runs/1%20OR%201=1",
        "models/x'%3B%20DROP%20TABLE%20runs",
        "datasets/%27",
    ],
)
def test_injected_ids_are_json_errors_and_change_nothing(api, seeded, path):
    count = len(mlops.runs())
    response = api.fetch(path)
    assert response.code in (400, 404)
    error_body(response)
    assert len(mlops.runs()) == count


def test_malformed_and_oversized_bodies_are_clean_4xx(api, seeded):
    bodies = [
        "{", "[]", "null", '"x"', '{"version": {"$gt": 0}}', '{"version": 1e999}',
        json.dumps({"version": 1, "to": "production", "reason": "x" * 1_000_000}),
        json.dumps({f"k{i}": i for i in range(100_000)}),
    ]  # fmt: skip
    for body in bodies:
        response = api.fetch(
            "models/churn/promote",
            method="POST",
            body=body,
            headers={"Content-Type": "application/json"},
        )
        assert 400 <= response.code < 500, (body[:40], response.code, response.body[:200])
        assert "Traceback" not in response.body.decode()


def test_the_token_never_reaches_the_log(api, seeded, caplog):
    """CVE-2022-24757: a failing request with the token in the query string, a cookie and
    the Referer must not write the token to the server log."""
    caplog.set_level(logging.DEBUG)
    for logger in ("tornado.access", "ServerApp", "tornado.application"):
        logging.getLogger(logger).propagate = True
    run_id = seeded.runs["baseline"]
    project = mlops.get_run(run_id).project
    digest = next(a.digest for a in mlops.get_run(run_id).artifacts if a.path == "importance.csv")
    project.blobs.local_path(digest).write_bytes(b"corrupted")  # the download fails: a 5xx
    headers = {"Referer": f"http://x/lab?token={api.token}", "Cookie": f"t={api.token}"}
    for path in (
        f"runs/{run_id}/artifacts/importance.csv?token={api.token}",
        f"runs/nope?token={api.token}",
    ):
        api.fetch(path, auth=False, headers=headers)
    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert api.token not in caplog.text
