"""The ``Project``: where the store lives and how to open it.

Found from ``MLOPS_HOME``, else the nearest ``.mlops/`` upward from the working directory,
else created in the working directory on first write.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .config import CONFIG_FILE, DEFAULT_CONFIG_TEXT, load_config, section

if TYPE_CHECKING:
    from .store.blobs import BlobStore
    from .store.metadata import MetadataStore

STATE_DIR = ".mlops"


def _find_root(start: Path) -> Path:
    home = os.environ.get("MLOPS_HOME")
    if home:
        path = Path(home).expanduser().resolve()
        return path.parent if path.name == STATE_DIR else path
    for folder in (start, *start.parents):
        if (folder / STATE_DIR).is_dir():
            return folder
    return start


class Project:
    """A project root holding ``.mlops/`` (local state) and ``mlops.yaml`` (config)."""

    _open: ClassVar[dict[Path, Project]] = {}
    _lock = threading.Lock()

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()
        self.state_dir = self.root / STATE_DIR
        self.config: dict[str, Any] = load_config(self.root)

    @classmethod
    def find(cls, start: Path | str | None = None) -> Project:
        """The project for ``start`` (default: the working directory), opened once per root."""
        root = _find_root(Path(start or os.getcwd()).resolve())
        with cls._lock:
            project = cls._open.get(root)
            if project is None:
                project = cls._open[root] = cls(root)
            return project

    @classmethod
    def init(cls, path: Path | str = ".") -> Project:
        """Create ``.mlops/`` and a commented ``mlops.yaml`` (keeping an existing one)."""
        root = Path(path).resolve()
        (root / STATE_DIR).mkdir(parents=True, exist_ok=True)
        config = root / CONFIG_FILE
        if not config.exists():
            config.write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
        cls.forget(root)
        project = cls.find(root) if not os.environ.get("MLOPS_HOME") else cls(root)
        project.db  # noqa: B018 - create the schema now
        return project

    @classmethod
    def forget(cls, root: Path | str | None = None) -> None:
        """Drop cached projects (all, or one root) so the next ``find`` re-reads config."""
        with cls._lock:
            if root is None:
                for project in cls._open.values():
                    project.close()
                cls._open.clear()
            else:
                project = cls._open.pop(Path(root).resolve(), None)
                if project is not None:
                    project.close()

    @property
    def store_uri(self) -> str:
        uri = os.environ.get("MLOPS_STORE_URI") or section(self.config, "store").get("uri")
        return uri or f"sqlite:///{self.state_dir / 'mlops.db'}"

    @property
    def artifact_uri(self) -> str:
        uri = os.environ.get("MLOPS_ARTIFACT_URI") or section(self.config, "store").get("artifacts")
        if not uri:
            return str(self.state_dir / "blobs")
        if "://" not in uri and not os.path.isabs(uri):
            return str(self.root / uri)
        return uri

    @property
    def spool_dir(self) -> Path:
        """Local folder of append-only metric logs not yet ingested into the database."""
        return self.state_dir / "spool"

    @cached_property
    def db(self) -> MetadataStore:
        from .store.metadata import MetadataStore

        if self.store_uri.startswith("sqlite"):
            self.state_dir.mkdir(parents=True, exist_ok=True)
        return MetadataStore(self.store_uri, base_dir=self.root)

    @cached_property
    def blobs(self) -> BlobStore:
        from .store.blobs import BlobStore

        return BlobStore(self.artifact_uri)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
            del self.__dict__["db"]

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r})"
