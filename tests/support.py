"""What the fixtures need: the test workspace, a settable clock, the database on each
backend, and the settings and bot builders."""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import Bot, build_app
from bot.config import Settings
from bot.delivery.limits import DeliveryLimits
from storage import migrate
from storage.engine import Database

SIGNING_SECRET = "test-signing-secret"
# MSPBOT_ENCRYPTION_KEY of the distribution-mode tests (a Fernet key).
ENCRYPTION_KEY = "gqlOsm7No5i7Abp8-RDeGp5MMkF9QX9dGGD_-LoAIwI="
TEAM_ID = "T0001"
POSTGRES_URL_VARIABLE = "MSPBOT_TEST_DATABASE_URL"
TODAY = date(2026, 11, 22)  # the FakeClock's day
NOW_SHOWN = "<!date^1795338000^{date_short_pretty} {time}|22 Nov 2026 09:00 UTC>"  # the clock's
# Many messages to one channel: the tests lift Slack's pacing of a channel.
FAST_DELIVERY = replace(
    DeliveryLimits(), channel_per_second=1000.0, channel_burst=100, poll_seconds=0.01
)


class FakeClock:
    """A clock that stands still until told to move."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.now = moment


def distribution_settings(
    fake_slack: Any, database_url: str, key: str | None = ENCRYPTION_KEY
) -> Settings:
    """Distribution mode (OAuth installs) against the fake Slack, tokens encrypted
    with `key`."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_signing_secret=SIGNING_SECRET,
        slack_client_id=fake_slack.client_id,
        slack_client_secret=fake_slack.client_secret,
        slack_api_url=fake_slack.base_url,
        database_url=database_url,
        mspbot_encryption_key=key,
    )


def fast_bot(settings: Settings, db: Database, clock) -> Bot:
    return build_app(settings, clock=clock, db=db, delivery_limits=FAST_DELIVERY)


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


async def database_of_its_own(url: str, suffix: str) -> str:
    """The URL of a database named after the one at `url` plus `suffix`, on the same
    server, created if it is not there yet."""
    given = make_url(url)
    own = given.set(database=f"{given.database}_{suffix}")
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}
            )
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        await engine.dispose()
    return own.render_as_string(hide_password=False)


async def emptied_postgres(url: str) -> None:
    """A migrated database with no rows, so each test starts from nothing: the
    tables a former test left at the head revision are emptied (identities
    restarted), anything else is dropped and migrated again."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            at_head = await connection.run_sync(migrate.current_revision_of) == (
                migrate.head_revision()
            )
            if at_head:
                tables = (
                    await connection.execute(
                        text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "AND tablename <> 'alembic_version'"
                        )
                    )
                ).scalars()
                listed = ", ".join(f'"{table}"' for table in tables)
                await connection.execute(text(f"TRUNCATE {listed} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
    if not at_head:
        await reset_postgres(url)
        await migrate.upgrade_async(url)


async def reset_postgres(url: str) -> None:
    """An empty public schema, so each test starts from nothing."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def migrated_database(url: str) -> Database:
    """The database at `url` migrated to the head revision. A new SQLite file is a
    copy of a template migrated once per test run (the same bytes a fresh migration
    writes, in a fraction of its time); an existing one, or PostgreSQL, is upgraded
    (nothing to do at the head)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        shutil.copyfile(await _sqlite_template(), path)
    elif path is None and await _postgres_at_head(url):
        pass
    else:
        await migrate.upgrade_async(url)
    return Database(url)


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


_template: Path | None = None


async def _sqlite_template() -> Path:
    """A SQLite database migrated to the head, once per process."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="mspbot-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "template.db"
        await migrate.upgrade_async(f"sqlite+aiosqlite:///{path}")
        with sqlite3.connect(path) as connection:  # everything in the one file
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        _template = path
    return _template


async def _postgres_at_head(url: str) -> bool:
    engine = create_async_engine(url)
    try:
        return await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()
