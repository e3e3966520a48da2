"""A small store holding runs (metrics over steps, artifacts), datasets and models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops_nb.tracking.artifacts import log_artifact
from mlops_nb.tracking.runs import create_run, end_run, log_batch

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": 1,
            "id": "c1",
            "metadata": {},
            "outputs": [],
            "source": "print('trained')",
        }
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


POLICY = """\
promotion:
  production:
    require:
      - metrics.auc >= 0.85
"""


@dataclass
class Seeded:
    runs: dict[str, str] = field(default_factory=dict)  # name -> run id
    models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)


def record_cells(project: Any, run_id: str) -> None:
    """Four executions: a cell re-run and one that failed (so: not reproducible)."""
    from mlops_nb.tracking.cell_store import store_cells
    from mlops_nb.tracking.cells import CellRecord, assess

    t = 1_700_000_000.0
    sources = [
        "import pandas as pd",
        "df = pd.read_csv('train.csv')",
        "model.fit(df)",
        "df = pd.read_csv('train.csv')",
    ]
    records = [
        CellRecord(
            seq=i + 1,
            source=src,
            started_at=t + i,
            execution_count=i + 1,
            ended_at=t + i + 0.25,
            ok=i != 2,
            error_type="NameError" if i == 2 else None,
        )
        for i, src in enumerate(sources)
    ]
    store_cells(project, run_id, records, verdict=assess(records))


def seed_runs(project: Any) -> Seeded:
    import json

    seeded = Seeded()
    for i, (name, status) in enumerate(
        [("baseline", "finished"), ("tuned", "finished"), ("broken", "failed")]
    ):
        run = create_run(
            project, name, experiment="churn", params={"lr": 0.1 * (i + 1), "depth": 3 + i}
        )
        log_batch(
            project,
            run.run_id,
            metrics=[("loss", 1.0 / (step + 1 + i), step) for step in range(20)]
            + [("auc", 0.80 + 0.05 * i, None)],
        )
        log_artifact(project, run.run_id, b"feature,importance\nage,0.4\n", "importance.csv")
        log_artifact(project, run.run_id, json.dumps(NOTEBOOK).encode(), "notebook.ipynb")
        if name == "baseline":
            record_cells(project, run.run_id)
        end_run(project, run.run_id, status)
        seeded.runs[name] = run.run_id
    other = create_run(project, "sketch", experiment="scratch", params={"note": "<b>x</b>"})
    end_run(project, other.run_id, "finished")
    seeded.runs["sketch"] = other.run_id
    return seeded


def seed_all(project: Any) -> Seeded:
    """Runs, plus dataset ``train`` v1/v2 and model ``churn`` v1 (auc 0.80, staging) / v2
    (auc 0.90), with a policy: production requires ``metrics.auc >= 0.85``."""
    import pandas as pd

    import mlops_nb as mlops
    from mlops_nb.project import Project

    (project.root / "mlops.yaml").write_text(POLICY)
    Project.forget(project.root)
    seeded = seed_runs(Project.find(project.root))
    frame = pd.DataFrame(
        {"id": range(1, 7), "age": [31, 45, 27, 52, 38, 29], "plan": ["a", "b", "a", "c", "b", "a"]}
    )
    model_file = project.root / "model.json"
    for version, auc in ((1, 0.80), (2, 0.90)):
        with mlops.start_run(f"train-v{version}", experiment="churn") as run:
            data = (
                frame
                if version == 1
                else pd.concat(
                    [
                        frame.assign(age=frame["age"].where(frame["id"] != 2, 46)),
                        pd.DataFrame({"id": [7], "age": [60], "plan": ["c"]}),
                    ],
                    ignore_index=True,
                ).assign(score=0.5)
            )
            mlops.snapshot(data, "train")
            mlops.log_metric("auc", auc)
            model_file.write_text(f'{{"weights": [{version}]}}')
            mlops.register_model(str(model_file), "churn", metrics={"auc": auc})
        seeded.runs[f"train-v{version}"] = run.run_id
    mlops.promote("churn", 1, to="staging", reason="first candidate")
    seeded.models = ["churn"]
    seeded.datasets = ["train"]
    return seeded
