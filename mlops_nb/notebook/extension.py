"""``%load_ext mlops_nb``: the ``%mlops`` magic and cell-history capture.

In a kernel started by ``mlops run`` or a pipeline (``MLOPS_RUN_ID`` in the environment),
loading the extension starts recording cells into that run at once, so headless runs get a
cell history and a reproducibility verdict without any ``%mlops track``. Loading opens no
store: the magic's implementation is imported on its first use, and a runner's run is looked
up by the capture's writer thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .cells import attach_from_environment, capture_for
from .kernel_exit import let_control_thread_finish_at_exit

if TYPE_CHECKING:
    from .magics import MlopsMagics


def load(ipython: Any) -> None:
    let_control_thread_finish_at_exit()
    capture_for(ipython)
    if getattr(ipython, "_mlops_magics", None) is None:
        ipython.register_magic_function(_magic(ipython), "line_cell", "mlops")
    attach_from_environment(ipython)


def _magic(ipython: Any) -> Callable[..., Any]:
    from IPython.core.magic import no_var_expand

    @no_var_expand
    def mlops(line: str, cell: str | None = None) -> Any:
        """Track runs, log values, snapshot data, register and promote models.

        ``%mlops help`` lists the subcommands; ``%mlops SUB --help`` explains one.
        """
        return magics(ipython).mlops(line, cell)

    return mlops


def magics(ipython: Any) -> MlopsMagics:
    """The ``%mlops`` implementation, made (and put in the stand-in's place) on first use."""
    found = getattr(ipython, "_mlops_magics", None)
    if found is None:
        from .magics import MlopsMagics

        found = ipython._mlops_magics = MlopsMagics(ipython, capture_for(ipython))
        ipython.register_magics(found)
    return found


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
