"""Which kernel runs a notebook, and a registry of the kernels this process started.

Resolution order: an explicit ``--kernel`` (must exist), else the notebook's kernelspec name,
else (with a warning) an installed kernel of the same language: the one running this very
interpreter first, then ``python3``, then the first by name.

Every kernel is registered while it runs so that Ctrl-C, a timeout or a Dask cancellation can
stop it: :func:`kill_kernels` kills the kernel's whole process group (kernels are started in
their own session), and the executing thread then sees a dead kernel and cleans up.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError


@dataclass(frozen=True)
class KernelChoice:
    name: str
    language: str
    warning: str | None = None


def resolve_kernel(
    requested: str | None, notebook_kernel: str | None, language: str | None
) -> KernelChoice:
    from jupyter_client.kernelspec import KernelSpecManager

    manager = KernelSpecManager()
    names = sorted(manager.find_kernel_specs())
    specs = {}
    for name in names:
        try:
            specs[name] = manager.get_kernel_spec(name)
        except Exception:  # a broken kernel.json must not hide the others
            continue
    if requested:
        if requested not in specs:
            raise UsageError(
                f"kernel {requested!r} is not installed (installed: {', '.join(specs) or 'none'});"
                f" install it (`python -m ipykernel install --user --name {requested}`) or pick "
                "an installed one"
            )
        return KernelChoice(requested, specs[requested].language)
    if notebook_kernel in specs:
        return KernelChoice(notebook_kernel, specs[notebook_kernel].language)
    wanted = (language or "python").lower()
    same = [n for n in specs if specs[n].language.lower() == wanted]
    if not same:
        raise UsageError(
            f"no installed kernel runs {wanted} (installed: {', '.join(specs) or 'none'}); "
            "install one or pass --kernel"
        )
    same.sort(key=lambda n: (specs[n].argv[:1] != [sys.executable], n != "python3", n))
    chosen = same[0]
    if notebook_kernel:
        why = f"the notebook's kernel {notebook_kernel!r} is not installed"
    else:
        why = "the notebook names no kernel"
    return KernelChoice(chosen, wanted, f"{why}; using {chosen!r} ({wanted}) instead")


@dataclass
class KernelHandle:
    """A running kernel: its process, and why it was stopped if we stopped it."""

    key: str
    process: Any = None
    stopped: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self, process: Any) -> None:
        with self._lock:
            self.process = process
            stop = self.stopped
        if stop:
            self._kill()

    def stop(self, reason: str) -> None:
        with self._lock:
            self.stopped = self.stopped or reason
        self._kill()

    def _kill(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:  # the kernel's whole process group: what it started goes too
            os.killpg(process.pid, signal.SIGKILL)
        except (AttributeError, ProcessLookupError, PermissionError):  # no killpg on Windows
            process.kill()

    @property
    def exit_description(self) -> str | None:
        """How the kernel process ended (``killed by SIGKILL``), None while it runs."""
        code = None if self.process is None else self.process.poll()
        if code is None:
            return None
        if code < 0:
            name = signal.Signals(-code).name
            hint = " (out of memory?)" if name == "SIGKILL" and not self.stopped else ""
            return f"killed by {name}{hint}"
        return f"exited with code {code}"


_running: dict[str, KernelHandle] = {}
_lock = threading.Lock()


def register(key: str) -> KernelHandle:
    handle = KernelHandle(key)
    with _lock:
        _running[key] = handle
    return handle


def unregister(key: str) -> None:
    with _lock:
        _running.pop(key, None)


def kill_kernels(keys: list[str] | None = None, reason: str = "interrupted") -> int:
    """Stop the kernels of these job keys (all when None); returns how many were stopped."""
    with _lock:
        handles = [h for k, h in _running.items() if keys is None or k in keys]
    for handle in handles:
        handle.stop(reason)
    return len(handles)
