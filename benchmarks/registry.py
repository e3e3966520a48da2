"""Registry benchmark: MLflow (SQLite backend) vs mlops_nb on the same models, one run.

    python benchmarks/registry.py                    # 50 models; load on 1,000 versions
    python benchmarks/registry.py --models 20 --versions 300 --with-inference

(a) Register + alias N small scikit-learn models, each in its own run, the two tools taking
    turns model by model (so both see the same machine load). MLflow:
    ``log_model`` (explicit ``pip_requirements``, as its fast path) + ``register_model`` +
    ``set_registered_model_alias``. mlops_nb: ``register_model`` (skops, digests, library
    versions from installed metadata, lineage) + ``promote`` (gates evaluated, audit event).
    ``--with-inference`` also times MLflow's default requirement inference on 3 models.
(b) ``load_model("name@production")`` on a registry of V versions, minus the time
    ``skops.io.loads`` alone takes on the same bytes (the deserialization floor); MLflow's
    ``load_model("models:/name@production")`` on its N-version registry for comparison.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import warnings
from contextlib import redirect_stderr, redirect_stdout

from _common import mlops_project, print_rows, timed


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


def quiet_mlflow(tmp: str):  # type: ignore[no-untyped-def]
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment("bench", artifact_location=f"file://{tmp}/artifacts")
    )
    return mlflow


def mlflow_register(mlflow, model, pip_requirements: list[str] | None) -> float:  # type: ignore[no-untyped-def]
    """Seconds for MLflow's log_model + register_model + set_registered_model_alias."""
    with open(os.devnull, "w") as sink, redirect_stdout(sink), redirect_stderr(sink):
        start = time.perf_counter()
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=pip_requirements)
        version = mlflow.register_model(info.model_uri, "churn")
        mlflow.MlflowClient().set_registered_model_alias("churn", "production", version.version)
        return time.perf_counter() - start


def ours_register(model) -> float:  # type: ignore[no-untyped-def]
    """Seconds for register_model (in a run) + promote."""
    import mlops_nb as mlops

    start = time.perf_counter()
    with mlops.start_run():
        version = mlops.register_model(model, "churn")
    mlops.promote("churn", version.version, to="production")
    return time.perf_counter() - start


def per_call(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    """Median seconds of one call over ``repeat`` calls (after one warm-up call)."""
    fn()
    return statistics.median(timed(fn) for _ in range(repeat))


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
    args = parser.parse_args()

    import sklearn

    import mlops_nb.registry.api  # noqa: F401 - import cost outside the timings

    models = fit_models(args.models + 1)
    pins = [f"scikit-learn=={sklearn.__version__}"]
    theirs, ours = [], []
    with tempfile.TemporaryDirectory(prefix="mlflow-bench-") as tmp, mlops_project():
        mlflow = quiet_mlflow(tmp)
        mlflow_register(mlflow, models[0], pins)  # warm-up: imports, migrations
        ours_register(models[0])
        for model in models[1:]:  # interleaved, so both sides see the same machine load
            theirs.append(mlflow_register(mlflow, model, pins))
            ours.append(ours_register(model))
        inferred = []
        if args.with_inference:
            inferred = [mlflow_register(mlflow, m, None) for m in models[1:4]]
        mlflow_load = per_call(
            lambda: mlflow.sklearn.load_model("models:/churn@production"), min(args.repeat, 50)
        )
    with mlops_project():
        load, floor = ours_load(args.versions, args.repeat)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    theirs_median, ours_median = statistics.median(theirs), statistics.median(ours)
    rows = [
        (
            f"register+alias, median of {args.models}",
            ms(theirs_median),
            ms(ours_median),
            f"{theirs_median / ours_median:.1f}x faster",
        ),
        (
            f"register+alias, total for {args.models}",
            f"{sum(theirs):.2f} s",
            f"{sum(ours):.2f} s",
            f"{sum(theirs) / sum(ours):.1f}x faster",
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
            ms(mlflow_load) + f" ({args.models} versions)",
            ms(load),
            f"{mlflow_load / load:.1f}x faster",
        ),
        ("  skops.io.loads alone (floor)", "", ms(floor), ""),
        ("  load_model beyond deserialization", "", ms(load - floor), "bar: <= 50 ms"),
    ]
    print_rows("Model registry: MLflow (SQLite, explicit pip requirements) vs mlops_nb", rows)


if __name__ == "__main__":
    main()
