"""Who the bot serves: MSPBOT_OWNERS bootstraps an MSP with no owner and nothing
more, and a one-workspace bot serves the workspace of its token only. Signed
requests to the real app, the database counted before and after."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from urllib.parse import quote, urlencode

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import build_app
from bot.domain.roles import Role
from bot.ids import ActionId, CallbackId
from bot.server import serve
from storage.engine import Database
from storage.models import AuditEvent, Msp, StaffMember
from tests.drive import Reply, post
from tests.fake_slack import FakeSlack
from tests.seed import grant
from tests.slack_requests import SignedRequest, SlackRequests, sign
from tests.support import SIGNING_SECRET, TEAM_ID
from tests.test_server import free_port
from tests.wait import settle

FOREIGN_TEAM = "T0FOREIGN"
FOREIGN_ORG = "E0FOREIGN"
OTHER_WORKSPACE = "serves another Slack workspace only"
UNCONFIRMED = "cannot confirm its workspace with Slack"


def reply_text(reply: Reply) -> str:
    body = reply.json
    return body.get("text", "") + json.dumps(body.get("blocks", []))


async def staff_roles(db: Database) -> dict[str, str]:
    async with db.unit_of_work() as session:
        members = (await session.scalars(select(StaffMember))).all()
    return {member.slack_user_id: member.role for member in members}


async def bootstrap_grants(db: Database) -> list[str]:
    """Who MSPBOT_OWNERS made owner, in order (the audit of each bootstrap)."""
    async with db.unit_of_work() as session:
        events = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor == "operator:MSPBOT_OWNERS")
            .order_by(AuditEvent.id)
        )
        return [event.entity_id for event in events]


async def row_counts(db: Database) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with db.unit_of_work() as session:
        for model in (Msp, AuditEvent, StaffMember):
            counts[model.__tablename__] = int(
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
    return counts


# ---------------------------------------------------------------- MSPBOT_OWNERS


@pytest.mark.parametrize("owners", [frozenset({"U0042"})])
async def test_a_listed_owner_removed_by_another_owner_stays_removed(client, slack, db, owners):
    first = await post(client, slack.slash_command("whoami", user_id="U0042"))
    assert "Owner" in reply_text(first)
    promoted = await post(client, slack.slash_command("role <@U0001> owner", user_id="U0042"))
    assert ":white_check_mark:" in reply_text(promoted)
    removed = await post(client, slack.slash_command("role <@U0042> none", user_id="U0001"))
    assert ":white_check_mark:" in reply_text(removed)

    again = await post(client, slack.slash_command("whoami", user_id="U0042"))
    assert "Ask an owner or admin of your MSP (<@U0001>)" in reply_text(again)
    assert await staff_roles(db) == {"U0001": "owner"}
    assert await bootstrap_grants(db) == ["U0042"]  # the first contact only


@pytest.mark.parametrize("owners", [frozenset({"U0042"})])
async def test_a_listed_person_joining_an_msp_that_has_an_owner_is_not_made_owner(
    client, slack, db, owners
):
    await grant(db, "U0001", Role.OWNER)
    reply = await post(client, slack.slash_command("whoami", user_id="U0042"))
    assert "Ask an owner or admin of your MSP (<@U0001>)" in reply_text(reply)
    assert await staff_roles(db) == {"U0001": "owner"}
    assert await bootstrap_grants(db) == []
    # An owner can still give them any role, and it sticks.
    await post(client, slack.slash_command("role <@U0042> viewer", user_id="U0001"))
    assert "Viewer" in reply_text(
        await post(client, slack.slash_command("whoami", user_id="U0042"))
    )


@pytest.mark.parametrize("owners", [frozenset({"U0042", "U0043", "U0044"})])
async def test_listed_owners_arriving_at_once_on_a_new_msp_make_one_owner(
    client, slack, db, owners, backend
):
    users = sorted(owners) * 3
    replies = await asyncio.gather(
        *(post(client, slack.slash_command("whoami", user_id=user)) for user in users)
    )
    assert {reply.status for reply in replies} == {200}
    roles = await staff_roles(db)
    [(owner, role)] = roles.items()
    assert role == "owner" and owner in owners
    assert await bootstrap_grants(db) == [owner]
    # Every answer agrees with what the database kept.
    for user, reply in zip(users, replies, strict=True):
        # (Whom to ask may be read before the new owner's row is in: not checked here.)
        expected = "Owner" if user == owner else "You're not on this workspace's MSP staff"
        assert expected in reply_text(reply), (user, owner)


# ---------------------------------------------------------------- one workspace only


def from_origin(
    request: SignedRequest, *, team_id: str | None, enterprise_id: str | None
) -> SignedRequest:
    """The same request as Slack sends it from this workspace (None: no workspace, as
    for an organisation-wide app) in this Enterprise Grid organisation (None: none),
    signed again with the app's secret."""
    payload = copy.deepcopy(request.payload)
    if "command" in payload:
        payload.pop("team_id")
        payload.update({"team_id": team_id} if team_id else {})
        payload.update({"enterprise_id": enterprise_id} if enterprise_id else {})
        payload["is_enterprise_install"] = "false" if team_id else "true"
        body = urlencode(payload)
    elif payload.get("type") == "event_callback":
        payload.update(team_id=team_id, context_team_id=team_id, enterprise_id=enterprise_id)
        payload["authorizations"][0].update(
            team_id=team_id, enterprise_id=enterprise_id, is_enterprise_install=not team_id
        )
        body = json.dumps(payload)
    else:
        team = None if team_id is None else {"id": team_id, "enterprise_id": enterprise_id}
        payload.update(
            team=team,
            enterprise=None if enterprise_id is None else {"id": enterprise_id},
            is_enterprise_install=not team_id,
        )
        payload["user"]["team_id"] = team_id or enterprise_id
        if isinstance(payload.get("view"), dict):
            payload["view"].update(team_id=team_id, app_installed_team_id=team_id)
        body = "payload=" + quote(json.dumps(payload), safe="")
    signed_at = int(time.time())
    headers = {
        **request.headers,
        "X-Slack-Request-Timestamp": str(signed_at),
        "X-Slack-Signature": sign(body, secret=SIGNING_SECRET, timestamp=signed_at),
    }
    return SignedRequest(body=body, headers=headers, payload=payload)


