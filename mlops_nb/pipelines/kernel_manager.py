"""Starting and stopping the kernel that executes a notebook.

jupyter_client's manager and client, with three changes that matter when every run (and
every sweep point) starts a fresh kernel:

- **Ready without listening for silence.** jupyter_client's ``wait_for_ready`` ends by
  reading iopub until 0.2 s pass with no message: every kernel start idled 0.2 s. Here the
  kernel is ready once a ``kernel_info`` reply and then any iopub message have arrived,
  which proves the iopub subscription is live (the check jupyter_client makes first).
- **Exit polled every 10 ms**, not every 100 ms: exiting takes a kernel 0.1-0.2 s, and every
  run waits for it.
- **No interrupt before a shutdown.** jupyter_client sends SIGINT before every shutdown
  request; a kernel still finishing its last reply logs "KeyboardInterrupt caught in
  kernel" to the console. Executions only end once the notebook is done, so nothing needs
  interrupting (a kill still goes through at once).
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
from functools import cache
from pathlib import Path
from queue import Empty
from typing import Any

from .kernels import KernelChoice

READY_POLL_SECONDS = 0.25  # how often a starting kernel is asked again, and checked for life
IOPUB_PROOF_SECONDS = 0.1  # how long iopub may stay silent after a reply before asking again


def extension_arguments() -> list[str]:
    """Load the mlops_nb IPython extension in the kernel when it is installed."""
    if importlib.util.find_spec("mlops_nb.notebook.extension") is None:
        return []
    return ["--IPKernelApp.extra_extensions=mlops_nb.pipelines.kernel_extension"]


@cache
def manager_class() -> type:
    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Type

    class KernelClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (math.inf if timeout is None else timeout)
            while True:
                request = self.kernel_info()
                reply = await self._reply(request, deadline)
                if reply is not None and await self._iopub_connected():
                    self._handle_kernel_info_reply(reply)
                    return
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

        async def _reply(self, request: str, deadline: float) -> dict[str, Any] | None:
            wait = min(READY_POLL_SECONDS, max(0.0, deadline - time.monotonic()))
            try:
                return await self._async_recv_reply(request, timeout=wait)
            except TimeoutError:
                return None

        async def _iopub_connected(self) -> bool:
            """Whether an iopub message arrives (the kernel's welcome to a new subscriber, or
            a status of the request just sent): then the subscription is live. Whatever else
            is queued is left to nbclient, which reads only messages of its own requests."""
            try:
                await self._async_get_iopub_msg(timeout=IOPUB_PROOF_SECONDS)
            except Empty:
                return False
            return True

    class KernelManager(AsyncKernelManager):
        client_factory = Type(KernelClient, klass=AsyncKernelClient)

        async def _async_finish_shutdown(
            self, waittime: float | None = None, pollinterval: float = 0.01, restart: bool = False
        ) -> None:
            await super()._async_finish_shutdown(waittime, pollinterval, restart)

        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return KernelManager


def start_kernel(kernel: KernelChoice, env: dict[str, str], cwd: str, socket_dir: Path) -> Any:
    """Launch the kernel at once, so it boots while papermill is imported and the notebook
    prepared. IPC sockets in a private folder: no TCP ports to collide with other kernels."""
    from jupyter_core.utils import run_sync

    options: dict[str, Any] = {"kernel_name": kernel.name}
    if os.name == "posix":
        options.update(transport="ipc", ip=str(socket_dir / "kernel"))
    manager = manager_class()(**options)
    arguments = [*extension_arguments(), "--HistoryManager.hist_file=:memory:"]
    env = {**os.environ, **env, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    run_sync(manager.start_kernel)(extra_arguments=arguments, env=env, cwd=cwd)
    return manager


def stop_kernel(manager: Any) -> None:
    """Kill a kernel that is still running (execution never got to shut it down)."""
    from jupyter_core.utils import run_sync

    if manager is not None and manager.has_kernel:
        run_sync(manager.shutdown_kernel)(now=True)
