"""Triggers: conditions over a check's results that start a (retraining) pipeline.

A condition reads ``drift_share``, ``dataset_drift``, ``drifted_columns`` (a count),
``columns.<name>.statistic|drifted|psi``, ``metrics.<name>`` (current model metrics),
``baseline.<name>`` and ``degraded`` (number of degraded metrics). A condition naming a value
the check does not have (e.g. ``metrics.auc`` without labels) does not fire; the check notes it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..conditions import MissingValue, parse_condition
from ..errors import MlopsError, UsageError
from .settings import Trigger

if TYPE_CHECKING:
    from ..project import Project
    from .performance import Performance
    from .report import DriftReport


@dataclass
class Fired:
    """A trigger whose condition held, and what starting its pipeline gave."""

    when: str
    run: str | None
    started: bool = False
    result: Any = None  # the pipeline result
    run_id: str | None = None
    ok: bool | None = None
    error: str | None = None
    jobs: int | None = None
    executor: str = "local"

    def to_dict(self) -> dict[str, Any]:
        """Everything but the pipeline result object."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "result"}


def namespace(report: DriftReport | None, perf: Performance | None) -> dict[str, Any]:
    """The names a trigger condition can read."""
    names: dict[str, Any] = {}
    if report is not None:
        names.update(
            drift_share=report.drift_share,
            dataset_drift=report.dataset_drift,
            drifted_columns=len(report.drifted_columns),
            columns={
                r.column: {"statistic": r.statistic, "drifted": r.drifted, "psi": r.psi}
                for r in report.results
            },
        )
    if perf is not None:
        names.update(
            metrics=dict(perf.metrics), baseline=dict(perf.baseline), degraded=len(perf.degraded)
        )
    return names


def evaluate(triggers: tuple[Trigger, ...], names: dict[str, Any]) -> tuple[list[Fired], list[str]]:
    """(fired triggers, notes on triggers that could not be evaluated)."""
    fired, notes = [], []
    for trigger in triggers:
        try:
            holds = parse_condition(trigger.when, "monitor trigger").evaluate(names)
        except MissingValue as exc:
            notes.append(f"trigger {trigger.when!r} not evaluated: this check has no {exc.name}")
            continue
        except (TypeError, ZeroDivisionError) as exc:
            notes.append(f"trigger {trigger.when!r} not evaluated: {exc}")
            continue
        if holds:
            fired.append(
                Fired(trigger.when, trigger.run, jobs=trigger.jobs, executor=trigger.executor)
            )
    return fired, notes


def pipeline_path(project: Project, run: str) -> Path:
    path = Path(run)
    if not path.is_absolute():
        path = project.root / path
    if not path.is_file():
        raise UsageError(
            f"mlops.yaml monitor trigger runs {run!r}, but there is no such pipeline file "
            f"under {project.root}; fix the path"
        )
    return path


def check_pipelines(project: Project, triggers: tuple[Trigger, ...]) -> None:
    """Fail before the check when a trigger names a pipeline file that does not exist."""
    for trigger in triggers:
        if trigger.run:
            pipeline_path(project, trigger.run)


def start(project: Project, fired: Fired) -> None:
    """Run the trigger's pipeline; failures are recorded on ``fired``, not raised."""
    if not fired.run:
        return
    from ..pipelines.api import run_pipeline

    fired.started = True
    try:
        result = run_pipeline(
            pipeline_path(project, fired.run),
            executor=fired.executor,
            jobs=fired.jobs,
            project=project,
        )
    except MlopsError as exc:
        fired.ok, fired.error = False, str(exc)
        return
    fired.result = result
    fired.run_id = getattr(result, "run_id", None)
    fired.ok = bool(getattr(result, "ok", True))
