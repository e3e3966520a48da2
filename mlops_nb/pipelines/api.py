"""Public pipeline functions: ``run_notebook``, ``run_pipeline``, ``sweep``, ``reproduce``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .results import NotebookResult, PipelineResult

if TYPE_CHECKING:
    from ..project import Project
    from .reproduce import ReproduceResult
    from .sweep import SweepResult


def run_notebook(
    path: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    experiment: str | None = None,
    timeout: float | None = None,
    kernel: str | None = None,
    output: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    progress: str | None = None,
    parameter_texts: Mapping[str, str] | None = None,
    project: Project | None = None,
) -> NotebookResult:
    """Execute a notebook with papermill as a tracked run and return its result.

    ``parameters`` override the notebook's ``parameters`` cell (checked against it before a
    kernel starts); ``timeout`` limits each cell (seconds); ``output`` also writes the
    executed notebook there. Inside a tracked run (e.g. called from a notebook), the new run
    is its child. A failed cell gives ``ok == False`` with ``error`` (cell index, source,
    traceback); Ctrl-C stops the kernel, marks the run ``interrupted`` and re-raises.
    """
    from ..tracking import context
    from ..tracking.runs import create_run, end_run
    from .execute import execute
    from .notebooks import load_notebook
    from .parameters import check_parameters, check_secrets, effective_parameters
    from .tracked import check_timeout, choose_kernel, display_path, make_job, record_outcome

    project = project or context.project()
    source = load_notebook(path)
    overrides = check_parameters(
        source.parameters, dict(parameters or {}), source.path.name, parameter_texts
    )
    secrets = check_secrets(source.parameters)
    cell_timeout = check_timeout(timeout)
    choice = choose_kernel(source, kernel)
    output_path = _output_path(output, source.path)
    parent = context.active_run()
    run = create_run(
        project,
        name=name or source.path.stem,
        experiment=experiment or "default",
        params=effective_parameters(source.parameters, overrides),
        tags={"mlops.source": "run_notebook", **(tags or {})},
        kind="notebook",
        parent_id=parent.run_id if parent is not None else None,
        notebook_path=display_path(project, source.path),
    )
    job = make_job(
        project,
        run.run_id,
        source,
        parameters=overrides,
        secrets=secrets,
        kernel=choice.name,
        timeout=cell_timeout,
        output_path=output_path,
        progress=progress,
    )
    status = "failed"
    try:
        outcome = execute(job)
        status = outcome.status
        if choice.warning:
            outcome.warnings.insert(0, choice.warning)
        record_outcome(project, run.run_id, outcome)
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        end_run(project, run.run_id, status)
    if outcome.status == "interrupted":
        raise KeyboardInterrupt
    return NotebookResult(
        project=project,
        run_id=run.run_id,
        status=outcome.status,
        error=outcome.failure,
        output_path=output_path if outcome.notebook else None,
        kernel=outcome.kernel,
        duration=outcome.duration,
        warnings=outcome.warnings,
    )


def _output_path(output: str | os.PathLike[str] | None, source: Path) -> str | None:
    if output is None:
        return None
    path = Path(output).expanduser().resolve()
    if not path.parent.is_dir():
        raise UsageError(f"output folder {path.parent} does not exist; create it first")
    if path.is_dir():
        raise UsageError(f"output {path} is a folder; give a file name like out.ipynb")
    if path == source:
        raise UsageError(
            f"output {path} is the notebook itself; write the executed copy "
            "elsewhere (the source notebook is never modified)"
        )
    return str(path)


def run_pipeline(
    path: str | os.PathLike[str],
    only: str | Sequence[str] | None = None,
    from_: str | None = None,
    force: bool = False,
    executor: str = "local",
    jobs: int | None = None,
    junit: str | os.PathLike[str] | None = None,
    dry_run: bool = False,
    *,
    progress: bool = False,
    project: Project | None = None,
) -> PipelineResult:
    """Run a pipeline YAML: cached steps are reused, the rest run (in parallel up to ``jobs``).

    ``only`` runs just these steps (their upstream must be cached), ``from_`` a step and
    everything downstream; ``force`` re-runs selected steps even when cached; ``executor`` is
    ``"local"`` or ``"dask://HOST:PORT"``; ``junit`` writes a JUnit XML report; ``dry_run``
    says what would run and why without running anything.
    """
    from ..tracking import context
    from .junit import check_junit_path, write_junit
    from .pipeline import PipelineRunner

    if junit is not None:
        check_junit_path(junit)
    runner = PipelineRunner(
        project or context.project(),
        path,
        only=only,
        from_=from_,
        force=force,
        executor=executor,
        jobs=jobs,
        progress=progress,
    )
    result = runner.dry_run() if dry_run else runner.run()
    if junit is not None:
        result.junit_path = str(write_junit(result, junit))
    return result


def sweep(
    path: str | os.PathLike[str],
    grid: Mapping[str, Sequence[Any]],
    jobs: int | None = None,
    executor: str = "local",
    sort: str | None = None,
    *,
    experiment: str | None = None,
    timeout: float | None = None,
    force: bool = False,
    progress: bool = False,
    project: Project | None = None,
) -> SweepResult:
    """Run a notebook over the cartesian product of ``grid`` (name -> values) as child runs of
    a sweep run, each point cached like a pipeline step; ``result.summary`` is a DataFrame
    (``result.rows`` the same as dicts) sorted by ``sort`` (e.g. ``"metrics.auc"``;
    descending, add ``:asc`` for ascending)."""
    from ..tracking import context
    from .sweep import run_sweep

    return run_sweep(
        project or context.project(),
        path,
        grid,
        jobs=jobs,
        executor=executor,
        sort=sort,
        experiment=experiment,
        timeout=timeout,
        force=force,
        progress=progress,
    )


def reproduce(
    run_id: str,
    tolerance: float = 1e-6,
    *,
    progress: str | None = None,
    project: Project | None = None,
) -> ReproduceResult:
    """Re-execute a run's recorded notebook with its recorded parameters (dataset refs pinned
    to the versions it read) and compare metrics within ``tolerance`` (relative and
    absolute). ``result.ok`` is True when everything matches; ``result.differences`` lists
    what does not."""
    from ..tracking import context
    from .reproduce import reproduce_run

    return reproduce_run(project or context.project(), run_id, tolerance, progress=progress)
