"""Cell history of a run and its reproducibility verdict.

A notebook front end (the ``%mlops`` extension) reports each executed cell as a
:class:`CellRecord`; this module judges whether the run would come out the same when its
notebook is executed top to bottom (``cell_store`` keeps the records and the verdict). It
needs no store, so a kernel records cells before the store is opened.

Reasons start with a fixed label: ``failed``, ``re-run``, ``out of order``, ``skipped``,
``edited``, ``hidden state`` or ``param changed``. Cells are named by their 1-based position
in the saved notebook (``cell 3``) when it is known, and by their execution count (``In [7]``).
"""

from __future__ import annotations

import hashlib
import json
import os
import symtable
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

HISTORY_COLUMNS = [
    "seq",
    "execution_count",
    "cell_id",
    "source",
    "source_digest",
    "started_at",
    "ended_at",
    "duration",
    "ok",
    "error_type",
]
# Cells a runner adds to the notebook it executes (papermill's injected parameters, loading
# this extension): not in the saved notebook, and not a reproducibility problem.
INJECTED_PREFIXES = ("# Parameters", "%load_ext mlops_nb", "%reload_ext mlops_nb")
# nbclient's skip_cells_with_tag: exploration cells that headless runs leave out.
SKIP_TAG = "skip-execution"
MAX_LISTED = 3

# Functions that write buffered cell records of a run (registered by a live front end), so
# readers of the history see every cell that already ran.
_flushers: dict[str, Callable[[], None]] = {}


def register_flusher(run_id: str, flush: Callable[[], None] | None) -> None:
    """Let readers of ``run_id``'s history first write what a live front end buffered."""
    if flush is None:
        _flushers.pop(run_id, None)
    else:
        _flushers[run_id] = flush


def flush_buffered(run_id: str) -> None:
    """Have a live front end write what it buffered of ``run_id``'s cells."""
    flush = _flushers.get(run_id)
    if flush is not None:
        flush()


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class CellRecord:
    """One execution of a cell. ``ended_at``/``ok`` stay None while it runs."""

    seq: int
    source: str
    started_at: float
    execution_count: int | None = None
    cell_id: str | None = None
    ended_at: float | None = None
    ok: bool | None = None
    error_type: str | None = None
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        self.digest = source_digest(self.source)


@dataclass(frozen=True)
class DocCell:
    position: int  # 1-based, counting every cell of the notebook
    cell_id: str | None
    source: str
    digest: str
    exploration: bool = False  # tagged skip-execution: a top-to-bottom run leaves it out


@dataclass(frozen=True)
class Document:
    """The code cells of a saved notebook, as read from disk."""

    path: str
    mtime: float
    cells: tuple[DocCell, ...]

    def by_id(self) -> dict[str, DocCell]:
        return {cell.cell_id: cell for cell in self.cells if cell.cell_id}


def read_document(path: str | os.PathLike[str] | None) -> Document | None:
    """The saved notebook at ``path`` (code cells only), or None if it cannot be read."""
    if not path:
        return None
    try:
        mtime = os.stat(path).st_mtime
        with open(path, encoding="utf-8") as handle:
            notebook = json.load(handle)
        cells = []
        for index, cell in enumerate(notebook.get("cells", []), start=1):
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            tags = (cell.get("metadata") or {}).get("tags") or []
            cells.append(
                DocCell(index, cell.get("id"), source, source_digest(source), SKIP_TAG in tags)
            )
    except (OSError, ValueError, AttributeError):
        return None
    return Document(str(path), mtime, tuple(cells))


# --- judging -------------------------------------------------------------------------------


def _label(record: CellRecord, position: int | None) -> str:
    count = f"In [{record.execution_count}]" if record.execution_count is not None else ""
    if position is not None:
        return f"cell {position}" + (f" ({count})" if count else "")
    return count or "a cell"


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _injected(source: str) -> bool:
    return source.lstrip().startswith(INJECTED_PREFIXES)


def _place(records: Sequence[CellRecord], document: Document | None) -> list[DocCell | None]:
    """The notebook cell each execution belongs to: by cell id, else by source, in order."""
    if document is None:
        return [None] * len(records)
    by_id = document.by_id()
    by_digest: dict[str, list[DocCell]] = {}
    for cell in document.cells:
        by_digest.setdefault(cell.digest, []).append(cell)
    placed: list[DocCell | None] = []
    last = 0
    for record in records:
        cell = by_id.get(record.cell_id) if record.cell_id else None
        if cell is None and not record.cell_id:
            candidates = by_digest.get(record.digest, [])
            later = [c for c in candidates if c.position > last]
            cell = (later or candidates or [None])[0]
        placed.append(cell)
        if cell is not None:
            last = cell.position
    return placed


