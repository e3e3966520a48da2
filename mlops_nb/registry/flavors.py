"""How models become files and back: scikit-learn via skops, plain files/folders, pickle.

- ``sklearn``: estimators and pipelines saved with ``skops.io`` (no pickle). Loading trusts
  skops' defaults plus ``skops_types.TRUSTED_TYPES`` only, never a list from the file.
- ``file`` / ``folder``: any path; loading returns a verified local copy's path.
- ``pickle``: any other object, only when the caller passes ``trusted=True`` at registration
  *and* at load. Unpickling runs code chosen by whoever wrote the bytes: load only pickles
  from people you trust.
"""

from __future__ import annotations

import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError, UsageError
from ..names import check_relative_path
from . import manifest as manifests
from .canonical import skops_bytes
from .skops_types import TRUSTED_TYPES

if TYPE_CHECKING:
    from ..project import Project

FLAVORS = ("sklearn", "file", "folder", "pickle")
SKLEARN_MODULES = {"sklearn", "numpy", "scipy", "skops"}
PICKLE_WARNING = "unpickling runs code chosen by whoever wrote the bytes"
UNTRUSTED_CACHE = 256
# skops' verdict per type signature (see ``canonical``). Only the early check at registration
# uses it: loading always asks skops, with the pinned list.
_untrusted: dict[frozenset[tuple[str, str]], frozenset[str]] = {}


class UntrustedModelError(UsageError):
    """Loading would need trust the caller did not give (pickle, unlisted skops types)."""


@dataclass(frozen=True)
class Packed:
    """What a flavor produced: its files (bytes or paths on disk) and the modules it needs."""

    flavor: str
    files: list[tuple[str, bytes | Path]]
    modules: set[str]


def _param_modules(obj: Any) -> set[str]:
    """Modules of the object's class and of its (deep) parameters, e.g. a pipeline's steps."""
    modules = {type(obj).__module__}
    get_params = getattr(obj, "get_params", None)
    if callable(get_params):
        try:
            params = get_params(deep=True)
        except Exception:  # a broken third-party get_params: its class module is enough
            params = {}
        modules |= {type(v).__module__ for v in params.values() if v is not None}
    return modules


def is_sklearn(obj: Any) -> bool:
    if type(obj).__module__.startswith("sklearn."):
        return True
    base = sys.modules.get("sklearn.base")
    return base is not None and isinstance(obj, base.BaseEstimator)


def _skops_bytes(obj: Any) -> tuple[bytes | None, str]:
    """skops bytes of ``obj``, or None and why it cannot be saved without pickle."""
    import skops.io

    try:
        data, signature = skops_bytes(obj)
    except (TypeError, ValueError, NotImplementedError) as exc:
        return None, f"skops cannot save it ({str(exc).splitlines()[0]})"
    untrusted = _untrusted.get(signature) if signature is not None else None
    if untrusted is None:
        untrusted = frozenset(skops.io.get_untrusted_types(data=data))
        if signature is not None:
            if len(_untrusted) >= UNTRUSTED_CACHE:
                _untrusted.clear()
            _untrusted[signature] = untrusted
    extra = sorted(untrusted - TRUSTED_TYPES)
    if extra:
        return None, f"it holds types outside mlops_nb's trusted list: {', '.join(extra)}"
    return data, ""


def _pickled(obj: Any, why: str) -> Packed:
    try:
        data = pickle.dumps(obj, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise UsageError(f"cannot save this {type(obj).__name__} ({why}; pickle: {exc})") from None
    return Packed("pickle", [("model.pkl", data)], _param_modules(obj))


def _path_files(path: Path) -> Packed:
    from ..tracking.artifacts import _files_of

    if path.is_file():
        return Packed("file", [(check_relative_path(path.name, "model file name"), path)], set())
    if path.is_dir():
        files = [(check_relative_path(rel, "model file name"), p) for p, rel in _files_of(path)]
        if not files:
            raise UsageError(f"folder {path} is empty: nothing to register")
        return Packed("folder", files, set())
    raise UsageError(f"no file or folder {str(path)!r}: pass a fitted model, a file or a folder")


def pack(obj_or_path: Any, trusted: bool = False) -> Packed:
    """Turn a model object or a path into files, choosing the safest flavor that works."""
    if isinstance(obj_or_path, (str, os.PathLike)):
        return _path_files(Path(obj_or_path))
    obj = obj_or_path
    if is_sklearn(obj):
        data, why = _skops_bytes(obj)
        if data is not None:
            return Packed("sklearn", [("model.skops", data)], SKLEARN_MODULES | _param_modules(obj))
        if trusted:
            return _pickled(obj, why)
        raise UsageError(
            f"cannot save this {type(obj).__name__} without pickle: {why}; pass trusted=True "
            f"to store it as a pickle ({PICKLE_WARNING})"
        )
    if trusted:
        return _pickled(obj, "not a scikit-learn model")
    raise UsageError(
        f"no safe format for a {type(obj).__name__}: register a scikit-learn model, a file or a "
        f"folder, or pass trusted=True to store it as a pickle ({PICKLE_WARNING})"
    )


def _skops_load(data: bytes, ref: str) -> Any:
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return skops.io.loads(data, trusted=sorted(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        types = str(exc).splitlines()[0]
        raise UntrustedModelError(
            f"{ref} was refused: {types} not on mlops_nb's trusted list; re-register it from "
            "a fitted estimator this version of mlops_nb can save"
        ) from None


def unpack(
    project: Project, ref: str, digest: str, manifest: manifests.Manifest, trusted: bool = False
) -> Any:
    """The model object (or, for files/folders, a verified local path). Bytes are verified
    against the manifest before anything is deserialized."""
    flavor = manifest.flavor
    if flavor == "pickle" and not trusted:
        raise UntrustedModelError(
            f"{ref} is a pickle and {PICKLE_WARNING}; pass trusted=True only if you trust who "
            "registered it"
        )
    if flavor in ("file", "folder"):
        folder = manifests.materialize(project, digest, manifest)
        return folder / manifest.files[0].path if flavor == "file" else folder
    if flavor not in FLAVORS or len(manifest.files) != 1:
        raise StoreError(f"{ref} has flavor {flavor!r}, which this mlops_nb cannot load; upgrade")
    data = project.blobs.get_bytes(manifest.files[0].digest, verify=True)
    if flavor == "sklearn":
        return _skops_load(data, ref)
    return pickle.loads(data)
