"""Kernels started by the runner exit cleanly after a shutdown request.

ipykernel's exit has a race: after replying to a shutdown request, the control thread flushes
stdout through the iopub thread, while ``close`` (an atexit handler) stops that thread. A
flush handed over as the thread stops is never done, the control thread waits 10 s for it,
``close`` waits for the control thread, and jupyter_client SIGTERMs the kernel after 2.5 s:
about one kernel exit in 40 here. The ``mlops_nb`` extension makes ``close`` wait for the
control thread to finish replying, in runner kernels and in kernels that ``%load_ext`` it.
"""

from __future__ import annotations

import signal

import pytest
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from mlops_nb.pipelines.kernel_manager import start_kernel
from mlops_nb.pipelines.kernels import KernelChoice

# The control thread's first flush after the shutdown request takes 0.3 s longer, and the
# kernel notes whether the control thread was still replying when ``close`` stopped iopub.
WATCH_EXIT = """
def watch_exit(path):  # closures: IPython empties the user namespace before ``close`` runs
    import sys, threading, time
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    iopub = app.iopub_thread
    stop, schedule = iopub.stop, iopub.schedule
    paused = []

    def noting_stop():
        with open(path, "w") as note:
            note.write("replying" if app.control_thread.is_alive() else "done")
        stop()

    def late(callback):
        if (
            threading.current_thread().name == "Control"
            and app.kernel._shutdown_message is not None
            and sys._getframe(1).f_code.co_name == "flush"
            and not paused
        ):
            paused.append(time.sleep(0.3))
        schedule(callback)

    iopub.stop, iopub.schedule = noting_stop, late

watch_exit({path!r})
"""


def execute(client, code: str) -> dict:
    request = client.execute(code)
    while True:
        reply = run_sync(client.get_shell_msg)(timeout=60)
        if reply["parent_header"].get("msg_id") == request:
            return reply


def interactive_kernel(tmp_path) -> AsyncKernelManager:
    """A kernel as JupyterLab starts one, before any ``%load_ext mlops_nb``."""
    manager = AsyncKernelManager(kernel_name="python3")
    run_sync(manager.start_kernel)(cwd=str(tmp_path))
    return manager


def runner_kernel(tmp_path) -> AsyncKernelManager:
    return start_kernel(KernelChoice("python3", "python"), {}, str(tmp_path), tmp_path)


@pytest.mark.parametrize(
    ("start", "setup"),
    [(runner_kernel, ""), (interactive_kernel, "%load_ext mlops_nb")],
    ids=["runner", "interactive"],
)
def test_kernel_stops_iopub_only_after_the_control_thread_replied(project, tmp_path, start, setup):
    note = tmp_path / "control-at-close.txt"
    manager = start(tmp_path)
    client = manager.client()
    client.start_channels()
    try:
        run_sync(client.wait_for_ready)(timeout=60)
        reply = execute(client, setup + "\n" + WATCH_EXIT.format(path=str(note)))
        assert reply["content"]["status"] == "ok", reply["content"]
        process = manager.provisioner.process
        run_sync(manager.shutdown_kernel)()
    finally:
        client.stop_channels()
    assert note.read_text() == "done"
    assert process.returncode == 0, signal.Signals(-process.returncode).name  # not SIGTERM


def test_shutdown_sends_no_interrupt_but_interrupts_still_work(project, tmp_path):
    """jupyter_client sends SIGINT before every shutdown request; a kernel still finishing its
    last reply then printed "KeyboardInterrupt caught in kernel" on the user's console."""
    manager = start_kernel(KernelChoice("python3", "python"), {}, str(tmp_path), tmp_path)
    sent: list[int] = []
    send = manager._async_signal_kernel

    async def recording(signum: int) -> None:
        sent.append(signum)
        await send(signum)

    manager._async_signal_kernel = recording
    client = manager.client()
    client.start_channels()
    try:
        run_sync(client.wait_for_ready)(timeout=60)
        run_sync(manager.interrupt_kernel)()
        assert sent == [signal.SIGINT]
        assert execute(client, "1 + 1")["content"]["status"] == "ok"  # it survived
        process = manager.provisioner.process
        run_sync(manager.shutdown_kernel)()
    finally:
        client.stop_channels()
    assert sent == [signal.SIGINT]  # none at shutdown
    assert process.returncode == 0
