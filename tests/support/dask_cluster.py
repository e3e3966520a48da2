"""A Dask cluster on loopback for tests: ``dask scheduler`` + ``dask worker`` processes.

Started the way a team starts one (separate processes, the workers holding the store's
credentials in their environment), bounded in time, and torn down by ``stop()``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 60.0


class DaskCluster:
    """A scheduler and ``workers`` single-threaded worker processes on 127.0.0.1."""

    def __init__(self, workers: int = 2, env: dict[str, str] | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="mlops-dask-"))
        scheduler_file = self.dir / "scheduler.json"
        environment = {**os.environ, **(env or {}), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        self.processes: list[subprocess.Popen] = []
        self._spawn(
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)],
            environment, "scheduler.log",
        )  # fmt: skip
        self.address = self._wait_for_address(scheduler_file)
        for n in range(workers):
            self._spawn(
                ["worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
                 "--no-dashboard", "--name", f"w{n}", "--local-directory", str(self.dir / f"w{n}")],
                environment, f"worker{n}.log",
            )  # fmt: skip
        self._wait_for_workers(workers)

    def _spawn(self, args: list[str], env: dict[str, str], log: str) -> None:
        with open(self.dir / log, "wb") as out:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dask", *args],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def _wait_for_address(self, scheduler_file: Path) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                return json.loads(scheduler_file.read_text())["address"]
            except (FileNotFoundError, ValueError, KeyError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the Dask scheduler did not start; see {self.dir}")

    def _wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(count, timeout=START_TIMEOUT)

    @property
    def executor(self) -> str:
        """The ``--executor`` value naming this cluster."""
        return "dask://" + self.address.removeprefix("tcp://")

    def finished_tasks(self) -> set[str]:
        """Keys of the tasks the workers ran to completion (from the scheduler's log)."""
        from distributed import Client

        def done(dask_scheduler) -> list[str]:  # type: ignore[no-untyped-def]
            return [str(t.key) for t in dask_scheduler.transition_log if t.finish == "memory"]

        with Client(self.address, timeout=START_TIMEOUT) as client:
            return set(client.run_on_scheduler(done))

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.dir.glob("*.log")))

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
