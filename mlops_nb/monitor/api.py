"""Public monitoring API: ``detect_drift`` and ``monitor``.

``detect_drift`` compares two batches and returns a :class:`DriftReport` (no side effects).
``monitor`` is the production check: drift against the reference, the model's metrics on the
labelled batch against those recorded at registration, triggers from ``mlops.yaml`` that start
a retraining pipeline; every check is stored as a run of kind ``monitor``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..project import Project
from .report import DriftReport
from .result import MonitorResult
from .settings import Settings, load_settings, number

if TYPE_CHECKING:
    from .performance import Performance
    from .sources import Source

__all__ = ["DriftReport", "MonitorResult", "detect_drift", "monitor"]


def _check_rows(source: Source, role: str) -> None:
    if source.rows == 0:
        raise UsageError(f"the {role} batch is empty (0 rows); pass a batch with rows to compare")
    if not source.columns:
        raise UsageError(f"the {role} batch has no columns")


def _drift(
    reference: Source,
    current: Source,
    settings: Settings,
    columns: Sequence[Any] | None,
    method: str | Mapping[str, str],
    threshold: float | Mapping[str, float] | None,
) -> DriftReport:
    from .drift import column_specs, compare_column, select_columns

    _check_rows(reference, "reference")
    _check_rows(current, "current")
    names = select_columns(reference, columns, settings)
    specs = column_specs([str(n) for n in names], settings, method, threshold)
    results = [
        compare_column(name, reference, current, specs[str(name)], settings) for name in names
    ]
    known = {str(c) for c in reference.columns} | set(settings.ignore)
    new_columns = [str(c) for c in current.columns if str(c) not in known]
    source = "data"
    if reference.profile is not None:
        source = "profile" if not reference.loaded_raw else "profile+data"
    return DriftReport(
        results,
        {"label": reference.label, "rows": reference.rows, "source": source},
        {"label": current.label, "rows": current.rows},
        settings.drift_share,
        new_columns if columns is None else [],
    )


def _settings(project: Project, drift_share: float | None) -> Settings:
    from dataclasses import replace

    settings = load_settings(project.config)
    if drift_share is not None:
        settings = replace(settings, drift_share=number(drift_share, "drift_share", 0, 1))
    return settings


def detect_drift(
    reference: Any,
    current: Any,
    columns: Sequence[Any] | None = None,
    method: str | Mapping[str, str] = "auto",
    *,
    threshold: float | Mapping[str, float] | None = None,
    drift_share: float | None = None,
) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column.

    ``reference``/``current``: DataFrames, data files (csv, parquet, json...) or dataset refs
    (``"train@3"``; a reference ref uses its stored profile where that suffices).
    ``method``: ``"auto"`` (by type and size), one of ks, wasserstein, chisquare,
    jensenshannon, psi for every column, or a dict column -> method. ``threshold``: a number
    (with a single method) or a dict column -> threshold. ``drift_share`` overrides
    ``monitor.drift_share``. Per-column settings also come from ``mlops.yaml``
    (``monitor.columns.<name>.method/threshold``). Nothing is stored: ``monitor(reference=...,
    current=...)`` runs the same check and records it as a run.
    """
    from .sources import open_source

    project = Project.find()
    settings = _settings(project, drift_share)
    ref = open_source(reference, "reference", project, use_profile=True)
    cur = open_source(current, "current", project)
    return _drift(ref, cur, settings, columns, method, threshold)


# --- monitor ------------------------------------------------------------------------------


def _describe(value: Any) -> str | None:
    if value is None:
        return None
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__} {shape[0]}x{shape[1]}" if shape else type(value).__name__


def _load_model(model: Any) -> tuple[Any, str | None, dict[str, Any] | None]:
    """(model object, the version it resolved to, metrics recorded at registration)."""
    if not isinstance(model, str):
        return model, None, None
    from ..registry.api import get_model_version

    version = get_model_version(model)
    return version.load(), version.ref, dict(version.metrics or {})


def _drift_columns(model: Any, reference: Source, current: Source, labels: str | None) -> list:
    """The model's features (and the label when both sides have it) among reference columns."""
    features = getattr(model, "feature_names_in_", None)
    wanted = None if features is None else {str(f) for f in features}
    chosen = []
    for column in reference.columns:
        if str(column) == labels:
            if column in current.columns:
                chosen.append(column)
        elif wanted is None or str(column) in wanted:
            chosen.append(column)
    return chosen


@dataclass
class _Inputs:
    """What one ``monitor`` call checks, resolved."""

    model: Any
    model_ref: str | None
    recorded: dict[str, Any] | None
    reference: Source | None
    current: Source
    labels: str | None
    columns: Sequence[Any] | None
    method: str | Mapping[str, str]

    def params(self, settings: Settings, model: Any) -> dict[str, Any]:
        return {
            "model": model if isinstance(model, str) else _describe(model),
            "model_version": self.model_ref,
            "reference": self.reference.label if self.reference is not None else None,
            "current": self.current.label,
            "labels": self.labels,
            "drift_share_threshold": settings.drift_share,
        }


