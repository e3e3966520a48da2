"""Hooks: commands and URL POSTs on registry events, against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_registry import actions, register, set_config

import mlops_nb as mlops
from mlops_nb.errors import UsageError


class Receiver:
    """A loopback HTTP server recording every request; ``routes`` maps path -> reply."""

    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[dict] = []
        self.routes: dict[str, tuple[int, dict[str, str]]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                status, headers = receiver.routes.get(self.path, (200, {}))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def hooks_config(project, *hooks: str, event: str = "on_promote") -> None:
    set_config(project, f"hooks:\n  {event}:\n" + "".join(f"    - {h}\n" for h in hooks))


def failures() -> list[dict]:
    trail = mlops.audit()
    return list(trail[trail["action"] == "hook_failed"]["details"])


def test_command_hook_gets_the_event_on_stdin_and_in_the_environment(project, tmp_path):
    out = tmp_path / "event.json"
    script = tmp_path / "deploy.py"
    script.write_text(
        "import json, os, sys, pathlib\n"
        "event = json.load(sys.stdin)\n"
        "event['env'] = {k: os.environ[k] for k in ('MLOPS_EVENT_NAME', 'MLOPS_MODEL',"
        " 'MLOPS_VERSION', 'MLOPS_ALIAS')}\n"
        "event['same'] = json.loads(os.environ['MLOPS_EVENT'])['seq'] == event['seq']\n"
        f"pathlib.Path({str(out)!r}).write_text(json.dumps(event))\n"
    )
    hooks_config(project, f"{{command: [{sys.executable!r}, {str(script)!r}]}}")
    register(auc=0.9)
    result = mlops.promote("churn", 1, to="production", reason="ship it")
    assert [h.ok for h in result.hooks] == [True]
    event = json.loads(out.read_text())
    assert event["event"] == "promote" and event["action"] == "promote"
    assert (event["name"], event["version"], event["alias"]) == ("churn", 1, "production")
    assert event["reason"] == "ship it" and event["seq"] == result.seq and event["same"]
    assert event["env"] == {
        "MLOPS_EVENT_NAME": "promote",
        "MLOPS_MODEL": "churn",
        "MLOPS_VERSION": "1",
        "MLOPS_ALIAS": "production",
    }
    assert event["project"] == str(project.root)
    assert failures() == []


def test_a_failing_command_is_recorded_not_dropped(project):
    hooks_config(
        project,
        f"{{command: [{sys.executable!r}, -c, 'import sys; sys.exit(\"deploy broke\")']}}",
        "{command: no-such-program-xyz --flag}",
    )
    register()
    result = mlops.promote("churn", 1, to="production")
    assert result.promoted  # the promotion stands; the hook failures are reported
    assert [(h.ok, h.detail) for h in result.hooks] == [
        (False, "exit status 1: deploy broke"),
        (False, "command not found: no-such-program-xyz"),
    ]
    recorded = failures()
    assert [r["error"] for r in recorded] == [
        "exit status 1: deploy broke",
        "command not found: no-such-program-xyz",
    ]
    assert all(r["event"] == "promote" and r["event_seq"] == result.seq for r in recorded)
    assert mlops.verify_audit()


def test_url_hook_posts_signed_json(project, receiver, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    hooks_config(
        project, f"{{url: '{receiver.url('/deploy?token=abc')}', secret_env: HOOK_SECRET}}"
    )
    register(auc=0.8)
    result = mlops.promote("churn", 1, to="production")
    assert [h.ok for h in result.hooks] == [True]
    (request,) = receiver.requests
    assert request["method"] == "POST" and request["path"] == "/deploy?token=abc"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Mlops-Event"] == "promote"
    expected = hmac.new(b"s3cret", request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Mlops-Signature"] == f"sha256={expected}"
    body = json.loads(request["body"])
    assert (body["name"], body["version"], body["alias"]) == ("churn", 1, "production")
    assert "token=abc" not in result.hooks[0].hook  # never record query strings


def test_url_errors_are_recorded(project, receiver):
    receiver.routes["/broken"] = (500, {})
    closed = Receiver()
    closed.close()
    hooks_config(
        project,
        f"{{url: '{receiver.url('/broken')}'}}",
        f"{{url: '{closed.url('/')}'}}",
        "{url: 'http://127.0.0.1:9/x', secret_env: MISSING_SECRET_VAR}",
    )
    register()
    result = mlops.promote("churn", 1, to="production")
    details = [h.detail for h in result.hooks]
    assert details[0] == "HTTP 500 Internal Server Error"
    assert details[1].startswith("cannot reach it")
    assert details[2] == "environment variable MISSING_SECRET_VAR (secret_env) is not set"
    assert len(failures()) == 3


def test_redirects_are_followed_on_the_same_host_only(project, receiver):
    other = Receiver()
    try:
        receiver.routes["/same"] = (307, {"Location": "/final"})
        receiver.routes["/away"] = (302, {"Location": other.url("/stolen", host="localhost")})
        hooks_config(
            project, f"{{url: '{receiver.url('/same')}'}}", f"{{url: '{receiver.url('/away')}'}}"
        )
        register()
        result = mlops.promote("churn", 1, to="production")
        assert [h.ok for h in result.hooks] == [True, False]
        final = [r for r in receiver.requests if r["path"] == "/final"]
        assert (
            final and final[0]["method"] == "POST" and json.loads(final[0]["body"])["version"] == 1
        )
        assert other.requests == []
        assert "refused redirect (302)" in result.hooks[1].detail
        assert "same host" in failures()[0]["error"]
    finally:
        other.close()


def test_reject_register_approve_and_demote_hooks(project, receiver):
    set_config(
        project,
        f"""
        promotion:
          production: {{require: ['metrics.auc > 0.9']}}
        hooks:
          on_reject: [{{url: '{receiver.url("/reject")}'}}]
          on_register: [{{url: '{receiver.url("/register")}'}}]
          on_approve: [{{url: '{receiver.url("/approve")}'}}]
          on_demote: [{{url: '{receiver.url("/demote")}'}}]
    """,
    )
    register(auc=0.5)
    mlops.approve("churn", 1, to="production")
    with pytest.raises(mlops.PromotionRejected):
        mlops.promote("churn", 1, to="production")
    mlops.promote("churn", 1, to="production", force=True, reason="urgent")
    from mlops_nb.registry.api import demote

    demote("churn", "production", "rollback")
    assert [r["path"] for r in receiver.requests] == ["/register", "/approve", "/reject", "/demote"]
    assert json.loads(receiver.requests[2]["body"])["checks"][0]["ok"] is False


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ("{on_deploy: []}", "unknown key 'on_deploy'"),
        ("{on_promote: {url: 'http://x'}}", "must be a list"),
        ("{on_promote: [{url: 'ftp://x/y'}]}", "http:// or https://"),
        ("{on_promote: [{url: 'http://x', command: 'y'}]}", "exactly one of"),
        ("{on_promote: [{command: ''}]}", "string or a list"),
        ("{on_promote: [{command: x, timeout: soon}]}", "number of seconds"),
        ("{on_promote: [{url: 'http://x', secret: y}]}", "unknown key 'secret'"),
        ("{on_promote: [{command: x, secret_env: y}]}", "unknown key 'secret_env'"),
    ],
)
def test_bad_hook_config_fails_before_anything_moves(project, hooks, message):
    set_config(project, f"hooks: {hooks}")
    with pytest.raises(UsageError, match=message):
        register()
    assert mlops.models().empty and actions() == []
