"""Cell-history capture through IPython's ``pre_run_cell`` / ``post_run_cell`` events.

The hooks only append to an in-memory list (microseconds); a daemon thread writes new and
changed records to the store a fraction of a second later, with the reproducibility verdict,
so a tracked cell costs the notebook nothing noticeable and a killed kernel loses at most the
last fraction of a second. A cell is recorded when it starts (so a cell that never finishes
shows up) and rewritten when it ends.

A kernel started by a runner (``mlops run``, a pipeline) records from its first cell into the
runner's run, which that thread looks up: loading the extension opens no store (importing
the store's libraries is a third of a kernel's start-up), so the kernel is ready at once.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
import types
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..tracking import ATTACH_ENV
from ..tracking import cells as core

if TYPE_CHECKING:
    from ..tracking.runs import Run

WRITE_DELAY = 0.1  # seconds a burst of cells is batched for before it is written
LIVE_INTERVAL = 1.0  # while a cell runs, the status is refreshed this often
FINAL_PARAMS_TAG = "mlops.params_at_final_metrics"


def notebook_path(shell: Any) -> str | None:
    """The notebook file this kernel runs, when the front end says (JupyterLab, VS Code)."""
    namespace = shell.user_ns
    for candidate in (
        namespace.get("__vsc_ipynb_file__"),
        namespace.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
    ):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            path = Path(candidate).expanduser()
            if path.is_file():
                return str(path.resolve())
    return None


def recorded_path(project_root: Path, path: str | None) -> str | None:
    """How runs record a notebook: relative to the project root when inside it."""
    if path is None:
        return None
    try:
        return Path(path).relative_to(project_root).as_posix()
    except ValueError:
        return path


def user_names(shell: Any) -> frozenset[str]:
    """The user's variables now (not modules, not IPython's own names)."""
    hidden = shell.user_ns_hidden
    return frozenset(
        name
        for name, value in shell.user_ns.items()
        if not name.startswith("_")
        and name not in hidden
        and not isinstance(value, types.ModuleType)
    )


class CellCapture:
    """Records every cell the shell executes while a run is tracked (one per shell)."""

    def __init__(self, shell: Any):
        self.shell = shell
        self._run: Run | None = None
        self._pending: str | None = None  # a runner's run id, not looked up yet (see attach)
        self.attached = False  # the run belongs to a runner (``mlops run``, a pipeline)
        self.track_cell: str | None = None  # identity of the cell that started tracking
        self.notebook_path: str | None = None
        self.pre_names: frozenset[str] = frozenset()
        self.records: list[core.CellRecord] = []
        self.errors: list[str] = []
        self.on_change: Callable[[], None] | None = None
        self.verdict: tuple[bool, list[str]] = (True, [])
        self._seq = 0
        self._depth = 0
        self._started = 0.0
        self._info: Any = None  # IPython's ExecutionInfo of the cell executing now
        self._current: core.CellRecord | None = None
        self._dirty: dict[int, core.CellRecord] = {}
        self._discard: list[int] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._resolving = threading.Lock()
        self._thread: threading.Thread | None = None
        self._document: core.Document | None = None
        self._at_exit_registered = False

    @property
    def run(self) -> Run | None:
        """The run cells are recorded into (a runner's run is looked up on first use)."""
        if self._pending is not None:
            self._resolve()
        return self._run

    @property
    def tracking(self) -> bool:
        return self.run_id is not None

    @property
    def run_id(self) -> str | None:
        """The id of the run cells go to, without looking a runner's run up."""
        return self._pending or (self._run.run_id if self._run is not None else None)

    # -- IPython events ------------------------------------------------------------------

    def register(self) -> None:
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)

    def unregister(self) -> None:
        for event, hook in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            with contextlib.suppress(ValueError):
                self.shell.events.unregister(event, hook)

    def pre_run_cell(self, info: Any) -> None:
        self._depth += 1
        if self._depth != 1:
            return  # a cell run by a magic inside a cell (``%%mlops track``)
        self._started = time.time()
        self._info = info
        self._current = None
        if self.tracking:
            self._begin(info, self._started)

    def post_run_cell(self, result: Any) -> None:
        self._depth = max(self._depth - 1, 0)
        if self._depth or not self.tracking:
            return
        record = self._current
        if record is None:  # tracking started during this cell: record it too
            info = result.info
            started = self._started if info is self._info else time.time()
            record = self._begin(info, started)
        error = result.error_before_exec or result.error_in_exec
        with self._lock:
            record.execution_count = result.execution_count
            record.ended_at = time.time()
            if record.ok is None:
                record.ok = error is None
                record.error_type = type(error).__name__ if error is not None else None
            self._dirty[record.seq] = record
        self._current = None
        self._wake.set()

    def _begin(self, info: Any, started: float) -> core.CellRecord:
        # IPython counts the cell before ``pre_run_cell``: its number is one less.
        count = self.shell.execution_count - 1 if info.store_history else None
        cell_id = getattr(info, "cell_id", None) or None
        with self._lock:
            record = core.CellRecord(self._seq, info.raw_cell, started, count, cell_id)
            self._seq += 1
            self.records.append(record)
            self._dirty[record.seq] = record
        self._current = record
        self._wake.set()
        return record

    def current_cell(self) -> str | None:
        """Identity of the cell executing now (its id, else its source digest)."""
        info = self._info
        if info is None or not self._depth:
            return None
        return getattr(info, "cell_id", None) or core.source_digest(info.raw_cell)

    def fail_current(self, error_type: str) -> None:
        """Mark the executing cell failed (a ``%%mlops track`` body raised)."""
        record = self._current
        if record is not None:
            with self._lock:
                record.ok, record.error_type = False, error_type
                self._dirty[record.seq] = record

    # -- tracking ------------------------------------------------------------------------

    def start(self, run: Run, *, attached: bool, track_cell: str | None = None) -> None:
        """Record cells into ``run`` from now on (the current cell included)."""
        from ..tracking.cell_store import load_cells

        self._reset(attached, track_cell)
        self._bind(run, load_cells(run.project, run.run_id))
        if self._depth == 1 and self._info is not None:  # started by a cell: it counts too
            self._begin(self._info, self._started)
        self._start_writer()

    def attach(self, run_id: str) -> None:
        """Record cells into a runner's run from now on; the writer thread looks it up."""
        self._reset(attached=True, track_cell=None)
        self._pending = run_id
        self._start_writer()

    def _reset(self, attached: bool, track_cell: str | None) -> None:
        self._pending = None
        self.attached, self.track_cell = attached, track_cell
        self.pre_names = user_names(self.shell)
        self.records, self._seq, self._dirty = [], 0, {}
        self._document = None
        self.verdict = (True, [])
        self._current = None

    def _bind(self, run: Run, stored: list[core.CellRecord]) -> None:
        """Record into ``run``, after the ``stored`` cells it already has."""
        recorded = run.notebook_path  # runners record it relative to the project root
        self.notebook_path = (
            str(run.project.root / recorded) if recorded else notebook_path(self.shell)
        )
        with self._lock:
            if stored:  # cells recorded meanwhile (see attach) come after them
                shift = stored[-1].seq + 1
                for record in self.records:
                    record.seq += shift
                self._dirty = {r.seq: r for r in self._dirty.values()}
                self.records = stored + self.records
            self._seq = self.records[-1].seq + 1 if self.records else 0
            self._run = run
        core.register_flusher(run.run_id, self.flush)

    def _resolve(self) -> None:
        with self._resolving:
            run_id = self._pending
            if run_id is None:
                return
            try:
                from ..tracking.cell_store import load_cells
                from ..tracking.context import project
                from ..tracking.runs import Run

                run = Run(project(), run_id).refresh()
                self._bind(run, load_cells(run.project, run_id))
            except Exception as exc:  # the notebook still runs: say why nothing is recorded
                print(f"mlops: not recording cells into run {run_id}: {exc}", file=sys.stderr)
                with self._lock:
                    self.records, self._dirty, self._current = [], {}, None
            finally:
                self._pending = None

    def _start_writer(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="mlops-cells", daemon=True)
            self._thread.start()
        if not self._at_exit_registered:
            atexit.register(self._at_exit)
            self._at_exit_registered = True

    def finish(self, *, keep_current: bool = True) -> tuple[bool, list[str]]:
        """Stop recording: close (or drop) the current cell, write everything, judge, and save
        the notebook with the run."""
        run = self.run
        if run is None:
            return self.verdict
        record = self._current
        if record is not None and not keep_current:
            with self._lock:
                self.records.remove(record)
                self._dirty.pop(record.seq, None)
                self._discard.append(record.seq)
        elif record is not None and record.ended_at is None:
            with self._lock:
                record.ended_at, record.ok = time.time(), True
                self._dirty[record.seq] = record
        verdict = self.flush(final=True)
        if not self.attached:
            self.save_notebook()
        core.register_flusher(run.run_id, None)
        self._run = None
        self._current = None
        return verdict

    def save_notebook(self) -> str | None:
        """Store the notebook file with the run (when its path is known); returns its name."""
        if self.run is None or not self.notebook_path or not Path(self.notebook_path).is_file():
            return None
        from ..tracking.artifacts import log_artifact

        name = Path(self.notebook_path).name
        return log_artifact(self.run.project, self.run.run_id, self.notebook_path, name)

    # -- writing ------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            woken = self._wake.wait(timeout=LIVE_INTERVAL if self._running() else None)
            if woken:
                time.sleep(WRITE_DELAY)
                self._wake.clear()
            try:
                if woken:
                    self.flush()
                if self.on_change is not None and self.run is not None:
                    self.on_change()  # also while a long cell runs: metrics show up live
            except Exception as exc:  # keep recording; %mlops status shows the error
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def _running(self) -> bool:
        record = self._current
        return self.run is not None and record is not None and record.ended_at is None

    def flush(self, final: bool = False) -> tuple[bool, list[str]]:
        """Write pending records and the current verdict; returns the verdict."""
        with self._write_lock:
            run = self.run
            if run is None:
                return self.verdict
            with self._lock:
                pending = [replace(r) for r in self._dirty.values()]
                discard, self._discard = self._discard, []
                self._dirty.clear()
                records = [replace(r) for r in self.records]
            verdict = self.judge(records, final=final)
            from ..tracking import cell_store

            cell_store.store_cells(run.project, run.run_id, pending, verdict, discard)
            self.verdict = verdict
            return verdict

    def judge(self, records: list[core.CellRecord], final: bool = False) -> tuple[bool, list[str]]:
        run = self.run
        assert run is not None
        from ..tracking import cell_store

        _, notes = core.assess(records, self._read_document(), self.pre_names)
        seen, param_notes = cell_store.param_notes(run.project, run.run_id)
        if final and seen:
            import json

            from ..tracking.runs import log_batch

            log_batch(run.project, run.run_id, tags={FINAL_PARAMS_TAG: json.dumps(seen)})
        notes = notes + param_notes
        return not notes, notes

    def _read_document(self) -> core.Document | None:
        path = self.notebook_path
        if not path:
            return None
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return None
        if self._document is None or self._document.mtime != mtime:
            self._document = core.read_document(path)
        return self._document

    def _at_exit(self) -> None:
        """The kernel is shutting down: write the last cells (runs end in the core's hook)."""
        if self.run is not None:
            with contextlib.suppress(Exception):
                self.finish()


def capture_for(shell: Any) -> CellCapture:
    """The shell's capture, created and hooked up on first use."""
    capture = getattr(shell, "_mlops_capture", None)
    if capture is None:
        capture = shell._mlops_capture = CellCapture(shell)
        capture.register()
    return capture


def attach_from_environment(shell: Any) -> None:
    """Record cells into the run a runner started this kernel for (``MLOPS_RUN_ID``)."""
    run_id = os.environ.get(ATTACH_ENV)
    if not run_id:
        return
    capture = capture_for(shell)
    if capture.run_id != run_id:
        capture.attach(run_id)
