"""Shared fixtures: the fake Slack, a migrated database (SQLite always, PostgreSQL
when MSPBOT_TEST_DATABASE_URL is set), and the real aiohttp app under test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp.web_app
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Bot, build_app
from bot.config import Settings
from storage.engine import Database
from tests.fake_slack import FakeSlack, running_fake_slack
from tests.slack_guard import forbid_real_slack
from tests.slack_requests import SlackRequests
from tests.support import (
    POSTGRES_URL_VARIABLE,
    SIGNING_SECRET,
    TEAM_ID,
    FakeClock,
    database_of_its_own,
    emptied_postgres,
    migrated_database,
    postgres_url,
    reset_postgres,
)

__all__ = ["forbid_real_slack"]


def pytest_configure(config: pytest.Config) -> None:
    """Tests run in several processes (pytest-xdist) each use a PostgreSQL database
    of their own beside the one given (`test` -> `test_gw0`, `test_gw1`), since each
    test empties the database it starts from. Set in the environment, so what the
    tests start (a bot in a subprocess) finds the same one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    given = postgres_url()
    if worker and given:
        os.environ[POSTGRES_URL_VARIABLE] = asyncio.run(database_of_its_own(given, worker))


@pytest.fixture(autouse=True)
def _no_real_slack(forbid_real_slack: None) -> None:
    """Every test: any call to the real Slack fails it."""


@pytest.fixture(autouse=True)
def _release_served_apps() -> Iterator[None]:
    """Every test: the apps it served are let go afterwards.

    aiohttp keeps each served application's middleware chain in a process-wide
    cache of 1,024 entries, so a test run kept every test's whole bot alive. The
    garbage collector's full passes over them grew with the run, to seconds under
    load; one falling before a listener's ack made Bolt answer 404 ("didn't call
    ack()") in whichever test was running. A served bot serves one test here."""
    yield
    cache = getattr(aiohttp.web_app, "_cached_build_middleware", None)
    if cache is not None:
        cache.cache_clear()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`backend` runs a test on SQLite, and on PostgreSQL too when a server is given."""
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["sqlite", "postgresql"], scope="function")


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
async def database_url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    chosen = request.getfixturevalue("backend") if "backend" in request.fixturenames else "sqlite"
    if chosen == "postgresql":
        url = postgres_url()
        if url is None:
            pytest.skip("PostgreSQL suite: set MSPBOT_TEST_DATABASE_URL to run it")
        if "db" in request.fixturenames:
            await emptied_postgres(url)  # `db` finds it migrated
        else:
            await reset_postgres(url)  # the test migrates it itself, from nothing
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await migrated_database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack(team_id=TEAM_ID) as fake:
        yield fake


@pytest.fixture
def owners() -> frozenset[str]:
    return frozenset()


@pytest.fixture
def settings(fake_slack: FakeSlack, database_url: str, owners: frozenset[str]) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.base_url,
        database_url=database_url,
        mspbot_owners=owners,
    )


@pytest.fixture
async def bot(settings: Settings, db: Database, clock: FakeClock) -> Bot:
    return build_app(settings, clock=clock, db=db)


@pytest.fixture
async def client(bot: Bot) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(bot.web)) as test_client:
        yield test_client


@pytest.fixture
def slack(fake_slack: FakeSlack) -> SlackRequests:
    """Signed requests for the test workspace; response_urls point at the fake."""
    return SlackRequests(
        signing_secret=SIGNING_SECRET, team_id=TEAM_ID, hooks_base_url=fake_slack.hooks_base_url
    )


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for running `msp-bot` commands on a fresh SQLite file."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "MSPBOT_OWNERS",
        "MSPBOT_ENCRYPTION_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", "LOG_LEVEL": "WARNING"}
