"""Customer exports under load and failing Slack: many staff (owners and members)
ask for `/msp export customers` at once, from one shared channel, while Slack
refuses some DMs and fails some uploads (the upload URL, its request or the share
in the DM). Every request is acked with where the file
will go; every person either gets exactly the customers they may see in their own
DM, or is told privately why not; nothing reaches the channel; no temporary file is
left open. Figures: docs/RELIABILITY.md.

Marked `resilience`: `.ci/run` runs it after the default suite."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from bot.app import Bot
from bot.domain.roles import Role
from tests.drive import post, read_csv
from tests.fake_slack import UPLOAD_CALL, FakeSlack
from tests.seed import grant, seed_customers
from tests.wait import settle

pytestmark = pytest.mark.resilience
PEOPLE = int(os.environ.get("MSPBOT_EXPORT_PEOPLE", "24"))
CUSTOMERS = 2_000
CHANNEL = "C0042"
MEMBER_OF_SEEDING = "U0100"  # every fifth seeded customer is assigned to this member


def _open_temporary_files() -> int:
    """Files this process holds open in the temporary directory that have no name
    any more: what `tempfile.TemporaryFile` makes (the test's SQLite database lives
    there too, under its name)."""
    where = str(Path(tempfile.gettempdir()).resolve())
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        count += target.startswith(where + "/") and target.endswith(" (deleted)")
    return count


def _told(fake_slack: FakeSlack) -> dict[str, str]:
    """What each person was told through their command's response_url."""
    return {
        call.path.rsplit("/", 1)[-1]: str(call.args.get("text", ""))
        for call in fake_slack.calls_to("response_url")
    }


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
async def test_concurrent_exports_with_slack_failing_reach_only_their_owners(
    client, slack, db, bot: Bot, fake_slack, backend
):
    people = {
        f"U{index + 100:04d}": Role.MEMBER if index % 3 == 0 else Role.OWNER
        for index in range(PEOPLE)
    }
    for user_id, role in people.items():
        await grant(db, user_id, role)
    seeded = await seed_customers(db, count=CUSTOMERS, notes_length=500, member=MEMBER_OF_SEEDING)
    expected = {
        user_id: (
            [row for row in seeded.rows if row["assigned_staff"] == user_id]
            if role == Role.MEMBER
            else seeded.rows
        )
        for user_id, role in people.items()
    }
    fake_slack.fail("conversations.open", error="missing_scope", times=2)
    fake_slack.fail(UPLOAD_CALL, status=500, times=2)  # the upload URL itself
    fake_slack.fail("files.getUploadURLExternal", status=429, retry_after=0, times=1)
    fake_slack.fault_rate("files.completeUploadExternal", 0.25, seed=7, statuses=(500, 503))
    open_before = _open_temporary_files()

    replies = await asyncio.gather(
        *(
            post(
                client,
                slack.slash_command(
                    "export customers",
                    user_id=user_id,
                    channel_id=CHANNEL,
                    response_url=f"{fake_slack.hooks_base_url}commands/T0001/{user_id}",
                ),
            )
            for user_id in people
        )
    )
    assert Counter(reply.status for reply in replies) == {200: PEOPLE}
    assert all("arrive in your DM with me" in reply.json["text"] for reply in replies)
    await settle(bot)

    told = _told(fake_slack)
    for user_id in told:
        assert "Nothing was posted anywhere" in told[user_id], user_id
    shared = {
        call.args["channel_id"]: call.args["files"][0]["id"]
        for call in fake_slack.calls_to("files.completeUploadExternal")
    }
    assert all(channel.startswith("D") for channel in shared), shared
    delivered = set(people) - set(told)
    for user_id in delivered:
        data = fake_slack.uploaded_files[shared["D" + user_id[1:]]]
        assert read_csv(data) == expected[user_id], user_id
    posted_in = {
        str(call.args.get("channel") or call.args.get("channel_id"))
        for method in ("chat.postMessage", "chat.postEphemeral", "files.completeUploadExternal")
        for call in fake_slack.calls_to(method)
    }
    assert CHANNEL not in posted_in
    assert fake_slack.calls_to("conversations.join") == []
    assert _open_temporary_files() == open_before
    print(
        f"\n{PEOPLE} exports at once ({backend}): {len(delivered)} delivered to their DMs, "
        f"{len(told)} told why not, 0 in the channel, 0 temporary files left open"
    )
