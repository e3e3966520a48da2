"""Scheduling tasks (pipeline steps, sweep points): cache decisions, execution, gates.

A task becomes ready when everything it needs has finished. It is then planned (parameters
resolved and checked, inputs digested, cache key computed) and either reused from the cache
(a ``cached`` child run pointing at the run that produced it), skipped (not selected, or an
upstream step failed), or executed (a ``step`` child run; up to the executor's capacity at
once). Ctrl-C stops the running kernels, marks their runs ``interrupted`` and re-raises; any
other error stops them too and marks them ``failed``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..conditions import MissingValue
from ..errors import UsageError
from ..tracking.runs import Run, create_run, end_run, log_batch
from . import cache
from .execute import Failure, Outcome
from .executors import make_executor
from .parameters import effective_parameters
from .results import StepResult
from .stepio import produced_outputs
from .tracked import display_path, make_job, record_outcome

if TYPE_CHECKING:
    from ..project import Project
    from .executors import Executor
    from .notebooks import NotebookSource
    from .spec import GateDecl, OutputDecl

WAIT_SECONDS = 0.25


@contextmanager
def parent_run(
    project: Project, executor: str, jobs: int | None, tags: dict[str, str], **fields: Any
) -> Iterator[tuple[Run, Executor]]:
    """The pipeline's or sweep's own run around its children, with the executor they run on
    (recorded in the tags ``mlops.executor`` and ``mlops.jobs``). The caller ends the run once
    the children are through; Ctrl-C ends it ``interrupted``, any other error ``failed``, so
    none is left ``running``. The executor is closed either way."""
    pool = make_executor(project, executor, jobs)
    try:
        tags = {**tags, "mlops.executor": executor, "mlops.jobs": str(pool.capacity)}
        parent = create_run(project, tags=tags, **fields)
        try:
            yield parent, pool
        except KeyboardInterrupt:
            end_run(project, parent.run_id, "interrupted")
            raise
        except BaseException:
            with contextlib.suppress(Exception):  # the store may be what failed
                end_run(project, parent.run_id, "failed")
            raise
    finally:
        pool.close()


@dataclass
class Planned:
    parameters: dict[str, Any]
    parts: cache.KeyParts

    @property
    def key(self) -> str:
        return self.parts.key()


@dataclass
class Task:
    name: str
    source: NotebookSource
    scope: str  # cache scope, e.g. "pipeline.yaml#train"
    plan: Callable[[Mapping[str, StepResult]], Planned]
    folder: Path  # what declared output paths are relative to
    needs: list[str] = field(default_factory=list)
    selected: bool = True
    outputs: list[OutputDecl] = field(default_factory=list)
    gates: list[GateDecl] = field(default_factory=list)
    kernel: str | None = None
    timeout: float | None = None
    kind: str = "step"
    tags: dict[str, str] = field(default_factory=dict)
    # Set on the result of a grid step: no notebook of its own, it picks the best of the
    # points it needs by (metrics.NAME or params.NAME, ascending).
    select: tuple[str, bool] | None = None


class Runner:
    def __init__(
        self,
        project: Project,
        tasks: list[Task],
        *,
        experiment: str,
        force: bool = False,
        progress: bool = False,
    ):
        self.project = project
        self.tasks = {t.name: t for t in tasks}
        self.experiment = experiment
        self.force = force
        self.progress = progress
        self.results: dict[str, StepResult] = {}

    # -- reporting
    def say(self, text: str) -> None:
        if self.progress:
            print(text, file=sys.stderr, flush=True)

    def _done(self, result: StepResult, dry_run: bool = False) -> StepResult:
        self.results[result.name] = result
        if result.status == "run":
            text = f"would run ({result.reason})" if dry_run else f"done in {result.duration:.1f} s"
        elif result.status == "failed":
            text = f"FAILED: {result.reason}"
        else:
            text = f"{result.status} ({result.reason})"
        self.say(f"{result.name}: {text}")
        return result

    # -- deciding
    def _blocked(self, task: Task, dry_run: bool) -> StepResult | None:
        """A result for a task that cannot run because of its upstream, else None."""
        for need in task.needs:
            up = self.results[need]
            if dry_run and up.status == "run":
                status = "run" if task.selected else "skipped"
                return StepResult(task.name, status, f"upstream {need!r} will run")
            if up.status == "failed":
                return StepResult(task.name, "skipped", f"upstream {need!r} failed")
            if up.status == "skipped":
                if task.selected and up.reason.startswith("not selected"):
                    return StepResult(
                        task.name,
                        "failed",
                        f"upstream {need!r} is not selected and has no cached result; run it first",
                    )
                return StepResult(task.name, "skipped", f"upstream {need!r} was skipped")
        return None

    def _decide(
        self, task: Task, dry_run: bool
    ) -> tuple[StepResult | None, Planned | None, cache.CacheEntry | None, str]:
        """(final result, plan, cache entry to reuse, why it must run)."""
        blocked = self._blocked(task, dry_run)
        if blocked is not None:
            return blocked, None, None, ""
        try:
            planned = task.plan(self.results)
        except UsageError as exc:
            failure = Failure(kind="start", message=str(exc))
            return StepResult(task.name, "failed", str(exc), error=failure), None, None, ""
        entry = cache.lookup(self.project, planned.key)
        stale = cache.stale(self.project, task.folder, entry) if entry else None
        if entry is not None and stale is None and not (self.force and task.selected):
            return None, planned, entry, ""
        if not task.selected:
            return StepResult(task.name, "skipped", "not selected and not cached"), None, None, ""
        if stale:
            reason = stale
        elif entry is not None:  # a valid entry, but --force
            reason = "--force"
        else:
            before = cache.previous(self.project, task.scope)
            reason = (
                "; ".join(planned.parts.changes(before.parts)) if before else "never run before"
            )
        return None, planned, None, reason

    # -- gates
    def _gate(self, task: Task, run_id: str, outputs: dict[str, Any]) -> Failure | None:
        if not task.gates:
            return None
        run = Run(self.project, run_id)
        namespace = {"metrics": run.metrics, "params": run.params}
        for gate in task.gates:
            if gate.data_checks:
                problem = self._data_checks(outputs)
            else:
                try:
                    passed = gate.condition.evaluate(namespace)
                    problem = None if passed else _shown_values(gate, namespace) or "false"
                except MissingValue as exc:
                    problem = f"the step run has no {exc.name}"
            if problem is not None:
                return Failure(kind="gate", message=f"gate failed: {gate.text} ({problem})")
        return None

    def _data_checks(self, outputs: dict[str, Any]) -> str | None:
        """Why the step's dataset outputs do not pass their data checks, else None."""
        from ..data.checks import data_checks_status

        ids = {f"{n}@{i['version']}": i["id"] for n, i in outputs.get("datasets", {}).items()}
        if not ids:
            return "the step declares no dataset output to check"
        for ref, version_id in ids.items():
            passed, summary = data_checks_status(self.project, version_id)
            if passed is not True:
                return f"{ref}: {summary or 'checks failed'}"
        return None

    # -- grid steps
    def _pick(self, task: Task, dry_run: bool) -> StepResult:
        """A grid step's result: the best of its points (all must have succeeded)."""
        points = [self.results[n] for n in task.needs]
        failed = [p for p in points if p.status == "failed"]
        if failed:
            return StepResult(
                task.name,
                "failed",
                f"{len(failed)} of {len(points)} points "
                f"failed: {failed[0].name}: {failed[0].reason}",
                error=failed[0].error,
            )
        skipped = [p for p in points if p.status == "skipped"]
        if skipped:
            return StepResult(task.name, "skipped", skipped[0].reason)
        pending = [p for p in points if p.status == "run"]
        if dry_run and pending:
            return StepResult(task.name, "run", f"{len(pending)} of {len(points)} points will run")
        column, ascending = task.select
        ranked = [(v, p) for p in points if (v := _value(p, column)) is not None]
        if not ranked:
            failure = Failure(kind="gate", message=f"no point of the grid has {column}")
            return StepResult(task.name, "failed", failure.message, error=failure)
        value, best = (min if ascending else max)(ranked, key=lambda pair: pair[0])
        failure = None
        if not dry_run:
            failure = self._gate(task, best.cached_from or best.run_id, best.outputs)
            log_batch(self.project, best.run_id, tags={"mlops.selected": task.name})
        status = "run" if pending else "cached"
        return StepResult(
            task.name,
            "failed" if failure else status,
            failure.message
            if failure
            else f"best of {len(points)} points: {best.name} ({column} = {value:.6g})",
            run_id=best.run_id,
            cached_from=best.cached_from,
            cache_key=best.cache_key,
            metrics=best.metrics,
            parameters=best.parameters,
            outputs=best.outputs,
            error=failure,
        )

    # -- running
    def _child(
        self, task: Task, planned: Planned, parent_id: str | None, tags: dict[str, str]
    ) -> str:
        run = create_run(
            self.project,
            name=task.name,
            experiment=self.experiment,
            params=effective_parameters(task.source.parameters, planned.parameters),
            tags={cache.SCOPE_TAG: task.scope, **task.tags, **tags},
            kind=task.kind,
            parent_id=parent_id,
            notebook_path=display_path(self.project, task.source.path),
        )
        cache.set_run_key(self.project, run.run_id, planned.key)
        return run.run_id

    def _reuse(
        self, task: Task, planned: Planned, entry: cache.CacheEntry, parent_id: str | None
    ) -> StepResult:
        run_id = self._child(task, planned, parent_id, {cache.CACHED_FROM_TAG: entry.run_id})
        failure = self._gate(task, entry.run_id, entry.outputs)
        end_run(self.project, run_id, "failed" if failure else "finished")
        return self._cached(task, planned, entry, run_id, failure)

    def _cached(
        self,
        task: Task,
        planned: Planned,
        entry: cache.CacheEntry,
        run_id: str | None,
        failure: Failure | None,
    ) -> StepResult:
        reason = failure.message if failure else f"from run {entry.run_id[:8]}"
        return StepResult(
            task.name,
            "failed" if failure else "cached",
            reason,
            run_id=run_id,
            cached_from=entry.run_id,
            cache_key=planned.key,
            metrics=Run(self.project, entry.run_id).metrics,
            parameters=planned.parameters,
            outputs=entry.outputs,
            error=failure,
        )

    def _finish(
        self, task: Task, planned: Planned, run_id: str, outcome: Outcome, reason: str
    ) -> StepResult:
        record_outcome(self.project, run_id, outcome)
        failure, outputs = outcome.failure, {}
        if outcome.ok:
            outputs, missing = produced_outputs(
                self.project, run_id, task.outputs, outcome.files, task.folder
            )
            if missing:
                failure = Failure(
                    kind="output",
                    message="declared outputs were not produced: " + ", ".join(missing),
                )
            else:
                cache.record(self.project, planned.key, run_id, planned.parts, outputs)
                failure = self._gate(task, run_id, outputs)
        if outcome.failure is not None:
            status = outcome.status
        else:
            status = "failed" if failure is not None else "finished"
        end_run(self.project, run_id, status)
        return StepResult(
            task.name,
            "run" if failure is None else "failed",
            failure.message if failure else reason,
            run_id=run_id,
            cache_key=planned.key,
            duration=outcome.duration,
            metrics=Run(self.project, run_id).metrics,
            parameters=planned.parameters,
            outputs=outputs,
            error=failure,
        )

    def _submit(
        self, executor: Executor, task: Task, planned: Planned, parent_id: str | None, reason: str
    ) -> tuple[cf.Future[Outcome], str]:
        run_id = self._child(task, planned, parent_id, {})
        self.say(f"{task.name}: running ({reason}; run {run_id[:8]})")
        job = make_job(
            self.project,
            run_id,
            task.source,
            parameters=planned.parameters,
            secrets=task.source.parameters.secrets(),
            kernel=task.kernel,
            timeout=task.timeout,
            check_files=[str(task.folder / o.name) for o in task.outputs if o.kind == "file"],
        )
        return executor.submit(job), run_id

    def preview(self) -> list[StepResult]:
        """What would happen (``--dry-run``): nothing is created or executed."""
        for name, task in self.tasks.items():
            if task.select is not None:
                self._done(self._pick(task, dry_run=True), dry_run=True)
                continue
            result, planned, entry, reason = self._decide(task, dry_run=True)
            if result is None and entry is not None:
                result = self._cached(task, planned, entry, None, None)
            elif result is None:
                result = StepResult(
                    name, "run", reason, cache_key=planned.key, parameters=planned.parameters
                )
            self._done(result, dry_run=True)
        return [self.results[n] for n in self.tasks]

    def run(self, executor: Executor, parent_id: str | None) -> list[StepResult]:
        pending = list(self.tasks)
        queued: list[tuple[Task, Planned, str]] = []
        running: dict[cf.Future[Outcome], tuple[Task, Planned, str, str]] = {}
        try:
            while pending or queued or running:
                for name in list(pending):
                    task = self.tasks[name]
                    if any(n not in self.results for n in task.needs):
                        continue
                    pending.remove(name)
                    if task.select is not None:
                        self._done(self._pick(task, dry_run=False))
                        continue
                    result, planned, entry, reason = self._decide(task, dry_run=False)
                    if result is not None:
                        self._done(result)
                    elif entry is not None:
                        self._done(self._reuse(task, planned, entry, parent_id))
                    else:
                        queued.append((task, planned, reason))
                while queued and len(running) < executor.capacity:
                    task, planned, reason = queued.pop(0)
                    future, run_id = self._submit(executor, task, planned, parent_id, reason)
                    running[future] = (task, planned, run_id, reason)
                if not running:
                    continue
                done, _ = cf.wait(running, timeout=WAIT_SECONDS, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    task, planned, run_id, reason = running[future]
                    self._done(self._finish(task, planned, run_id, _outcome(future), reason))
                    del running[future]
        except BaseException as exc:
            self._stop(executor, running, exc)
            raise
        return [self.results[n] for n in self.tasks]

    def _stop(
        self,
        executor: Executor,
        running: dict[cf.Future[Outcome], tuple[Task, Planned, str, str]],
        cause: BaseException,
    ) -> None:
        """Stop the running kernels and end their runs: ``interrupted`` after Ctrl-C, else
        ``failed`` with the error that stopped the pipeline. What they logged is kept."""
        if isinstance(cause, KeyboardInterrupt):
            status = kind = message = "interrupted"
        else:
            status, kind = "failed", "stopped"
            message = f"the run stopped: {type(cause).__name__}: {cause}"
        executor.stop([run_id for _, _, run_id, _ in running.values()])
        deadline = time.monotonic() + 30
        for future, (task, planned, run_id, _) in running.items():
            try:
                outcome = future.result(timeout=max(0.1, deadline - time.monotonic()))
                record_outcome(self.project, run_id, outcome)
            except (cf.TimeoutError, Exception):
                pass
            with contextlib.suppress(Exception):  # the store may be what failed
                end_run(self.project, run_id, status)
            self.results[task.name] = StepResult(
                task.name,
                "failed",
                message,
                run_id=run_id,
                cache_key=planned.key,
                error=Failure(kind=kind, message=message),
            )


def _outcome(future: cf.Future[Outcome]) -> Outcome:
    try:
        return future.result()
    except Exception as exc:  # the executor lost the job (e.g. a Dask worker died)
        return Outcome(
            status="failed",
            failure=Failure(
                kind="start", message=f"the executor lost the job: {type(exc).__name__}: {exc}"
            ),
        )


def _value(result: StepResult, column: str) -> float | None:
    scope, _, key = column.partition(".")
    value = (result.metrics if scope == "metrics" else result.parameters).get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return value


def _shown_values(gate: GateDecl, namespace: Mapping[str, Any]) -> str:
    values = []
    for name in gate.condition.names():
        try:
            value: Any = namespace
            for part in name.split("."):
                value = value[part]
            values.append(
                f"{name} = {value:.6g}" if isinstance(value, float) else f"{name} = {value!r}"
            )
        except (KeyError, TypeError):
            continue
    return ", ".join(values)
