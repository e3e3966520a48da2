"""``mlops run``, ``mlops pipeline run``, ``mlops sweep``, ``mlops reproduce``.

Exit codes: 0 ok; 1 a cell, step, gate or reproduction failed; 2 usage error (bad option,
parameter, notebook or pipeline file); 130 interrupted (Ctrl-C or SIGTERM: running kernels
are stopped and their runs marked ``interrupted``).
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .output import json_option, print_frame, print_json, print_table

PARAM_HELP = "Set a notebook parameter; the value is typed like papermill's -p."


def _interrupt_on_sigterm() -> None:
    """CI cancels jobs with SIGTERM: treat it like Ctrl-C so kernels get stopped."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if os.name == "posix":
        signal.signal(signal.SIGTERM, handler)


def _skip_unused_grammar() -> None:
    """papermill needs nbformat, which imports jsonschema, whose optional checker for the
    ``iri`` string format compiles a Lark grammar at import time (0.7 s of CPU here). Notebook
    schemas use no such format, so these commands go without that checker (this process
    only; kernels are separate processes)."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


@contextmanager
def _executing() -> Iterator[None]:
    """Around an execution: SIGTERM acts like Ctrl-C, Python warnings (e.g. a kernel
    fallback) print at once as ``warning: ...`` lines, and an interruption says what was
    done."""
    from ..pipelines.results import KernelFallbackWarning

    _skip_unused_grammar()
    _interrupt_on_sigterm()
    with warnings.catch_warnings():
        warnings.simplefilter("always", KernelFallbackWarning)
        warnings.showwarning = lambda message, *_args, **_kwargs: click.echo(
            f"warning: {message}", err=True
        )
        try:
            yield
        except KeyboardInterrupt:
            click.echo(
                "interrupted: running kernels stopped, their runs marked interrupted", err=True
            )
            raise


def _progress_style(as_json: bool) -> str:
    """A progress bar for people at a terminal; a line per cell in CI logs and with --json."""
    if as_json or os.environ.get("CI") or not sys.stderr.isatty():
        return "lines"
    return "bar"


def _parameters(
    params: tuple[tuple[str, str], ...], raw: tuple[tuple[str, str], ...], file: Path | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """(values, command-line texts) with papermill's precedence: file < -p < -r."""
    from ..config import load_yaml_file
    from ..errors import UsageError
    from ..pipelines.parameters import value_from_text

    values: dict[str, Any] = {}
    texts: dict[str, str] = {}
    if file is not None:
        data = load_yaml_file(file)
        if not isinstance(data, dict):
            raise UsageError(f"{file}: a parameters file is a mapping of name to value")
        values.update(data)
    for name, text in params:
        values[name] = value_from_text(text)
        texts[name] = text
    for name, text in raw:
        values[name] = text
        texts.pop(name, None)
    return values, texts


def _show_failure(error: Any) -> None:
    click.echo(error.details(), err=True)


# --- mlops run ---------------------------------------------------------------------------


@click.command("run")
@click.argument("notebook", type=click.Path(path_type=Path))
@click.option(
    "-p", "--parameter", "params", nargs=2, multiple=True, metavar="NAME VALUE", help=PARAM_HELP
)
@click.option(
    "-r",
    "--raw",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="Set a parameter to this text as is.",
)
@click.option(
    "-f",
    "--parameters-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML or JSON file of parameters (-p and -r override it).",
)
@click.option("-e", "--experiment", help="Experiment of the run (default: default).")
@click.option("-n", "--name", help="Run name (default: the notebook's name).")
@click.option("-k", "--kernel", help="Kernel name (default: the notebook's).")
@click.option("--timeout", type=float, help="Seconds a single cell may run.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Also write the executed notebook here."
)
@click.option("--help-params", is_flag=True, help="List the notebook's parameters and exit.")
@json_option
def run(
    notebook: Path,
    params: tuple,
    raw: tuple,
    parameters_file: Path | None,
    experiment: str | None,
    name: str | None,
    kernel: str | None,
    timeout: float | None,
    output: Path | None,
    help_params: bool,
    as_json: bool,
) -> None:
    """Execute NOTEBOOK with papermill as a tracked run.

    Parameters are checked against the notebook's `parameters` cell before a kernel starts.
    Inside the notebook, mlops.log_metric(...) and the %mlops magics log to this run. Exit
    codes: 0 ok, 1 a cell failed, 2 usage error, 130 interrupted.
    """
    from ..pipelines.api import run_notebook
    from ..pipelines.results import ExecutionFailed

    if help_params:
        _help_params(notebook, as_json)
        return
    values, texts = _parameters(params, raw, parameters_file)
    with _executing():
        result = run_notebook(
            notebook,
            values,
            experiment=experiment,
            timeout=timeout,
            kernel=kernel,
            output=output,
            name=name,
            tags={"mlops.source": "mlops run"},
            progress=_progress_style(as_json),
            parameter_texts=texts,
        )
    metrics = result.metrics
    if as_json:
        print_json(
            {
                "run_id": result.run_id,
                "ok": result.ok,
                "status": result.status,
                "metrics": metrics,
                "output_path": result.output_path,
                "duration": round(result.duration, 3),
                "error": result.error.to_dict() if result.error else None,
            }
        )
    elif result.ok:
        shown = ", ".join(f"{k}={v:.6g}" for k, v in sorted(metrics.items())[:8])
        click.echo(
            f"run {result.run_id[:8]} finished in {result.duration:.1f} s"
            + (f"; {shown}" if shown else ""),
            err=True,
        )
    if not result.ok:
        if not as_json:
            _show_failure(result.error)
        raise ExecutionFailed(
            f"{result.error.message} (run {result.run_id[:8]} {result.status};"
            " the executed notebook is stored with it)"
        )


