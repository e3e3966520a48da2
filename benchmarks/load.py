"""REST load test: the sidebar's API under many concurrent clients, on loopback.

    python benchmarks/load.py                       # 50 clients, 30 s, 10,000-run store
    python benchmarks/load.py --clients 10 --seconds 5 --runs 1000   # a quick look

A real ``jupyter server`` (token auth, our extension) runs in its own process on 127.0.0.1
against a SQLite store seeded with ``--runs`` finished runs (5 params, 3 metrics with a
20-step history each, 10 experiments). One load process drives ``--clients`` concurrent
keep-alive clients through the sidebar's requests (first page, a deep page, a filtered page,
one experiment, one run's detail, the experiment list) back to back, with no think time,
until ``--seconds`` have passed; then it waits for the requests in flight (each bounded by a
timeout) and prints latency percentiles per request and overall, the throughput, and every
error. A first 5 s phase with one client alone gives each request's unloaded cost. It stops
by itself; the exit code is 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

REQUEST_TIMEOUT = 30.0
BASELINE_SECONDS = 5.0
START_TIMEOUT = 120.0


# --- the store -----------------------------------------------------------------------------


def seed(root: Path, runs: int) -> list[str]:
    """A project with ``runs`` finished runs, written in bulk through the store's schema."""
    import sqlalchemy as sa

    from mlops_nb.project import Project
    from mlops_nb.store import schema

    project = Project.init(root)
    rng = random.Random(0)
    now = time.time() - runs
    ids = [uuid.uuid4().hex for _ in range(runs)]
    with project.db.write() as conn:
        conn.execute(
            sa.insert(schema.experiments),
            [{"experiment_id": e + 1, "name": f"exp-{e}", "created_at": now} for e in range(10)],
        )
        for start in range(0, runs, 1000):
            batch = list(enumerate(ids[start : start + 1000], start))
            conn.execute(sa.insert(schema.runs), [_run(i, run_id, now) for i, run_id in batch])
            params = [
                {"run_id": run_id, "key": key, "value": json.dumps(value)}
                for i, run_id in batch
                for key, value in _params(i).items()
            ]
            conn.execute(sa.insert(schema.params), params)
            history, latest = [], []
            for _, run_id in batch:
                for key in ("auc", "loss", "accuracy"):
                    values = [rng.random() for _ in range(20)]
                    history += [
                        {"run_id": run_id, "key": key, "step": s, "value": v, "timestamp": now}
                        for s, v in enumerate(values)
                    ]
                    latest.append(
                        {"run_id": run_id, "key": key, "step": 19, "value": values[-1],
                         "timestamp": now}
                    )  # fmt: skip
            conn.execute(sa.insert(schema.metrics), history)
            conn.execute(sa.insert(schema.latest_metrics), latest)
    project.close()
    return ids


def _run(i: int, run_id: str, now: float) -> dict:
    return {
        "run_id": run_id,
        "name": f"run-{i}",
        "experiment_id": i % 10 + 1,
        "kind": "run",
        "status": "finished" if i % 17 else "failed",
        "user": f"user{i % 5}",
        "host": "bench",
        "pid": 1,
        "start_time": now + i,
        "end_time": now + i + 30,
        "heartbeat_at": now + i + 30,
    }


def _params(i: int) -> dict:
    return {"model": ["rf", "gb", "lr"][i % 3], "lr": 0.01 * (i % 10), "depth": i % 8,
            "seed": i, "features": "all"}  # fmt: skip


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(root: Path, token: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
            f"--port={port}", f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
            "--ServerApp.jpserver_extensions=mlops_nb=True", "--ServerApp.port_retries=0",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env={**os.environ, "MLOPS_HOME": str(root)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/mlops/api"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (root / "server.log").read_text(errors="replace")
            raise SystemExit(f"jupyter server exited:\n{log[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("jupyter server did not start in time")


# --- the load ------------------------------------------------------------------------------


def requests_for(ids: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """(label, path) of the sidebar's requests, one of each, in a random order."""
    deep = rng.randrange(0, max(1, len(ids) - 50))
    shown = [
        ("list first page", "runs?" + urlencode({"limit": 50})),
        ("list deep page", "runs?" + urlencode({"limit": 50, "offset": deep})),
        ("list filtered", "runs?" + urlencode(
            {"limit": 50, "filter": "metrics.auc > 0.9 and params.model == 'rf'"})),
        ("list experiment", "runs?" + urlencode({"limit": 50, "experiment": "exp-3"})),
        ("run detail", f"runs/{rng.choice(ids)}"),
        ("experiments", "experiments"),
    ]  # fmt: skip
    rng.shuffle(shown)
    return shown


async def client(base, token, ids, deadline, seed_value, samples, errors) -> None:  # type: ignore[no-untyped-def]
    import aiohttp

    rng = random.Random(seed_value)
    headers = {"Authorization": f"token {token}"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        while time.monotonic() < deadline:
            for label, path in requests_for(ids, rng):
                start = time.perf_counter()
                try:
                    async with session.get(f"{base}/{path}") as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    errors[f"{label}: {type(exc).__name__}"] += 1
                    continue
                samples[label].append(time.perf_counter() - start)
                if status != 200:
                    errors[f"{label}: HTTP {status}"] += 1


async def drive(base: str, token: str, ids: list[str], clients: int, seconds: float):  # type: ignore[no-untyped-def]
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    deadline = time.monotonic() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(client(base, token, ids, deadline, n, samples, errors) for n in range(clients))
    )
    return samples, errors, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(title: str, samples, errors, elapsed: float) -> None:  # type: ignore[no-untyped-def]
    every = [v for values in samples.values() for v in values]
    print(f"\n{title}")
    print(f"{'request':<18}{'count':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for label in sorted(samples):
        values = samples[label]
        print(f"{label:<18}{len(values):>8}{percentile(values, 0.5) * 1000:>9.1f}"
              f"{percentile(values, 0.99) * 1000:>9.1f}{max(values) * 1000:>9.1f}")  # fmt: skip
    total_errors = sum(errors.values())
    print(f"{'all':<18}{len(every):>8}{percentile(every, 0.5) * 1000:>9.1f}"
          f"{percentile(every, 0.99) * 1000:>9.1f}{max(every) * 1000:>9.1f}")  # fmt: skip
    print(
        f"throughput {len(every) / elapsed:.0f} requests/s; p90 "
        f"{percentile(every, 0.9) * 1000:.1f} ms; errors {total_errors}"
    )
    for what, count in sorted(errors.items()):
        print(f"  error {what}: {count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-load-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        ids = seed(root, args.runs)
        print(
            f"REST load on 127.0.0.1: seeded {args.runs:,} runs (SQLite store) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        token = secrets.token_hex(24)
        server, base = start_server(root, token)
        try:
            alone = asyncio.run(drive(base, token, ids, 1, BASELINE_SECONDS))
            loaded = asyncio.run(drive(base, token, ids, args.clients, args.seconds))
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        report(f"one client alone, {BASELINE_SECONDS:.0f} s (per-request cost)", *alone)
        report(
            f"{args.clients} clients x {args.seconds:.0f} s, back to back (no think time)", *loaded
        )
        if sum(loaded[1].values()) + sum(alone[1].values()):
            print((root / "server.log").read_text(errors="replace")[-3000:])
            raise SystemExit(1)


if __name__ == "__main__":
    main()
