"""Start a real ``jupyter lab`` on a loopback port, isolated in temp ``JUPYTER_*`` dirs."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "mlops_nb" / "labextension"


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _installed_labextension() -> bool:
    from jupyter_core.paths import jupyter_path

    return any(
        Path(p, "labextensions", "mlops-nb", "package.json").exists() for p in jupyter_path()
    )


def _isolated_env(base: Path) -> dict[str, str]:
    """Temp config/data/runtime dirs; the repo's built extension first on JUPYTER_PATH."""
    env = dict(os.environ)
    dirs = {name: base / name for name in ("config", "data", "runtime", "ipython", "path")}
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        IPYTHONDIR=str(dirs["ipython"]),
    )
    if (BUILT / "package.json").exists():
        (dirs["path"] / "labextensions").mkdir(exist_ok=True)
        (dirs["path"] / "labextensions" / "mlops-nb").symlink_to(BUILT)
        env["JUPYTER_PATH"] = os.pathsep.join(
            filter(None, [str(dirs["path"]), env.get("JUPYTER_PATH")])
        )
    elif not _installed_labextension():
        raise RuntimeError(
            "the mlops-nb labextension is not built: run `npm install && npm run build` in "
            "labextension/ (or `pip install .`)"
        )
    settings = dirs["config"] / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    # Enabled explicitly: a checkout on sys.path has no installed jupyter-config file.
    (dirs["config"] / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"mlops_nb": True}}})
    )
    return env


@contextmanager
def jupyter_lab(
    root: Path, base: Path, extra_env: dict[str, str] | None = None, token: str | None = None
):
    """A running JupyterLab serving ``root`` (with ``token``, else a random one); yields a
    ``Lab``; stopped with SIGTERM."""
    token = token or secrets.token_hex(16)
    port = free_port()
    env = {**_isolated_env(base), **(extra_env or {})}
    log = base / "jupyter-lab.log"
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, token, proc, log)
        yield Lab(url=url, token=token, root=root, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(url: str, token: str, proc: subprocess.Popen, log: Path) -> None:
    request = urllib.request.Request(
        f"{url}/api/status", headers={"Authorization": f"token {token}"}
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"jupyter lab did not start in 90 s:\n{log.read_text()[-3000:]}")
