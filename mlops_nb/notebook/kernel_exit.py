"""A clean kernel exit after a shutdown request, in every kernel that loads ``mlops_nb``.

ipykernel's exit has a race that made about one kernel exit in 40 hang until
jupyter_client's SIGTERM, 2.5 s later: after a shutdown request, the control thread flushes
stdout through the iopub thread, and ipykernel's ``close`` (an atexit handler) may stop that
thread first, leaving the flush to wait 10 s while ``close`` waits for the control thread.
"""

from __future__ import annotations

import atexit
import sys
import threading

CONTROL_GRACE_SECONDS = 1.0

_registered = False


def let_control_thread_finish_at_exit() -> None:
    """Register (once) the exit handler below. Registered after ipykernel's own ``close``,
    it runs before it: atexit handlers run last registered first."""
    global _registered
    if not _registered:
        atexit.register(_let_control_thread_finish)
        _registered = True


def _let_control_thread_finish() -> None:
    """On exit after a shutdown request, wait for the control thread to finish replying
    before ipykernel's ``close`` stops the iopub thread it flushes through."""
    kernelapp = sys.modules.get("ipykernel.kernelapp")  # not in a terminal IPython
    if kernelapp is None or not kernelapp.IPKernelApp.initialized():
        return
    app = kernelapp.IPKernelApp.instance()
    control = getattr(app, "control_thread", None)
    requested = getattr(app.kernel, "_shutdown_message", None) is not None
    if requested and control is not None and control is not threading.current_thread():
        control.join(CONTROL_GRACE_SECONDS)
