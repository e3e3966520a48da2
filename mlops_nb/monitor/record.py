"""A check stored as a run of kind ``monitor``: metrics, the report and figures as artifacts.

Layout of a check's run (experiment ``monitor.experiment``, default ``monitor``):

- params: ``model`` (as given), ``model_version``, ``reference``, ``current``, ``labels``,
  ``drift_share_threshold``; inputs (lineage): the dataset versions it read.
- metrics: ``drift_share``, ``drifted_columns`` (count), ``dataset_drift`` (0/1),
  ``drift/<column>`` (the column's statistic), ``psi/<column>``, the model metrics
  (``accuracy``, ``auc``, ``rmse``...), ``baseline/<metric>``, ``labelled_rows``, ``healthy``.
- tags: ``healthy``, ``dataset_drift``, ``drifted``, ``degraded``, ``task``, and for a started
  pipeline ``triggered_run_id`` + ``trigger`` (the pipeline run gets ``triggered_by``).
- artifacts: ``drift_report.html``, ``drift_report.json``, ``figures/<column>.svg``.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..tracking import runs

if TYPE_CHECKING:
    from ..project import Project
    from .performance import Performance
    from .report import DriftReport
    from .sources import Source

KIND = "monitor"
MAX_KEY = 200


def metric_key(prefix: str, column: str) -> str:
    """A valid metric name for a per-column value (printable, trimmed, bounded)."""
    clean = "".join(ch if ch.isprintable() else "_" for ch in column).strip() or "_"
    return f"{prefix}/{clean}"[:MAX_KEY].strip()


def file_name(column: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", column).strip("._")[:80] or "column"
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


def start(project: Project, name: str, experiment: str, params: dict[str, Any]) -> str:
    """Create the check's run: a child of the active run (a notebook, a pipeline step)."""
    from ..tracking.context import active_run

    parent = active_run()
    same = parent is not None and parent.project.root == project.root
    run = runs.create_run(
        project,
        name=name,
        experiment=experiment,
        params=params,
        kind=KIND,
        parent_id=parent.run_id if same else None,
    )
    return run.run_id


def inputs(project: Project, run_id: str, sources: list[Source | None]) -> None:
    """Record the dataset versions the check read as the run's inputs (lineage)."""
    from ..data import lineage

    for source in sources:
        if source is not None and source.version is not None:
            lineage.record(project, run_id, source.version.id, "input")


def log_drift(project: Project, run_id: str, report: DriftReport) -> None:
    """Drift share and per-column statistics as metrics; HTML, JSON and SVGs as artifacts."""
    from ..tracking.artifacts import log_artifact

    metrics = [
        ("drift_share", report.drift_share, None),
        ("drifted_columns", len(report.drifted_columns), None),
        ("dataset_drift", int(report.dataset_drift), None),
    ]
    for r in report.results:
        if r.statistic == r.statistic:  # not NaN
            metrics.append((metric_key("drift", r.column), r.statistic, None))
        if r.psi == r.psi:
            metrics.append((metric_key("psi", r.column), r.psi, None))
    runs.log_batch(
        project,
        run_id,
        metrics=metrics,
        tags={"dataset_drift": report.dataset_drift, "drifted": ",".join(report.drifted_columns)},
    )
    log_artifact(project, run_id, report.to_html().encode(), "drift_report.html")
    data = json.dumps(report.to_dict(), default=str, allow_nan=False).encode()
    log_artifact(project, run_id, data, "drift_report.json")
    figures = report.figures()
    if figures:
        with tempfile.TemporaryDirectory(prefix="mlops-figures-") as tmp:
            taken: set[str] = set()
            for column, image in figures.items():
                Path(tmp, f"{file_name(column, taken)}.svg").write_text(image, encoding="utf-8")
            log_artifact(project, run_id, tmp, "figures")


def log_performance(project: Project, run_id: str, perf: Performance) -> None:
    metrics = [(name, value, None) for name, value in perf.metrics.items()]
    metrics += [(f"baseline/{name}", value, None) for name, value in perf.baseline.items()]
    metrics.append(("labelled_rows", perf.labelled_rows, None))
    runs.log_batch(
        project,
        run_id,
        metrics=metrics,
        tags={"task": perf.task, "degraded": ",".join(perf.degraded)},
    )


def link(project: Project, monitor_run_id: str, pipeline_run_id: str, when: str) -> None:
    """Tag both runs so the chain check -> retraining pipeline is visible from either end."""
    runs.log_batch(
        project, monitor_run_id, tags={"triggered_run_id": pipeline_run_id, "trigger": when}
    )
    runs.log_batch(project, pipeline_run_id, tags={"triggered_by": monitor_run_id})
