"""Drift benchmark: Evidently's DataDriftPreset vs mlops_nb.detect_drift on the same frames.

    python benchmarks/monitor.py                   # 1,000,000 rows x 20 columns (a few minutes)
    python benchmarks/monitor.py --rows 200000     # quicker
    python benchmarks/monitor.py --peer-python /path/to/python   # an interpreter with evidently

Each side runs in its own subprocess that builds the same reference and current frames from
a fixed seed (10 numeric columns, 10 categorical ones with 5 to 200 categories; 3 numeric and
2 categorical columns shifted; 1 % nulls in two columns), then times one drift computation
with default settings. Memory is the peak RSS of the whole subprocess (data included), read
from the kernel (VmHWM), plus the growth over the peak after the frames were built.

Evidently 0.7 does not import with pandas 3; when the running interpreter cannot import it,
the benchmark creates a virtualenv under ~/.cache/mlops_nb-bench with ``evidently`` and
``pandas<3`` (pip, once) and runs the peer there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

NUMERIC, CATEGORICAL = 10, 10
CARDINALITIES = (5, 8, 12, 20, 50, 200)
SEED = 20240501
PEER_VENV = Path.home() / ".cache" / "mlops_nb-bench" / "evidently-venv"


def _memory() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def make_frames(rows: int):  # type: ignore[no-untyped-def]
    """The reference and current frames, identical under pandas 2 and 3 (no string dtype)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)

    def side(drifted: bool) -> pd.DataFrame:
        columns = {}
        for i in range(NUMERIC):
            shape = 2.0 + i
            values = rng.normal(0.0, 1.0 + i / 10, rows) if i % 2 else rng.gamma(shape, 1.0, rows)
            if drifted and i < 3:  # a quarter of a standard deviation
                values += 0.25 * ((1.0 + i / 10) if i % 2 else shape**0.5)
            if i in (4, 5):
                values[rng.random(rows) < 0.01] = np.nan
            columns[f"num{i}"] = values
        for i in range(CATEGORICAL):
            k = CARDINALITIES[i % len(CARDINALITIES)]
            weights = np.linspace(1.0, 2.0, k)
            if drifted and i < 2:
                weights = weights[::-1] ** 2
            codes = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(rows))
            labels = [f"c{i}_{j}" for j in range(k)]
            columns[f"cat{i}"] = pd.Categorical.from_codes(np.minimum(codes, k - 1), labels)
        return pd.DataFrame(columns)

    return side(False), side(True)


def _evidently(reference, current) -> list[str]:  # type: ignore[no-untyped-def]
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c in reference.columns if c.startswith("num")],
        categorical_columns=[c for c in reference.columns if c.startswith("cat")],
    )
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    drifted = []
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            value, threshold = float(metric["value"]), config["threshold"]
            method = config["method"]
            p_value = "p_value" in method or "test" in method.lower()
            if (value < threshold) if p_value else (value >= threshold):
                drifted.append(config["column"])
    return drifted


def _ours(reference, current) -> list[str]:  # type: ignore[no-untyped-def]
    import mlops_nb as mlops

    return mlops.detect_drift(reference, current).drifted_columns


def worker(side: str, rows: int) -> None:
    """Build the frames, time one drift computation, print a JSON line."""
    reference, current = make_frames(rows)
    if side == "ours":
        import scipy.stats  # noqa: F401

        import mlops_nb.monitor.api  # noqa: F401 - import cost is not part of the timing
    else:
        import evidently.presets  # noqa: F401
    _, before = _memory()
    start = time.perf_counter()
    drifted = (_ours if side == "ours" else _evidently)(reference, current)
    seconds = time.perf_counter() - start
    _, peak = _memory()
    print(json.dumps({"seconds": seconds, "peak": peak, "before": before, "drifted": drifted}))


def _can_import(python: str) -> bool:
    probe = subprocess.run(
        [python, "-c", "import evidently.presets"], capture_output=True, text=True
    )
    return probe.returncode == 0


def peer_python(given: str | None) -> str:
    if given:
        return given
    if _can_import(sys.executable):
        return sys.executable
    python = PEER_VENV / "bin" / "python"
    if not python.exists() or not _can_import(str(python)):
        print(f"creating {PEER_VENV} with evidently and pandas<3 (evidently needs pandas 2)")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently", "pandas<3"], check=True
        )
    return str(python)


def run_side(python: str, side: str, rows: int) -> dict:
    done = subprocess.run(
        [python, __file__, "--worker", side, "--rows", str(rows)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def growth(side: dict) -> float:
    return side["peak"] - side["before"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--peer-python", help="interpreter that can import evidently")
    parser.add_argument("--worker", choices=["ours", "evidently"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.rows)
        return

    from _common import mlops_project, print_rows

    peer = peer_python(args.peer_python)
    with mlops_project():
        evidently = run_side(peer, "evidently", args.rows)
        ours = run_side(sys.executable, "ours", args.rows)
    total = NUMERIC + CATEGORICAL
    workload = f"{args.rows:,} rows x {total} cols"
    rows = [
        (
            f"drift time, {workload}",
            f"{evidently['seconds']:.2f} s",
            f"{ours['seconds']:.2f} s",
            f"{evidently['seconds'] / ours['seconds']:.1f}x faster",
        ),
        (
            "peak RSS of the process (data included)",
            f"{evidently['peak']:.0f} MiB",
            f"{ours['peak']:.0f} MiB",
            f"{ours['peak'] / evidently['peak']:.2f}x",
        ),
        (
            "peak RSS growth during the drift call",
            f"{growth(evidently):.0f} MiB",
            f"{growth(ours):.0f} MiB",
            f"{growth(ours) / max(growth(evidently), 1):.2f}x",
        ),
    ]
    print_rows("Drift detection: Evidently DataDriftPreset vs mlops_nb.detect_drift", rows)
    same = sorted(evidently["drifted"]) == sorted(ours["drifted"])
    print(f"\ndrifted columns, Evidently: {sorted(evidently['drifted'])}")
    print(f"drifted columns, mlops_nb:  {sorted(ours['drifted'])}  (same verdicts: {same})")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
