"""Insert-if-absent that is safe when two requests race to create the same row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_ignoring_conflict(
    session: AsyncSession, table: Table, values: dict[str, Any], conflict_columns: list[str]
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike.

    Returns True when this call inserted the row. Column defaults of the model apply.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_columns)
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def insert_returning_id_ignoring_conflict(
    session: AsyncSession,
    table: Table,
    values: dict[str, Any],
    conflict_columns: list[str],
    *,
    index_where: str | None = None,
) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id, on SQLite and PostgreSQL alike.

    The new row's id, or None when a unique index refused it. `index_where` names a
    partial unique index's predicate, word for word, so the database picks that index
    as the arbiter. PostgreSQL makes a concurrent insert of the same key wait for the
    first one's transaction, then do nothing; SQLite has one writer at a time anyway.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=conflict_columns,
            index_where=text(index_where) if index_where is not None else None,
        )
        .returning(table.c.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()
