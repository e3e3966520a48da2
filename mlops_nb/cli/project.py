"""``mlops init``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path))
def init(path: Path) -> None:
    """Create .mlops/ (the local store) and a commented mlops.yaml in PATH."""
    from ..project import Project

    project = Project.init(path)
    click.echo(f"initialised mlops project in {project.root}")
    click.echo(f"  store:     {project.db.uri}")
    click.echo(f"  artifacts: {project.artifact_uri}")
