"""``%load_ext mlops_nb``: the ``%mlops`` magic and cell-history capture.

In a kernel started by ``mlops run`` or a pipeline (``MLOPS_RUN_ID`` in the environment),
loading the extension starts recording cells into that run at once, so headless runs get a
cell history and a reproducibility verdict without any ``%mlops track``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import MlopsError
from ..tracking.context import ATTACH_ENV
from .cells import attach_from_environment, capture_for
from .magics import MlopsMagics


def load(ipython: Any) -> None:
    capture = capture_for(ipython)
    if getattr(ipython, "_mlops_magics", None) is None:
        ipython._mlops_magics = MlopsMagics(ipython, capture)
        ipython.register_magics(ipython._mlops_magics)
    try:
        attach_from_environment(ipython)
    except MlopsError as exc:
        print(
            f"mlops: not recording cells into run {os.environ.get(ATTACH_ENV)}: {exc}",
            file=sys.stderr,
        )


def unload(ipython: Any) -> None:
    """Write what was recorded, stop listening to cells, remove the magic."""
    capture = getattr(ipython, "_mlops_capture", None)
    if capture is not None:
        capture.finish()
        capture.unregister()
        ipython._mlops_capture = None
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("mlops", None)
    ipython._mlops_magics = None
