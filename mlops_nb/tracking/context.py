"""The active-run context: the only module-level state of the core.

``start_run`` pushes a run on a stack (a second ``start_run`` while one is active starts a
child of it); the logging functions write to the innermost run. A process started by
``mlops run`` or a pipeline gets ``MLOPS_RUN_ID`` in its environment and logs to that run
without any ``start_run``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import UsageError
from ..project import Project
from . import ATTACH_ENV
from . import artifacts as _artifacts
from . import runs as _runs
from .runs import Run

_stack: list[Run] = []
_attached: Run | None = None
_lock = threading.RLock()


def project() -> Project:
    return Project.find()


def start_run(
    name: str | None = None,
    experiment: str = "default",
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    kind: str = "run",
    notebook_path: str | None = None,
) -> Run:
    """Start a run (a child of the active one, if any). Use it as a context manager."""
    with _lock:
        parent = active_run()
        proj = parent.project if parent is not None else project()
        run = _runs.create_run(
            proj,
            name=name,
            experiment=experiment,
            params=params,
            tags=tags,
            kind=kind,
            parent_id=parent.run_id if parent is not None else None,
            notebook_path=notebook_path,
        )
        _stack.append(run)
        return run


def end_run(status: str = "finished", run: Run | None = None) -> None:
    """End the active run (or ``run``) and any of its children still open."""
    with _lock:
        target = run or (_stack[-1] if _stack else None)
        if target is None:
            raise UsageError("no active run to end")
        while target in _stack:
            top = _stack.pop()
            _runs.end_run(top.project, top.run_id, status if top == target else "finished")


def active_run() -> Run | None:
    """The innermost active run, else the run this process was started for, else None."""
    global _attached
    if _stack:
        return _stack[-1]
    run_id = os.environ.get(ATTACH_ENV)
    if not run_id:
        return None
    if _attached is None or _attached.run_id != run_id:
        _attached = Run(project(), run_id).refresh()
    return _attached


def _require_run() -> Run:
    run = active_run()
    if run is None:
        raise UsageError("no active run: call mlops.start_run() (or %mlops track) first")
    return run


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log one metric point (microseconds: it is appended to the run's log, not to SQL)."""
    run = _stack[-1] if _stack else _require_run()
    _runs.log_batch(run.project, run.run_id, ((key, value, step),))


def log_metrics(
    metrics: Mapping[str, float] | None = None, step: int | None = None, **kwargs: float
) -> None:
    """Log several metrics at one step: ``log_metrics({"a": 1}, step=3)`` or ``(a=1)``."""
    values = {**(metrics or {}), **kwargs}
    run = _require_run()
    _runs.log_batch(run.project, run.run_id, metrics=[(k, v, step) for k, v in values.items()])


def log_param(key: str, value: Any) -> None:
    log_params({key: value})


def log_params(params: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    """Log params; logging a new value for a key keeps the old one in ``param_history``."""
    run = _require_run()
    _runs.log_batch(run.project, run.run_id, params={**(params or {}), **kwargs})


def set_tags(tags: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    run = _require_run()
    _runs.log_batch(run.project, run.run_id, tags={**(tags or {}), **kwargs})


def log_artifact(path_or_obj: Any, name: str | None = None) -> str:
    """Save a file, folder or object (DataFrame, figure, dict, bytes) with the active run."""
    run = _require_run()
    return _artifacts.log_artifact(run.project, run.run_id, path_or_obj, name)


def log_text(text: str, name: str) -> str:
    """Save a string as a text artifact called ``name``."""
    if not isinstance(text, str):
        raise UsageError("log_text takes a str; use log_artifact for other objects")
    run = _require_run()
    return _artifacts.log_artifact(run.project, run.run_id, text.encode(), name)


def get_run(run_id: str) -> Run:
    """The run with this id (a unique prefix of at least 6 characters works too)."""
    from .query import resolve_run_id

    proj = project()
    return Run(proj, resolve_run_id(proj, run_id)).refresh()


def delete_run(run_id: str | Sequence[str]) -> list[str]:
    """Delete runs (ids or unique prefixes) and their child runs; the ids deleted.

    Deleted runs leave listings and the pipeline cache; ``get_run`` still reads them and
    ``restore_run`` brings them back, until ``mlops gc`` purges them. A run still running,
    or one a registered model version came from, is refused.
    """
    from .deletion import delete_runs

    return delete_runs(project(), run_id)


def restore_run(run_id: str | Sequence[str]) -> list[str]:
    """Restore deleted runs, their deleted child runs and deleted parents; the ids restored."""
    from .deletion import restore_runs

    return restore_runs(project(), run_id)


@atexit.register
def _finish_at_exit() -> None:
    """On a normal interpreter exit, finish open runs and ingest every pending point."""
    with _lock:
        while _stack:
            run = _stack.pop()
            # On failure the reaper marks it crashed later; its points stay in the log.
            with contextlib.suppress(Exception):
                _runs.end_run(run.project, run.run_id, "finished")
        for run_id in list(_runs._logs):
            with contextlib.suppress(Exception):
                _runs.close_log(run_id)


def runs(experiment: str | None = None, filter: str | None = None, **options: Any):  # type: ignore[no-untyped-def]
    """Runs as a DataFrame (``run_id, name, experiment, status, ..., params.X, metrics.Y``).

    ``filter`` is an expression like ``"metrics.auc > 0.8 and params.model == 'rf'"``.
    """
    from .query import list_runs

    return list_runs(project(), experiment=experiment, filter=filter, **options)
