"""Registry hooks: run a command or POST JSON to a URL when something happens to a model.

Configured in ``mlops.yaml`` only (never from a model, a request or an argument)::

    hooks:
      on_promote:                      # also on_register, on_approve, on_reject, on_demote
        - command: ./deploy.sh --env prod      # argv (split like a shell would, no shell)
          timeout: 120                         # seconds (default 60)
        - url: https://cd.example.com/hooks/mlops
          secret_env: MLOPS_HOOK_SECRET        # optional: sign the body (HMAC-SHA256)
          timeout: 10

A command gets the event as JSON on stdin and in ``MLOPS_EVENT`` (plus ``MLOPS_EVENT_NAME``,
``MLOPS_MODEL``, ``MLOPS_VERSION``, ``MLOPS_ALIAS``); it runs in the project root and fails
on a non-zero exit. A URL gets a ``POST`` with ``Content-Type: application/json``
(``X-Mlops-Signature: sha256=<hex>`` when signed); any status outside 2xx fails it. Redirects
are followed only to the same host (never to another host, never https -> http). Hooks run
after the change is committed; each failure is appended to the audit trail as
``hook_failed`` and reported on the result, never dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shlex
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..config import CONFIG_FILE, section
from ..errors import UsageError
from . import audit

if TYPE_CHECKING:
    from ..project import Project

EVENTS = ("register", "promote", "reject", "approve", "demote")
COMMAND_TIMEOUT = 60.0
URL_TIMEOUT = 10.0
OUTPUT_TAIL = 500
HOOK_KEYS = {"command", "url", "secret_env", "timeout"}


@dataclass(frozen=True)
class HookOutcome:
    hook: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class HookFailed(Exception):
    """A hook did not succeed; the message says why."""


def _describe_url(url: str) -> str:
    """The URL without credentials, query or fragment (safe to record)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Re-POST to a redirect target on the same host; refuse any other host or a downgrade."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        target = urllib.parse.urljoin(req.full_url, newurl)
        old_scheme, old_host, _ = _origin(req.full_url)
        new_scheme, new_host, _ = _origin(target)
        if new_host != old_host or (old_scheme, new_scheme) == ("https", "http"):
            raise HookFailed(
                f"refused redirect ({code}) from {_describe_url(req.full_url)} to "
                f"{_describe_url(target)}: hooks only follow redirects on the same host"
            )
        return urllib.request.Request(
            target, data=req.data, headers=dict(req.header_items()), method=req.get_method()
        )


_opener = urllib.request.build_opener(_SameHostRedirects)


def _post(hook: dict[str, Any], body: bytes, event_name: str) -> str:
    url = hook["url"]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"mlops_nb/{__version__}",
        "X-Mlops-Event": event_name,
    }
    secret_env = hook.get("secret_env")
    if secret_env:
        secret = os.environ.get(secret_env)
        if not secret:
            raise HookFailed(f"environment variable {secret_env} (secret_env) is not set")
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Mlops-Signature"] = f"sha256={digest}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=float(hook.get("timeout", URL_TIMEOUT))) as response:
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        raise HookFailed(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HookFailed(f"cannot reach it: {reason}") from None


def _run(hook: dict[str, Any], project: Project, body: bytes, event: dict[str, Any]) -> str:
    command = hook["command"]
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    env = {
        **os.environ,
        "MLOPS_EVENT": body.decode(),
        "MLOPS_EVENT_NAME": event["event"],
        "MLOPS_MODEL": str(event.get("name", "")),
        "MLOPS_VERSION": str(event.get("version", "")),
        "MLOPS_ALIAS": str(event.get("alias") or ""),
    }
    timeout = float(hook.get("timeout", COMMAND_TIMEOUT))
    try:
        done = subprocess.run(
            argv,
            input=body,
            capture_output=True,
            cwd=project.root,
            env=env,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise HookFailed(f"command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise HookFailed(f"timed out after {timeout:g} s") from None
    except OSError as exc:
        raise HookFailed(f"cannot run it: {exc.strerror}") from None
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip()[-OUTPUT_TAIL:]
        raise HookFailed(f"exit status {done.returncode}" + (f": {tail}" if tail else ""))
    return "exit status 0"


def _validate(event_name: str, hooks: Any) -> list[dict[str, Any]]:
    where = f"{CONFIG_FILE} hooks.on_{event_name}"
    if not isinstance(hooks, list):
        raise UsageError(f"{where} must be a list of {{command: ...}} or {{url: ...}} entries")
    for hook in hooks:
        if not isinstance(hook, dict) or len({"command", "url"} & set(hook)) != 1:
            raise UsageError(f"{where}: each hook needs exactly one of 'command' or 'url'")
        command = hook.get("command")
        if command is not None and not (isinstance(command, (str, list)) and command):
            raise UsageError(f"{where}: 'command' must be a string or a list of arguments")
        url = hook.get("url")
        if url is not None and (
            not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https")
        ):
            raise UsageError(f"{where}: 'url' must be an http:// or https:// URL, got {url!r}")
        unknown = sorted(set(hook) - HOOK_KEYS)
        if unknown or ("secret_env" in hook and url is None):
            raise UsageError(
                f"{where}: unknown key {(unknown or ['secret_env'])[0]!r} for this "
                "hook; a command takes command, timeout; a url takes url, "
                "secret_env, timeout"
            )
        timeout = hook.get("timeout", 1)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise UsageError(f"{where}: 'timeout' must be a number of seconds > 0")
    return hooks


def configured(config: dict[str, Any], event_name: str) -> list[dict[str, Any]]:
    """The hooks for ``event_name`` (one of ``EVENTS``); the whole section is validated, so a
    mistake anywhere in it fails before anything changes."""
    hooks = section(config, "hooks")
    keys = {f"on_{e}": e for e in EVENTS}
    unknown = sorted(set(hooks) - set(keys))
    if unknown:
        raise UsageError(f"{CONFIG_FILE} hooks: unknown key {unknown[0]!r}; use {', '.join(keys)}")
    valid = {event: _validate(event, hooks.get(key) or []) for key, event in keys.items()}
    return valid[event_name]


def fire(
    project: Project, event_name: str, subject: str, event: dict[str, Any]
) -> list[HookOutcome]:
    """Run the hooks for ``event_name``; record each failure in the audit trail."""
    hooks = configured(project.config, event_name)
    if not hooks:
        return []
    payload = {"event": event_name, **event, "project": str(project.root)}
    body = audit.canonical_json(payload).encode()
    outcomes = []
    for hook in hooks:
        name = (
            f"url {_describe_url(hook['url'])}" if "url" in hook else f"command {hook['command']}"
        )
        try:
            detail = (
                _post(hook, body, event_name)
                if "url" in hook
                else _run(hook, project, body, payload)
            )
            outcomes.append(HookOutcome(name, True, detail))
        except HookFailed as exc:
            outcomes.append(HookOutcome(name, False, str(exc)))
            audit.record(
                project,
                "hook_failed",
                subject,
                {
                    "event": event_name,
                    "event_seq": event.get("seq"),
                    "hook": name,
                    "error": str(exc),
                },
            )
    return outcomes
