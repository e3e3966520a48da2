"""Registry benchmark: MLflow (SQLite backend) vs mlops_nb on the same models, one run.

    python benchmarks/registry.py                    # 50 models; load on 1,000 versions
    python benchmarks/registry.py --models 20 --versions 300 --with-inference

(a) Register + alias N small scikit-learn models, each in its own run. Each tool runs in its
    own worker process (as a user would run it). Two orders, both fair to machine load: in a
    row (as a script registering N models does), in blocks of 10 the tools take turns with;
    and one at a time, turns model by model (each registration then starts after the other
    tool ran: caches cold, as a single registration in a notebook would). MLflow:
    ``log_model`` (explicit ``pip_requirements``, its fast path) + ``register_model`` +
    ``set_registered_model_alias``. mlops_nb: ``register_model`` (skops, digests, library
    versions from installed metadata, lineage) + ``promote`` (policy evaluated, audit event
    appended). ``--with-inference`` also times MLflow's default requirement inference.
(b) ``load_model("name@production")`` on a registry of V versions, minus the time
    ``skops.io.loads`` alone takes on the same bytes (the deserialization floor); MLflow's
    ``load_model("models:/name@production")`` on its N-version registry for comparison.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import redirect_stderr, redirect_stdout

from _common import mlops_project, print_rows, timed

BLOCK = 10  # registrations in a row before the other tool takes its turn


def fit_models(count: int, rows: int = 200, features: int = 10) -> list:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    models = []
    for seed in range(count):
        rng = np.random.RandomState(seed)
        X = rng.rand(rows, features)
        y = (X[:, 0] + 0.2 * rng.rand(rows) > 0.6).astype(int)
        models.append(LogisticRegression(max_iter=200).fit(X, y))
    return models


def per_call(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    """Median seconds of one call over ``repeat`` calls (after one warm-up call)."""
    fn()
    return statistics.median(timed(fn) for _ in range(repeat))


class MlflowSide:
    """MLflow on SQLite in a temp folder, artifacts beside it."""

    def __init__(self, tmp: str):
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("DO_NOT_TRACK", "true")
        warnings.filterwarnings("ignore")
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        import mlflow
        import sklearn

        self.mlflow = mlflow
        self.pins = [f"scikit-learn=={sklearn.__version__}"]
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        location = f"file://{tmp}/artifacts"
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("b", location))

    def register(self, model, infer: bool = False) -> float:  # type: ignore[no-untyped-def]
        mlflow = self.mlflow
        pins = None if infer else self.pins
        with open(os.devnull, "w") as sink, redirect_stdout(sink), redirect_stderr(sink):
            start = time.perf_counter()
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(model, name="model", pip_requirements=pins)
            version = mlflow.register_model(info.model_uri, "churn")
            mlflow.MlflowClient().set_registered_model_alias("churn", "production", version.version)
            return time.perf_counter() - start

    def load(self, repeat: int) -> float:
        return per_call(lambda: self.mlflow.sklearn.load_model("models:/churn@production"), repeat)


class OursSide:
    def __init__(self) -> None:
        import mlops_nb as mlops
        import mlops_nb.registry.api

        self.mlops = mlops

    def register(self, model, infer: bool = False) -> float:  # type: ignore[no-untyped-def]
        mlops = self.mlops
        start = time.perf_counter()
        with mlops.start_run():
            version = mlops.register_model(model, "churn")
        mlops.promote("churn", version.version, to="production")
        return time.perf_counter() - start

    def load(self, repeat: int) -> float:
        return per_call(lambda: self.mlops.load_model("churn@production"), repeat)


def worker(side: str, count: int) -> None:
    """Register model i for each line ``i`` read; answer with the seconds it took."""
    models = fit_models(count + 1)
    with tempfile.TemporaryDirectory(prefix=f"{side}-bench-") as tmp, mlops_project():
        tool = MlflowSide(tmp) if side == "mlflow" else OursSide()
        tool.register(models[0])  # warm-up: imports, migrations
        print("ready", flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "register":
                result = tool.register(models[int(arg)])
            elif command == "block":
                first, count = map(int, arg.split())
                result = [tool.register(models[first + i]) for i in range(count)]
            elif command == "infer":
                result = tool.register(models[int(arg)], infer=True)
            else:
                result = tool.load(int(arg))
            print(json.dumps(result), flush=True)


class Worker:
    def __init__(self, side: str, count: int):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", side, "--models", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"the {side} worker did not start (see its error above)")

    def ask(self, command: str) -> float:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def ours_load(versions: int, repeat: int) -> tuple[float, float]:
    """(load_model seconds, skops.io.loads seconds) on a registry of ``versions`` versions."""
    import skops.io

    import mlops_nb as mlops
    from mlops_nb.registry import manifest as manifests
    from mlops_nb.registry.skops_types import TRUSTED_TYPES

    names = 20
    for i, model in enumerate(fit_models(versions, rows=50, features=5)):
        mlops.register_model(model, f"model-{i % names}")
    mlops.promote("model-7", 3, to="production")
    current = mlops.registry.api.get_model_version("model-7@production")
    manifest = manifests.read(current.project.blobs, current.flavor, current.digest)
    data = current.project.blobs.get_bytes(manifest.files[0].digest)
    trusted = sorted(TRUSTED_TYPES)
    load = per_call(lambda: mlops.load_model("model-7@production"), repeat)
    floor = per_call(lambda: skops.io.loads(data, trusted=trusted), repeat)
    return load, floor


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200, help="load_model calls to time")
    parser.add_argument(
        "--with-inference",
        action="store_true",
        help="also time MLflow's default requirement inference (slow)",
    )
    parser.add_argument("--worker", choices=["mlflow", "ours"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.models)
        return

    theirs_side, ours_side = Worker("mlflow", args.models), Worker("ours", args.models)
    theirs_row, ours_row = [], []
    for first in range(1, args.models + 1, BLOCK):  # in a row, taking turns by blocks
        count = min(BLOCK, args.models + 1 - first)
        theirs_row += theirs_side.ask(f"block {first} {count}")
        ours_row += ours_side.ask(f"block {first} {count}")
    theirs, ours = [], []
    for i in range(1, args.models + 1):  # one at a time, taking turns model by model
        theirs.append(theirs_side.ask(f"register {i}"))
        ours.append(ours_side.ask(f"register {i}"))
    inferred = [theirs_side.ask(f"infer {i}") for i in (1, 2, 3)] if args.with_inference else []
    mlflow_load = theirs_side.ask(f"load {min(args.repeat, 50)}")
    theirs_side.close()
    ours_side.close()
    with mlops_project():
        load, floor = ours_load(args.versions, args.repeat)

    theirs_median, ours_median = statistics.median(theirs), statistics.median(ours)
    row_theirs, row_ours = statistics.median(theirs_row), statistics.median(ours_row)
    rows = [
        (
            f"register+alias {args.models} in a row, median",
            ms(row_theirs),
            ms(row_ours),
            f"{row_theirs / row_ours:.1f}x faster",
        ),
        (
            f"register+alias {args.models} in a row, total",
            f"{sum(theirs_row):.2f} s",
            f"{sum(ours_row):.2f} s",
            f"{sum(theirs_row) / sum(ours_row):.1f}x faster",
        ),
        (
            "register+alias one at a time, median",
            ms(theirs_median),
            ms(ours_median),
            f"{theirs_median / ours_median:.1f}x faster",
        ),
    ]
    if inferred:
        rows.append(
            (
                "MLflow with requirement inference",
                ms(statistics.median(inferred)),
                ms(ours_median),
                f"{statistics.median(inferred) / ours_median:.0f}x faster",
            )
        )
    rows += [
        (
            f"load_model alias ({args.versions} versions)",
            f"{ms(mlflow_load)} ({args.models} versions)",
            ms(load),
            f"{mlflow_load / load:.1f}x faster",
        ),
        ("  skops.io.loads alone (floor)", "", ms(floor), ""),
        ("  load_model beyond deserialization", "", ms(load - floor), "bar: <= 50 ms"),
    ]
    print_rows("Model registry: MLflow (SQLite, explicit pip requirements) vs mlops_nb", rows)


if __name__ == "__main__":
    main()
