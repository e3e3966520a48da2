"""Execute one notebook with papermill in a fresh kernel: the unit every executor runs.

:func:`execute` takes a picklable :class:`Job` and returns a picklable :class:`Outcome`, so
the same function runs in this process, in a thread pool or on a Dask worker. It never
touches the metadata store itself: the kernel logs to the run through ``MLOPS_RUN_ID``, and
the caller stores the executed notebook it gets back.

papermill runs in a worker thread with its own event loop, so :func:`execute` also works when
called from inside a running notebook (no "event loop is already running"). Kernels talk over
IPC sockets in a private folder (no TCP ports to collide when many start at once), start in
the notebook's folder, and load the ``mlops_nb`` IPython extension when it is installed, so
headless runs record their cell history like interactive ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..tracking.cells import SKIP_TAG
from . import kernels
from .kernel_manager import start_kernel, stop_kernel
from .parameters import INJECTED_TAG, cell_tags, find_tagged

ENGINE = "mlops"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SOURCE_EXCERPT_LINES = 8
MIN_SECRET_LENGTH = 4
REDACTED = "[secret]"


@dataclass
class Job:
    """Everything needed to execute one notebook, anywhere."""

    key: str  # the run id; also names the kernel in the registry
    notebook: dict[str, Any]  # the source notebook's JSON
    name: str  # how to show the notebook (a path relative to the project)
    cwd: str  # the kernel's working directory
    parameters: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # parameter -> environment variable
    kernel: str | None = None
    timeout: float | None = None  # seconds per cell
    env: dict[str, str] = field(default_factory=dict)  # added to the kernel's environment
    output_path: str | None = None
    check_files: list[str] = field(default_factory=list)  # declared outputs to digest after
    progress: str | None = None  # "bar", "lines" or None


@dataclass
class Failure:
    """Why an execution failed, in a form for people (``message``) and for tools."""

    kind: str  # cell, timeout, kernel_died, start, interrupted, stopped, output, gate, upstream
    message: str
    cell_index: int | None = None
    execution_count: int | None = None
    source: str = ""
    ename: str = ""
    evalue: str = ""
    traceback: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def details(self) -> str:
        """Multi-line report: the message, the failing cell's source excerpt, the traceback."""
        parts = [self.message]
        if self.source:
            lines = self.source.splitlines()
            excerpt = lines[:SOURCE_EXCERPT_LINES]
            if len(lines) > SOURCE_EXCERPT_LINES:
                excerpt.append(f"... ({len(lines) - SOURCE_EXCERPT_LINES} more lines)")
            parts.append("cell source:\n" + "\n".join(f"    {line}" for line in excerpt))
        if self.traceback:
            parts.append(self.traceback.rstrip())
        return "\n".join(parts)


@dataclass
class Outcome:
    status: str  # finished, failed, interrupted
    notebook: str = ""  # the executed notebook (JSON text), secrets redacted
    failure: Failure | None = None
    stdout: str = ""
    stderr: str = ""
    kernel: str = ""
    warnings: list[str] = field(default_factory=list)
    duration: float = 0.0
    files: dict[str, str | None] = field(default_factory=dict)  # output path -> sha256 or None

    @property
    def ok(self) -> bool:
        return self.status == "finished"


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def digest_path(path: Path) -> str | None:
    """SHA-256 of a file, or of a folder's files (names and contents); None if missing."""
    if path.is_file():
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
            with open(file, "rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        return digest.hexdigest()
    return None


# --- the papermill engine ----------------------------------------------------------------


def _engine_class() -> type:
    """papermill's nbclient engine, driving a kernel already started (see
    :mod:`.kernel_manager`), with immediate kernel kill on timeout and per-cell hooks."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.utils import merge_kwargs, remove_args

    class Client(PapermillNotebookClient):
        async def _async_handle_timeout(self, timeout: int, cell: Any = None) -> Any:
            self.shutdown_kernel = "immediate"
            return await super()._async_handle_timeout(timeout, cell)

    class MlopsEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: float | None = None,
            km: Any = None,
            hooks: dict | None = None,
            **kwargs: Any,
        ) -> Any:
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=_quiet_logger(),
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                **(hooks or {}),
            )
            client = Client(nb_man, km=km, **final)
            client.owns_km = True  # shut the kernel down afterwards, as if it had started it
            return client.execute()

    return MlopsEngine


def _quiet_logger() -> logging.Logger:
    """nbclient's own error lines ("Kernel died while waiting...") duplicate the failure we
    report, so they are kept out of the console."""
    logger = logging.getLogger("mlops_nb.kernel")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
    return logger


_registered = threading.Lock()
_engine_ready = False


def _ensure_engine() -> None:
    global _engine_ready
    with _registered:
        if not _engine_ready:
            from papermill.engines import papermill_engines

            papermill_engines.register(ENGINE, _engine_class())
            _engine_ready = True


# --- parameter injection -----------------------------------------------------------------


class EnvSecret(str):
    """A parameter value read from an environment variable inside the kernel."""


def _translator() -> type:
    from papermill.translators import PythonTranslator

    class Translator(PythonTranslator):
        @classmethod
        def translate(cls, val: Any) -> str:
            if isinstance(val, EnvSecret):
                return f'__import__("os").environ[{cls.translate_str(str(val))}]'
            return super().translate(val)

    return Translator


def parameterize(nb: Any, job: Job, kernel: kernels.KernelChoice) -> tuple[Any, int | None]:
    """Inject the parameters papermill's way; returns the notebook and the injected index."""
    from papermill.parameterize import parameterize_notebook
    from papermill.translators import papermill_translators

    values: dict[str, Any] = dict(job.parameters)
    values.update({name: EnvSecret(env) for name, env in job.secrets.items()})
    if not values:
        return nb, None
    if job.secrets:
        if kernel.language != "python":
            raise ValueError("secret parameters need a Python kernel")
        papermill_translators.register(kernel.name, _translator())
    existing = find_tagged(nb.cells, INJECTED_TAG)
    nb = parameterize_notebook(nb, values, kernel_name=kernel.name, language=kernel.language)
    nb.metadata.papermill["parameters"] = {
        k: (f"env:{v}" if isinstance(v, EnvSecret) else v) for k, v in values.items()
    }
    if existing is not None:
        return nb, existing
    return nb, find_tagged(nb.cells, INJECTED_TAG)


# --- running -----------------------------------------------------------------------------


def executed_cells(nb: Any) -> int:
    """How many cells nbclient will execute: code cells that are not empty and not tagged
    ``skip-execution`` (exploration the headless run leaves out)."""
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code" and cell.source.strip() and SKIP_TAG not in cell_tags(cell)
    )


