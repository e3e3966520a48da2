"""Jupyter server extension: the REST API under ``/mlops/api/`` that the sidebar talks to.

Enabled on install through ``jupyter-config/server-config/mlops_nb.json``; the package's
``_jupyter_server_extension_points`` points Jupyter Server at this module.
"""

from __future__ import annotations

from typing import Any


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the handlers on the server's web application."""
    from .routes import setup_handlers

    setup_handlers(server_app.web_app, server_app.root_dir)
    server_app.log.info("mlops_nb: REST API registered under /mlops/api/")


# Older Jupyter Server / Notebook name for the same hook.
load_jupyter_server_extension = _load_jupyter_server_extension
