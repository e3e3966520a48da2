"""Pipelines: ``mlops run`` vs bare papermill, a cached pipeline re-run, a parallel sweep.

1. ``mlops run`` on a 20-cell notebook vs the ``papermill`` CLI on the same notebook (both
   as fresh processes, alternating, median of ``--repeat``). Bar: overhead <= 10% of wall.
2. A 3-step pipeline re-run with nothing changed (``mlops pipeline run``, a fresh process)
   vs executing its three notebooks with papermill, as a user without a cache would. Bar:
   <= 1 s total, no kernel started.
3. A 2x4 sweep (8 points, each a fresh kernel doing about 0.65 s of single-threaded numpy
   work): ``mlops sweep --jobs 2`` vs ``--jobs 1`` (both ``--force``, so nothing is cached),
   alternating, median of ``--repeat``. Bar: >= 1.7x. The same sweep with 0.15 s of work per
   point is shown too: there a fresh kernel's start and exit are most of each point.

Wall times on a shared machine move with its load: the script prints the load average.

Usage: ``python benchmarks/pipelines.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))

from _common import print_rows

WORK = (
    "import numpy as np\n"
    "rng = np.random.default_rng(seed)\n"
    "m = rng.random((500, 500))\n"
    "for _ in range({iterations}):  # about 4.6 ms each, on one core\n"
    "    m = np.tanh(m @ m / 500)\n"
    "import mlops_nb as mlops\n"
    "mlops.log_metric('score', float(m.mean()) * lr)"
)
# (numpy work per point, loop iterations, what the ratio is held to)
SWEEP_WORK = [("0.65 s", 140, "bar >= 1.7x"), ("0.15 s", 30, "no bar: start-up bound")]


def write_notebook(path: Path, parameters: str, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "language": "python", "display_name": "Python 3"}
    first = nbformat.v4.new_code_cell(parameters)
    first.metadata.tags = ["parameters"]
    nb.cells = [first, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nbformat.write(nb, str(path))
    return path


CPU_SECONDS: list[float] = []  # CPU time (user + system, kernels included) of each call


def run(*args: str) -> float:
    """Wall seconds of a command; its CPU seconds are appended to CPU_SECONDS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall


def mlops(*args: str) -> float:
    return run(sys.executable, "-m", "mlops_nb.cli", *args)


# papermill's CLI with the same optional jsonschema checker left out as ``mlops run`` does
PAPERMILL_SKIPPING = (
    "import sys; sys.modules.setdefault('rfc3987_syntax', None); "
    "from papermill.cli import papermill; papermill()"
)


def papermill(notebook: Path, output: Path, *params: str, skipping: bool = False) -> float:
    return run(
        sys.executable,
        *(["-c", PAPERMILL_SKIPPING] if skipping else ["-m", "papermill"]),
        "--no-progress-bar",
        "--cwd",
        str(notebook.parent),
        str(notebook),
        str(output),
        *params,
    )


def bench_run(folder: Path, repeat: int) -> list[tuple[str, str, str, str]]:
    """Against papermill's CLI as it is, and with the same import left out (the overhead of
    everything else ``mlops run`` does: tracking, the output notebook stored, history)."""
    cells = [f"x{i} = sum(range({1000 * (i + 1)}))" for i in range(18)] + ["print(n, x17)"]
    notebook = write_notebook(folder / "twenty.ipynb", "n = 1", cells)
    walls: dict[str, list[float]] = {"papermill": [], "skipping": [], "ours": []}
    cpus: dict[str, list[float]] = {label: [] for label in walls}
    papermill(notebook, folder / "warm.ipynb")  # warm the file cache for all
    for _ in range(repeat):
        walls["papermill"].append(papermill(notebook, folder / "out.ipynb", "-p", "n", "2"))
        cpus["papermill"].append(CPU_SECONDS[-1])
        walls["skipping"].append(
            papermill(notebook, folder / "out.ipynb", "-p", "n", "2", skipping=True)
        )
        cpus["skipping"].append(CPU_SECONDS[-1])
        walls["ours"].append(mlops("run", str(notebook), "-p", "n", "2"))
        cpus["ours"].append(CPU_SECONDS[-1])
    wall = {label: statistics.median(times) for label, times in walls.items()}
    cpu = {label: statistics.median(times) for label, times in cpus.items()}

    def row(peer: str, label: str) -> tuple[str, str, str, str]:
        return (
            label,
            f"{wall[peer]:.2f} ({cpu[peer]:.2f})",
            f"{wall['ours']:.2f} ({cpu['ours']:.2f})",
            f"{(wall['ours'] - wall[peer]) / wall[peer] * 100:+.1f}% wall, "
            f"{(cpu['ours'] - cpu[peer]) / cpu[peer] * 100:+.1f}% cpu (bar <= +10% wall)",
        )

    return [
        row("papermill", "mlops run, 20-cell notebook: wall s (cpu s)"),
        row("skipping", "  vs papermill without the unused checker"),
    ]