def monitor(
    model: Any = None,
    reference: Any = None,
    current: Any = None,
    labels: str | None = None,
    trigger: bool = True,
    *,
    columns: Sequence[Any] | None = None,
    method: str | Mapping[str, str] = "auto",
) -> MonitorResult:
    """Check a production batch: drift vs ``reference``, model metrics vs registration, triggers.

    ``model``: a registry ref (``"churn@production"``) or a fitted model (optional: without
    it only drift is checked). ``labels``: the label column of ``current`` (rows without a
    label are not scored). ``trigger``: start the pipelines of fired triggers (False only
    reports them). The check is stored as a run of kind ``monitor``; a started pipeline's
    run is linked to it by tags (``triggered_run_id`` / ``triggered_by``).
    """
    from ..tracking import runs
    from . import record, triggers
    from .performance import check_batch
    from .sources import open_source

    if current is None:
        raise UsageError("monitor needs a current batch: current=DataFrame, file or dataset ref")
    if labels is not None and not isinstance(labels, str):
        raise UsageError("labels must be the name of the label column")
    if reference is None and (model is None or labels is None):
        raise UsageError(
            "nothing to check: give a reference (drift) and/or a model with labels (metrics)"
        )
    project = Project.find()
    settings = _settings(project, None)
    if trigger:
        triggers.check_pipelines(project, settings.triggers)
    cur = open_source(current, "current", project)
    _check_rows(cur, "current")
    ref = None
    if reference is not None:
        ref = open_source(reference, "reference", project, use_profile=True)
    loaded = _load_model(model) if model is not None else (None, None, None)
    if model is not None and labels is not None:
        check_batch(loaded[0], cur.frame, labels)
    inputs = _Inputs(*loaded, ref, cur, labels, columns, method)
    params = inputs.params(settings, model)
    name = f"monitor {model if isinstance(model, str) else cur.label}"
    run_id = record.start(project, name, settings.experiment, params)
    record.inputs(project, run_id, [ref, cur])
    try:
        result = _check(project, settings, run_id, inputs, trigger)
    except BaseException:
        runs.end_run(project, run_id, "failed")
        raise
    runs.end_run(project, run_id, "finished")
    return result


def _check(
    project: Project, settings: Settings, run_id: str, inputs: _Inputs, trigger: bool
) -> MonitorResult:
    from ..tracking import runs
    from . import record, triggers
    from .performance import evaluate

    problems: list[str] = []
    notes: list[str] = []
    report = None
    ref, cur, model = inputs.reference, inputs.current, inputs.model
    if ref is not None:
        columns = inputs.columns
        if columns is None and model is not None:
            columns = _drift_columns(model, ref, cur, inputs.labels)
        report = _drift(ref, cur, settings, columns, inputs.method, None)
        record.log_drift(project, run_id, report)
        if report.dataset_drift:
            problems.append(
                f"dataset drift: {len(report.drifted_columns)} of {len(report.tested)} columns "
                f"drifted ({', '.join(report.drifted_columns[:5])}"
                f"{', ...' if len(report.drifted_columns) > 5 else ''})"
            )
    perf: Performance | None = None
    if model is not None and inputs.labels is not None:
        reference_frame = ref.frame if ref is not None and not ref.from_profile else None
        perf = evaluate(model, cur.frame, inputs.labels, settings, inputs.recorded, reference_frame)
        record.log_performance(project, run_id, perf)
        if not perf.labelled_rows:
            notes.append(f"no labelled rows in column {inputs.labels!r}: metrics not computed")
        elif not perf.baseline:
            notes.append("no baseline metrics (none recorded at registration): nothing compared")
        problems += [
            f"{c.metric} degraded: {c.current:.4g} vs {c.baseline:.4g} "
            f"({perf.baseline_source}, tolerance {c.tolerance:.0%})"
            for c in perf.comparisons
            if c.degraded
        ]
    fired, trigger_notes = triggers.evaluate(settings.triggers, triggers.namespace(report, perf))
    notes += trigger_notes
    for item in fired:
        problems.append(f"trigger fired: {item.when}")
        if trigger and item.run:
            triggers.start(project, item)
            if item.run_id:
                record.link(project, run_id, item.run_id, item.when)
            if item.error or item.ok is False:
                problems.append(f"pipeline {item.run} failed: {item.error or 'a step failed'}")
    healthy = not problems
    runs.log_batch(
        project, run_id, metrics=[("healthy", int(healthy), None)], tags={"healthy": healthy}
    )
    return MonitorResult(
        healthy=healthy,
        drift=report,
        metrics=dict(perf.metrics) if perf else {},
        baseline=dict(perf.baseline) if perf else {},
        baseline_source=perf.baseline_source if perf else "",
        degraded=perf.degraded if perf else [],
        comparisons=perf.comparisons if perf else [],
        fired=fired,
        run_id=run_id,
        model=inputs.model_ref,
        problems=problems,
        notes=notes,
    )
