"""``mlops models ls|show|promote|approve|demote|history``.

Exit codes: 0 ok, 1 a promotion was rejected by its gates, 2 usage error (unknown model,
version or alias, bad syntax, a forced promotion without a reason).
"""

from __future__ import annotations

import click

from .output import json_option, print_frame, print_json, print_table

LIST_COLUMNS = ["name", "version", "aliases", "flavor", "created_by", "created_at"]
HISTORY_ACTIONS = ("register", "promote", "override", "reject", "approve", "demote")


def _project():  # type: ignore[no-untyped-def]
    from ..project import Project

    return Project.find()


@click.group()
def models() -> None:
    """Model registry: list, show, promote, approve, demote, history."""


@models.command("ls")
@click.argument("name", required=False)
@json_option
def ls(name: str | None, as_json: bool) -> None:
    """List model versions (of NAME, or all), with aliases and metrics."""
    from ..registry.versions import frame

    versions = frame(_project(), name)
    if as_json:
        print_json(versions.to_dict(orient="records"))
        return
    if versions.empty:
        click.echo("no models registered yet; register one with mlops.register_model(model, name)")
        return
    metric_columns = [c for c in versions.columns if c.startswith("metrics.")][:4]
    shown = versions[LIST_COLUMNS + metric_columns].copy()
    shown["aliases"] = shown["aliases"].map(", ".join)
    print_frame(shown, title=f"{len(versions)} model versions")


@models.command()
@click.argument("ref")
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["text", "markdown", "html", "json"]),
    default="text",
    show_default=True,
    help="Card format.",
)
@json_option
def show(ref: str, fmt: str, as_json: bool) -> None:
    """Show the model card of REF (NAME, NAME@VERSION or NAME@ALIAS)."""
    from ..registry.api import get_model_version

    click.echo(get_model_version(ref).card("json" if as_json else fmt), nl=False)
    if fmt == "json" or as_json:
        click.echo()


def _print_result(result, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        print_json(result.to_dict())
        return
    if result.checks:
        rows = [("ok" if c.ok else "FAILED", c.rule, c.observed, c.required) for c in result.checks]
        print_table(rows, ["", "rule", "observed", "required"], title="gates")
    click.echo(result.summary())
    for hook in result.hooks:
        state = "ok" if hook.ok else "FAILED (recorded in the audit trail)"
        click.echo(f"hook {hook.hook}: {state}: {hook.detail}", err=not hook.ok)


@models.command()
@click.argument("name")
@click.argument("version", required=False)
@click.option("--to", "alias", required=True, help="The alias to move, e.g. production.")
@click.option("--reason", help="Why (recorded in the audit trail; required with --force).")
@click.option("--force", is_flag=True, help="Move the alias even if gates fail (an override).")
@json_option
def promote(
    name: str, version: str | None, alias: str, reason: str | None, force: bool, as_json: bool
) -> None:
    """Promote NAME VERSION (or NAME@VERSION) to an alias through the policy's gates.

    Exits 1 when a gate fails (nothing moved; the rejection is recorded).
    """
    from ..registry.promotion import PromotionRejected
    from ..registry.promotion import promote as core_promote

    try:
        result = core_promote(_project(), name, version, to=alias, reason=reason, force=force)
    except PromotionRejected as exc:
        _print_result(exc.result, as_json)
        raise
    _print_result(result, as_json)


@models.command()
@click.argument("name")
@click.argument("version", required=False)
@click.option("--to", "alias", required=True, help="The alias this approval is for.")
@click.option("--comment", help="A note kept with the approval.")
@json_option
def approve(name: str, version: str | None, alias: str, comment: str | None, as_json: bool) -> None:
    """Approve promoting NAME VERSION to an alias, as the current user (MLOPS_USER)."""
    from ..registry.promotion import approve as core_approve

    approval = core_approve(_project(), name, version, to=alias, comment=comment)
    if as_json:
        print_json(approval.to_dict())
        return
    click.echo(
        f"{approval.approver} approved {approval.name}@{approval.version} for {approval.alias}"
    )


@models.command()
@click.argument("name")
@click.argument("alias")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@json_option
def demote(name: str, alias: str, reason: str, as_json: bool) -> None:
    """Remove ALIAS from model NAME."""
    from ..registry.promotion import demote as core_demote

    version = core_demote(_project(), name, alias, reason)
    if as_json:
        print_json({"name": name, "alias": alias, "version": version})
        return
    click.echo(f"removed {alias} from {name}@{version}")


@models.command()
@click.argument("name")
@json_option
def history(name: str, as_json: bool) -> None:
    """Registrations, promotions, rejections, overrides, approvals and demotions of NAME."""
    from ..registry.audit import events
    from ..registry.versions import frame

    frame(_project(), name)  # NotFoundError (exit 2) for an unknown model
    trail = events(_project(), name)
    trail = trail[trail["action"].isin(HISTORY_ACTIONS)]
    rows = [
        {
            "seq": e.seq,
            "ts": e.ts,
            "actor": e.actor,
            "action": e.action,
            "version": e.details.get("version"),
            "alias": e.details.get("alias"),
            "previous": e.details.get("previous"),
            "note": e.details.get("reason") or e.details.get("comment"),
        }
        for e in trail.itertuples()
    ]
    if as_json:
        print_json(rows)
        return
    columns = ["seq", "ts", "actor", "action", "version", "alias", "previous", "note"]
    print_table([[r[c] for c in columns] for r in rows], columns, title=f"history of {name}")
