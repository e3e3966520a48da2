"""``version`` (the client/server handshake) and ``experiments`` (the runs tab's selector)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from tornado import web

from ..._version import __version__
from .base import MlopsHandler

# Bumped when a JSON shape changes incompatibly; the sidebar refuses a different number.
API_VERSION = 1


def experiment_names(project: Any) -> list[str]:
    from ...store import schema

    table = schema.experiments
    with project.db.read() as conn:
        return list(conn.execute(sa.select(table.c.name).order_by(table.c.name)).scalars())


class VersionHandler(MlopsHandler):
    @web.authenticated
    async def get(self) -> None:
        project = self.project
        self.reply({"version": __version__, "api": API_VERSION, "project": str(project.root)})


class ExperimentsHandler(MlopsHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply({"experiments": await self.core(experiment_names, self.project)})
