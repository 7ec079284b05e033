"""`/msp` end to end: signed slash commands in, the HTTP answer and the database out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain.roles import Role, a_role
from bot.ids import ActionId
from storage.engine import Database
from storage.models import AuditEvent, StaffMember
from tests.drive import all_text, post
from tests.fake_slack import FakeSlack
from tests.seed import grant, seed_customer
from tests.slack_requests import SlackRequests
from tests.wait import settle_bot


def _all_text(reply_json: dict) -> str:
    """Everything a person would read in a reply: fallback text plus block texts."""
    return reply_json.get("text", "") + "\n" + all_text(reply_json.get("blocks", []))


async def _staff_roles(db: Database) -> dict[str, str]:
    async with db.unit_of_work() as session:
        members = (await session.scalars(select(StaffMember))).all()
    return {member.slack_user_id: member.role for member in members}


async def _audit(db: Database) -> list[AuditEvent]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def test_help_is_answered_in_the_http_response(client, slack: SlackRequests, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    reply = await post(client, slack.slash_command("help", user_id="U0001"))
    assert reply.status == 200
    body = reply.json
    assert body["response_type"] == "ephemeral"
    assert body["blocks"][0]["type"] in ("header", "section")
    text = _all_text(body)
    assert "`/msp role` give someone a role" in text
    assert "Owner" in text
    # The answer went back in the HTTP response: nothing was posted to Slack.
    await settle_bot(client)
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_empty_text_means_help(client, slack, db):
    await grant(db, "U0001", Role.VIEWER)
    reply = await post(client, slack.slash_command("", user_id="U0001"))
    assert "MSP Command Center" in _all_text(reply.json)


@pytest.mark.parametrize(
    ("role", "sees_role_command"),
    [
        (Role.OWNER, True),
        (Role.ADMIN, True),
        (Role.APPROVER, False),
        (Role.MEMBER, False),
        (Role.VIEWER, False),
    ],
)
async def test_help_lists_what_the_role_may_do(client, slack, db, role, sees_role_command):
    await grant(db, "U0001", Role.OWNER)
    if role != Role.OWNER:
        await grant(db, "U0002", role)
    user = "U0001" if role == Role.OWNER else "U0002"
    text = _all_text((await post(client, slack.slash_command("help", user_id=user))).json)
    assert ("`/msp role` give someone a role" in text) is sees_role_command
    assert "`/msp whoami`" in text
    assert role.label in text
    # The whole syntax is one level down, for everyone (with whether they may use it).
    topic = _all_text((await post(client, slack.slash_command("help role", user_id=user))).json)
    assert "`/msp role @person owner|admin|approver|member|viewer|none`" in topic
    assert ("cannot use it" in topic) is not sees_role_command
    if not sees_role_command:  # their role in plain words, and who may use it
        assert f"You are {a_role(role)}, so you cannot use it: only owners and admins can." in topic


async def test_help_is_grouped_by_task_with_examples_and_first_steps(client, slack, db):
    await grant(db, "U0001", Role.MEMBER)
    reply = (await post(client, slack.slash_command("help", user_id="U0001"))).json
    headings = [
        block["text"]["text"].split("\n")[0]
        for block in reply["blocks"]
        if block["type"] == "section"
    ]
    assert headings == [
        "*Customers*",
        "*Requests and approvals*",
        "*Alerts and notices*",
        "*Your team and settings*",
    ]
    text = _all_text(reply)
    assert "e.g. `/msp customer Acme`" in text and "`/msp request extend Acme`" in text
    assert "role @ann approver" not in text  # an example a member may not run
    assert "subscribe #noc" not in text and "subscribe me trials" in text  # nor this one
    assert "[severity>=LEVEL]" not in text  # the whole syntax is one level down
    buttons = [
        element["action_id"]
        for block in reply["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert buttons == [ActionId.HOME_ADD_CUSTOMER, ActionId.SUBSCRIPTION_NEW]


async def test_help_for_an_unknown_command_suggests_the_closest(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    text = _all_text(
        (await post(client, slack.slash_command("help subscirbe", user_id="U0001"))).json
    )
    assert "Did you mean `/msp subscribe`?" in text


async def test_people_who_are_not_staff_get_a_friendly_reply_and_no_data(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    await seed_customer(db, name="Secret Corp")
    for text in ("help", "roles", "whoami", "customers", "role <@U0009|eve> owner"):
        reply = await post(client, slack.slash_command(text, user_id="U0404"))
        assert reply.status == 200
        said = _all_text(reply.json)
        # Whom to ask, by name (the one owner), and what they would type.
        assert "Ask an owner or admin of your MSP (<@U0001>) to add you" in said
        assert "they type `/msp role @your-name member`" in said
        assert "Secret Corp" not in said
    assert await _staff_roles(db) == {"U0001": "owner"}


async def test_not_staff_are_told_up_to_three_owners_and_admins_owners_first(client, slack, db):
    for user, role in (
        ("U0010", Role.ADMIN),
        ("U0011", Role.APPROVER),
        ("U0012", Role.OWNER),
        ("U0013", Role.ADMIN),
        ("U0014", Role.ADMIN),
    ):
        await grant(db, user, role)
    reply = await post(client, slack.slash_command("help", user_id="U0404"))
    block = reply.json["blocks"][0]["text"]
    assert block["type"] == "mrkdwn"  # mentions each reader sees as names
    # Approvers give no roles; the fourth manager is left out.
    assert "of your MSP (<@U0012>, <@U0010>, <@U0013>) to add you" in block["text"]
    assert "U0011" not in block["text"] and "U0014" not in block["text"]


async def test_without_owners_or_admins_the_not_staff_are_sent_to_the_operator(client, slack, db):
    await grant(db, "U0011", Role.APPROVER)
    said = _all_text((await post(client, slack.slash_command("help", user_id="U0404"))).json)
    assert "Nobody here is an owner or admin yet: ask the person who runs msp-bot" in said
    assert "/msp role" not in said and "U0011" not in said


async def test_unknown_subcommand_suggests_the_closest(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    reply = (await post(client, slack.slash_command("whomai", user_id="U0001"))).json
    assert "Did you mean `/msp whoami`?" in all_text(reply["blocks"][:1])
    assert "`/msp whoami` your role" in all_text(reply["blocks"][1:])  # help follows
    # The notification says it too, not only that help follows.
    assert "Did you mean" in reply["text"] and "/msp whoami?" in reply["text"]
    assert "commands you can use" not in reply["text"]


async def test_unknown_subcommand_text_is_escaped(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    text = _all_text((await post(client, slack.slash_command("<!channel>", user_id="U0001"))).json)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text


async def test_whoami(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0002", Role.APPROVER)
    text = _all_text((await post(client, slack.slash_command("whoami", user_id="U0002"))).json)
    assert "<@U0002>" in text
    assert "Approver" in text
    assert "approve or deny requests" in text


async def test_roles_lists_staff_by_rank(client, slack, db):
    await grant(db, "U0003", Role.VIEWER)
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0002", Role.ADMIN)
    text = _all_text((await post(client, slack.slash_command("roles", user_id="U0003"))).json)
    assert text.index("<@U0001>") < text.index("<@U0002>") < text.index("<@U0003>")
    assert "Staff and roles (3)" in text


async def test_staff_of_another_workspace_is_never_shown(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U7777", Role.OWNER, team_id="T9999")
    text = _all_text((await post(client, slack.slash_command("roles", user_id="U0001"))).json)
    assert "U7777" not in text
    # And the other workspace's owner has no role here.
    # Whom to ask is this workspace's owner, never the other's.
    other = await post(client, slack.slash_command("roles", user_id="U7777"))
    assert "Ask an owner or admin of your MSP (<@U0001>) to add you" in _all_text(other.json)


async def test_owner_grants_admin_then_admin_may_not(client, slack, db):
    """The issue's acceptance path: CLI owner, then /msp role by that owner and by an admin."""
    await grant(db, "U0001", Role.OWNER)
    reply = await post(client, slack.slash_command("role <@U0002|bob> admin", user_id="U0001"))
    assert "<@U0002> is now *Admin*" in _all_text(reply.json)
    assert (await _staff_roles(db))["U0002"] == "admin"

    refused = await post(client, slack.slash_command("role <@U0003|carol> admin", user_id="U0002"))
    assert "Only an owner can grant the admin role." in _all_text(refused.json)
    assert "U0003" not in await _staff_roles(db)

    events = await _audit(db)
    grants = [e for e in events if e.entity_id == "U0002"]
    assert len(grants) == 1
    assert grants[0].actor == "U0001"
    assert grants[0].action == "role.granted"
    assert grants[0].before is None and grants[0].after == {"role": "admin"}
    assert not [e for e in events if e.entity_id == "U0003"]


