"""CI check: every ``/mlops/api`` handler method requires authentication.

Starts a ``ServerApp`` with authentication required and our extension enabled, and fails when
Jupyter Server warns about an endpoint of ours without ``@tornado.web.authenticated`` (or
``@allow_unauthenticated``). Run: ``python tests/check_server_auth.py``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings


def main() -> int:
    with tempfile.TemporaryDirectory() as root:
        for name in ("CONFIG", "DATA", "RUNTIME"):  # keep the user's Jupyter dirs untouched
            os.environ[f"JUPYTER_{name}_DIR"] = os.path.join(root, name.lower())
        from jupyter_server.serverapp import JupyterServerAuthWarning, ServerApp

        app = ServerApp(
            allow_unauthenticated_access=False,
            jpserver_extensions={"mlops_nb": True},
            reraise_server_extension_failures=True,
            root_dir=root,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            app.initialize(argv=[], find_extensions=False, new_httpserver=False)
    if "mlops_root_dir" not in app.web_app.settings:
        print("the mlops_nb server extension did not load")
        return 1
    ours = [
        line.strip()
        for w in caught
        if issubclass(w.category, JupyterServerAuthWarning)
        for line in str(w.message).splitlines()
        if "/mlops/" in line
    ]
    if ours:
        print("unauthenticated mlops_nb endpoints:\n  " + "\n  ".join(ours))
        return 1
    print("ok: every /mlops/api handler method requires authentication")
    return 0


if __name__ == "__main__":
    sys.exit(main())
