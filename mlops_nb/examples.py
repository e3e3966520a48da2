"""The example project (``example_notebooks/``): where it is, and copying it somewhere new.

One source of truth: the ``example_notebooks/`` folder at the repository root. A built wheel
carries the same files as ``mlops_nb/example_notebooks/`` (the wheel's ``sources`` mapping in
``pyproject.toml``); a source checkout or editable install reads the repository folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import UsageError

PACKAGED = Path(__file__).parent / "example_notebooks"
CHECKOUT = Path(__file__).parent.parent / "example_notebooks"
MARKER = "pipeline.yaml"
# Left behind by Jupyter, Python or a previous demo; never part of the example.
IGNORED = (".ipynb_checkpoints", "__pycache__", ".mlops", "*.pyc")


def examples_dir() -> Path:
    """The folder holding the example notebooks, ``pipeline.yaml`` and ``mlops.yaml``."""
    for folder in (PACKAGED, CHECKOUT):
        if (folder / MARKER).is_file():
            return folder
    raise UsageError(
        f"the example project is missing from this installation (looked in {PACKAGED} and "
        f"{CHECKOUT}); reinstall mlops_nb"
    )


def example_files() -> list[str]:
    """The example's files as paths relative to its folder, sorted."""
    root = examples_dir()
    ignore = shutil.ignore_patterns(*IGNORED)
    found: list[str] = []

    def walk(folder: Path) -> None:
        names = sorted(p.name for p in folder.iterdir())
        skipped = ignore(str(folder), names)
        for name in names:
            if name in skipped:
                continue
            path = folder / name
            if path.is_dir():
                walk(path)
            else:
                found.append(path.relative_to(root).as_posix())

    walk(root)
    return found


def copy_examples(dest: Path | str) -> Path:
    """Copy the example project into ``dest``, which must not exist or be an empty folder."""
    dest = Path(dest).expanduser().resolve()
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} is a file; choose a folder name with --dir")
    if dest.is_dir() and any(dest.iterdir()):
        raise UsageError(
            f"{dest} already exists and is not empty; remove it or choose another folder with --dir"
        )
    shutil.copytree(
        examples_dir(), dest, ignore=shutil.ignore_patterns(*IGNORED), dirs_exist_ok=True
    )
    return dest
