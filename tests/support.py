"""Test helpers: a settable clock, database set-up on each backend, and posting
signed requests to the running app."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner, Result

from bot.cli import cli
from bot.config import Settings
from bot.domain.roles import Role
from bot.services import staff
from storage import migrate
from storage.engine import Database
from tests.slack_requests import SignedRequest

SIGNING_SECRET = "test-signing-secret"
# MSPBOT_ENCRYPTION_KEY of the distribution-mode tests (a Fernet key).
ENCRYPTION_KEY = "gqlOsm7No5i7Abp8-RDeGp5MMkF9QX9dGGD_-LoAIwI="


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


TEAM_ID = "T0001"
POSTGRES_URL_VARIABLE = "MSPBOT_TEST_DATABASE_URL"


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


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


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
    await migrate.upgrade_async(url)
    return Database(url)


async def grant(db: Database, user_id: str, role: Role, *, team_id: str = TEAM_ID) -> None:
    """Give someone a role the way the operator does (CLI path)."""
    async with db.unit_of_work() as session:
        await staff.grant_role_as_operator(
            session,
            team_id=team_id,
            target_user_id=user_id,
            new_role=role,
            timezone="UTC",
            now=datetime.now(UTC),
        )


@dataclass
class Reply:
    status: int
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


async def post(client: TestClient, request: SignedRequest, path: str = "/slack/events") -> Reply:
    response = await client.post(path, data=request.body.encode(), headers=request.headers)
    return Reply(status=response.status, text=await response.text())


def invoke_cli(args: list[str], env: dict[str, str]) -> Result:
    """Run `msp-bot ARGS` in-process, as the operator would in a shell."""
    return CliRunner().invoke(cli, args, env=env)


def cli_rows(env: dict[str, str], model: type) -> list[Any]:
    """Every row of `model` in the database of a `msp-bot` environment, by id: what
    the command line left there (read in an event loop of its own, as the CLI runs)."""

    async def read() -> list[Any]:
        database = Database(env["DATABASE_URL"])
        try:
            async with database.unit_of_work() as session:
                return list((await session.scalars(select(model).order_by(model.id))).all())
        finally:
            await database.dispose()

    return asyncio.run(read())
