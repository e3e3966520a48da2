"""``mlops runs ls|show|compare|delete|restore``."""

from __future__ import annotations

import click

from .output import json_option, print_frame, print_json, print_table

LIST_COLUMNS = ["run_id", "name", "experiment", "status", "kind", "start_time", "duration"]


@click.group()
def runs() -> None:
    """List, show, compare, delete and restore runs."""


@runs.command("ls")
@click.option("--experiment", "-e", help="Only runs of this experiment.")
@click.option(
    "--filter", "-f", "filter_", help="e.g. \"metrics.auc > 0.8 and params.model == 'rf'\""
)
@click.option("--status", help="Only runs with this status.")
@click.option("--deleted", is_flag=True, help="List deleted runs (restorable until `mlops gc`).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--sort",
    default="start_time",
    show_default=True,
    help="metrics.NAME or a column (start_time, duration, name, ...), then :asc or :desc "
    "(default desc); runs without the value come last.",
)
@json_option
def ls(
    experiment: str | None,
    filter_: str | None,
    status: str | None,
    deleted: bool,
    limit: int,
    sort: str,
    as_json: bool,
) -> None:
    """List runs, newest first (or best first: --sort metrics.auc)."""
    from ..errors import UsageError
    from ..project import Project
    from ..tracking.query import list_runs

    column, _, direction = sort.partition(":")
    if direction not in ("", "asc", "desc"):
        raise UsageError(f"--sort {sort!r}: the direction after ':' is asc or desc")
    frame = list_runs(
        Project.find(),
        experiment=experiment,
        filter=filter_,
        status=status,
        limit=limit,
        order_by=column,
        descending=direction != "asc",
        deleted=deleted,
    )
    if as_json:
        print_json(frame.to_dict(orient="records"))
        return
    metrics = [c for c in frame.columns if c.startswith("metrics.")]
    metric_columns = sorted(metrics, key=lambda c: c != column)[:4]  # the sorted one first
    shown = frame[LIST_COLUMNS + metric_columns].copy()
    shown["run_id"] = shown["run_id"].str[:8]
    print_frame(shown, title=f"{len(frame)} {'deleted ' if deleted else ''}runs")


def _details(run) -> dict:  # type: ignore[no-untyped-def]
    row = run.refresh().row
    return {
        "run_id": run.run_id,
        "name": row.name,
        "experiment": row.experiment,
        "status": row.status,
        "kind": row.kind,
        "parent_id": row.parent_id,
        "user": row.user,
        "host": row.host,
        "start_time": row.start_time,
        "end_time": row.end_time,
        "notebook_path": row.notebook_path,
        "git_commit": row.git_commit,
        "git_dirty": row.git_dirty,
        "reproducible": row.reproducible,
        "deleted_at": row.deleted_at,
        "reproducibility_notes": run.reproducibility_notes,
        "params": run.params,
        "metrics": run.metrics,
        "tags": run.tags,
        "artifacts": [a.__dict__ for a in run.artifacts],
    }


@runs.command()
@click.argument("run_id")
@json_option
def show(run_id: str, as_json: bool) -> None:
    """Show one run: params, metrics, tags, artifacts."""
    from ..tracking.context import get_run

    details = _details(get_run(run_id))
    if as_json:
        print_json(details)
        return
    header = [
        "run_id",
        "name",
        "experiment",
        "status",
        "kind",
        "user",
        "host",
        "git_commit",
        "reproducible",
        *(["deleted_at"] if details["deleted_at"] else []),
    ]
    print_table([(k, details[k]) for k in header], ["field", "value"], title="run")
    for section in ("params", "metrics", "tags"):
        if details[section]:
            print_table(sorted(details[section].items()), ["key", "value"], title=section)
    if details["reproducibility_notes"]:
        print_table(
            [(n,) for n in details["reproducibility_notes"]],
            ["note"],
            title="not reproducible because",
        )
    if details["artifacts"]:
        print_table(
            [(a["path"], a["size"], a["digest"][:12]) for a in details["artifacts"]],
            ["path", "size", "digest"],
            title="artifacts",
        )


@runs.command()
@click.argument("run_ids", nargs=-1, required=True)
@json_option
def compare(run_ids: tuple[str, ...], as_json: bool) -> None:
    """Compare runs side by side: params and latest metrics."""
    from ..errors import UsageError
    from ..tracking.context import get_run

    if len(run_ids) < 2:
        raise UsageError("compare needs at least two run ids")
    runs_ = [get_run(r) for r in run_ids]
    table: dict[str, dict[str, object]] = {}
    for run in runs_:
        for key, value in run.params.items():
            table.setdefault(f"params.{key}", {})[run.run_id] = value
        for key, value in run.metrics.items():
            table.setdefault(f"metrics.{key}", {})[run.run_id] = value
    if as_json:
        print_json({"runs": [r.run_id for r in runs_], "values": table})
        return
    rows = [[key, *(values.get(r.run_id) for r in runs_)] for key, values in sorted(table.items())]
    print_table(rows, ["", *(f"{r.name} ({r.run_id[:8]})" for r in runs_)], title="comparison")


@runs.command()
@click.argument("run_ids", nargs=-1, required=True)
@json_option
def delete(run_ids: tuple[str, ...], as_json: bool) -> None:
    """Delete runs and their child runs: hidden from listings and the pipeline cache,
    restorable with `mlops runs restore` until `mlops gc` purges them."""
    from ..tracking.context import delete_run

    _report(delete_run(list(run_ids)), "deleted", as_json)


@runs.command()
@click.argument("run_ids", nargs=-1, required=True)
@json_option
def restore(run_ids: tuple[str, ...], as_json: bool) -> None:
    """Restore deleted runs, their deleted child runs and deleted parents."""
    from ..tracking.context import restore_run

    _report(restore_run(list(run_ids)), "restored", as_json)


def _report(ids: list[str], done: str, as_json: bool) -> None:
    if as_json:
        print_json({done: ids})
    elif ids:
        click.echo(f"{done} {len(ids)} run{'s' * (len(ids) != 1)}: {', '.join(i[:8] for i in ids)}")
    else:
        click.echo(f"nothing {done}: {'already' if done == 'deleted' else 'not'} deleted")
