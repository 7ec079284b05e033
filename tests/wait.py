"""Waiting for the bot before checking what it did, and above all what it did not
do: a listener may still be running after its ack, and the outbox goes out to the
fake Slack on the delivery worker's own schedule."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.app import BOT_KEY, Bot


async def settle(bot: Bot) -> None:
    """Wait until the listeners still running after their acks are done and the
    outbox has gone out to the fake Slack."""
    await bot.in_flight.drain(30.0)
    await bot.delivery.drain()


async def settle_bot(client: TestClient) -> None:
    """`settle` for the bot `client` serves, where a test has no `bot` fixture."""
    await settle(client.server.app[BOT_KEY])
