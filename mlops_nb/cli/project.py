"""``mlops init``, ``mlops doctor`` and ``mlops gc``."""

from __future__ import annotations

from pathlib import Path

import click

from .output import json_option, print_json


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path))
def init(path: Path) -> None:
    """Create .mlops/ (the local store) and a commented mlops.yaml in PATH."""
    from ..project import Project

    project = Project.init(path)
    click.echo(f"initialised mlops project in {project.root}")
    click.echo(f"  store:     {project.db.uri}")
    click.echo(f"  artifacts: {project.artifact_uri}")


STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def _parse_sample(_ctx: click.Context, _param: click.Parameter, value: str) -> int | None:
    if value == "all":
        return None
    if not value.isdigit():
        raise click.BadParameter("a number of blobs, or 'all'")
    return int(value)


@click.command()
@click.option(
    "--sample",
    default="20",
    show_default=True,
    callback=_parse_sample,
    help="How many referenced blobs to re-hash, or 'all'.",
)
@click.option("--fix", is_flag=True, help="Also mark runs without a heartbeat crashed.")
@json_option
def doctor(sample: int | None, fix: bool, as_json: bool) -> None:
    """Check the store (database, schema, blobs, digests, runs, audit trail).

    Prints what is wrong and how to fix it. Exit code 0 when healthy, 1 when a check failed.
    """
    from ..errors import MlopsError
    from ..project import Project
    from ..store import health

    try:
        project = Project.find()
    except MlopsError as exc:  # e.g. an unreadable mlops.yaml
        findings = [health.Finding("config", "fail", str(exc))]
    else:
        findings = list(health.diagnose(project, sample, fix))
    failed = [f for f in findings if f.status == "fail"]
    if as_json:
        print_json({"healthy": not failed, "checks": [f.to_dict() for f in findings]})
    else:
        _print_findings(findings)
    if failed:
        raise SystemExit(1)


def _print_findings(findings: list) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    for finding in findings:
        style = STATUS_STYLE[finding.status]
        label = finding.status.upper() if finding.status == "fail" else finding.status
        console.print(
            f"[{style}]{label:<4}[/] {finding.check:<10} {escape(finding.message)}", soft_wrap=True
        )
        for line in finding.details:
            console.print(f"{'':15}- {escape(line)}", soft_wrap=True)
        if finding.fix:
            console.print(f"{'':15}fix: {escape(finding.fix)}", soft_wrap=True)
    failed = sum(f.status == "fail" for f in findings)
    warned = sum(f.status == "warn" for f in findings)
    summary = "healthy" if not failed else f"problems: {failed}"
    console.print(f"{summary}; warnings: {warned}" if warned else summary)


def _parse_duration(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (value[:-1], value[-1]) if value[-1:] in units else (value, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a duration like 30m, 24h or 7d") from None
    if seconds < 0:
        raise click.BadParameter("the grace period cannot be negative")
    return seconds


@click.command()
@click.option("--yes", is_flag=True, help="Delete (without it, only report: a dry run).")
@click.option(
    "--grace",
    default="24h",
    show_default=True,
    callback=_parse_duration,
    help="Spare unreferenced blobs younger than this, and runs deleted more recently "
    "(e.g. 30m, 24h, 7d).",
)
@json_option
def gc(yes: bool, grace: float, as_json: bool) -> None:
    """Purge deleted runs and remove blobs that no run, dataset or model references.

    A dry run unless --yes. Blobs younger than the grace period are kept: a process that is
    writing may be about to reference them. Runs deleted within it can still be restored.
    """
    from ..project import Project
    from ..store import gc as collector
    from ..tracking.deletion import deleted_runs, purge_runs

    project = Project.find()
    runs = deleted_runs(project, older_than=grace)
    if yes:
        runs = purge_runs(project, runs)
    report = collector.collect(project, delete=yes, grace=grace)
    if as_json:
        print_json({**report.to_dict(), "purged_runs" if yes else "deleted_runs": runs})
        return
    if runs:
        click.echo(
            f"{'purged' if yes else 'would purge'} {len(runs)} deleted "
            f"run{'s' * (len(runs) != 1)} (deleted more than the grace period ago)"
        )
    click.echo(
        f"{report.stored} blobs stored, {report.referenced} referenced, "
        f"{report.young} unreferenced but younger than the grace period (kept)"
    )
    count = len(report.unreferenced) + len(report.staging)
    if yes:
        click.echo(
            f"deleted {report.deleted} blobs and {len(report.staging)} unfinished writes, "
            f"freeing {_size(report.freed)}"
        )
    elif count or runs:
        click.echo(
            f"would delete {len(report.unreferenced)} blobs and {len(report.staging)} "
            f"unfinished writes ({_size(report.reclaimable)})"
            f"{', and the blobs only those runs reference' if runs else ''}; run `mlops gc --yes`"
        )
    else:
        click.echo("nothing to delete")


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"
