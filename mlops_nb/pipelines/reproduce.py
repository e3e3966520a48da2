"""``reproduce``: re-execute a run's recorded notebook and compare what it produces.

The recorded notebook is the run's ``notebook.ipynb`` artifact (runs of ``mlops run``,
pipelines and sweeps) or another ``.ipynb`` artifact (a notebook tracked with
``%mlops track`` and saved with its run). It runs top to bottom in a fresh kernel with the
parameters recorded in it; parameter values naming a dataset the run read (``train@latest``
or ``train``) are pinned to the version it read (``train@3``). The reproduction is a new run
tagged ``mlops.reproduces``; metrics are compared with ``math.isclose`` (``tolerance`` is
both relative and absolute; NaN equals NaN), and the dataset versions read are compared too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..tracking.runs import Run, create_run, end_run, log_batch
from .execute import Failure, execute
from .notebooks import NotebookSource, parse_notebook
from .parameters import check_parameters
from .tracked import NOTEBOOK_ARTIFACT, make_job, record_outcome

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project

COLUMNS = ["kind", "name", "recorded", "reproduced", "difference"]


@dataclass
class ReproduceResult:
    original_run_id: str
    run_id: str
    differences: pd.DataFrame
    error: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.differences.empty


def datasets_read(project: Project, run_id: str) -> dict[str, int]:
    """Dataset name -> version a run recorded as input."""
    from ..data.lineage import inputs_of

    return {version.name: version.version for version in inputs_of(project, run_id)}


def recorded_notebook(project: Project, run: Run) -> dict[str, Any]:
    artifacts = {a.path: a for a in run.artifacts}
    artifact = artifacts.get(NOTEBOOK_ARTIFACT) or next(
        (a for p, a in sorted(artifacts.items()) if p.endswith(".ipynb")), None
    )
    if artifact is None:
        raise UsageError(
            f"run {run.run_id[:8]} has no recorded notebook to re-execute; runs of `mlops run`, "
            "pipelines, sweeps and notebooks tracked with %mlops track keep one"
        )
    data = project.blobs.get_bytes(artifact.digest)
    return parse_notebook(data, f"run {run.run_id[:8]} {artifact.path}")


def _pin(value: Any, read: dict[str, int]) -> Any:
    if isinstance(value, str):
        name, at, version = value.partition("@")
        if name in read and (not at or version == "latest"):
            return f"{name}@{read[name]}"
    return value


def _recorded_parameters(source: NotebookSource, read: dict[str, int]) -> dict[str, Any]:
    """The parameters injected into the recorded run (secrets aside), and any default naming
    a dataset the run read, each dataset reference pinned to the version it read."""
    recorded = source.content.get("metadata", {}).get("papermill", {}).get("parameters") or {}
    cell = source.parameters
    values = {k: _pin(v, read) for k, v in recorded.items() if k not in cell.secrets()}
    for name, param in cell.parameters.items():
        if name not in values and param.has_literal_default and param.secret_env is None:
            pinned = _pin(param.default, read)
            if pinned != param.default:
                values[name] = pinned
    return values


def _compare(
    recorded: dict[str, float], reproduced: dict[str, float], tolerance: float
) -> list[tuple[Any, ...]]:
    rows = []
    for name in sorted(set(recorded) | set(reproduced)):
        a, b = recorded.get(name), reproduced.get(name)
        if a is None or b is None:
            rows.append(("metric", name, a, b, "missing"))
        elif not (
            math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
            or (math.isnan(a) and math.isnan(b))
        ):
            rows.append(("metric", name, a, b, b - a))
    return rows


def reproduce_run(
    project: Project, run_id: str, tolerance: float = 1e-6, *, progress: str | None = None
) -> ReproduceResult:
    import pandas as pd

    from ..tracking.query import resolve_run_id

    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
        raise UsageError(f"tolerance must be a number >= 0, not {tolerance!r}")
    original = Run(project, resolve_run_id(project, run_id)).refresh()
    if original.status == "running":
        raise UsageError(f"run {original.run_id[:8]} is still running; reproduce it once it ends")
    content = recorded_notebook(project, original)
    where = Path(original.notebook_path or NOTEBOOK_ARTIFACT)
    folder = where.parent if where.is_absolute() else project.root / where.parent
    source = NotebookSource((folder / where.name), content)
    read = datasets_read(project, original.run_id)
    secrets = source.parameters.secrets()
    overrides = check_parameters(source.parameters, _recorded_parameters(source, read), where.name)
    run = create_run(
        project,
        name=f"reproduce {original.name}",
        experiment=original.experiment,
        params={**original.params, **overrides},
        kind="notebook",
        tags={"mlops.reproduces": original.run_id},
        notebook_path=original.notebook_path,
    )
    job = make_job(
        project, run.run_id, source, parameters=overrides, secrets=secrets, progress=progress
    )
    job.cwd = str(folder if folder.is_dir() else project.root)
    outcome = execute(job)
    record_outcome(project, run.run_id, outcome)
    end_run(project, run.run_id, outcome.status)
    if outcome.status == "interrupted":
        raise KeyboardInterrupt
    rows = []
    if outcome.failure is not None:
        rows.append(
            ("execution", "status", original.status, outcome.status, outcome.failure.message)
        )
    else:
        rows += _compare(original.metrics, run.metrics, float(tolerance))
        again = datasets_read(project, run.run_id)
        rows += [
            ("dataset", name, read.get(name), again.get(name), "version")
            for name in sorted(set(read) | set(again))
            if read.get(name) != again.get(name)
        ]
    differences = pd.DataFrame(rows, columns=COLUMNS)
    result = ReproduceResult(original.run_id, run.run_id, differences, outcome.failure)
    log_batch(
        project,
        original.run_id,
        tags={
            "mlops.reproduced": "true" if result.ok else "false",
            "mlops.reproduced_by": run.run_id,
        },
    )
    return result
