"""INSERT ... ON CONFLICT DO UPDATE for SQLite and PostgreSQL (both support it natively)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa


class Upsert:
    """Insert rows into ``table``; on a key conflict set ``update`` columns (if ``only_if``),
    or leave the existing row alone when ``update`` is empty.

    The statement is built once per dialect and reused (this sits on the metric hot path).
    """

    def __init__(
        self,
        table: sa.Table,
        keys: Sequence[str],
        update: Sequence[str],
        only_if: Callable[[Any], sa.ColumnElement[bool]] | None = None,
    ):
        self.table, self.keys, self.update, self.only_if = table, list(keys), update, only_if
        self._statements: dict[str, Any] = {}

    def _build(self, dialect: str) -> Any:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - only the two supported backends reach here
            raise NotImplementedError(f"upsert on {dialect}")
        statement = insert(self.table)
        if not self.update:
            return statement.on_conflict_do_nothing(index_elements=self.keys)
        new = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=self.keys,
            set_={column: new[column] for column in self.update},
            where=self.only_if(new) if self.only_if is not None else None,
        )

    def __call__(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        dialect = conn.dialect.name
        statement = self._statements.get(dialect)
        if statement is None:
            statement = self._statements[dialect] = self._build(dialect)
        conn.execute(statement, rows)