def _help_params(notebook: Path, as_json: bool) -> None:
    from ..pipelines.notebooks import load_notebook
    from ..pipelines.parameters import describe

    source = load_notebook(notebook)
    rows = describe(source.parameters)
    if as_json:
        print_json([dict(zip(["name", "type", "default", "help"], r, strict=True)) for r in rows])
    elif source.parameters.index is None:
        click.echo(f"{source.path.name} declares no parameters (no cell tagged 'parameters')")
    else:
        print_table(
            rows,
            ["name", "type", "default", "help"],
            title=f"parameters of {source.path.name}",
        )


# --- mlops pipeline run ------------------------------------------------------------------


@click.group()
def pipeline() -> None:
    """Run a cached notebook pipeline from YAML."""


@pipeline.command("run")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--only",
    multiple=True,
    metavar="STEP",
    help="Run only this step (repeatable); its upstream must be cached.",
)
@click.option("--from", "from_", metavar="STEP", help="Run this step and everything after it.")
@click.option("--force", is_flag=True, help="Re-run selected steps even when cached.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Steps to run at once.")
@click.option(
    "--executor",
    default="local",
    show_default=True,
    help="local, dask (a local cluster) or dask://HOST:PORT.",
)
@click.option("--junit", type=click.Path(path_type=Path), help="Write a JUnit XML report.")
@click.option("--dry-run", is_flag=True, help="Say what would run and why; run nothing.")
@json_option
def pipeline_run(
    file: Path,
    only: tuple[str, ...],
    from_: str | None,
    force: bool,
    jobs: int | None,
    executor: str,
    junit: Path | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Run the pipeline FILE: unchanged steps come from the cache.

    Exit codes: 0 ok, 1 a step or gate failed, 2 usage error (the file is invalid),
    130 interrupted.
    """
    from ..pipelines.api import run_pipeline
    from ..pipelines.results import ExecutionFailed

    with _executing():
        result = run_pipeline(
            file,
            only=list(only),
            from_=from_,
            force=force,
            executor=executor,
            jobs=jobs,
            junit=junit,
            dry_run=dry_run,
            progress=not as_json,
        )
    if as_json:
        print_json(result.to_dict())
    else:
        rows = [
            (s.name, s.status, s.reason, (s.run_id or "")[:8], f"{s.duration:.1f}")
            for s in result.steps
        ]
        title = f"pipeline {result.name}" + (
            " (dry run)" if dry_run else f" run {result.run_id[:8]}"
        )
        print_table(rows, ["step", "status", "reason", "run", "seconds"], title=title)
    failed = [s for s in result.steps if s.status == "failed"]
    if not as_json:
        for step in failed:
            if step.error is not None and step.error.kind in ("cell", "timeout", "kernel_died"):
                click.echo(f"--- {step.name} ---", err=True)
                _show_failure(step.error)
    if failed:
        raise ExecutionFailed(
            f"pipeline {result.name} failed: " + "; ".join(f"{s.name}: {s.reason}" for s in failed)
        )


# --- mlops sweep -------------------------------------------------------------------------


@click.command()
@click.argument("notebook", type=click.Path(path_type=Path))
@click.option(
    "-p",
    "--parameter",
    "params",
    nargs=2,
    multiple=True,
    metavar="NAME V1,V2",
    help="A grid axis: comma-separated values, each typed like -p.",
)
@click.option(
    "-f",
    "--grid-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML file mapping parameter names to lists of values.",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Points to run at once.")
@click.option(
    "--executor",
    default="local",
    show_default=True,
    help="local, dask (a local cluster) or dask://HOST:PORT.",
)
@click.option("--sort", help="Sort the summary: metrics.NAME[:asc|:desc] (default desc).")
@click.option("-e", "--experiment", help="Experiment of the runs (default: default).")
@click.option("--timeout", type=float, help="Seconds a single cell may run.")
@click.option("--force", is_flag=True, help="Re-run points even when cached.")
@json_option
def sweep(
    notebook: Path,
    params: tuple,
    grid_file: Path | None,
    jobs: int | None,
    executor: str,
    sort: str | None,
    experiment: str | None,
    timeout: float | None,
    force: bool,
    as_json: bool,
) -> None:
    """Run NOTEBOOK over a parameter grid: -p lr 0.01,0.1 -p depth 3,5.

    Each point is a child run of one sweep run, cached like a pipeline step. Exit codes:
    0 every point ok, 1 a point failed, 2 usage error, 130 interrupted.
    """
    from ..config import load_yaml_file
    from ..errors import UsageError
    from ..pipelines.api import sweep as run_sweep
    from ..pipelines.parameters import value_from_text
    from ..pipelines.results import ExecutionFailed

    grid: dict[str, Any] = {}
    if grid_file is not None:
        data = load_yaml_file(grid_file)
        if not isinstance(data, dict):
            raise UsageError(f"{grid_file}: a grid file maps parameter names to lists of values")
        grid.update(data)
    for name, text in params:
        grid[name] = [value_from_text(v.strip()) for v in text.split(",")]
    if not grid:
        raise UsageError("give the grid: -p NAME V1,V2 (repeatable) or -f grid.yaml")
    with _executing():
        result = run_sweep(
            notebook,
            grid,
            jobs=jobs,
            executor=executor,
            sort=sort,
            experiment=experiment,
            timeout=timeout,
            force=force,
            progress=not as_json,
        )
    if as_json:
        print_json({"run_id": result.run_id, "ok": result.ok, "points": result.rows})
    else:
        columns = list(result.rows[0]) if result.rows else []
        shown = [{**r, "run_id": (r["run_id"] or "")[:8]} for r in result.rows]
        table = ([r[c] for c in columns] for r in shown)
        print_table(table, columns, title=f"sweep run {result.run_id[:8]}")
    failed = [p for p in result.points if p.status == "failed"]
    if failed:
        raise ExecutionFailed(
            f"{len(failed)} of {len(result.points)} points failed: "
            + "; ".join(f"{p.name}: {p.reason}" for p in failed[:3])
        )


# --- mlops reproduce ---------------------------------------------------------------------


@click.command()
@click.argument("run_id")
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=1e-6,
    show_default=True,
    help="Relative and absolute tolerance for metric comparisons.",
)
@json_option
def reproduce(run_id: str, tolerance: float, as_json: bool) -> None:
    """Re-execute RUN_ID's recorded notebook and compare its metrics.

    Exit codes: 0 everything matches, 1 differences (printed as a table) or the
    re-execution failed, 2 usage error.
    """
    from ..pipelines.api import reproduce as reproduce_run
    from ..pipelines.results import ExecutionFailed

    with _executing():
        result = reproduce_run(run_id, tolerance=tolerance, progress=_progress_style(as_json))
    if as_json:
        print_json(
            {
                "ok": result.ok,
                "original_run_id": result.original_run_id,
                "run_id": result.run_id,
                "differences": result.differences.to_dict(orient="records"),
            }
        )
    elif result.ok:
        click.echo(
            f"run {result.original_run_id[:8]} reproduced by run {result.run_id[:8]}: "
            "metrics match",
            err=True,
        )
    else:
        print_frame(
            result.differences,
            title=f"run {result.original_run_id[:8]} vs reproduction {result.run_id[:8]}",
        )
    if not result.ok:
        if result.error is not None and not as_json:
            _show_failure(result.error)
        raise ExecutionFailed(
            f"run {result.original_run_id[:8]} did not reproduce "
            f"({len(result.differences)} differences; reproduction run "
            f"{result.run_id[:8]})"
        )
