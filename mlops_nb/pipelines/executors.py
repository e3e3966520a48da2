"""Where jobs execute: ``local`` (a bounded pool, one kernel process per job) or Dask.

``local``: up to ``jobs`` notebooks at once, each in its own kernel process (the threads here
only drive the kernels, so notebooks run in parallel on separate cores).

``dask://HOST:PORT``: each job runs on a worker of that Dask scheduler, which starts the
kernel; the executed notebook comes back with the result and the kernel writes metrics and
artifacts straight to the store. A cluster on other hosts therefore needs a shared store
(``MLOPS_STORE_URI=postgresql+psycopg://...`` and ``MLOPS_ARTIFACT_URI=s3://...``); a local
SQLite database or blob folder is refused for it. ``dask`` alone starts a cluster of ``jobs``
single-threaded worker processes on 127.0.0.1 for the duration of the run.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import socket
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ..errors import UsageError
from ..identity import hostname
from . import kernels
from .execute import Job, Outcome, execute

if TYPE_CHECKING:
    from ..project import Project


class Executor(Protocol):
    capacity: int

    def submit(self, job: Job) -> cf.Future[Outcome]: ...

    def stop(self, keys: list[str]) -> None: ...

    def close(self) -> None: ...


class LocalExecutor:
    def __init__(self, jobs: int):
        self.capacity = jobs
        self.pool = cf.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mlops-job")

    def submit(self, job: Job) -> cf.Future[Outcome]:
        return self.pool.submit(execute, job)

    def stop(self, keys: list[str]) -> None:
        kernels.kill_kernels(keys)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _local_addresses() -> set[str]:
    names = {"localhost", "127.0.0.1", "::1", hostname(), socket.getfqdn()}
    with contextlib.suppress(OSError):
        names.update(socket.gethostbyname_ex(hostname())[2])
    return names


def _is_local(host: str) -> bool:
    return host in _local_addresses() or host.startswith("127.")


def check_shared_store(project: Project, host: str) -> None:
    """Refuse stores other hosts cannot reach when Dask workers run on ``host``."""
    if _is_local(host):
        return
    local = []
    if project.store_uri.startswith("sqlite"):
        local.append(f"the metadata store is a local SQLite file ({project.store_uri})")
    if "://" not in project.artifact_uri or project.artifact_uri.startswith("file://"):
        local.append(f"the artifact store is a local folder ({project.artifact_uri})")
    if local:
        raise UsageError(
            f"Dask workers on {host} cannot reach this project's store: {'; '.join(local)}; "
            "use a shared store (MLOPS_STORE_URI=postgresql+psycopg://..., "
            "MLOPS_ARTIFACT_URI=s3://...) or run with --executor local"
        )


class DaskExecutor:
    def __init__(self, project: Project, address: str | None, jobs: int | None):
        try:
            from distributed import Client
            from distributed.deploy.subprocess import SubprocessCluster
        except ImportError:
            raise UsageError(
                "the dask executor needs dask.distributed: pip install 'mlops_nb[team]'"
            ) from None
        self.cluster = None
        if address is None:
            # Scheduler and workers as `dask spec` subprocesses: unlike multiprocessing-based
            # local clusters they never re-import this program's __main__.
            self.cluster = SubprocessCluster(
                host="127.0.0.1",
                n_workers=jobs or os.cpu_count() or 1,
                threads_per_worker=1,
                dashboard_address=None,
            )
            address = self.cluster.scheduler_address
        else:
            check_shared_store(project, urlsplit(address).hostname or address)
        try:
            self.client = Client(address, timeout=30)
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {address} ({exc}); "
                "start it (dask scheduler) or fix --executor"
            ) from None
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        for worker in workers:
            check_shared_store(project, urlsplit(worker).hostname or worker)
        threads = sum(w.get("nthreads", 1) for w in workers.values()) or 1
        self.capacity = min(jobs, threads) if jobs else threads

    def submit(self, job: Job) -> cf.Future[Outcome]:
        result: cf.Future[Outcome] = cf.Future()
        future = self.client.submit(execute, job, key=f"mlops-{job.key}", pure=False)

        def done(f: Any) -> None:
            try:
                result.set_result(f.result())
            except BaseException as exc:  # a lost worker, a cancelled task
                result.set_exception(exc)

        future.add_done_callback(done)
        return result

    def stop(self, keys: list[str]) -> None:
        self.client.run(kernels.kill_kernels, keys)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def check_jobs(jobs: Any, where: str = "jobs") -> int | None:
    """``jobs`` as given (None: the executor's default), else a UsageError naming ``where``."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise UsageError(f"{where} must be a positive integer, not {jobs!r}")
    return jobs


def scheduler_address(executor: str | None) -> tuple[str, str | None]:
    """``("local", None)``, ``("dask", None)`` (a cluster on this machine) or
    ``("dask", "tcp://HOST:PORT")``; a UsageError for anything else."""
    if executor in ("local", "", None):
        return "local", None
    if executor == "dask":
        return "dask", None
    if executor.startswith("dask://"):
        address = executor.removeprefix("dask://")
        if not address:
            raise UsageError("--executor dask://HOST:PORT needs the scheduler's address")
        return "dask", f"tcp://{address}"
    raise UsageError(f"unknown executor {executor!r}; use local, dask or dask://HOST:PORT")


def make_executor(project: Project, executor: str, jobs: int | None) -> Executor:
    check_jobs(jobs)
    kind, address = scheduler_address(executor)
    if kind == "local":
        return LocalExecutor(jobs or 1)
    return DaskExecutor(project, address, jobs)
