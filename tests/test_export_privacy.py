"""Customer data leaves only to staff: `/msp export customers` goes to the person's
DM with the bot, never to the channel it was typed in, and is acked before it is
built; `/msp mau` and `/msp dashboard share` post nothing in a channel until the
person has clicked a button that names it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Bot
from bot.delivery import outbox
from bot.domain.roles import Role
from bot.ids import ActionId, BlockId
from bot.payloads import ShareTarget
from storage.models import Msp
from tests.drive import all_text, calls_to, post, read_csv
from tests.fake_slack import FakeSlack
from tests.seed import grant, seed_customer, seed_customers
from tests.wait import settle

OWNER, MEMBER = "U0001", "U0003"
CHANNEL = "C0042"
OWNER_DM = "D0001"  # the fake Slack's DM with U0001 (a user id with a D)
# Everything by which the bot could put something in a conversation.
POSTING_METHODS = (
    "chat.postMessage",
    "chat.postEphemeral",
    "files.completeUploadExternal",
    "files.upload",
)


def _conversations_posted_to(fake_slack: FakeSlack) -> set[str]:
    return {
        str(call.args.get("channel") or call.args.get("channel_id") or call.args.get("channels"))
        for method in POSTING_METHODS
        for call in fake_slack.calls_to(method)
    }


def _uploaded_export(fake_slack: FakeSlack) -> bytes:
    [data] = fake_slack.uploaded_files.values()
    return data


# ---------------------------------------------------------------- the export


async def test_the_export_goes_to_the_persons_dm_never_to_the_channel(
    client, slack, db, bot: Bot, fake_slack
):
    await grant(db, OWNER, Role.OWNER)
    seeded = await seed_customers(db, count=3, notes_length=50)
    reply = await post(
        client, slack.slash_command("export customers", user_id=OWNER, channel_id=CHANNEL)
    )
    assert reply.json["response_type"] == "ephemeral"
    assert "arrive in your DM with me" in reply.json["text"]
    await settle(bot)
    [opened] = fake_slack.calls_to("conversations.open")
    assert opened.args["users"] == OWNER
    [complete] = fake_slack.calls_to("files.completeUploadExternal")
    assert complete.args["channel_id"] == OWNER_DM
    assert _conversations_posted_to(fake_slack) == {OWNER_DM}
    assert "the MSP's 3 customers, as of" in complete.args["initial_comment"]
    assert read_csv(_uploaded_export(fake_slack)) == seeded.rows


async def test_a_members_export_holds_their_customers_and_goes_to_their_dm(
    client, slack, db, bot: Bot, fake_slack
):
    await grant(db, OWNER, Role.OWNER)
    await grant(db, MEMBER, Role.MEMBER)
    seeded = await seed_customers(db, count=20, notes_length=50, member=MEMBER)
    await post(client, slack.slash_command("export customers", user_id=MEMBER, channel_id=CHANNEL))
    await settle(bot)
    [complete] = fake_slack.calls_to("files.completeUploadExternal")
    assert complete.args["channel_id"] == "D0003"
    theirs = [row for row in seeded.rows if row["assigned_staff"] == MEMBER]
    assert len(theirs) == 4
    assert read_csv(_uploaded_export(fake_slack)) == theirs
    assert "the 4 customers assigned to you" in complete.args["initial_comment"]


async def test_the_ack_arrives_before_the_export_is_built(client, slack, db, bot: Bot, fake_slack):
    """Slack holds the DM lookup, which the export waits for: the ack must already
    be back with the text, and nothing read or uploaded yet."""
    await grant(db, OWNER, Role.OWNER)
    await seed_customers(db, count=5, notes_length=50)
    gate = fake_slack.hold("conversations.open")
    reply = await post(
        client, slack.slash_command("export customers", user_id=OWNER, channel_id=CHANNEL)
    )
    assert "I'm preparing your customer export" in reply.json["text"]
    await calls_to(fake_slack, "conversations.open")
    assert fake_slack.calls_to("files.getUploadURLExternal") == []
    gate.set()
    await settle(bot)
    [complete] = fake_slack.calls_to("files.completeUploadExternal")
    assert complete.args["channel_id"] == OWNER_DM
    assert len(read_csv(_uploaded_export(fake_slack))) == 5


async def test_a_large_export_is_complete_and_in_name_order(
    client, slack, db, bot: Bot, fake_slack, backend
):
    """10,000 customers with 2,000-character notes (about 24 MB), read in batches:
    every row, every cell, in the same order on both databases (the memory this
    takes is measured by bench/export.py, not here)."""
    await grant(db, OWNER, Role.OWNER)
    seeded = await seed_customers(db, count=10_000, notes_length=2_000)
    await post(client, slack.slash_command("export customers", user_id=OWNER, channel_id=CHANNEL))
    await settle(bot)
    [url_request] = fake_slack.calls_to("files.getUploadURLExternal")
    [complete] = fake_slack.calls_to("files.completeUploadExternal")
    assert complete.args["channel_id"] == OWNER_DM
    data = _uploaded_export(fake_slack)
    assert int(url_request.args["length"]) == len(data) > 20_000_000
    rows = read_csv(data)
    assert len(rows) == 10_000
    assert [row["name"] for row in rows[:10]] == [
        "'-minus",
        "'=SUM(A1)",
        "'@home",
        "A c",
        "a-b",
        "ab",
        "Customer 000000",
        "Customer 000001",
        "Customer 000002",
        "Customer 000003",
    ]
    assert [row["name"] for row in rows[-3:]] == ["Zeta", "éclair", "Émile"]
    assert rows == seeded.rows


async def test_when_the_dm_cannot_be_opened_the_person_is_told_and_nothing_is_sent(
    client, slack, db, bot: Bot, fake_slack
):
    await grant(db, OWNER, Role.OWNER)
    await seed_customers(db, count=2, notes_length=50)
    fake_slack.fail("conversations.open", error="missing_scope")
    await post(client, slack.slash_command("export customers", user_id=OWNER, channel_id=CHANNEL))
    await settle(bot)
    [told] = fake_slack.calls_to("response_url")
    assert told.args["response_type"] == "ephemeral"
    assert "Slack would not open a direct message between us" in told.args["text"]
    assert "the im:write permission" in told.args["text"]
    assert fake_slack.calls_to("files.getUploadURLExternal") == []
    assert _conversations_posted_to(fake_slack) == set()


async def test_when_the_upload_fails_the_person_is_told_and_nothing_goes_elsewhere(
    client, slack, db, bot: Bot, fake_slack
):
    await grant(db, OWNER, Role.OWNER)
    await seed_customers(db, count=2, notes_length=50)
    fake_slack.fail("files.completeUploadExternal", error="not_in_channel")
    await post(client, slack.slash_command("export customers", user_id=OWNER, channel_id=CHANNEL))
    await settle(bot)
    [told] = fake_slack.calls_to("response_url")
    assert "couldn't deliver the customer export to your DM" in told.args["text"]
    assert "not_in_channel" in told.args["text"]
    # No join-and-retry into the channel it was typed in, as the outbox would do.
    assert fake_slack.calls_to("conversations.join") == []
    assert _conversations_posted_to(fake_slack) == {OWNER_DM}


# ---------------------------------------------------------------- /msp mau


def _offer(blocks: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    [block] = [block for block in blocks if block.get("block_id") == block_id]
    return block


async def test_msp_mau_posts_nothing_in_the_channel_until_the_person_clicks(
    client, slack, db, bot: Bot, fake_slack
):
    await grant(db, OWNER, Role.OWNER)
    await seed_customer(db, name="Acme", mau=1_234)
    reply = await post(client, slack.slash_command("mau", user_id=OWNER, channel_id=CHANNEL))
    assert reply.json["response_type"] == "ephemeral"
    offer = _offer(reply.json["blocks"], BlockId.MAU_CHART)
    assert f"for everyone in <#{CHANNEL}>" in offer["text"]["text"]
    assert offer["accessory"]["text"]["text"] == "Post chart in this channel"
    await settle(bot)
    assert _conversations_posted_to(fake_slack) == set()
    assert fake_slack.uploaded_files == {}

    button = offer["accessory"]
    await post(
        client,
        slack.block_actions(
            action_id=button["action_id"],
            block_id=BlockId.MAU_CHART,
            value=button["value"],
            user_id=OWNER,
            channel_id=CHANNEL,
        ),
    )
    await settle(bot)
    [complete] = fake_slack.calls_to("files.completeUploadExternal")
    assert complete.args["channel_id"] == CHANNEL
    [replaced] = fake_slack.calls_to("response_url")
    assert replaced.args["replace_original"] is True
    assert f"being posted in <#{CHANNEL}>" in all_text(replaced.args["blocks"])
    assert ActionId.LICENCE_CHART not in str(replaced.args["blocks"])  # no second post


# ---------------------------------------------------------------- /msp dashboard share


async def test_dashboard_share_previews_and_posts_only_when_confirmed(
    client, slack, db, bot: Bot, fake_slack
):
    await grant(db, OWNER, Role.OWNER)
    await seed_customer(db, name="Acme", users=7)
    reply = await post(
        client, slack.slash_command("dashboard share", user_id=OWNER, channel_id=CHANNEL)
    )
    preview = reply.json
    assert preview["response_type"] == "ephemeral"
    offer = _offer(preview["blocks"], BlockId.DASHBOARD_ACTIONS)
    assert f"everyone in <#{CHANNEL}>" in offer["text"]["text"]
    assert "nothing is posted until you do" in offer["text"]["text"]
    await settle(bot)
    assert _conversations_posted_to(fake_slack) == set()

    button = offer["accessory"]
    assert ShareTarget.decode(button["value"]) == ShareTarget(channel=CHANNEL)
    await post(
        client,
        slack.block_actions(
            action_id=button["action_id"],
            value=button["value"],
            user_id=OWNER,
            channel_id=CHANNEL,
        ),
    )
    await settle(bot)
    [posted] = fake_slack.calls_to("chat.postMessage")
    assert posted.args["channel"] == CHANNEL
    assert posted.args["blocks"] == preview["blocks"][2:]  # what the preview showed


async def test_a_share_button_posts_only_where_it_said(client, slack, db, bot: Bot, fake_slack):
    """A button naming one channel, clicked in another (a forged or copied
    payload), posts nowhere."""
    await grant(db, OWNER, Role.OWNER)
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.DASHBOARD_SHARE,
            value=ShareTarget(channel="C0777").encode(),
            user_id=OWNER,
            channel_id=CHANNEL,
        ),
    )
    # The refusal is answered by the error handler, after the listener: wait for it.
    [told] = await calls_to(fake_slack, "response_url")
    assert "another conversation" in told.args["text"]
    await settle(bot)
    assert _conversations_posted_to(fake_slack) == set()


async def test_the_outbox_refuses_a_file_larger_than_a_chart(db):
    """Queued files keep their bytes in the database for weeks: large ones (an
    export) must be streamed instead."""
    await grant(db, OWNER, Role.OWNER)
    async with db.unit_of_work() as session:
        msp_id = await session.scalar(select(Msp.id))
        with pytest.raises(ValueError, match="too large for the outbox"):
            await outbox.upload_file(
                session,
                msp_id=msp_id,
                key="export:too-large",
                channel=CHANNEL,
                filename="customers.csv",
                content=b"x" * (outbox.MAX_FILE_BYTES + 1),
                title="customers.csv",
            )
