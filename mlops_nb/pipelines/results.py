"""What the pipeline functions return: plain objects that read the store on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import MlopsError
from .execute import Failure

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project
    from ..tracking.runs import Run


class ExecutionFailed(MlopsError):
    """A notebook cell, a step, a gate or a reproduction failed (exit code 1)."""

    exit_code = 1


class KernelFallbackWarning(UserWarning):
    """The notebook's kernel is not installed; another kernel of its language was used."""


@dataclass
class NotebookResult:
    """One executed notebook: ``ok``, ``run_id``, ``metrics``, ``output_path``, ``error``."""

    project: Project = field(repr=False)
    run_id: str
    status: str
    error: Failure | None = None
    output_path: str | None = None
    kernel: str = ""
    duration: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    @property
    def run(self) -> Run:
        from ..tracking.runs import Run

        return Run(self.project, self.run_id)

    @property
    def metrics(self) -> dict[str, float]:
        return self.run.metrics


@dataclass
class StepResult:
    """One pipeline step (or sweep point): ``status`` is run, cached, failed or skipped."""

    name: str
    status: str
    reason: str = ""
    run_id: str | None = None
    cached_from: str | None = None
    cache_key: str | None = None
    duration: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("run", "cached")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "run_id": self.run_id,
            "cached_from": self.cached_from,
            "cache_key": self.cache_key,
            "duration": round(self.duration, 3),
            "metrics": self.metrics,
            "parameters": self.parameters,
            "outputs": self.outputs,
            "error": self.error.to_dict() if self.error else None,
        }


@dataclass
class PipelineResult:
    """A pipeline run: ``ok``, ``run_id`` (the parent run; None for a dry run), ``steps``."""

    name: str
    run_id: str | None
    steps: list[StepResult]
    status: str = "finished"
    dry_run: bool = False
    junit_path: str | None = None

    @property
    def ok(self) -> bool:
        """No step failed (steps not selected by ``only``/``from_`` may be skipped)."""
        return self.status == "finished" and not any(s.status == "failed" for s in self.steps)

    def __getitem__(self, name: str) -> StepResult:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "run_id": self.run_id,
            "ok": self.ok,
            "status": self.status,
            "dry_run": self.dry_run,
            "steps": [s.to_dict() for s in self.steps],
        }

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [(s.name, s.status, s.reason, s.run_id, round(s.duration, 2)) for s in self.steps],
            columns=["step", "status", "reason", "run_id", "duration"],
        )
