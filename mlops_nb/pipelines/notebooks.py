"""Reading a notebook file: its cells, parameters, kernel, imports and source digest.

Plain ``json`` is used here (not nbformat): this runs on the cache-hit path of a pipeline,
which must not pay for importing nbformat's schema validator.
"""

from __future__ import annotations

import ast
import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .parameters import (
    INJECTED_TAG,
    ParameterCell,
    cell_source,
    cell_tags,
    inspect_cells,
    python_code,
)

ERROR_MARKER_TAG = "papermill-error-cell-tag"
_cache: dict[tuple[str, int, int], NotebookSource] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class NotebookSource:
    path: Path
    content: dict[str, Any]

    @property
    def cells(self) -> list[dict[str, Any]]:
        return self.content["cells"]

    @property
    def kernel_name(self) -> str | None:
        return self.content.get("metadata", {}).get("kernelspec", {}).get("name")

    @property
    def language(self) -> str | None:
        meta = self.content.get("metadata", {})
        return meta.get("language_info", {}).get("name") or meta.get("kernelspec", {}).get(
            "language"
        )

    @cached_property
    def parameters(self) -> ParameterCell:
        return inspect_cells(self.cells, self.path.name)

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the cells' types and sources: outputs, counts, metadata and injected or
        error-marker cells left out, so re-executing a notebook does not change it."""
        cells = [
            [cell.get("cell_type"), cell_source(cell)]
            for cell in self.cells
            if not {INJECTED_TAG, ERROR_MARKER_TAG} & set(cell_tags(cell))
        ]
        text = json.dumps(cells, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @cached_property
    def imports(self) -> tuple[str, ...]:
        """Top-level modules the code cells import (absolute imports only)."""
        found: set[str] = set()
        for cell in self.cells:
            if cell.get("cell_type") != "code":
                continue
            try:
                tree = ast.parse(python_code(cell_source(cell)))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
        return tuple(sorted(found))


def parse_notebook(text: str | bytes, where: str) -> dict[str, Any]:
    """A notebook's JSON, or a UsageError saying what is wrong with it."""
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{where} is not a valid notebook: invalid JSON at line {exc.lineno} column "
            f"{exc.colno} ({exc.msg}); restore it from version control or re-save it in Jupyter"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"{where} is not a notebook: it is not UTF-8 text") from None
    if not isinstance(content, dict) or not isinstance(content.get("cells"), list):
        raise UsageError(f"{where} is not a Jupyter notebook (no 'cells' list)")
    if content.get("nbformat", 4) < 4:
        raise UsageError(
            f"{where} uses notebook format {content.get('nbformat')}; open and save it in "
            "Jupyter to upgrade it to format 4"
        )
    for index, cell in enumerate(content["cells"]):
        if not isinstance(cell, dict) or "cell_type" not in cell:
            raise UsageError(f"{where} cell {index} is malformed (no cell_type)")
    return content


def load_notebook(path: str | Path) -> NotebookSource:
    """The notebook at ``path``, parsed once per file version."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise UsageError(f"notebook {path} does not exist") from None
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give the path of an .ipynb file")
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _lock:
        found = _cache.get(key)
    if found is None:
        found = NotebookSource(path, parse_notebook(path.read_bytes(), str(path)))
        with _lock:
            _cache[key] = found
    return found


def local_modules(source: NotebookSource) -> dict[str, str]:
    """Digests of the notebook's own modules (``helpers.py`` or ``helpers/`` next to it)."""
    folder = source.path.parent
    found = {}
    for name in source.imports:
        module, package = folder / f"{name}.py", folder / name
        files = [module] if module.is_file() else sorted(package.rglob("*.py"))
        if files and (module.is_file() or (package / "__init__.py").is_file()):
            digest = hashlib.sha256()
            for file in files:
                digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
                digest.update(file.read_bytes())
            found[name] = digest.hexdigest()
    return found
