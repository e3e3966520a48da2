"""The ``monitor:`` section of ``mlops.yaml``, validated once with errors that name the key.

```yaml
monitor:
  drift_share: 0.5          # dataset drift when this share of tested columns drifted
  null_rate_jump: 0.1       # a column drifts when its share of nulls moves this much
  method: auto              # default test for every column (auto, ks, wasserstein, ...)
  ignore: [id]              # columns never tested
  columns:
    age: {method: psi, threshold: 0.2}
  tolerance: 0.05           # a model metric degrades when it worsens by > 5 % of baseline
  metrics:
    auc: {tolerance: 0.02}
  experiment: monitor       # experiment of the runs that record each check
  triggers:
    - when: drift_share > 0.3 or metrics.auc < 0.8
      run: retrain.yaml     # pipeline file, relative to the project root
      jobs: 2               # optional: steps at once (default 1), as `--jobs`
      executor: local       # optional: local, dask or dask://HOST:PORT, as `--executor`
```
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import CONFIG_FILE, section
from ..errors import UsageError
from .methods import canonical_method

DEFAULT_DRIFT_SHARE = 0.5
DEFAULT_NULL_RATE_JUMP = 0.1
DEFAULT_TOLERANCE = 0.05
DEFAULT_EXPERIMENT = "monitor"


@dataclass(frozen=True)
class ColumnSpec:
    """How one column is tested: a method name (``auto`` = by type and size) and threshold."""

    method: str = "auto"
    threshold: float | None = None


TRIGGER_KEYS = {"when", "run", "jobs", "executor"}


@dataclass(frozen=True)
class Trigger:
    when: str
    run: str | None
    jobs: int | None = None
    executor: str = "local"


@dataclass(frozen=True)
class Settings:
    drift_share: float = DEFAULT_DRIFT_SHARE
    null_rate_jump: float = DEFAULT_NULL_RATE_JUMP
    method: str = "auto"
    ignore: tuple[str, ...] = ()
    columns: Mapping[str, ColumnSpec] = field(default_factory=dict)
    tolerance: float = DEFAULT_TOLERANCE
    metric_tolerance: Mapping[str, float] = field(default_factory=dict)
    experiment: str = DEFAULT_EXPERIMENT
    triggers: tuple[Trigger, ...] = ()

    def spec(self, column: str) -> ColumnSpec:
        """The column's spec: its own entry, else the default method."""
        return self.columns.get(column) or ColumnSpec(self.method)

    def tolerance_for(self, metric: str) -> float:
        return self.metric_tolerance.get(metric, self.tolerance)


def _where(*keys: str) -> str:
    return f"{CONFIG_FILE} monitor.{'.'.join(keys)}"


def number(value: Any, where: str, low: float = 0.0, high: float | None = None) -> float:
    """A number in [low, high], else a UsageError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UsageError(f"{where} must be a number, not {value!r}")
    value = float(value)
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise UsageError(f"{where} must be {bound}, not {value:g}")
    return value


def _column_spec(name: str, raw: Any) -> ColumnSpec:
    if isinstance(raw, str):
        raw = {"method": raw}
    if not isinstance(raw, Mapping):
        raise UsageError(f"{_where('columns', name)} must be a mapping like {{method: psi}}")
    unknown = set(raw) - {"method", "threshold"}
    if unknown:
        raise UsageError(
            f"{_where('columns', name)}: unknown key(s) {', '.join(sorted(unknown))}; "
            "use method and threshold"
        )
    method = canonical_method(raw.get("method", "auto"), _where("columns", name, "method"))
    threshold = raw.get("threshold")
    if threshold is not None:
        threshold = number(threshold, _where("columns", name, "threshold"))
    return ColumnSpec(method, threshold)


def _triggers(raw: Any) -> tuple[Trigger, ...]:
    from ..conditions import parse_condition

    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise UsageError(f"{_where('triggers')} must be a list of {{when: ..., run: ...}}")
    found = []
    for i, item in enumerate(raw):
        where = _where(f"triggers[{i}]")
        if not isinstance(item, Mapping) or "when" not in item or set(item) - TRIGGER_KEYS:
            raise UsageError(
                f"{where} must be a mapping with 'when' (and optionally 'run': a pipeline "
                "file, 'jobs', 'executor')"
            )
        parse_condition(item["when"], where)
        run = item.get("run")
        if run is not None and (not isinstance(run, str) or not run.strip()):
            raise UsageError(f"{where}.run must be a pipeline file path like retrain.yaml")
        found.append(Trigger(str(item["when"]).strip(), run, **_how_to_run(item, where)))
    return tuple(found)


def _how_to_run(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A trigger's ``jobs`` and ``executor``, checked as ``--jobs`` and ``--executor`` are."""
    how: dict[str, Any] = {}
    if not item.keys() & {"jobs", "executor"}:
        return how
    from ..pipelines.executors import check_jobs, scheduler_address

    if "jobs" in item:
        how["jobs"] = check_jobs(item["jobs"], f"{where}.jobs")
    if "executor" in item:
        executor = item["executor"]
        if not isinstance(executor, str):
            raise UsageError(f"{where}.executor must be local, dask or dask://HOST:PORT")
        try:
            scheduler_address(executor)
        except UsageError as exc:
            raise UsageError(f"{where}.executor: {exc}") from None
        how["executor"] = executor
    return how


def _metric_tolerances(raw: Mapping[str, Any]) -> dict[str, float]:
    found = {}
    for name, entry in raw.items():
        if not isinstance(entry, Mapping) or set(entry) != {"tolerance"}:
            raise UsageError(f"{_where('metrics', str(name))} must be {{tolerance: 0.05}}")
        found[str(name)] = number(entry["tolerance"], _where("metrics", str(name), "tolerance"))
    return found


def load_settings(config: Mapping[str, Any]) -> Settings:
    """Settings from a project config dict (``Project.config``); defaults for absent keys."""
    raw = section(dict(config), "monitor")
    known = {
        "drift_share",
        "null_rate_jump",
        "method",
        "ignore",
        "columns",
        "tolerance",
        "metrics",
        "experiment",
        "triggers",
    }
    unknown = set(raw) - known
    if unknown:
        raise UsageError(
            f"{CONFIG_FILE} monitor: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"known: {', '.join(sorted(known))}"
        )
    ignore = raw.get("ignore") or []
    if not isinstance(ignore, list) or not all(isinstance(c, str) for c in ignore):
        raise UsageError(f"{_where('ignore')} must be a list of column names")
    experiment = raw.get("experiment", DEFAULT_EXPERIMENT)
    if not isinstance(experiment, str) or not experiment.strip():
        raise UsageError(f"{_where('experiment')} must be a non-empty name")
    return Settings(
        drift_share=number(
            raw.get("drift_share", DEFAULT_DRIFT_SHARE), _where("drift_share"), 0, 1
        ),
        null_rate_jump=number(
            raw.get("null_rate_jump", DEFAULT_NULL_RATE_JUMP), _where("null_rate_jump"), 0, 1
        ),
        method=canonical_method(raw.get("method", "auto"), _where("method")),
        ignore=tuple(ignore),
        columns={
            str(name): _column_spec(str(name), spec)
            for name, spec in section(dict(config), "monitor", "columns").items()
        },
        tolerance=number(raw.get("tolerance", DEFAULT_TOLERANCE), _where("tolerance")),
        metric_tolerance=_metric_tolerances(section(dict(config), "monitor", "metrics")),
        experiment=experiment.strip(),
        triggers=_triggers(raw.get("triggers")),
    )
