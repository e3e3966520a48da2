"""``mlops demo``: the example project end to end, in a new folder, on the embedded store.

1. copy the examples into the folder (refusing a non-empty one);
2. run ``pipeline.yaml`` headless (prepare -> a sweep of trainings -> evaluate and promote);
3. run ``04_monitor.ipynb``: weekly production batches drift until a trigger retrains;
4. summarise from the store: runs, the production model and its lineage, the audit trail.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..project import Project

DEFAULT_DIR = "mlops-demo"
STORE_ENV = ("MLOPS_HOME", "MLOPS_STORE_URI", "MLOPS_ARTIFACT_URI", "MLOPS_RUN_ID")


def _isolate(folder: Path) -> Project:
    """Make ``folder`` the project of this process and of every kernel it starts."""
    from ..project import Project

    moved = [name for name in STORE_ENV if os.environ.pop(name, None)]
    if moved:
        click.echo(f"(ignoring {', '.join(moved)}: the demo uses its own store)")
    os.environ["MLOPS_HOME"] = str(folder)
    os.chdir(folder)
    Project.forget()
    return Project.init(folder)


def _stage(number: int, title: str) -> None:
    click.echo()
    click.secho(f"[{number}/3] {title}", bold=True)


def _fail(what: str, details: str, folder: Path) -> None:
    from ..pipelines.results import ExecutionFailed

    click.echo(details, err=True)
    raise ExecutionFailed(f"{what} failed; the runs so far are in {folder} (mlops runs ls)")


def _train(folder: Path, jobs: int) -> str | None:
    from ..pipelines.api import run_pipeline
    from . import demo_report

    _stage(1, f"Training pipeline: pipeline.yaml, up to {jobs} kernels at once")
    result = run_pipeline(folder / "pipeline.yaml", jobs=jobs, progress=True)
    if not result.ok:
        failed = [s for s in result.steps if s.status == "failed"]
        details = "\n".join(
            s.error.details() if s.error else f"{s.name}: {s.reason}" for s in failed
        )
        _fail("the training pipeline", details, folder)
    return demo_report.production_line()


def _monitor(folder: Path, champion: str | None) -> None:
    from ..pipelines.api import run_notebook
    from . import demo_report

    _stage(2, "Monitoring: 04_monitor.ipynb replays weekly production batches")
    with demo_report.watch_monitoring():
        result = run_notebook(folder / "04_monitor.ipynb", experiment="monitor")
    if not result.ok:
        _fail("04_monitor.ipynb", result.error.details() if result.error else "", folder)
    demo_report.production_line(champion)


@click.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DIR,
    show_default=True,
    help="New (or empty) folder to create the example project in.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Notebooks executed at once (the training sweep).",
)
def demo(folder: Path, jobs: int) -> None:
    """Run the example project end to end: pipeline, sweep, promotion, drift, retraining.

    Copies the example notebooks into a new folder, trains and promotes a model with the
    pipeline, replays production traffic until drift triggers a retraining, and ends with a
    summary. Everything is stored in that folder (SQLite + local files): no server needed.
    Open it afterwards with `jupyter lab` in that folder.
    """
    from ..examples import copy_examples
    from . import demo_report

    started = time.perf_counter()
    target = copy_examples(folder)
    project = _isolate(target)
    click.secho("mlops demo: the example project, end to end", bold=True)
    click.echo(f"  folder  {target}")
    click.echo(f"  store   {project.store_uri} + {project.artifact_uri} (embedded, no server)")
    champion = _train(target, jobs)
    _monitor(target, champion)
    _stage(3, "Summary")
    demo_report.summary(project, folder)
    click.echo()
    click.secho(f"Finished in {demo_report.duration(time.perf_counter() - started)}.", bold=True)
