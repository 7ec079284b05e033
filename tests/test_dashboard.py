"""`/msp dashboard [share]`, and the dashboard views against Slack's limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.domain.alerts import AlertStatus, Severity
from bot.domain.roles import Role
from bot.ids import ActionId, BlockId
from bot.results.alerts import AlertInfo
from bot.results.dashboard import (
    Allowances,
    AtThreshold,
    Dashboard,
    DeliveryProblems,
    SilentAgents,
    TrialEnding,
)
from bot.services.dashboard import ALERTS_SHOWN
from bot.views.dashboard import dashboard_message, share_preview_message
from bot.views.home import home_view
from bot.views.limits import MAX_MESSAGE_BLOCKS, MAX_SURFACE_BLOCKS
from tests.drive import all_text, calls_to, moment_shown, post
from tests.seed import grant, seed_customer, set_msp
from tests.wait import settle_bot

TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


async def test_dashboard_answers_the_person_with_the_figures(client, slack, db):
    await grant(db, "U0001", Role.APPROVER)
    await set_msp(db, mau_allowance=100)
    await seed_customer(db, name="Paid One", users=12, mau=150, locations=1)
    await seed_customer(
        db, name="Soon", status="active_trial", users=2, trial_end=TODAY + timedelta(days=3)
    )
    reply = await post(client, slack.slash_command("dashboard"))
    assert reply.status == 200
    answer = reply.json
    assert answer["response_type"] == "ephemeral"
    assert "2 customers, 12 billed users, 150 MAU this month, 1 active trials" in answer["text"]
    text = all_text(answer["blocks"])
    assert "*MAU this month*\n150 of 100 allowed" in text
    assert "*Overage MAU*\n:warning: 50" in text
    assert "Soon" in text and "4 days left" in text  # today and 3 more (R4)
    block_ids = [block.get("block_id") for block in answer["blocks"]]
    assert BlockId.DASHBOARD_ACTIONS in block_ids
    # Approvers cannot add customers: the dashboard offers no Add button to them.
    assert "Add customer" not in str(answer["blocks"])


def _share_button(blocks: list[dict]) -> dict:
    [section] = [block for block in blocks if block.get("block_id") == BlockId.DASHBOARD_ACTIONS]
    return section["accessory"]


async def test_share_posts_the_previewed_dashboard_when_clicked(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.MEMBER)
    await seed_customer(db, name="Mine", users=3, assigned=["U0001"])
    await seed_customer(db, name="Not Mine", users=50)
    reply = await post(client, slack.slash_command("dashboard share", channel_id="C0777"))
    assert reply.status == 200
    preview = reply.json
    assert preview["response_type"] == "ephemeral"
    assert "everyone in <#C0777>" in all_text(preview["blocks"])
    button = _share_button(preview["blocks"])
    assert button["text"]["text"] == "Post in this channel"
    await post(
        client,
        slack.block_actions(
            action_id=button["action_id"], value=button["value"], channel_id="C0777"
        ),
    )
    [call] = await calls_to(fake_slack, "chat.postMessage")
    assert call.args["channel"] == "C0777"
    blocks = call.args["blocks"]
    text = all_text(blocks)
    assert "shared by <@U0001>" in text
    assert "Not Mine" not in str(blocks)
    assert "*Customers*\n1" in text
    # A shared copy has no "Share" button of its own, and is what the preview showed.
    assert ActionId.DASHBOARD_SHARE not in str(blocks)
    assert blocks == preview["blocks"][2:]


async def test_share_button_posts_and_replaces_the_private_copy(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.VIEWER)
    private = await post(client, slack.slash_command("dashboard", channel_id="C0042"))
    assert "posts it for everyone in <#C0042>" in all_text(private.json["blocks"])
    button = _share_button(private.json["blocks"])
    reply = await post(
        client,
        slack.block_actions(
            action_id=button["action_id"],
            value=button["value"],
            channel_id="C0042",
            user_id="U0001",
        ),
    )
    assert reply.status == 200
    [call] = await calls_to(fake_slack, "chat.postMessage")
    assert call.args["channel"] == "C0042"
    [answer] = await calls_to(fake_slack, "response_url")
    assert answer.args["replace_original"] is True
    assert "Posting the dashboard in <#C0042>" in answer.args["text"]


async def test_dashboard_with_unknown_words_says_how_to_use_it(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    reply = await post(client, slack.slash_command("dashboard everything"))
    assert reply.status == 200
    assert "/msp dashboard share" in reply.json["text"]
    await settle_bot(client)
    assert not fake_slack.calls_to("chat.postMessage")


async def test_strangers_get_no_dashboard(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    await seed_customer(db, name="Secret Corp", users=5)
    reply = await post(client, slack.slash_command("dashboard", user_id="U0404"))
    assert "Secret Corp" not in reply.text
    assert "Ask an owner or admin of your MSP (<@U0001>)" in all_text(reply.json["blocks"])


def _huge_dashboard(role: Role, *, whole_msp: bool = True) -> Dashboard:
    long_name = "W" * 80
    return Dashboard(
        role=role,
        whole_msp=whole_msp,
        today=TODAY,
        as_of=NOW,
        customers=10**9,
        billable_users=10**9,
        trial_users=10**9,
        locations=10**9,
        mau=10**9,
        overage=10**9,
        paid=10**9,
        active_trials=10**9,
        expired_trials=10**9,
        trials_ending=[
            TrialEnding(
                id=index + 1,
                account_number="ABCD-EFGH",
                name=long_name,
                trial_end=TODAY,
                days_left=0,
                users=10**9,
            )
            for index in range(10)
        ],
        trials_ending_total=10**9,
        silent_agents=10**9,
        customers_with_silent_agents=10**9,
        silent_agent_customers=[
            SilentAgents(
                id=index + 1,
                account_number="ABCD-EFGH",
                name=long_name,
                reporting=0,
                total=10**9,
            )
            for index in range(5)
        ],
        at_max_mau=[
            AtThreshold(
                id=index + 1,
                account_number="ABCD-EFGH",
                name=long_name,
                mau=10**9,
                threshold=999_999,
            )
            for index in range(5)
        ],
        at_max_mau_total=10**9,
        allowances=Allowances(max_customers=10**9, seat_allowance=10**9, mau_allowance=10**9)
        if whole_msp
        else None,
        delivery=DeliveryProblems(failed=10**9, queued=10**9),
        open_alerts=[_huge_alert(index + 1) for index in range(ALERTS_SHOWN)],
        open_alerts_by_severity={severity.value: 10**9 for severity in Severity},
    )


def _huge_alert(alert_id: int) -> AlertInfo:
    return AlertInfo(
        id=alert_id,
        customer_id=alert_id,
        customer_name="W" * 80,
        kind="k" * 40,
        severity=Severity.CRITICAL,
        title="<" * 200,  # escaped, each becomes four characters
        details="d" * 4000,
        status=AlertStatus.FIRING,
        occurrences=10**9,
        last_seen_at=datetime(2026, 11, 22, tzinfo=UTC),
        links=(),
        acknowledged_by=None,
        snoozed_until=None,
    )


def _texts_within_limits(blocks: list[dict]) -> None:
    for block in blocks:
        text = block.get("text") or {}
        assert len(text.get("text", "")) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
        assert len(block.get("fields", [])) <= 10
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= 75
                assert len(element.get("value", "")) <= 2000


def test_the_largest_dashboard_fits_slacks_limits():
    for role in Role:
        view = home_view(board=_huge_dashboard(role), command="/msp")
        assert len(view["blocks"]) <= MAX_SURFACE_BLOCKS
        _texts_within_limits(view["blocks"])
        board = _huge_dashboard(role)
        for message in (
            dashboard_message(board, share_in="C0001"),
            dashboard_message(board, shared_by="U0001"),
            share_preview_message(board, user_id="U0001", channel_id="C0001"),
        ):
            assert len(message.blocks) <= MAX_MESSAGE_BLOCKS
            assert len(message.text) <= 3000
            _texts_within_limits(message.blocks)
    member_view = home_view(board=_huge_dashboard(Role.MEMBER, whole_msp=False), command="/msp")
    assert "/ 1,000,000,000" not in str(member_view)


def test_the_figures_say_when_they_were_read_in_each_readers_own_zone():
    """A moment, not the MSP's calendar day: read as a day, an MSP ahead of the
    reader said "as of Tomorrow" to anyone west of it."""
    board = _huge_dashboard(Role.ADMIN)
    home = all_text(home_view(board=board, command="/msp")["blocks"])
    message = all_text(dashboard_message(board).blocks)
    assert f"as of {moment_shown(NOW)}" in home, home
    assert f"{moment_shown(NOW)} · the whole MSP" in message, message