def every_kind(slack: SlackRequests, team_id: str) -> dict[str, SignedRequest]:
    """One request of each kind Slack sends, from `team_id`, by a listed owner."""
    user = "U0001"
    return {
        "command": slack.slash_command("whoami", user_id=user, team_id=team_id),
        "block_actions": slack.block_actions(
            action_id=ActionId.HOME_REFRESH, user_id=user, team_id=team_id
        ),
        "view_submission": slack.view_submission(
            callback_id=CallbackId.ADD_CUSTOMER, values={}, user_id=user, team_id=team_id
        ),
        "block_suggestion": slack.block_suggestion(
            action_id=ActionId.CUSTOMER_SEARCH, value="ac", user_id=user, team_id=team_id
        ),
        "shortcut": slack.global_shortcut(
            callback_id=CallbackId.ADD_CUSTOMER, user_id=user, team_id=team_id
        ),
        "event": slack.app_home_opened(user_id=user, team_id=team_id),
    }


def assert_refused_politely(kind: str, reply: Reply, wording: str = OTHER_WORKSPACE) -> None:
    assert reply.status == 200, (kind, reply.text)
    if kind == "command":
        assert reply.json["response_type"] == "ephemeral"
        assert wording in reply_text(reply)
    elif kind == "block_suggestion":
        assert reply.json == {"options": []}
    else:  # an event, a modal, a shortcut: acknowledged, nothing more
        assert reply.text == "", (kind, reply.text)


@pytest.fixture
def owners() -> frozenset[str]:
    """U0001 is listed: a foreign request of theirs must not make them owner anywhere."""
    return frozenset({"U0001"})


@pytest.mark.parametrize("origin", ["team", "organisation"])
async def test_requests_from_another_workspace_are_refused_and_write_nothing(
    client, slack, db, bot, fake_slack: FakeSlack, origin, backend
):
    before = await row_counts(db)
    requests = every_kind(slack, FOREIGN_TEAM)
    if origin == "organisation":
        requests = {
            kind: from_origin(request, team_id=None, enterprise_id=FOREIGN_ORG)
            for kind, request in requests.items()
        }
    for kind, request in requests.items():
        assert_refused_politely(kind, await post(client, request))
    await settle(bot)

    assert await row_counts(db) == before
    # The click in a message is answered in its response_url; nothing else is sent.
    [answer] = fake_slack.calls_to("response_url")
    assert OTHER_WORKSPACE in answer.args["text"] and answer.args["response_type"] == "ephemeral"
    assert {call.method for call in fake_slack.calls} <= {"auth.test", "response_url"}

    # The bot's own workspace is served as before.
    ours = await post(client, slack.slash_command("whoami", user_id="U0001"))
    assert "Owner" in reply_text(ours)
    assert await staff_roles(db) == {"U0001": "owner"}


async def test_a_foreign_request_for_an_existing_msp_changes_nothing(
    client, slack, db, bot, fake_slack: FakeSlack
):
    """Another workspace's MSP that exists (made by the CLI) is not served either."""
    await grant(db, "U0900", Role.OWNER, team_id=FOREIGN_TEAM)
    before = await row_counts(db)
    reply = await post(client, slack.slash_command("whoami", user_id="U0900", team_id=FOREIGN_TEAM))
    assert OTHER_WORKSPACE in reply_text(reply)
    await post(client, slack.app_home_opened(user_id="U0900", team_id=FOREIGN_TEAM))
    await settle(bot)
    assert await row_counts(db) == before
    assert fake_slack.calls_to("views.publish") == []


