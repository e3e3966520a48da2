"""``run_pipeline``: a pipeline file's steps as tasks of a parent ``pipeline`` run."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..tracking.runs import end_run
from . import dag, refs
from .cache import KeyParts, key_packages
from .grid import point_label
from .notebooks import local_modules
from .parameters import check_parameters, check_secrets
from .results import PipelineResult, StepResult
from .runner import Planned, Runner, Task, parent_run
from .spec import PipelineSpec, StepSpec, load_pipeline
from .stepio import fingerprint, input_digests, output_values
from .tracked import display_path

if TYPE_CHECKING:
    from ..project import Project


class PipelineRunner:
    def __init__(
        self,
        project: Project,
        path: str | os.PathLike[str],
        *,
        only: str | Sequence[str] | None = None,
        from_: str | None = None,
        force: bool = False,
        executor: str = "local",
        jobs: int | None = None,
        progress: bool = False,
    ):
        self.project = project
        self.spec: PipelineSpec = load_pipeline(path)
        only = [only] if isinstance(only, str) else list(only or [])
        self.selected = dag.select(self.spec.needs(), only, from_)
        self.executor = executor
        self.jobs = jobs
        self.file = display_path(project, self.spec.path)
        self.runner = Runner(
            project, self._tasks(), experiment=self.spec.experiment, force=force, progress=progress
        )

    def _tasks(self) -> list[Task]:
        tasks = []
        for name in self.spec.order:
            step = self.spec.steps[name]
            common = {
                "source": step.notebook,
                "folder": self.spec.folder,
                "selected": name in self.selected,
                "kernel": step.kernel,
                "timeout": step.timeout,
            }
            tags = {"mlops.pipeline": self.file, "mlops.step": name}
            if not step.points:
                tasks.append(
                    Task(
                        name=name,
                        scope=f"{self.file}#{name}",
                        needs=step.needs,
                        plan=self._planner(step),
                        outputs=step.outputs,
                        gates=step.gates,
                        tags=tags,
                        **common,
                    )
                )
                continue
            points = []
            for point in step.points:
                label = f"{name}[{point_label(point)}]"
                points.append(label)
                tasks.append(
                    Task(
                        name=label,
                        scope=f"{self.file}#{label}",
                        needs=step.needs,
                        plan=self._planner(step, point),
                        outputs=step.outputs,
                        tags={**tags, "mlops.grid_point": point_label(point)},
                        **common,
                    )
                )
            tasks.append(
                Task(
                    name=name,
                    scope=f"{self.file}#{name}",
                    needs=points,
                    plan=self._planner(step),
                    gates=step.gates,
                    select=step.select,
                    **common,
                )
            )
        return tasks

    def _planner(
        self, step: StepSpec, point: Mapping[str, Any] | None = None
    ) -> Callable[[Mapping[str, StepResult]], Planned]:
        def plan(results: Mapping[str, StepResult]) -> Planned:
            source = step.notebook
            check_secrets(source.parameters)
            digests, pins = input_digests(self.project, self.spec.folder, step.inputs)
            consumer = source.path.parent
            context = {
                "vars": self.spec.vars,
                "inputs": pins,
                "steps": {
                    need: {
                        "outputs": output_values(results[need].outputs, self.spec.folder, consumer),
                        "metrics": results[need].metrics,
                    }
                    for need in step.needs
                },
            }
            try:
                values = {**refs.resolve(step.parameters, context), **(point or {})}
            except refs.RefError as exc:
                raise UsageError(f"step {step.name!r}: {exc}") from None
            parameters = check_parameters(source.parameters, values, source.path.name)
            parts = KeyParts(
                notebook=source.digest,
                kernel=step.kernel or source.kernel_name or "",
                parameters=parameters,
                inputs=digests,
                upstream={
                    n: fingerprint(results[n].outputs, results[n].cache_key) for n in step.needs
                },
                code=local_modules(source),
                packages=key_packages(self.project, source),
            )
            return Planned(parameters, parts)

        return plan

    def dry_run(self) -> PipelineResult:
        return PipelineResult(self.spec.name, None, self.runner.preview(), dry_run=True)

    def run(self) -> PipelineResult:
        with parent_run(
            self.project,
            self.executor,
            self.jobs,
            tags={"mlops.pipeline": self.file},
            name=self.spec.name,
            experiment=self.spec.experiment,
            params=self.spec.vars,
            kind="pipeline",
            notebook_path=None,
        ) as (parent, executor):
            steps = self.runner.run(executor, parent.run_id)
            status = "failed" if any(s.status == "failed" for s in steps) else "finished"
            end_run(self.project, parent.run_id, status)
        return PipelineResult(self.spec.name, parent.run_id, steps, status=status)
