"""Notebook face: the cost of cell-history capture per cell, and opening ``%mlops runs``.

1. Cell overhead: two real ``python3`` kernels, one with ``%mlops track``, execute trivial
   cells (``x = 1``) alternately, timed from the client as execute request -> reply; also
   ``run_cell`` timed inside one process (the hooks' own cost, free of messaging noise).
   Bar: tracked minus untracked <= 1 ms per cell (median).
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


def _kernel(home: str):  # type: ignore[no-untyped-def]
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "MLOPS_HOME": home}
    env.pop("MLOPS_RUN_ID", None)
    return start_new_kernel(kernel_name="python3", env=env, cwd=home)


def cell_overhead(cells: int) -> dict[str, float]:
    """Seconds per trivial cell in two kernels side by side, one tracked, one not.

    The cells alternate between the kernels, so a change in machine load hits both sides of
    each pair alike; the figure is the median of the per-pair differences.
    """
    with tempfile.TemporaryDirectory(prefix="mlops-bench-nb-") as home:
        kernels = [_kernel(home), _kernel(home)]
        try:
            (_, plain), (_, tracked) = kernels
            for client in (plain, tracked):
                _execute(client, "%load_ext mlops_nb")
            _execute(tracked, "%mlops track bench")
            for _ in range(50):  # warm up both
                _execute(plain, "x = 1")
                _execute(tracked, "x = 1")
            pairs = []
            for i in range(cells):  # who goes first alternates too
                if i % 2:
                    pairs.append((_execute(plain, "x = 1"), _execute(tracked, "x = 1")))
                else:
                    second = _execute(tracked, "x = 1")
                    pairs.append((_execute(plain, "x = 1"), second))
            _execute(tracked, "%mlops stop")
            msg_id = tracked.execute(
                "", user_expressions={"n": "len(get_ipython()._mlops_capture.records)"}
            )
            reply = tracked.get_shell_msg(timeout=30)
            assert reply["parent_header"]["msg_id"] == msg_id
            recorded = int(reply["content"]["user_expressions"]["n"]["data"]["text/plain"])
        finally:
            for manager, client in kernels:
                client.stop_channels()
                manager.shutdown_kernel(now=True)
    return {
        "untracked": statistics.median(a for a, _ in pairs),
        "tracked": statistics.median(b for _, b in pairs),
        "added": statistics.median(b - a for a, b in pairs),
        "recorded": recorded,
        "expected": cells + 52,
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
    extra_ms = cells["added"] * 1000
    print(
        f"\ncell overhead ({args.cells} trivial cells each way, two kernels alternating, "
        "client round trip)"
    )
    print(f"  untracked median  {cells['untracked'] * 1000:.3f} ms/cell")
    print(f"  tracked median    {cells['tracked'] * 1000:.3f} ms/cell")
    verdict = "ok" if extra_ms <= 1 else "MISSED"
    print(
        f"  added (median of per-pair differences)  {extra_ms:+.3f} ms/cell  (bar <= 1 ms: "
        f"{verdict}); ratio of medians {cells['tracked'] / cells['untracked']:.3f}"
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
