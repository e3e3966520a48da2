"""A notebook execution as a tracked run: the kernel's environment and what is stored after.

The kernel gets ``MLOPS_RUN_ID`` (so ``mlops.log_metric`` and the magics log to the run with
no ``start_run``), ``MLOPS_HOME`` and the resolved store URIs (so a kernel on a Dask worker
writes to the same store). After execution the run keeps the executed notebook
(``notebook.ipynb``, outputs included), ``stdout.txt``/``stderr.txt``, and on failure a
machine-readable ``failure.json``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..identity import current_user
from ..tracking import metric_log
from ..tracking.artifacts import log_artifact
from ..tracking.runs import log_batch
from .execute import Job, Outcome
from .kernels import KernelChoice, resolve_kernel
from .notebooks import NotebookSource
from .results import KernelFallbackWarning

if TYPE_CHECKING:
    from ..project import Project

NOTEBOOK_ARTIFACT = "notebook.ipynb"


def kernel_env(project: Project, run_id: str) -> dict[str, str]:
    return {
        "MLOPS_RUN_ID": run_id,
        "MLOPS_HOME": str(project.root),
        "MLOPS_STORE_URI": project.store_uri,
        "MLOPS_ARTIFACT_URI": project.artifact_uri,
        "MLOPS_USER": current_user(),
    }


def display_path(project: Project, path: Path) -> str:
    """``path`` relative to the project root when inside it (what runs record), else absolute."""
    try:
        return path.resolve().relative_to(project.root).as_posix()
    except ValueError:
        return str(path.resolve())


def choose_kernel(source: NotebookSource, requested: str | None) -> KernelChoice:
    """Resolve the kernel before anything starts; a fallback is warned about."""
    choice = resolve_kernel(requested, source.kernel_name, source.language)
    if choice.warning:
        warnings.warn(f"{source.path.name}: {choice.warning}", KernelFallbackWarning, stacklevel=3)
    return choice


def check_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise UsageError(f"timeout must be a positive number of seconds per cell, not {timeout!r}")
    return float(timeout)


def make_job(project: Project, run_id: str, source: NotebookSource, **options: Any) -> Job:
    """A job for ``source`` logging to ``run_id``; options are :class:`Job` fields."""
    secrets = options.get("secrets") or {}
    env = kernel_env(project, run_id)
    # Secret values travel with the job so a kernel on another host can read them too.
    env.update({var: os.environ[var] for var in secrets.values() if var in os.environ})
    return Job(
        key=run_id,
        notebook=source.content,
        name=display_path(project, source.path),
        cwd=str(source.path.parent),
        env=env,
        **options,
    )


def record_outcome(
    project: Project, run_id: str, outcome: Outcome, tags: dict[str, str] | None = None
) -> None:
    """Store what the execution produced with the run and ingest the kernel's metrics."""
    if outcome.notebook:
        log_artifact(project, run_id, outcome.notebook.encode(), NOTEBOOK_ARTIFACT)
    for name, text in (("stdout.txt", outcome.stdout), ("stderr.txt", outcome.stderr)):
        if text:
            log_artifact(project, run_id, text.encode(), name)
    all_tags = {
        "mlops.kernel": outcome.kernel,
        "mlops.duration": f"{outcome.duration:.3f}",
        **(tags or {}),
    }
    if outcome.failure is not None:
        failure = outcome.failure.to_dict()
        log_artifact(project, run_id, json.dumps(failure, indent=2).encode(), "failure.json")
        all_tags["mlops.failure"] = outcome.failure.kind
        all_tags["mlops.failure_reason"] = outcome.failure.message[:1000]
    if outcome.warnings:
        all_tags["mlops.warnings"] = "; ".join(outcome.warnings)[:1000]
    log_batch(project, run_id, tags={k: v for k, v in all_tags.items() if v})
    metric_log.recover(project)  # points a killed kernel left in its log