class _Progress:
    """A line per code cell (for logs and CI), written to stderr."""

    def __init__(self, total: int, stream: Any = None):
        self.total = total
        self.done = 0
        self.started = 0.0
        self.current: tuple[int, Any] | None = None
        self.stream = stream

    def start(self, cell: Any, cell_index: int, **_: Any) -> None:
        self.current = (cell_index, cell)
        self.started = time.perf_counter()

    def executed(self, cell: Any, cell_index: int, execute_reply: Any, **_: Any) -> None:
        self.done += 1
        if self.stream is None:
            return
        status = execute_reply.get("content", {}).get("status", "ok") if execute_reply else "ok"
        took = time.perf_counter() - self.started
        print(
            f"cell {self.done}/{self.total} {status} {took:.2f}s",
            file=self.stream,
            flush=True,
        )


def _source_index(index: int | None, injected: int | None, replaced: bool) -> int | None:
    if index is None or injected is None or replaced or index < injected:
        return index
    return None if index == injected else index - 1


def _failure(
    exc: BaseException,
    handle: kernels.KernelHandle,
    progress: _Progress,
    injected: int | None,
    replaced: bool,
    timeout: float | None,
    name: str,
) -> Failure:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    current_index, current_cell = progress.current or (None, None)
    if isinstance(exc, PapermillExecutionError):
        index = _source_index(exc.cell_index, injected, replaced)
        where = f"cell {index} of {name}" if index is not None else "the injected parameters cell"
        return Failure(
            kind="cell",
            message=f"{where} raised {exc.ename}: {strip_ansi(exc.evalue)[:300]}",
            cell_index=index,
            execution_count=exc.exec_count,
            source=exc.source,
            ename=exc.ename,
            evalue=strip_ansi(exc.evalue),
            traceback=strip_ansi("\n".join(exc.traceback)),
        )
    index = _source_index(current_index, injected, replaced)
    source = "".join(current_cell.source) if current_cell is not None else ""
    where = f"cell {index} of {name}" if index is not None else name
    if handle.stopped:
        return Failure(
            kind="interrupted",
            message=f"{where}: stopped ({handle.stopped})",
            cell_index=index,
            source=source,
        )
    if isinstance(exc, CellTimeoutError):
        return Failure(
            kind="timeout",
            cell_index=index,
            source=source,
            message=f"{where} ran longer than the {timeout:g} s cell timeout; the "
            "kernel was stopped",
        )
    if isinstance(exc, DeadKernelError):
        how = handle.exit_description or "died"
        return Failure(
            kind="kernel_died",
            cell_index=index,
            source=source,
            message=f"the kernel running {where} {how}",
        )
    text = strip_ansi(str(exc)).strip().splitlines()
    return Failure(
        kind="start",
        message=f"{name}: {type(exc).__name__}: {text[0] if text else 'kernel failed'}"[:400],
    )


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    return value


