"""Who and where: the acting user (``MLOPS_USER`` overrides the login name) and the host."""

from __future__ import annotations

import getpass
import os
import socket
from functools import lru_cache


def current_user() -> str:
    user = os.environ.get("MLOPS_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


@lru_cache(maxsize=1)
def hostname() -> str:
    return socket.gethostname()
