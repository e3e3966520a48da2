"""Who and where: the acting user and the host.

The user is ``MLOPS_USER`` if set, else ``JUPYTERHUB_USER`` (JupyterHub sets it in each user's
server and kernels, whose login name is often the same for everyone, e.g. ``jovyan``), else
the login name.
"""

from __future__ import annotations

import getpass
import os
import socket
from functools import lru_cache


def current_user() -> str:
    for variable in ("MLOPS_USER", "JUPYTERHUB_USER"):
        user = os.environ.get(variable)
        if user:
            return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


@lru_cache(maxsize=1)
def hostname() -> str:
    return socket.gethostname()
