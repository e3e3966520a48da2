"""The sidebar's Runs tab on a store of 10,000 runs: REST first page and first rows painted.

    python benchmarks/sidebar.py                  # 10,000 runs, 200 API requests, 5 page loads
    python benchmarks/sidebar.py --runs 2000 --requests 50 --loads 3 --no-browser

API: ``GET /mlops/api/runs?limit=50`` (the tab's first page: rows, params, latest metrics and
the total count) against a real ``jupyter lab`` on loopback, token-authenticated; p50/p95 of
sequential requests after a warm-up, plus a deep page, a filtered page and one run's details.
Panel: headless Chromium (Playwright, /usr/bin/chromium) loads JupyterLab, clicks the MLOps
tab, and the time until the first run row is painted is taken; each load is a fresh page.
Bars (issue 8): API first page p95 <= 100 ms; first rows painted <= 1 s after opening.
The store is filled with bulk inserts (3 params and 3 metrics a run, 5 experiments), so
seeding takes seconds, not the minutes 10,000 ``start_run`` calls would.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.lab import jupyter_lab  # noqa: E402

API_BAR_MS = 100.0
PAINT_BAR_S = 1.0


def seed(root: Path, count: int) -> str:
    """``count`` finished runs in 5 experiments; returns one run id."""
    import sqlalchemy as sa

    from mlops_nb.project import Project
    from mlops_nb.store import schema

    project = Project.init(root)
    rng = random.Random(0)
    now = time.time()
    with project.db.write() as conn:
        experiments = [
            conn.execute(
                sa.insert(schema.experiments).values(name=f"exp-{i}", created_at=now)
            ).inserted_primary_key[0]
            for i in range(5)
        ]
        runs, params, metrics = [], [], []
        for i in range(count):
            run_id = uuid.uuid4().hex
            start = now - (count - i) * 60
            runs.append(
                {
                    "run_id": run_id,
                    "name": f"run-{i:05d}",
                    "experiment_id": experiments[i % 5],
                    "kind": "run",
                    "status": "finished",
                    "user": "bench",
                    "host": "bench",
                    "pid": None,
                    "start_time": start,
                    "end_time": start + rng.uniform(5, 500),
                }
            )
            params += [
                {"run_id": run_id, "key": k, "value": json.dumps(v)}
                for k, v in (
                    ("lr", rng.choice([0.01, 0.1])),
                    ("depth", rng.randint(2, 9)),
                    ("model", rng.choice(["rf", "gbm"])),
                )
            ]
            metrics += [
                {"run_id": run_id, "key": k, "step": 0, "value": rng.random(), "timestamp": start}
                for k in ("auc", "loss", "acc")
            ]
        conn.execute(sa.insert(schema.runs), runs)
        conn.execute(sa.insert(schema.params), params)
        conn.execute(sa.insert(schema.latest_metrics), metrics)
        conn.execute(sa.insert(schema.metrics), metrics)
    return runs[-1]["run_id"]


def get(url: str, token: str) -> float:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    start = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


def latency(url: str, token: str, requests: int) -> tuple[float, float]:
    for _ in range(5):
        get(url, token)
    times = sorted(get(url, token) for _ in range(requests))
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def paint_times(url: str, token: str, loads: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu"],
        )
        for _ in range(loads):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/lab?token={token}")
            tab = page.locator('.jp-SideBar li[data-id="mlops-sidebar"]')
            tab.wait_for(state="visible", timeout=60_000)
            page.wait_for_timeout(500)  # let Lab finish restoring its layout
            start = time.perf_counter()
            tab.click()
            page.locator("#mlops-sidebar tr.mlops-run-row").first.wait_for(state="visible")
            times.append(time.perf_counter() - start)
            page.close()
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlops-bench-sidebar-") as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        start = time.perf_counter()
        run_id = seed(root, args.runs)
        print(f"seeded {args.runs:,} runs in {time.perf_counter() - start:.1f} s")
        with jupyter_lab(root, Path(tmp) / "jupyter", {"MLOPS_HOME": str(root)}) as lab:
            api = f"{lab.url}/mlops/api"
            cases = [
                ("runs, first page (limit=50)", f"{api}/runs?limit=50"),
                ("runs, last page (offset=N-50)", f"{api}/runs?limit=50&offset={args.runs - 50}"),
                (
                    "runs, filtered (metrics.auc > 0.5 and params.model == 'rf')",
                    f"{api}/runs?limit=50&filter=metrics.auc%20%3E%200.5%20and%20params.model"
                    "%20%3D%3D%20%27rf%27",
                ),
                ("runs, one experiment", f"{api}/runs?limit=50&experiment=exp-3"),
                ("one run's details", f"{api}/runs/{run_id}"),
            ]
            print(f"\nREST latency, {args.requests} sequential requests each (ms)")
            print(f"{'request':58} {'p50':>7} {'p95':>7}")
            for label, url in cases:
                p50, p95 = latency(url, lab.token, args.requests)
                print(f"{label:58} {p50:7.1f} {p95:7.1f}")
                if label.startswith("runs, first page"):
                    first_p95 = p95
            verdict = "OK" if first_p95 <= API_BAR_MS else "OVER"
            print(
                f"bar: first page p95 <= {API_BAR_MS:.0f} ms -> {first_p95:.1f} ms "
                f"({first_p95 / API_BAR_MS:.2f}x of the bar) {verdict}"
            )
            if not args.no_browser:
                times = paint_times(lab.url, lab.token, args.loads)
                worst = max(times)
                print(
                    f"\nfirst rows painted after opening the tab, {args.loads} fresh loads: "
                    + ", ".join(f"{t * 1000:.0f}" for t in times)
                    + " ms"
                )
                verdict = "OK" if worst <= PAINT_BAR_S else "OVER"
                print(
                    f"bar: <= {PAINT_BAR_S:.0f} s -> worst {worst * 1000:.0f} ms "
                    f"({worst / PAINT_BAR_S:.2f}x of the bar) {verdict}"
                )


if __name__ == "__main__":
    main()
