"""``mlops audit log|verify``: the hash-chained audit trail.

``verify`` exits 1 when the chain is broken (an edited, deleted, inserted or reordered
event, or a tail cut off after the recorded head).
"""

from __future__ import annotations

import json

import click

from .output import json_option, print_json, print_table


def _project():  # type: ignore[no-untyped-def]
    from ..project import Project

    return Project.find()


@click.group()
def audit() -> None:
    """The tamper-evident audit trail: log and verify."""


@audit.command("log")
@click.argument("name", required=False)
@click.option("--limit", "-n", type=click.IntRange(min=1), help="Only the newest N events.")
@json_option
def log(name: str | None, limit: int | None, as_json: bool) -> None:
    """Print the audit trail (of model NAME, or everything), oldest first."""
    from ..registry.aliases import parse_ref
    from ..registry.audit import events

    if name is not None:
        name = parse_ref(name)[0]
    trail = events(_project(), name, limit=limit)
    if as_json:
        print_json(trail.to_dict(orient="records"))
        return
    if trail.empty:
        click.echo("the audit trail is empty")
        return
    rows = [
        (e.seq, e.ts, e.actor, e.action, e.subject, _summary(e.details), e.hash[:12])
        for e in trail.itertuples()
    ]
    print_table(rows, ["seq", "time", "actor", "action", "subject", "what", "hash"])
    click.echo("full details: mlops audit log --json")


def _summary(details: dict) -> str:
    """The gist of an event's details in a few words."""
    parts = []
    if details.get("alias"):
        previous = details.get("previous")
        parts.append(details["alias"] + (f" (was v{previous})" if previous else ""))
    checks = details.get("checks") or []
    if checks:
        parts.append(f"{sum(bool(c.get('ok')) for c in checks)}/{len(checks)} checks ok")
    for key in ("flavor", "reason", "comment", "hook", "error"):
        if details.get(key):
            parts.append(f"{key}: {details[key]}")
    if details.get("digest") and not details.get("alias"):
        parts.append(f"digest {str(details['digest'])[:12]}")
    return "; ".join(parts) or json.dumps(details, ensure_ascii=False, sort_keys=True)[:80]


@audit.command()
@click.option(
    "--anchor",
    type=click.Path(dir_okay=False, exists=True),
    help='A head exported earlier: JSON {"seq", "hash"} or a saved `verify --json`.',
)
@json_option
def verify(anchor: str | None, as_json: bool) -> None:
    """Re-walk the hash chain; exit 1 at the first edited, deleted or reordered event."""
    from ..registry.verify import verify as verify_chain

    result = verify_chain(_project(), anchor)
    if as_json:
        print_json({**result.to_dict(), "head": {"seq": result.head_seq, "hash": result.head_hash}})
    elif result.ok:
        click.echo(result.reason)
    else:
        where = f" at event {result.first_bad}" if result.first_bad is not None else ""
        click.echo(f"audit trail BROKEN{where}: {result.reason}", err=True)
    if not result.ok:
        raise SystemExit(1)