@lru_cache(maxsize=4096)
def _names(source: str) -> tuple[frozenset[str], frozenset[str]]:
    """(global names the code reads, global names it binds); best effort, IPython lines skipped."""
    if source.lstrip().startswith("%%"):
        return frozenset(), frozenset()
    lines = [
        "pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    ]
    try:
        top = symtable.symtable("\n".join(lines), "<cell>", "exec")
    except (SyntaxError, ValueError):
        return frozenset(), frozenset()
    reads: set[str] = set()
    binds: set[str] = set()
    stack = [top]
    while stack:
        table = stack.pop()
        stack.extend(table.get_children())
        for symbol in table.get_symbols():
            name = symbol.get_name()
            if table is top:
                if symbol.is_assigned() or symbol.is_imported():
                    binds.add(name)
                elif symbol.is_referenced():
                    reads.add(name)
            elif symbol.is_global() and symbol.is_referenced():
                reads.add(name)
    return frozenset(reads), frozenset(binds)


def assess(
    records: Sequence[CellRecord],
    document: Document | None = None,
    pre_names: Iterable[str] = (),
) -> tuple[bool, list[str]]:
    """Would running the saved notebook top to bottom redo what these executions did?

    ``pre_names`` are the user's variables that existed when tracking started. Without a
    document, only failures, re-runs and hidden state can be judged.
    """
    placed = _place(records, document)
    notes = [
        *_failures(records, placed),
        *_reruns(records, placed),
        *_order(records, placed),
        *_skipped(records, placed, document),
        *_exploration(placed),
        *_edits(records, placed, document),
        *_hidden_state(records, placed, document, frozenset(pre_names)),
    ]
    return not notes, notes


def _failures(records: Sequence[CellRecord], placed: Sequence[DocCell | None]) -> list[str]:
    failed = []
    for record, cell in zip(records, placed, strict=True):
        label = _label(record, cell.position if cell else None)
        if record.ok is False:
            failed.append(f"{label} raised {record.error_type or 'an error'}")
        elif record.ok is None and record.ended_at is None and record is not records[-1]:
            failed.append(f"{label} never finished")
    return [f"failed: {_listed(failed)}"] if failed else []


def _identity(record: CellRecord, cell: DocCell | None) -> str:
    if record.cell_id:
        return "id:" + record.cell_id
    return f"pos:{cell.position}" if cell is not None else "src:" + record.digest


def _reruns(records: Sequence[CellRecord], placed: Sequence[DocCell | None]) -> list[str]:
    counts = Counter(_identity(r, c) for r, c in zip(records, placed, strict=True))
    seen: set[str] = set()
    items = []
    for record, cell in zip(records, placed, strict=True):
        key = _identity(record, cell)
        if counts[key] > 1 and key not in seen and not (cell and cell.exploration):
            seen.add(key)
            label = f"cell {cell.position}" if cell else _label(record, None)
            items.append(f"{label} ran {counts[key]} times")
    return [f"re-run: {_listed(items)}"] if items else []


def _order(records: Sequence[CellRecord], placed: Sequence[DocCell | None]) -> list[str]:
    items = []
    highest: DocCell | None = None
    for record, cell in zip(records, placed, strict=True):
        if cell is None or cell.exploration or _injected(record.source):
            continue
        if highest is not None and cell.position < highest.position:
            items.append(f"{_label(record, cell.position)} ran after cell {highest.position}")
        if highest is None or cell.position > highest.position:
            highest = cell
    return [f"out of order: {_listed(items)}"] if items else []


def _skipped(
    records: Sequence[CellRecord], placed: Sequence[DocCell | None], document: Document | None
) -> list[str]:
    positions = {c.position for c in placed if c is not None}
    if document is None or not positions:
        return []
    first, last = min(positions), max(positions)
    missed = [
        f"cell {c.position}"
        for c in document.cells
        if first < c.position < last
        and c.position not in positions
        and c.source.strip()
        and not c.exploration
    ]
    return [f"skipped: {_listed(missed)} never ran"] if missed else []


def _exploration(placed: Sequence[DocCell | None]) -> list[str]:
    """Cells tagged skip-execution that ran before other cells: their effects are state a
    top-to-bottom run will not have."""
    last = max((i for i, c in enumerate(placed) if c is not None and not c.exploration), default=-1)
    ran_before = list(
        dict.fromkeys(
            f"cell {c.position}" for c in placed[:last] if c is not None and c.exploration
        )
    )
    if not ran_before:
        return []
    return [
        f"hidden state: {_listed(ran_before)} tagged {SKIP_TAG} ran before later cells; "
        "a top-to-bottom run leaves it out"
    ]


def _edits(
    records: Sequence[CellRecord], placed: Sequence[DocCell | None], document: Document | None
) -> list[str]:
    if document is None:
        return []
    last_run: dict[str, tuple[CellRecord, DocCell | None]] = {}
    for record, cell in zip(records, placed, strict=True):
        last_run[_identity(record, cell)] = (record, cell)
    changed, unsaved, missing = [], [], []
    for record, cell in last_run.values():
        if cell is None:
            if not _injected(record.source):
                missing.append(_label(record, None))
        elif cell.digest != record.digest:
            ran_after_save = (record.ended_at or record.started_at) > document.mtime
            (unsaved if ran_after_save else changed).append(_label(record, cell.position))
    notes = []
    if changed:
        notes.append(f"edited: {_listed(changed)} changed after it ran")
    if missing:
        notes.append(
            f"edited: {_listed(missing)} ran code that the saved notebook does not contain "
            "(edited or deleted after it ran)"
        )
    if unsaved:
        notes.append(
            f"edited: {_listed(unsaved)} ran code that is not saved yet; save the notebook"
        )
    return notes


def _hidden_state(
    records: Sequence[CellRecord],
    placed: Sequence[DocCell | None],
    document: Document | None,
    pre_names: frozenset[str],
) -> list[str]:
    if not pre_names:
        return []
    known: set[str] = set()
    start = next((c.position for c in placed if c is not None), None)
    if document is not None and start is not None:
        for cell in document.cells:  # cells above tracking re-create their names on a re-run
            if cell.position < start:
                known |= _names(cell.source)[1]
    used: list[str] = []
    for record in records:
        reads, binds = _names(record.source)
        used.extend(sorted((reads & pre_names) - known - set(used)))
        known |= binds
    if not used:
        return []
    return [f"hidden state: used {_listed(used)} defined before tracking started"]