def bench_cached_pipeline(folder: Path, repeat: int) -> tuple[str, str, str, str]:
    write_notebook(folder / "prep.ipynb", "rows = 3", ["open('data.txt', 'w').write('x' * rows)"])
    write_notebook(
        folder / "train.ipynb",
        "data = 'data.txt'\nlr = 0.1",
        [
            "import mlops_nb as mlops\n"
            "auc = 0.5 + lr + len(open(data).read()) / 100\n"
            "if mlops.active_run():  # tracked under mlops, plain under papermill\n"
            "    mlops.log_metric('auc', auc)"
        ],
    )
    write_notebook(folder / "report.ipynb", "auc = 0.0", ["print(auc)"])
    (folder / "pipeline.yaml").write_text(
        "steps:\n"
        "  prep: {notebook: prep.ipynb, parameters: {rows: 4}, outputs: [data.txt]}\n"
        "  train:\n    notebook: train.ipynb\n"
        "    parameters: {data: '${steps.prep.outputs.data.txt}', lr: 0.2}\n"
        "  report:\n    notebook: report.ipynb\n"
        "    parameters: {auc: '${steps.train.metrics.auc}'}\n"
    )
    mlops("pipeline", "run", str(folder / "pipeline.yaml"))  # fills the cache
    peer = sum(
        papermill(folder / f"{n}.ipynb", folder / f"out-{n}.ipynb")
        for n in ("prep", "train", "report")
    )
    ours = statistics.median(
        mlops("pipeline", "run", str(folder / "pipeline.yaml"), "--json") for _ in range(repeat)
    )
    return (
        "3-step pipeline, nothing changed (s)",
        f"{peer:.2f}",
        f"{ours:.2f}",
        f"{peer / ours:.1f}x faster (bar: ours <= 1 s)",
    )


def bench_sweep(folder: Path, repeat: int) -> list[tuple[str, str, str, str]]:
    grid = ["-p", "lr", "0.1,0.2", "-p", "seed", "1,2,3,4"]
    rows = []
    for work, iterations, bar in SWEEP_WORK:
        notebook = write_notebook(
            folder / f"sweep-{iterations}.ipynb",
            "lr = 0.1\nseed = 0",
            [WORK.format(iterations=iterations)],
        )
        mlops("sweep", str(notebook), *grid, "--jobs", "1")  # warm: imports, kernel specs
        walls: dict[str, list[float]] = {"1": [], "2": []}
        cpus: dict[str, list[float]] = {"1": [], "2": []}
        for _ in range(repeat):
            for jobs in walls:
                walls[jobs].append(mlops("sweep", str(notebook), *grid, "--jobs", jobs, "--force"))
                cpus[jobs].append(CPU_SECONDS[-1])
        wall = {jobs: statistics.median(times) for jobs, times in walls.items()}
        cpu = {jobs: statistics.median(times) for jobs, times in cpus.items()}
        ratios = sorted(s / p for s, p in zip(walls["1"], walls["2"], strict=True))
        rows.append(
            (
                f"2x4 sweep, {work} of work a point, --jobs 1 vs 2: wall s (cpu s)",
                f"{wall['1']:.2f} ({cpu['1']:.2f})",
                f"{wall['2']:.2f} ({cpu['2']:.2f})",
                f"{wall['1'] / wall['2']:.2f}x ({bar}; pairs {ratios[0]:.2f}-{ratios[-1]:.2f}x)",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-bench-pipelines-") as tmp:
        folder = Path(tmp)
        os.environ["MLOPS_HOME"] = tmp
        os.environ.pop("MLOPS_RUN_ID", None)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = "1"  # one core per kernel: parallelism comes from --jobs
        mlops("init", tmp)
        rows = [
            *bench_run(folder, args.repeat),
            bench_cached_pipeline(folder, args.repeat),
            *bench_sweep(folder, args.repeat),
        ]
    print_rows("pipelines (peer: papermill CLI; sweep: --jobs 1)", rows)
    print(
        f"\ncores: {os.cpu_count()}, load average: " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )


if __name__ == "__main__":
    main()
