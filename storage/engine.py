"""The async engine and the unit of work (one transaction per interaction)."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool
from sqlalchemy.util import await_only

SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_POOL_SIZE = 10
SQLITE_POOL_OVERFLOW = 30
SQLITE_WRITERS_TURN_SECONDS = 0.15  # longer than the busy handler's longest wait between tries
# SQLSTATEs of a server that is gone or not there yet: class 08 (connection
# exception), and the server shutting down (57P01 admin, 57P02 crash) or starting
# up (57P03).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
# SQLite's result codes for a lock another connection holds: SQLITE_BUSY (5) and
# SQLITE_LOCKED (6); their extended codes (SQLITE_BUSY_SNAPSHOT...) keep them in
# the low byte.
_SQLITE_LOCK_CODES = (5, 6)
_SQLITE_LOCK_MESSAGES = ("database is locked", "database table is locked")
_BUSY_TIMEOUT_SET = "busy_timeout_ms"  # a SQLite connection's current busy timeout
_WRITER = "holds_writers_turn"  # this SQLite connection has this process's writer's turn
# The statements that make a SQLite transaction a writer (it then holds the file's
# write lock until it ends).
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"})

# Until when (time.monotonic()) a statement may wait for SQLite's lock, for work
# someone waits on with a deadline (a Slack request before its ack); None: the
# full busy timeout. Read when a connection is checked out, in the checking-out
# task's context.
_lock_waits_end: ContextVar[float | None] = ContextVar("lock_waits_end", default=None)


class DatabaseUnavailable(ConnectionError):
    """The database server cannot be reached (refused, reset, timed out)."""


class WritersTurnNotInTime(DatabaseUnavailable):
    """Another transaction of this process kept SQLite's write lock past this one's
    busy timeout: like "database is locked"."""


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database is away (restarting, unreachable), not that
    the statement or the code is wrong: worth "try again in a moment"."""
    if isinstance(error, DatabaseUnavailable | PoolTimeout):
        # PoolTimeout: every connection is taken (by writers waiting for a held
        # lock, or a burst): busy, like a lock.
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated or _is_sqlite_lock(error.orig):
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


def _is_sqlite_lock(orig: BaseException) -> bool:
    """SQLite busy or locked: another connection (a long import, a backup) held the
    lock past the busy timeout. Like a restart, it passes: "try again in a moment"."""
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_LOCK_CODES
    return str(orig).strip().lower() in _SQLITE_LOCK_MESSAGES


def wait_for_locks_until(deadline: float | None) -> None:
    """From now on in this task (and in the tasks it starts), a SQLite statement
    waits for another connection's lock no later than `deadline` (time.monotonic());
    None: as long as the busy timeout. PostgreSQL is not concerned."""
    _lock_waits_end.set(deadline)


def busy_timeout_ms() -> int:
    """How long a statement may wait for a lock, here and now."""
    deadline = _lock_waits_end.get()
    if deadline is None:
        return SQLITE_BUSY_TIMEOUT_MS
    left_ms = int((deadline - time.monotonic()) * 1000)
    return max(0, min(SQLITE_BUSY_TIMEOUT_MS, left_ms))


def root_cause(error: BaseException) -> str:
    """The innermost exception's class, e.g. ConnectionRefusedError: what a log line
    says of a database error (its message may quote the statement's parameters)."""
    while error.__cause__ is not None:
        error = error.__cause__
    return type(error).__name__


def writers_turn_seconds(session: AsyncSession) -> float:
    """How long a long job (an import) pauses between its transactions so that
    writers waiting for the database get their turn.

    SQLite's busy handler lets a waiting writer try again every 100 ms at most, once
    it has waited a little; a job that commits and at once writes again would take
    the lock back every time, and the waiter would run out of its busy timeout.
    PostgreSQL queues the waiters for a row lock in order: no pause."""
    return SQLITE_WRITERS_TURN_SECONDS if session.get_bind().dialect.name == "sqlite" else 0.0


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_in_memory_sqlite(url: str | URL) -> bool:
    parsed = make_url(url)
    return is_sqlite(parsed) and parsed.database in (None, "", ":memory:")


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """Build the engine with the pragmas each backend needs.

    SQLite: WAL so readers never wait for the writer, foreign keys on (off by
    default in SQLite), and a busy timeout so concurrent writers queue instead of
    failing at once. An in-memory database lives on one shared connection, or each
    connection would see an empty database.
    """
    if is_sqlite(url):
        if is_in_memory_sqlite(url):
            kwargs.setdefault("poolclass", StaticPool)
        else:
            # Transactions waiting for their writer's turn each hold a connection;
            # readers (WAL) must still find one. A connection is a file handle and a
            # thread.
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", SQLITE_POOL_OVERFLOW)
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        engine = create_async_engine(url, **kwargs)
        _install_sqlite_pragmas(engine)
        _install_writers_queue(engine)
        return engine
    # A connection the server dropped (a restart) is found out at checkout and
    # replaced, instead of failing the request that gets it.
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    _install_connect_errors(engine)
    return engine