async def test_admin_may_grant_lower_roles_and_change_them(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0002", Role.ADMIN)
    for role in ("approver", "member", "viewer"):
        reply = await post(client, slack.slash_command(f"role <@U0003> {role}", user_id="U0002"))
        assert ":white_check_mark:" in _all_text(reply.json)
        assert (await _staff_roles(db))["U0003"] == role
    changes = [e for e in await _audit(db) if e.entity_id == "U0003"]
    assert [e.action for e in changes] == ["role.granted", "role.changed", "role.changed"]
    assert changes[-1].before == {"role": "member"} and changes[-1].after == {"role": "viewer"}


async def test_admin_may_not_touch_owners_or_admins(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0002", Role.ADMIN)
    await grant(db, "U0004", Role.ADMIN)
    demote_owner = await post(client, slack.slash_command("role <@U0001> viewer", user_id="U0002"))
    assert "Only an owner can change the role of an owner." in _all_text(demote_owner.json)
    demote_admin = await post(client, slack.slash_command("role <@U0004> none", user_id="U0002"))
    assert "Only an owner can change the role of an admin." in _all_text(demote_admin.json)
    promote = await post(client, slack.slash_command("role <@U0005> owner", user_id="U0002"))
    assert "Only an owner can grant the owner role." in _all_text(promote.json)
    assert await _staff_roles(db) == {"U0001": "owner", "U0002": "admin", "U0004": "admin"}


@pytest.mark.parametrize("role", [Role.APPROVER, Role.MEMBER, Role.VIEWER])
async def test_other_roles_cannot_change_roles(client, slack, db, role):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0002", role)
    reply = await post(client, slack.slash_command("role <@U0003> viewer", user_id="U0002"))
    said = f"You are {a_role(role)}, so you cannot use /msp role: only owners and admins can."
    assert said in _all_text(reply.json)
    assert "U0003" not in await _staff_roles(db)


async def test_owner_may_grant_owner_and_remove_people(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    await post(client, slack.slash_command("role <@U0002> owner", user_id="U0001"))
    assert (await _staff_roles(db))["U0002"] == "owner"
    reply = await post(client, slack.slash_command("role <@U0001> none", user_id="U0002"))
    assert "<@U0001> is no longer on the staff" in _all_text(reply.json)
    assert await _staff_roles(db) == {"U0002": "owner"}
    assert (await _audit(db))[-1].action == "role.revoked"


async def test_nobody_may_remove_the_last_owner(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    for change in ("admin", "none"):
        reply = await post(client, slack.slash_command(f"role <@U0001> {change}", user_id="U0001"))
        assert "last owner" in _all_text(reply.json)
    assert await _staff_roles(db) == {"U0001": "owner"}
    assert [e.action for e in await _audit(db)] == ["msp.created", "role.granted"]


async def test_same_role_again_changes_nothing(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0002", Role.MEMBER)
    before = len(await _audit(db))
    reply = await post(client, slack.slash_command("role <@U0002> member", user_id="U0001"))
    assert "Nothing changed" in _all_text(reply.json)
    assert len(await _audit(db)) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("role", "Usage: /msp role @person"),
        ("role <@U0002>", "Usage: /msp role @person"),
        ("role bob admin", "Mention the person with @"),
        ("role <@U0002> superuser", "superuser is not a role."),
        ("role <#C0001|general> admin", "Mention the person with @"),
    ],
)
async def test_malformed_role_commands_explain_the_usage(client, slack, db, text, expected):
    await grant(db, "U0001", Role.OWNER)
    reply = await post(client, slack.slash_command(text, user_id="U0001"))
    assert expected in _all_text(reply.json)
    assert await _staff_roles(db) == {"U0001": "owner"}


@pytest.mark.parametrize("owners", [frozenset({"U0042"})])
async def test_configured_owners_become_owners_on_first_contact(client, slack, db, owners):
    reply = await post(client, slack.slash_command("whoami", user_id="U0042"))
    assert "*Owner*" in _all_text(reply.json)
    assert await _staff_roles(db) == {"U0042": "owner"}
    events = await _audit(db)
    assert [(e.action, e.actor) for e in events] == [
        ("msp.created", "system"),
        ("role.granted", "operator:MSPBOT_OWNERS"),
    ]
    # Somebody else is still a stranger.
    stranger = await post(client, slack.slash_command("whoami", user_id="U0043"))
    assert "Ask an owner or admin of your MSP (<@U0042>)" in _all_text(stranger.json)


@pytest.mark.parametrize("owners", [frozenset({"U0042"})])
async def test_configured_owner_keeps_a_role_given_later(client, slack, db, owners):
    await grant(db, "U0042", Role.OWNER)
    await grant(db, "U0001", Role.OWNER)
    await post(client, slack.slash_command("role <@U0042> viewer", user_id="U0001"))
    reply = await post(client, slack.slash_command("whoami", user_id="U0042"))
    assert "*Viewer*" in _all_text(reply.json)


async def test_fake_slack_is_not_called_for_commands(client, slack, db, fake_slack: FakeSlack):
    await grant(db, "U0001", Role.OWNER)
    await post(client, slack.slash_command("roles", user_id="U0001"))
    await settle_bot(client)
    methods = {call.method for call in fake_slack.calls}
    assert methods <= {"auth.test"}


async def test_a_lowered_role_applies_at_once_on_this_replica(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0002", Role.ADMIN)
    # U0002 is now remembered as admin by the requester cache...
    assert "Admin" in _all_text(
        (await post(client, slack.slash_command("whoami", user_id="U0002"))).json
    )
    await post(client, slack.slash_command("role <@U0002> viewer", user_id="U0001"))
    # ...and forgotten when the role changed here.
    reply = await post(client, slack.slash_command("role <@U0003> viewer", user_id="U0002"))
    assert "You are a viewer, so you cannot use /msp role" in _all_text(reply.json)
    removed = await post(client, slack.slash_command("role <@U0002> none", user_id="U0001"))
    assert ":white_check_mark:" in _all_text(removed.json)
    stranger = await post(client, slack.slash_command("whoami", user_id="U0002"))
    assert "Ask an owner or admin of your MSP (<@U0001>)" in _all_text(stranger.json)


async def test_a_role_is_explained_to_you_as_you_and_of_others_as_them(client, slack, db):
    """What a role may do, in plain words: "you can ..." to the person (whoami, help,
    the Home tab), "they can ..." of someone else (a role given)."""
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0004", Role.MEMBER)
    member_can = (
        "you can see and work on the customers assigned to you, add customers, and ask for "
        "changes by request"
    )
    whoami = (await post(client, slack.slash_command("whoami", user_id="U0004"))).json
    assert whoami["text"] == "You are a Member of this MSP"
    assert whoami["blocks"][0]["text"]["text"].startswith(
        f"You are <@U0004>, a *Member* of this workspace's MSP: {member_can}.\n"
    )
    helped = (await post(client, slack.slash_command("help", user_id="U0004"))).json
    assert f"You are a *Member*: {member_can}." in all_text(helped["blocks"])
    given = await post(client, slack.slash_command("role <@U0006|dana> viewer", user_id="U0001"))
    assert given.json["blocks"][0]["text"]["text"] == (
        ":white_check_mark: <@U0006> is now *Viewer*: they can see everything but change nothing."
    )
