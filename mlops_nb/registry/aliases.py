"""Model references (``churn``, ``churn@3``, ``churn@production``) and alias rows.

An alias names one version of a model at a time; moving it is a promotion. ``latest``,
plain numbers and ``v<number>`` are reserved because they already select versions.
"""

from __future__ import annotations

import re
import time

import sqlalchemy as sa

from ..errors import NotFoundError, UsageError
from ..names import check_name
from ..store import schema

LATEST = "latest"
_VERSION = re.compile(r"v?([0-9]+)")
REF_HELP = "use NAME, NAME@VERSION or NAME@ALIAS (e.g. churn, churn@3, churn@production)"

_aliases = schema.model_aliases
_name, _alias = sa.bindparam("b_name"), sa.bindparam("b_alias")
# Built once: the hot path only binds values.
_HOLDER = sa.select(_aliases.c.version).where(_aliases.c.name == _name, _aliases.c.alias == _alias)
_OF_VERSION = (
    sa.select(_aliases.c.alias)
    .where(_aliases.c.name == _name, _aliases.c.version == sa.bindparam("b_version"))
    .order_by(_aliases.c.alias)
)
_INSERT = sa.insert(_aliases)
_UPDATE = sa.update(_aliases).where(_aliases.c.name == _name, _aliases.c.alias == _alias)


def check_alias(alias: object) -> str:
    """A valid alias name that does not read as a version."""
    alias = check_name(alias, "alias")
    if alias == LATEST or _VERSION.fullmatch(alias):
        raise UsageError(
            f"alias {alias!r} is reserved ('latest', '3' and 'v3' select versions); "
            "choose a name such as 'staging', 'production' or 'champion'"
        )
    return alias


# The largest number a version can have (the stores keep it as a signed 64-bit integer).
MAX_VERSION = 2**63 - 1


def parse_version(value: object) -> int | str | None:
    """A version selector: an int, ``"3"``/``"v3"`` (-> 3), ``"latest"`` (-> None) or an alias."""
    if isinstance(value, bool):
        raise UsageError(f"version {value!r} is not valid: give a number or an alias")
    if isinstance(value, int):
        if not 1 <= value <= MAX_VERSION:
            raise UsageError(
                f"version {value} is not valid: versions are numbered from 1 (up to {MAX_VERSION})"
            )
        return value
    if not isinstance(value, str) or not value:
        raise UsageError(f"version {value!r} is not valid: give a number or an alias")
    match = _VERSION.fullmatch(value)
    if match:
        return parse_version(int(match.group(1)))
    if value == LATEST:
        return None
    check_name(value, "alias")
    return value


def parse_ref(ref: object) -> tuple[str, int | str | None]:
    """``"churn@production"`` -> ``("churn", "production")``; ``"churn"`` -> ``("churn", None)``."""
    if not isinstance(ref, str) or ref.count("@") > 1 or ref.startswith("@") or ref.endswith("@"):
        raise UsageError(f"model reference {ref!r} is not valid: {REF_HELP}")
    name, _, selector = ref.partition("@")
    try:
        check_name(name, "model name")
        return name, parse_version(selector) if selector else None
    except UsageError as exc:
        raise UsageError(f"model reference {ref!r} is not valid ({exc}); {REF_HELP}") from None


def holder(conn: sa.Connection, name: str, alias: str) -> int | None:
    """The version holding ``alias`` of model ``name``, if any."""
    return conn.execute(_HOLDER, {"b_name": name, "b_alias": alias}).scalar()


def of_version(conn: sa.Connection, name: str, version: int) -> list[str]:
    return list(conn.execute(_OF_VERSION, {"b_name": name, "b_version": version}).scalars())


def of_model(conn: sa.Connection, name: str | None = None) -> dict[tuple[str, int], list[str]]:
    """``{(name, version): [aliases]}`` for one model or all."""
    table = schema.model_aliases
    query = sa.select(table.c.name, table.c.version, table.c.alias).order_by(table.c.alias)
    if name is not None:
        query = query.where(table.c.name == name)
    found: dict[tuple[str, int], list[str]] = {}
    for row in conn.execute(query):
        found.setdefault((row.name, row.version), []).append(row.alias)
    return found


def move(conn: sa.Connection, name: str, alias: str, version: int, previous: int | None) -> None:
    """Point ``alias`` at ``version``; ``previous`` is its current holder (None: unset)."""
    values = {"version": version, "updated_at": time.time()}
    if previous is None:
        conn.execute(_INSERT, {"name": name, "alias": alias, **values})
    else:
        conn.execute(_UPDATE, {"b_name": name, "b_alias": alias, **values})


def remove(conn: sa.Connection, name: str, alias: str) -> int:
    """Delete ``alias``; returns the version that held it (NotFoundError when none did)."""
    previous = holder(conn, name, alias)
    if previous is None:
        raise NotFoundError(f"no version of {name} holds alias {alias!r}")
    table = schema.model_aliases
    conn.execute(sa.delete(table).where(table.c.name == name, table.c.alias == alias))
    return previous
