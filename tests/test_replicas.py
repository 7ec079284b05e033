"""Two replicas of the bot on one database, as the scale-out deployment runs them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import build_app
from bot.config import Settings
from bot.domain.roles import Role
from storage.engine import Database
from storage.models import Msp, StaffMember
from tests.drive import all_text, post
from tests.seed import grant


@pytest.fixture
async def replicas(
    settings: Settings, db: Database, clock, backend: str
) -> AsyncIterator[tuple[TestClient, TestClient]]:
    """Two apps, each with its own engine and role cache, on the same database."""
    clients = []
    for _ in range(2):
        replica = build_app(
            settings.model_copy(update={"mspbot_role_cache_seconds": 0}),
            clock=clock,
            db=Database(settings.database_url),
        )
        client = TestClient(TestServer(replica.web))
        await client.start_server()
        clients.append(client)
    try:
        yield clients[0], clients[1]
    finally:
        for client in clients:
            await client.close()


async def test_a_role_granted_on_one_replica_works_on_the_other(replicas, slack, db, backend):
    first, second = replicas
    await grant(db, "U0001", Role.OWNER)
    await post(first, slack.slash_command("role <@U0002> admin", user_id="U0001"))
    reply = await post(second, slack.slash_command("whoami", user_id="U0002"))
    assert "*Admin*" in reply.json["blocks"][0]["text"]["text"]
    await post(second, slack.slash_command("role <@U0002> viewer", user_id="U0001"))
    refused = await post(first, slack.slash_command("role <@U0003> viewer", user_id="U0002"))
    assert "You are a viewer, so you cannot use /msp role" in all_text(refused.json["blocks"])


@pytest.mark.parametrize("owners", [frozenset({"U0001"})])
async def test_first_contact_on_both_replicas_at_once_makes_one_msp(
    replicas, slack, db, backend, owners
):
    first, second = replicas
    replies = await asyncio.gather(
        *(
            post(client, slack.slash_command("whoami", user_id="U0001"))
            for client in (first, second, first, second)
        )
    )
    texts = [reply.text for reply in replies]
    assert all("*Owner*" in text for text in texts), texts
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Msp)) == 1
        assert await session.scalar(select(func.count()).select_from(StaffMember)) == 1
