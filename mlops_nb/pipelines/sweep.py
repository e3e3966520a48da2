"""``sweep``: one notebook over a parameter grid, as child runs of a ``sweep`` run.

Every point is checked against the parameters cell before anything starts, runs in its own
kernel (up to ``jobs`` at once, locally or on Dask), and is cached like a pipeline step, so
re-running a grid with one new value runs only the new points.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..tracking.runs import end_run, log_batch
from .cache import KeyParts, key_packages
from .grid import expand_grid, parse_sort, point_label
from .notebooks import load_notebook, local_modules
from .parameters import check_secrets
from .results import StepResult
from .runner import Planned, Runner, Task, parent_run
from .tracked import check_timeout, choose_kernel, display_path

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project


@dataclass
class SweepResult:
    """``rows`` (and ``summary``, the same as a DataFrame) have one entry per point, sorted:
    ``point, status, run_id, params.*, metrics.*, duration``."""

    run_id: str
    points: list[StepResult]
    rows: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.points)

    @cached_property
    def summary(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows)

    @property
    def best(self) -> StepResult | None:
        """The first point of the sorted summary that succeeded."""
        name = next((r["point"] for r in self.rows if r["status"] != "failed"), None)
        return next((p for p in self.points if p.name == name), None)


def summary_rows(
    points: list[StepResult], grid: Mapping[str, Any], sort: tuple[str, bool] | None
) -> list[dict[str, Any]]:
    """A row per point; sorted by ``sort`` (stable, missing values last) when given."""
    metric_names = sorted({k for p in points for k in p.metrics})
    rows = []
    for point in points:
        row = {"point": point.name, "status": point.status, "run_id": point.run_id}
        row.update({f"params.{k}": point.parameters.get(k) for k in grid})
        row.update({f"metrics.{k}": point.metrics.get(k, math.nan) for k in metric_names})
        row["duration"] = round(point.duration, 2)
        rows.append(row)
    if sort is None:
        return rows
    column, ascending = sort
    for row in rows:  # e.g. every point failed before logging it
        row.setdefault(column, math.nan)
    missing = [r for r in rows if _missing(r[column])]
    present = [r for r in rows if not _missing(r[column])]
    present.sort(key=lambda r: r[column], reverse=not ascending)
    return present + missing


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def run_sweep(
    project: Project,
    path: str | os.PathLike[str],
    grid: Mapping[str, Sequence[Any]],
    *,
    jobs: int | None = None,
    executor: str = "local",
    sort: str | None = None,
    experiment: str | None = None,
    timeout: float | None = None,
    force: bool = False,
    progress: bool = False,
) -> SweepResult:
    source = load_notebook(path)
    points = expand_grid(source, grid)
    order = parse_sort(sort)
    cell_timeout = check_timeout(timeout)
    check_secrets(source.parameters)
    kernel = choose_kernel(source, None).name
    scope = f"sweep:{display_path(project, source.path)}"
    common = {
        "notebook": source.digest,
        "kernel": kernel,
        "code": local_modules(source),
        "packages": key_packages(project, source),
    }
    tasks = [
        Task(
            name=point_label(point),
            source=source,
            scope=scope,
            folder=source.path.parent,
            plan=lambda _results, p=point: Planned(p, KeyParts(parameters=p, **common)),
            kernel=kernel,
            timeout=cell_timeout,
            kind="notebook",
            tags={"mlops.sweep_point": point_label(point)},
        )
        for point in points
    ]
    runner = Runner(
        project, tasks, experiment=experiment or "default", force=force, progress=progress
    )
    with parent_run(
        project,
        executor,
        jobs,
        tags={"mlops.points": str(len(points))},
        name=f"sweep {source.path.stem}",
        experiment=experiment or "default",
        params={k: list(v) for k, v in grid.items()},
        kind="sweep",
        notebook_path=display_path(project, source.path),
    ) as (parent, pool):
        results = runner.run(pool, parent.run_id)
        result = SweepResult(parent.run_id, results, summary_rows(results, grid, order))
        if order is not None and result.best is not None:
            log_batch(project, parent.run_id, tags={"mlops.best_run": result.best.run_id})
        end_run(project, parent.run_id, "finished" if result.ok else "failed")
    return result
