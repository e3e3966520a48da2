"""Notebook face: the cost of cell-history capture per cell, and opening ``%mlops runs``.

1. Cell overhead: one real ``python3`` kernel executes trivial cells (``x = 1``), in blocks
   that alternate untracked and tracked (``%mlops track`` ... ``%mlops stop``), timed from the
   client as execute request -> reply. Bar: tracked minus untracked median <= 1 ms.
2. ``%mlops runs`` on a store with 10,000 runs: building the runs widget's first page (the
   count, one page of runs with their params and metrics, the widgets). Bar: <= 0.5 s.

Usage: ``python benchmarks/notebook.py [--cells 1000] [--runs 10000]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import median_time

BLOCKS = 4


def _execute(client, code: str) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    msg_id = client.execute(code)
    while True:
        reply = client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    elapsed = time.perf_counter() - start
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"{code!r} failed: {reply['content']}")
    return elapsed


def cell_overhead(cells: int) -> dict[str, float]:
    """Median seconds per trivial cell, untracked and tracked, in one kernel."""
    from jupyter_client.manager import start_new_kernel

    per_block = cells // BLOCKS
    with tempfile.TemporaryDirectory(prefix="mlops-bench-nb-") as home:
        env = {**os.environ, "MLOPS_HOME": home}
        env.pop("MLOPS_RUN_ID", None)
        manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=home)
        try:
            _execute(client, "%load_ext mlops_nb")
            for _ in range(50):  # warm up both paths
                _execute(client, "x = 1")
            untracked: list[float] = []
            tracked: list[float] = []
            for block in range(BLOCKS):
                untracked += [_execute(client, "x = 1") for _ in range(per_block)]
                _execute(client, f"%mlops track bench-{block}")
                tracked += [_execute(client, "x = 1") for _ in range(per_block)]
                _execute(client, "%mlops stop")
            _execute(
                client,
                "import mlops_nb as mlops\n"
                "recorded = sum(len(mlops.get_run(r).cells) "
                "for r in mlops.runs()['run_id'])",
            )
            msg_id = client.execute("", user_expressions={"n": "recorded"})
            reply = client.get_shell_msg(timeout=30)
            assert reply["parent_header"]["msg_id"] == msg_id
            recorded = int(reply["content"]["user_expressions"]["n"]["data"]["text/plain"])
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return {
        "untracked": statistics.median(untracked),
        "tracked": statistics.median(tracked),
        "recorded": recorded,
        "expected": BLOCKS * (per_block + 2),
    }


def run_cell_overhead(cells: int) -> dict[str, float]:
    """Median seconds of ``InteractiveShell.run_cell("x = 1")`` in this process, untracked
    and tracked (no messaging noise: the hooks' own cost)."""
    import contextlib
    import io

    from IPython.core.interactiveshell import InteractiveShell

    import mlops_nb
    from mlops_nb.project import Project

    def times(shell: InteractiveShell) -> list[float]:
        out = []
        for _ in range(cells):
            start = time.perf_counter()
            shell.run_cell("x = 1", store_history=True)
            out.append(time.perf_counter() - start)
        return out

    with tempfile.TemporaryDirectory(prefix="mlops-bench-shell-") as home:
        os.environ["MLOPS_HOME"] = home
        Project.forget()
        shell = InteractiveShell()
        with contextlib.redirect_stdout(io.StringIO()):
            mlops_nb.load_ipython_extension(shell)
            times(shell)  # warm up
            untracked = times(shell)
            shell.run_cell("%mlops track bench")
            tracked = times(shell)
            shell.run_cell("%mlops stop")
            mlops_nb.unload_ipython_extension(shell)
        shell.clear_instance()
        Project.forget()
    return {"untracked": statistics.median(untracked), "tracked": statistics.median(tracked)}


def populate(project, runs: int) -> None:  # type: ignore[no-untyped-def]
    """``runs`` finished runs with 2 params and 2 metrics each, written in bulk."""
    import sqlalchemy as sa

    from mlops_nb.store import schema
    from mlops_nb.tracking.runs import experiment_id

    now = time.time()
    rows, params, metrics = [], [], []
    with project.db.write() as conn:
        experiments = [experiment_id(conn, f"exp{i}") for i in range(5)]
        for i in range(runs):
            run_id = uuid.uuid4().hex
            start = now - runs + i
            rows.append(
                {
                    "run_id": run_id,
                    "name": f"run-{i}",
                    "experiment_id": experiments[i % 5],
                    "kind": "run",
                    "status": "finished",
                    "user": "bench",
                    "host": "bench",
                    "start_time": start,
                    "end_time": start + 0.5,
                }
            )
            params += [
                {"run_id": run_id, "key": "lr", "value": str(0.001 * (i % 100))},
                {"run_id": run_id, "key": "model", "value": '"rf"'},
            ]
            metrics += [
                {"run_id": run_id, "key": k, "step": 0, "value": v, "timestamp": start}
                for k, v in (("auc", (i % 997) / 997), ("loss", 1 / (i + 1)))
            ]
        conn.execute(sa.insert(schema.runs), rows)
        conn.execute(sa.insert(schema.params), params)
        conn.execute(sa.insert(schema.latest_metrics), metrics)


def runs_widget(runs: int) -> dict[str, float]:
    from mlops_nb.notebook.widgets.runs import RunsTable
    from mlops_nb.project import Project
    from mlops_nb.tracking.query import list_runs

    with tempfile.TemporaryDirectory(prefix="mlops-bench-runs-") as home:
        os.environ["MLOPS_HOME"] = home
        Project.forget()
        project = Project.init(home)
        populate(project, runs)
        first = median_time(lambda: RunsTable(project))
        by_metric = median_time(lambda: RunsTable(project).sort("metrics.auc"))
        everything = median_time(lambda: list_runs(project), repeat=1)
        Project.forget()
    return {"first_page": first, "sorted_by_metric": by_metric, "all_rows_frame": everything}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()

    cells = cell_overhead(args.cells)
    extra_ms = (cells["tracked"] - cells["untracked"]) * 1000
    print(f"\ncell overhead ({args.cells} trivial cells each way, one kernel, client round trip)")
    print(f"  untracked median  {cells['untracked'] * 1000:.3f} ms/cell")
    print(f"  tracked median    {cells['tracked'] * 1000:.3f} ms/cell")
    print(
        f"  added             {extra_ms:+.3f} ms/cell  (bar <= 1 ms: "
        f"{'ok' if extra_ms <= 1 else 'MISSED'}); ratio {cells['tracked'] / cells['untracked']:.3f}"
    )
    print(f"  cells recorded    {cells['recorded']} of {cells['expected']}")

    shell = run_cell_overhead(args.cells)
    added_us = (shell["tracked"] - shell["untracked"]) * 1e6
    print(f"\nrun_cell in one process ({args.cells} trivial cells each way, no messaging)")
    print(f"  untracked median  {shell['untracked'] * 1e6:.1f} us/cell")
    print(f"  tracked median    {shell['tracked'] * 1e6:.1f} us/cell")
    print(f"  added             {added_us:+.1f} us/cell")

    widget = runs_widget(args.runs)
    print(f"\n%mlops runs on {args.runs:,} runs")
    print(
        f"  first page (count + 20 rows + widgets)  {widget['first_page']:.3f} s  (bar <= 0.5 s: "
        f"{'ok' if widget['first_page'] <= 0.5 else 'MISSED'})"
    )
    print(f"  first page sorted by metrics.auc        {widget['sorted_by_metric']:.3f} s")
    print(
        f"  for contrast, all {args.runs:,} rows as a DataFrame  {widget['all_rows_frame']:.3f} s"
    )


if __name__ == "__main__":
    main()
