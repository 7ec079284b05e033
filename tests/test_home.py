"""The App Home tab is published for the person who opened it."""

from __future__ import annotations

import asyncio

from bot.domain.roles import Role
from tests.fake_slack import FakeSlack
from tests.support import grant, post


async def _published(fake_slack: FakeSlack, count: int = 1) -> list:
    for _ in range(200):  # the listener runs after the ack
        if len(fake_slack.calls_to("views.publish")) >= count:
            break
        await asyncio.sleep(0.01)
    return fake_slack.calls_to("views.publish")


def _texts(view: dict) -> str:
    return "\n".join(str(block.get("text", {}).get("text", "")) for block in view["blocks"])


async def test_staff_see_their_role_and_commands(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.ADMIN)
    reply = await post(client, slack.app_home_opened(user_id="U0001"))
    assert reply.status == 200
    [call] = await _published(fake_slack)
    assert call.args["user_id"] == "U0001"
    view = call.args["view"]
    assert view["type"] == "home"
    assert "You are *Admin*" in _texts(view)
    assert "/msp role @person" in _texts(view)
    assert call.headers["Authorization"] == "Bearer xoxb-test"


async def test_strangers_are_told_to_ask_an_admin(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    await post(client, slack.app_home_opened(user_id="U0404"))
    [call] = await _published(fake_slack)
    assert call.args["user_id"] == "U0404"
    assert "Ask an admin of this workspace to add you" in _texts(call.args["view"])
    assert "U0001" not in str(call.args["view"])


async def test_opening_the_messages_tab_publishes_nothing(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    await post(client, slack.app_home_opened(user_id="U0001", tab="messages"))
    await post(client, slack.app_home_opened(user_id="U0001"))
    assert len(await _published(fake_slack)) == 1
