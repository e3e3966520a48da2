"""Errors raised by mlops_nb. Each carries a one-line message naming the problem and the fix."""

from __future__ import annotations


class MlopsError(Exception):
    """Base class: a user-facing error with a one-line, actionable message.

    ``exit_code`` is what the CLI exits with: 1 for a failed step/gate/check, 2 for usage.
    """

    exit_code = 2


class UsageError(MlopsError):
    """Bad input from the caller (a name, a value, a reference, a file)."""


class NotFoundError(UsageError):
    """A run, dataset, model, version or alias that does not exist."""


class StoreError(MlopsError):
    """The store is unusable as it is (corrupt, newer schema, unreachable)."""

    exit_code = 1


class IntegrityError(StoreError):
    """Stored bytes do not match their recorded digest."""


class GateFailed(MlopsError):
    """A gate or check failed (promotion, pipeline gate, data check)."""

    exit_code = 1