@pytest.fixture
def in_an_organisation(fake_slack: FakeSlack) -> str:
    """The bot's workspace belongs to an Enterprise Grid organisation (auth.test says so)."""
    fake_slack.enterprise_id = "E0OURS"
    return fake_slack.enterprise_id


@pytest.mark.parametrize(
    ("team_id", "enterprise_id", "served"),
    [
        (TEAM_ID, "E0OURS", True),
        (TEAM_ID, None, True),  # a payload that leaves the organisation out
        ("T0SIBLING", "E0OURS", False),  # another workspace of the same organisation
        (None, "E0OURS", False),  # the organisation itself: not a workspace token's
        (TEAM_ID, FOREIGN_ORG, False),
    ],
)
async def test_in_an_organisation_only_the_tokens_workspace_is_served(
    in_an_organisation, client, slack, db, team_id, enterprise_id, served
):
    await grant(db, "U0001", Role.OWNER)
    before = await row_counts(db)
    command = slack.slash_command("whoami", user_id="U0001")
    reply = await post(client, from_origin(command, team_id=team_id, enterprise_id=enterprise_id))
    assert ("Owner" if served else OTHER_WORKSPACE) in reply_text(reply)
    assert await row_counts(db) == before


# ---------------------------------------------------------------- auth.test at start-up


@pytest.fixture
async def slow_start(fake_slack: FakeSlack) -> FakeSlack:
    """Slack takes its time over the bot's first auth.test (the start-up one)."""
    fake_slack.fail("auth.test", delay=30)
    return fake_slack


async def _start_up_call_made(fake_slack: FakeSlack) -> None:
    for _ in range(500):
        if fake_slack.calls_to("auth.test"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the bot did not call auth.test at start-up")


async def test_the_bot_asks_slack_for_its_workspace_at_start_up(client, fake_slack: FakeSlack):
    await _start_up_call_made(fake_slack)
    [call] = fake_slack.calls_to("auth.test")
    assert call.token == "xoxb-test"


async def test_until_slack_names_the_workspace_every_request_is_refused(
    slow_start, client, slack, db, bot
):
    await _start_up_call_made(slow_start)
    before = await row_counts(db)
    requests = [
        (kind, request)
        for team in (TEAM_ID, FOREIGN_TEAM)
        for kind, request in every_kind(slack, team).items()
    ]
    # All at once: they wait for the one call under way, then are refused together.
    replies = await asyncio.gather(*(post(client, request) for _, request in requests))
    for (kind, _), reply in zip(requests, replies, strict=True):
        assert_refused_politely(kind, reply, UNCONFIRMED)
    await settle(bot)
    assert await row_counts(db) == before
    assert all(UNCONFIRMED in call.args["text"] for call in slow_start.calls_to("response_url"))


@pytest.fixture
def failed_start(fake_slack: FakeSlack) -> FakeSlack:
    """Slack refuses the bot's first auth.test (the start-up one)."""
    fake_slack.fail("auth.test", error="invalid_auth")
    return fake_slack


async def test_a_failed_start_up_call_is_logged_and_the_next_request_asks_again(
    failed_start, client, slack, db, caplog
):
    [record] = [
        r
        for r in caplog.get_records("setup")
        if r.name == "bot.home_workspace" and r.levelno >= logging.ERROR
    ]
    assert "auth.test failed" in record.getMessage() and "refused" in record.getMessage()
    assert len(failed_start.calls_to("auth.test")) == 1

    foreign = await post(client, slack.slash_command("whoami", team_id=FOREIGN_TEAM))
    assert OTHER_WORKSPACE in reply_text(foreign)
    ours = await post(client, slack.slash_command("whoami", user_id="U0001"))
    assert "Owner" in reply_text(ours)
    assert [msp.team_id for msp in await _msps(db)] == [TEAM_ID]


async def _msps(db: Database) -> list[Msp]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(Msp))).all())


async def test_socket_mode_serves_its_workspace_only(settings, db, clock, slack, fake_slack):
    """`msp-bot run` with SLACK_APP_TOKEN: the same check on Socket Mode envelopes."""
    configured = settings.model_copy(
        update={"host": "127.0.0.1", "port": free_port(), "slack_app_token": SecretStr("xapp-test")}
    )
    bot = build_app(configured, clock=clock, db=db)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(bot, stop=stop))
    try:
        before = await row_counts(db)
        foreign = slack.slash_command("whoami", user_id="U0001", team_id=FOREIGN_TEAM).payload
        ack = await fake_slack.send_socket_mode_envelope("slash_commands", foreign, timeout=10)
        assert OTHER_WORKSPACE in ack["payload"]["text"]
        assert await row_counts(db) == before
        ours = slack.slash_command("whoami", user_id="U0001").payload
        ack = await fake_slack.send_socket_mode_envelope("slash_commands", ours, timeout=10)
        assert ack["payload"]["text"] == "You are an Owner of this MSP"
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