def _install_connect_errors(engine: AsyncEngine) -> None:
    """A refused or failed connection attempt raises DatabaseUnavailable: the driver
    raises plain OSErrors there, which would not say where they came from."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as error:  # refused, reset, unreachable, timed out
            raise DatabaseUnavailable(f"cannot connect to the database ({error})") from error


def _install_sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        record.info[_BUSY_TIMEOUT_SET] = SQLITE_BUSY_TIMEOUT_MS

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # Each transaction waits for the lock only as long as its task may wait
        # (wait_for_locks_until); set only when it changes.
        wanted = busy_timeout_ms()
        if record.info.get(_BUSY_TIMEOUT_SET) != wanted:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={wanted}")
            cursor.close()
            record.info[_BUSY_TIMEOUT_SET] = wanted


def _install_writers_queue(engine: AsyncEngine) -> None:
    """SQLite has one writer at a time. Left to SQLite, the transactions of this
    process that wait for the write lock each poll it from their busy handler (every
    100 ms once they have waited a little): when the lock comes free, whichever polls
    first gets it, the lock stands idle between polls, and under load some wait their
    whole busy timeout while later ones go through. So a transaction takes its turn
    here first, in arrival order, before its first write, and gives it back when it
    commits or rolls back; SQLite's busy timeout then only waits for other programs
    (an import, a backup). Waiting for the turn counts against the same busy timeout
    (busy_timeout_ms: the deadline of a Slack request before its ack)."""
    turn = asyncio.Lock()
    sync_engine = engine.sync_engine
    waiting = _WRITERS_WAITING[sync_engine] = {}

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _take_turn(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.lstrip().split(None, 1)
        if not words or words[0].upper() not in _WRITES or conn.info.get(_WRITER):
            return
        waited_from = time.monotonic()
        wait_s = busy_timeout_ms() / 1000
        token = object()
        waiting[token] = waited_from  # in arrival order: the first waits longest
        try:
            await_only(asyncio.wait_for(turn.acquire(), timeout=wait_s))
        except TimeoutError:
            raise WritersTurnNotInTime(
                f"database is locked: no writer's turn within {wait_s:.1f} s"
            ) from None
        finally:
            del waiting[token]
        conn.info[_WRITER] = True
        if _lock_waits_end.get() is not None and time.monotonic() - waited_from > 0.001:
            # What is left of the deadline also bounds the wait for other programs.
            raw = conn.connection.dbapi_connection.cursor()
            raw.execute(f"PRAGMA busy_timeout={busy_timeout_ms()}")
            raw.close()
            conn.info[_BUSY_TIMEOUT_SET] = None

    def _give_turn_back(info: dict[str, Any]) -> None:
        if info.pop(_WRITER, False):
            turn.release()

    @event.listens_for(sync_engine, "commit")
    def _on_commit(conn: Any) -> None:
        if not conn.invalidated:  # an invalidated one gave it back already
            _give_turn_back(conn.info)

    @event.listens_for(sync_engine, "rollback")
    def _on_rollback(conn: Any) -> None:
        if not conn.invalidated:
            _give_turn_back(conn.info)

    # A connection that ends otherwise (returned, closed, invalidated by a
    # cancellation) gives its turn back too.
    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            _give_turn_back(record.info)

    @event.listens_for(sync_engine, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: Any, _error: Any) -> None:
        _give_turn_back(record.info)

    @event.listens_for(sync_engine, "close")
    def _on_close(_dbapi_connection: Any, record: Any) -> None:
        _give_turn_back(record.info)


# The transactions of this process waiting for their writer's turn, by engine: when
# each began to wait (time.monotonic()), in arrival order.
_WRITERS_WAITING: weakref.WeakKeyDictionary[Any, dict[object, float]] = weakref.WeakKeyDictionary()


def longest_writer_wait_began(engine: AsyncEngine) -> float | None:
    """When the transaction that has waited longest for its writer's turn began to
    wait (time.monotonic()), or None when none waits."""
    waiting = _WRITERS_WAITING.get(engine.sync_engine, {})
    return next(iter(waiting.values()), None)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: services return plain data built from objects after commit.
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """The engine plus its session factory; what the app and the CLI hold on to."""

    def __init__(self, url: str | URL, **engine_kwargs: Any) -> None:
        self.url = make_url(url)
        self.engine = create_engine(self.url, **engine_kwargs)
        self.sessions = create_session_factory(self.engine)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()

    def safe_url(self) -> str:
        """The URL with any password hidden, for logs and messages."""
        return self.url.render_as_string(hide_password=True)
