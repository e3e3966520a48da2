"""The ``mlops_nb`` IPython extension as kernels started by ``mlops run`` and pipelines load it.

It is loaded under this module's name (``--IPKernelApp.extra_extensions``), not as
``mlops_nb``, so that a notebook's own ``%load_ext mlops_nb`` still runs quietly: IPython
answers a second load of the same name with an "already loaded" message in the cell's output.
Loading is idempotent, so the notebook's own load attaches to the same run.

It also closes a race in ipykernel's exit that made about one kernel in 40 hang until
jupyter_client's SIGTERM, 2.5 s later: after a shutdown request, the control thread flushes
stdout through the iopub thread, and ipykernel's ``close`` (an atexit handler) may stop that
thread first, leaving the flush to wait 10 s while ``close`` waits for the control thread.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

CONTROL_GRACE_SECONDS = 1.0


def load_ipython_extension(ipython: Any) -> None:
    from ..notebook.extension import load

    load(ipython)
    # Registered after ipykernel's own ``close``, so it runs before it (atexit is LIFO).
    atexit.register(_let_control_thread_finish)


def _let_control_thread_finish() -> None:
    """On exit after a shutdown request, wait for the control thread to finish replying
    before ipykernel's ``close`` stops the iopub thread it flushes through."""
    from ipykernel.kernelapp import IPKernelApp

    if not IPKernelApp.initialized():
        return
    app = IPKernelApp.instance()
    control = getattr(app, "control_thread", None)
    requested = getattr(app.kernel, "_shutdown_message", None) is not None
    if requested and control is not None and control is not threading.current_thread():
        control.join(CONTROL_GRACE_SECONDS)
