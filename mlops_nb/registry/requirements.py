"""The library versions a model needs, read cheaply from installed distribution metadata.

No import scanning and no ``pip freeze``: the flavor names the top-level modules its loader
and the model's classes come from, and each is mapped to its distribution's version.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterable
from functools import cache
from importlib import metadata

# Modules whose distribution has another name; anything else is tried under its own name.
_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "PyYAML",
}
_NOT_INSTALLED = {*sys.stdlib_module_names, "__main__"}


@cache
def _all_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


@cache
def distribution_version(module: str) -> tuple[str, str] | None:
    """``(distribution, version)`` providing top-level ``module``, or None (stdlib, local)."""
    try:  # fast path: the distribution is named like the module
        name = _DISTRIBUTIONS.get(module, module)
        return name, metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
    names = _all_distributions().get(module)  # slow path: scans once per process
    return (names[0], metadata.version(names[0])) if names else None


def requirements(modules: Iterable[str]) -> dict[str, str]:
    """``{"python": "3.11.9", "scikit-learn": "1.6.1", ...}`` for the given top-level modules."""
    found = {"python": platform.python_version()}
    for module in sorted({m.split(".")[0] for m in modules} - _NOT_INSTALLED):
        dist = distribution_version(module)
        if dist is not None:
            found[dist[0]] = dist[1]
    return found