def _finish_notebook(path: Path, job: Job, secrets: list[str]) -> str:
    """The executed notebook as stored: secrets redacted, local paths made relative."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    papermill = content.get("metadata", {}).get("papermill", {})
    if papermill:
        papermill["input_path"] = job.name
        papermill["output_path"] = Path(job.output_path).name if job.output_path else None
    if secrets:
        content = _redact(content, secrets)
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"


def _close_thread_loop() -> None:
    """Close the event loop nbclient created for this worker thread."""
    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_event_loop_policy().get_event_loop()
        if not loop.is_running():
            loop.close()
        asyncio.set_event_loop(None)


def _run(job: Job, handle: kernels.KernelHandle, outcome: Outcome) -> None:
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="mlops-nb-"))
    secrets = [
        v
        for v in (job.env.get(e) or os.environ.get(e) for e in job.secrets.values())
        if v and len(v) >= MIN_SECRET_LENGTH
    ]
    output = Path(job.output_path) if job.output_path else workdir / "executed.ipynb"
    manager = None
    try:
        meta = job.notebook.get("metadata", {})
        kernel = kernels.resolve_kernel(
            job.kernel,
            meta.get("kernelspec", {}).get("name"),
            meta.get("language_info", {}).get("name") or meta.get("kernelspec", {}).get("language"),
        )
        outcome.kernel = kernel.name
        if kernel.warning:
            outcome.warnings.append(kernel.warning)
        manager = start_kernel(kernel, job.env, job.cwd, workdir)
        handle.attach(manager.provisioner.process)
        _execute(job, kernel, manager, handle, workdir, output, outcome)
        outcome.stdout = _redact((workdir / "stdout.txt").read_text("utf-8", "replace"), secrets)
        outcome.stderr = _redact((workdir / "stderr.txt").read_text("utf-8", "replace"), secrets)
        outcome.notebook = _finish_notebook(output, job, secrets)
        if job.output_path and outcome.notebook:
            output.write_text(outcome.notebook, encoding="utf-8")
        outcome.files = {p: digest_path(Path(p)) for p in job.check_files}
    except Exception as exc:  # a bad kernel name, an unwritable output, ...
        outcome.failure = Failure(
            kind="start", message=f"{job.name}: {type(exc).__name__}: {exc}"[:400]
        )
    finally:
        stop_kernel(manager)
        shutil.rmtree(workdir, ignore_errors=True)
        _close_thread_loop()
        outcome.duration = time.perf_counter() - started
    if outcome.failure is None:
        outcome.status = "finished"
    else:
        outcome.status = "interrupted" if outcome.failure.kind == "interrupted" else "failed"


def _execute(
    job: Job,
    kernel: kernels.KernelChoice,
    manager: Any,
    handle: kernels.KernelHandle,
    workdir: Path,
    output: Path,
    outcome: Outcome,
) -> None:
    """Parameterize and run the notebook with papermill in the started kernel."""
    import nbformat
    import papermill
    from papermill.iorw import load_notebook_node

    _ensure_engine()
    source_path = workdir / "input.ipynb"
    source_path.write_text(json.dumps(job.notebook), encoding="utf-8")
    nb = load_notebook_node(str(source_path))  # papermill's normalised form
    replaced = find_tagged(nb.cells, INJECTED_TAG) is not None
    nb, injected = parameterize(nb, job, kernel)
    nbformat.write(nb, str(source_path))
    progress = _Progress(executed_cells(nb), sys.stderr if job.progress == "lines" else None)
    with (
        open(workdir / "stdout.txt", "w", encoding="utf-8") as out,
        open(workdir / "stderr.txt", "w", encoding="utf-8") as err,
    ):
        try:
            papermill.execute_notebook(
                str(source_path),
                str(output),
                engine_name=ENGINE,
                kernel_name=kernel.name,
                language=kernel.language,
                progress_bar=job.progress == "bar",
                stdout_file=out,
                stderr_file=err,
                execution_timeout=job.timeout,
                km=manager,
                hooks={"on_cell_start": progress.start, "on_cell_executed": progress.executed},
            )
        except Exception as exc:
            outcome.failure = _failure(
                exc, handle, progress, injected, replaced, job.timeout, job.name
            )


def execute(job: Job) -> Outcome:
    """Execute ``job`` in a worker thread and wait; Ctrl-C stops its kernel and returns an
    ``interrupted`` outcome (the caller decides whether to re-raise)."""
    outcome = Outcome(status="failed")
    handle = kernels.register(job.key)
    thread = threading.Thread(
        target=_run, args=(job, handle, outcome), daemon=True, name=f"mlops-execute-{job.key[:8]}"
    )
    try:
        thread.start()
        while thread.is_alive():
            try:
                thread.join(0.25)
            except KeyboardInterrupt:
                handle.stop("interrupted")
    finally:
        kernels.unregister(job.key)
    return outcome
