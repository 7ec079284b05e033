"""Another program holding the database's write lock, as a long import or a
backup does: SQLite's, taken with `BEGIN IMMEDIATE` on a connection of its own."""

from __future__ import annotations

import asyncio
import sqlite3
from types import TracebackType

from storage.engine import Database

# Longer than the bot's own busy timeout: a writer that waits for its turn then
# fails, with "database is locked".
TAKE_TIMEOUT_S = 10.0


class SqliteWriteLock:
    """`async with SqliteWriteLock(db):` holds the write lock of `db`'s file; the
    blocking sqlite3 calls run in a thread, away from the event loop."""

    def __init__(self, db: Database) -> None:
        path = db.url.database
        assert db.url.get_backend_name() == "sqlite" and path, "a SQLite file database"
        self.path = path
        self._holder: sqlite3.Connection | None = None

    async def take(self) -> None:
        def begin() -> sqlite3.Connection:
            holder = sqlite3.connect(
                self.path, timeout=TAKE_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            holder.execute("BEGIN IMMEDIATE")
            return holder

        self._holder = await asyncio.to_thread(begin)

    async def release(self) -> None:
        holder, self._holder = self._holder, None
        if holder is not None:

            def end() -> None:
                holder.execute("ROLLBACK")
                holder.close()

            await asyncio.to_thread(end)

    async def __aenter__(self) -> SqliteWriteLock:
        await self.take()
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.release()
