"""``mlops data ls|show|diff|snapshot|check``."""

from __future__ import annotations

import click

from .output import json_option, print_frame, print_json, print_table


@click.group()
def data() -> None:
    """Dataset snapshots: list, show, diff, snapshot and check versions."""


@data.command("ls")
@click.argument("name", required=False)
@json_option
def ls(name: str | None, as_json: bool) -> None:
    """List dataset versions (all datasets, or the versions of NAME)."""
    from ..data.api import LIST_COLUMNS, datasets

    frame = datasets(name)
    if as_json:
        print_json(frame.to_dict(orient="records"))
        return
    shown = frame[[c for c in LIST_COLUMNS if c not in ("digest", "run_id")]].copy()
    shown.insert(3, "digest", frame["digest"].str[:12])
    print_frame(shown, title=f"{len(frame)} dataset versions")


@data.command()
@click.argument("ref")
@json_option
def show(ref: str, as_json: bool) -> None:
    """Show one version (NAME, NAME@V or NAME@latest): facts, schema, profile, runs, checks."""
    from ..data.api import get_dataset
    from ..data.checks import data_checks_status
    from ..data.display import PROFILE_HEADER, profile_rows, version_facts
    from ..data.lineage import runs_of

    version = get_dataset(ref)
    runs = runs_of(version.project, version.id)
    passed, summary = data_checks_status(version.project, version.id)
    if as_json:
        print_json(
            {
                **version.to_dict(),
                "runs": runs,
                "data_checks": {"passed": passed, "summary": summary},
            }
        )
        return
    print_table(version_facts(version), ["field", "value"], title=f"dataset {version.ref}")
    if version.profile:
        print_table(profile_rows(version.profile), PROFILE_HEADER, title="profile")
    elif version.schema and version.schema.get("columns"):
        print_table(
            [(c["name"], c["dtype"]) for c in version.schema["columns"]],
            ["column", "dtype"],
            title="schema",
        )
    if runs:
        print_table(
            [(r["run_id"], r["direction"]) for r in runs], ["run", "direction"], title="runs"
        )
    click.echo(f"data checks: {summary}")


@data.command()
@click.argument("a")
@click.argument("b")
@click.option("--key", "-k", multiple=True, help="Key column(s) matching rows (repeatable).")
@json_option
def diff(a: str, b: str, key: tuple[str, ...], as_json: bool) -> None:
    """Compare two versions: schema, rows added/removed/changed, profile deltas."""
    from ..data.api import diff_datasets
    from ..data.display import diff_sections

    result = diff_datasets(a, b, key=list(key) or None)
    if as_json:
        print_json(result.to_dict())
        return
    click.echo(result.summary())
    for title, header, rows in diff_sections(result):
        print_table(rows, list(header), title=title)


@data.command("snapshot")
@click.argument("path", type=click.Path(exists=True))
@click.option("--name", "-n", required=True, help="Dataset name.")
@click.option("--description", "-d", help="What this version is.")
@json_option
def snapshot_command(path: str, name: str, description: str | None, as_json: bool) -> None:
    """Store the file or folder PATH as the next version of dataset NAME."""
    from ..data.api import snapshot

    version = snapshot(path, name, description)
    if as_json:
        print_json(version.to_dict())
        return
    click.echo(f"{version.ref} {version.kind} {version.size} bytes digest {version.digest[:12]}")


@data.command()
@click.argument("ref")
@json_option
def check(ref: str, as_json: bool) -> None:
    """Run the mlops.yaml checks of a version; exit code 1 when one fails."""
    from ..data.api import check_data

    report = check_data(ref)
    if as_json:
        print_json(report.to_dict())
    else:
        print_table(
            [
                ("ok" if r["passed"] else "FAIL", r["rule"], r["column"], r["message"])
                for r in report.results
            ],
            ["", "rule", "column", "message"],
            title=report.summary(),
        )
    report.raise_if_failed()
