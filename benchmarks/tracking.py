"""Tracking benchmark: MLflow (SQLite backend) vs mlops_nb on the same workloads, one run.

    python benchmarks/tracking.py            # full sizes (a few minutes, MLflow is the slow side)
    python benchmarks/tracking.py --quick    # smaller MLflow samples; rates stay comparable

(a) single log_metric calls with steps; (b) 100,000 points logged in batches; (c) create runs
with 5 params + 5 metrics, list them all, and a filtered query; (d) import time.
Rates include making the points durable in the database (mlops_nb: until end_run ingested them).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from _common import import_seconds, median_time, mlops_project, print_rows, timed

PARAMS = {f"p{i}": i for i in range(5)}


def mlflow_env(tmp: str):  # type: ignore[no-untyped-def]
    import mlflow

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_experiment("bench")
    return mlflow


def mlflow_calls(mlflow, n: int) -> float:  # type: ignore[no-untyped-def]
    with mlflow.start_run():
        seconds = timed(lambda: [mlflow.log_metric("loss", 1 / (i + 1), step=i) for i in range(n)])
    return n / seconds


def ours_calls(n: int) -> tuple[float, float]:
    """(calls/s, points/s until ingested into the database by end_run)."""
    import mlops_nb as mlops

    with mlops.start_run():
        start = time.perf_counter()
        for i in range(n):
            mlops.log_metric("loss", 1 / (i + 1), step=i)
        calls = time.perf_counter() - start
    return n / calls, n / (time.perf_counter() - start)


def mlflow_batched(mlflow, points: int) -> float:  # type: ignore[no-untyped-def]
    from mlflow.entities import Metric

    client = mlflow.MlflowClient()
    with mlflow.start_run() as run:
        now = int(time.time() * 1000)

        def work() -> None:
            for start in range(0, points, 1000):
                batch = [
                    Metric(f"k{j % 100}", float(j), now, j // 100)
                    for j in range(start, start + 1000)
                ]
                client.log_batch(run.info.run_id, metrics=batch)

        return points / timed(work)


def ours_batched(points: int) -> tuple[float, float]:
    """(points/s for the calls, points/s until ingested into the database by end_run)."""
    import mlops_nb as mlops

    with mlops.start_run():
        start = time.perf_counter()
        for step in range(points // 100):
            mlops.log_metrics({f"k{j}": float(step * 100 + j) for j in range(100)}, step=step)
        calls = time.perf_counter() - start
    return points / calls, points / (time.perf_counter() - start)


def mlflow_runs(mlflow, n: int) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    def create() -> None:
        for i in range(n):
            with mlflow.start_run():
                mlflow.log_params({**PARAMS, "model": "rf" if i % 2 else "gb"})
                mlflow.log_metrics({f"m{j}": (i + j) / n for j in range(5)})

    rate = n / timed(create)
    listing = timed(lambda: mlflow.search_runs(max_results=100_000))
    filtered = timed(
        lambda: mlflow.search_runs(
            filter_string="metrics.m0 > 0.5 and params.model = 'rf'", max_results=100_000
        )
    )
    return rate, listing, filtered


def ours_runs(n: int) -> tuple[float, float, float]:
    import mlops_nb as mlops

    def create() -> None:
        for i in range(n):
            with mlops.start_run(params={**PARAMS, "model": "rf" if i % 2 else "gb"}):
                mlops.log_metrics({f"m{j}": (i + j) / n for j in range(5)})

    rate = n / timed(create)
    listing = median_time(lambda: mlops.runs())
    filtered = median_time(lambda: mlops.runs(filter="metrics.m0 > 0.5 and params.model == 'rf'"))
    return rate, listing, filtered


def _rate_rows(label: str, theirs: float, ours: float, durable: float) -> list[tuple]:
    return [
        (label, f"{theirs:,.0f}/s", f"{ours:,.0f}/s", f"{ours / theirs:,.0f}x"),
        (
            "    ... incl. ingest into SQL",
            f"{theirs:,.0f}/s",
            f"{durable:,.0f}/s",
            f"{durable / theirs:,.0f}x",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller MLflow samples for (a), (b)")
    args = parser.parse_args()
    calls, points, runs = 5000, 100_000, 2000
    peer_calls, peer_points = (300, 10_000) if args.quick else (calls, points)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        mlflow = mlflow_env(tmp)
        theirs = mlflow_calls(mlflow, peer_calls)
        with mlops_project():
            rows += _rate_rows(f"(a) log_metric x{calls}", theirs, *ours_calls(calls))
        theirs = mlflow_batched(mlflow, peer_points)
        with mlops_project():
            rows += _rate_rows(f"(b) {points:,} points batched", theirs, *ours_batched(points))
    with tempfile.TemporaryDirectory() as tmp:
        mlflow = mlflow_env(tmp)
        t_rate, t_list, t_filter = mlflow_runs(mlflow, runs)
    with mlops_project():
        o_rate, o_list, o_filter = ours_runs(runs)
    rows += [
        (
            f"(c) create {runs} runs (5 params, 5 metrics)",
            f"{t_rate:,.1f}/s",
            f"{o_rate:,.1f}/s",
            f"{o_rate / t_rate:,.0f}x",
        ),
        (
            f"(c) list all {runs} runs",
            f"{t_list:.3f}s",
            f"{o_list:.3f}s",
            f"{t_list / o_list:,.0f}x",
        ),
        (
            "(c) filtered query",
            f"{t_filter:.3f}s",
            f"{o_filter:.3f}s",
            f"{t_filter / o_filter:,.0f}x",
        ),
    ]
    baseline = import_seconds("sys")
    t_import = import_seconds("mlflow") - baseline
    o_import = import_seconds("mlops_nb") - baseline
    rows.append(
        (
            "(d) import (interpreter start subtracted)",
            f"{t_import:.3f}s",
            f"{o_import:.3f}s",
            f"{t_import / o_import:,.0f}x",
        )
    )
    print_rows("tracking: MLflow (SQLite) vs mlops_nb (SQLite)", rows)


if __name__ == "__main__":
    main()
