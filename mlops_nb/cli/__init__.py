"""The ``mlops`` command line. Exit codes: 0 ok, 1 a step/gate/check failed, 2 usage error."""

from __future__ import annotations

import atexit
import gc
import sys

from .app import cli


def main(argv: list[str] | None = None) -> None:
    from ..errors import MlopsError

    # When the process exits, everything is stored. Freezing the heap then spares the
    # interpreter's final garbage collections over it: 0.15-0.3 s once papermill is loaded.
    atexit.register(gc.freeze)

    try:
        cli.main(args=argv, prog_name="mlops", standalone_mode=False)
    except MlopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2 if isinstance(exc, click.UsageError) else 1)
        raise
    sys.exit(0)
