"""Alembic environment: runs migrations on the async engine of the configured URL."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.engine import create_engine
from storage.models import Base
from storage.types import UtcDateTime

target_metadata = Base.metadata
MIGRATION_LOCK_KEY = 0x6D7370626F74  # "mspbot"


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write our UtcDateTime as the plain column type it stores, so migrations
    never import application types that may change later."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _database_url() -> str:
    # `alembic -x url=...` for developers; storage.migrate sets sqlalchemy.url.
    return context.get_x_argument(as_dictionary=True).get("url") or (
        context.config.get_main_option("sqlalchemy.url") or ""
    )


async def _run_online() -> None:
    engine = create_engine(_database_url())
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # Replicas starting together each run `msp-bot run`: the first takes
                # this lock and migrates, the others wait, then find nothing to do.
                # Session-level and committed at once, so it covers Alembic's own
                # transaction and the version table check that precedes it.
                await connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                await connection.commit()
            else:
                # Batch mode rebuilds a table (copy, drop, rename): with foreign keys
                # on, dropping `customers` would fire ON DELETE on every row pointing
                # at it (locations, contacts, assignments deleted; requests and
                # alerts detached). SQLite reads this pragma only outside a
                # transaction, so it is set before Alembic begins one.
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await connection.commit()
            await connection.run_sync(_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    asyncio.run(_run_online())
