"""The App Home tab: the Command Center dashboard for staff, drawn when opened or
refreshed, and redrawn once, by one replica, after the MSP's figures change."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta

from bot.domain.roles import Role
from bot.ids import ActionId, BlockId
from bot.notify.home_tabs import refresh_stale_home_tabs
from bot.payloads import ListState
from storage.engine import Database
from storage.models import Alert, Customer
from tests.drive import (
    add_customer,
    all_text,
    ask,
    calls_to,
    post,
    request_ref,
    share_dashboard,
)
from tests.fake_slack import FakeSlack
from tests.rows import request_rows
from tests.seed import (
    ADMIN,
    MEMBER,
    grant,
    grant_staff,
    paid,
    seed_customer,
    set_msp,
    staff_with_home_open,
)
from tests.support import FakeClock
from tests.wait import settle, settle_bot

TODAY = date(2026, 11, 22)  # the FakeClock's day


async def _home_of(client, slack, fake_slack: FakeSlack, user_id: str) -> dict:
    before = len(fake_slack.calls_to("views.publish"))
    reply = await post(client, slack.app_home_opened(user_id=user_id))
    assert reply.status == 200
    calls = await calls_to(fake_slack, "views.publish", before + 1)
    call = calls[before]
    assert call.args["user_id"] == user_id
    view = call.args["view"]
    assert view["type"] == "home"
    return view


def _block(view: dict, block_id: str) -> dict:
    return next(block for block in view["blocks"] if block.get("block_id") == block_id)


def _kpis(view: dict) -> dict[str, str]:
    fields = _block(view, BlockId.HOME_KPIS)["fields"]
    return dict(field["text"].split("\n", 1) for field in fields)


def _list_buttons(view: dict) -> dict[str, str]:
    return {
        element["text"]["text"]: element.get("value", "")
        for element in _block(view, BlockId.HOME_LISTS)["elements"]
    }


async def _seed_msp(db: Database) -> None:
    """Figures chosen so every KPI differs from every other."""
    await set_msp(db, max_customers=250, seat_allowance=900, mau_allowance=1000)
    await seed_customer(db, name="Paid One", users=40, locations=2, mau=700, agents=(3, 5))
    await seed_customer(
        db, name="Cancelling", status="pending_cancellation", users=7, locations=1, mau=450
    )
    await seed_customer(
        db, name="Trial Today", status="active_trial", users=3, trial_end=TODAY, mau=20
    )
    await seed_customer(
        db,
        name="Trial Week",
        status="active_trial",
        users=5,
        trial_end=TODAY + timedelta(days=7),
        agents=(0, 2),
    )
    await seed_customer(
        db, name="Trial Later", status="active_trial", users=11, trial_end=TODAY + timedelta(8)
    )
    await seed_customer(db, name="Expired", status="expired_trial", users=2, trial_end=TODAY)
    await seed_customer(db, name="Gone", status="deleted", users=99, locations=4)
    # Last month's usage does not count as this month's.
    await seed_customer(db, name="Free", status="free", users=1, mau=9999, month=date(2026, 10, 1))


async def test_owner_sees_the_whole_msp_figures(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    await _seed_msp(db)
    view = await _home_of(client, slack, fake_slack, "U0001")

    assert _kpis(view) == {
        "*Customers*": "7 of 250 allowed",  # the deleted one does not count (R3)
        "*Active users (billed)*": "47 of 900 seats",  # R5: paid and pending cancellation only
        "*Trial users*": "19",
        "*Locations*": "3",
        "*MAU this month*": "1,170 of 1,000 allowed",
        "*Overage MAU*": ":warning: 170",  # R19
    }
    buttons = _list_buttons(view)
    assert set(buttons) == {
        "Paid Subscriptions (2)",
        "Active Trials (3)",
        "Expired Trials (1)",
        "Add customer",
    }
    assert ListState.decode(buttons["Active Trials (3)"]).filter == "trials"
    text = all_text(view["blocks"])
    assert "*Trials ending in the next 7 days* (2)" in text
    assert "Trial Today" in text and "ends today" in text
    assert "Trial Week" in text and "8 days left" in text  # today and 7 more (R4)
    assert "Trial Later" not in text
    assert "*Agents not reporting*: 4 at 2 customers" in text
    assert "2 of 5 silent" in text and "2 of 2 silent" in text
    assert (
        "You are an *Owner*: you can do everything, including making someone an admin or owner"
        " · Figures for the whole MSP"
    ) in text
    assert "could not be delivered" not in text


async def test_no_overage_when_exactly_at_the_allowance(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.ADMIN)
    await set_msp(db, mau_allowance=700)
    await seed_customer(db, name="Paid One", users=40, mau=700)
    view = await _home_of(client, slack, fake_slack, "U0001")
    assert _kpis(view)["*MAU this month*"] == "700 of 700 allowed"
    assert _kpis(view)["*Overage MAU*"] == "0"


async def test_a_member_sees_only_assigned_customers_and_no_allowances(
    client, slack, db, fake_slack
):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0005", Role.MEMBER)
    await _seed_msp(db)
    await seed_customer(
        db, name="Mine", users=4, locations=1, mau=33, agents=(1, 2), assigned=["U0005"]
    )
    await seed_customer(
        db,
        name="My Trial",
        status="active_trial",
        users=2,
        trial_end=TODAY + timedelta(days=1),
        assigned=["U0005"],
    )
    view = await _home_of(client, slack, fake_slack, "U0005")
    assert _kpis(view) == {
        "*Customers*": "2",
        "*Active users (billed)*": "4",
        "*Trial users*": "2",
        "*Locations*": "1",
        "*MAU this month*": "33",
    }
    text = all_text(view["blocks"])
    assert "My Trial" in text and "Trial Today" not in text and "Paid One" not in text
    assert "customers assigned to you" in text
    assert "Add customer" in _list_buttons(view)


def _threshold_rows(view: dict) -> list[str]:
    """The customer names listed under the max-MAU heading, in order."""
    blocks = view["blocks"]
    start = next(
        index
        for index, block in enumerate(blocks)
        if "At their max-MAU threshold" in block.get("text", {}).get("text", "")
    )
    rows = []
    for block in blocks[start + 1 :]:
        if block["type"] != "section" or "fields" not in block:
            break
        rows.append(block["fields"][0]["text"].split(" · ")[0])
    return rows


async def test_customers_at_their_max_mau_threshold_are_listed_furthest_over_first(
    client, slack, db, fake_slack, backend
):
    """R20: at or over the threshold this month blocks new end users; a threshold
    of 1,000,000 never blocks; last month's usage and deleted customers don't count."""
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0900", Role.OWNER, team_id="T0900")
    await seed_customer(db, name="Exactly At", max_mau=50, mau=50)
    await seed_customer(db, name="Far Over", max_mau=100, mau=120)
    await seed_customer(db, name="Just Under", max_mau=100, mau=99)
    await seed_customer(db, name="Never Blocks", mau=2_000_000)
    await seed_customer(db, name="Last Month", max_mau=10, mau=500, month=date(2026, 10, 1))
    await seed_customer(db, name="Gone", status="deleted", max_mau=1, mau=5)
    await seed_customer(db, name="Theirs", team_id="T0900", max_mau=1, mau=5)
    view = await _home_of(client, slack, fake_slack, "U0001")
    text = all_text(view["blocks"])
    assert ":no_entry: *At their max-MAU threshold*: 2 customers" in text
    assert _threshold_rows(view) == ["Far Over", "Exactly At"]
    assert "120 MAU this month · threshold 100" in text
    assert "50 MAU this month · threshold 50" in text


async def test_a_member_sees_only_their_customers_at_the_threshold(
    client, slack, db, fake_slack, backend
):
    await grant(db, "U0005", Role.MEMBER)
    await seed_customer(db, name="Mine", max_mau=10, mau=10, assigned=["U0005"])
    await seed_customer(db, name="Not Mine", max_mau=10, mau=90)
    view = await _home_of(client, slack, fake_slack, "U0005")
    assert ": 1 customer: new end users are blocked" in all_text(view["blocks"])
    assert _threshold_rows(view) == ["Mine"]


async def test_more_customers_at_the_threshold_than_shown_are_counted(
    client, slack, db, fake_slack
):
    await grant(db, "U0001", Role.OWNER)
    for index in range(7):
        await seed_customer(db, name=f"Busy {index}", max_mau=100, mau=100 + index)
    view = await _home_of(client, slack, fake_slack, "U0001")
    assert _threshold_rows(view) == ["Busy 6", "Busy 5", "Busy 4", "Busy 3", "Busy 2"]
    assert "…and 2 more (furthest over shown)." in all_text(view["blocks"])


async def test_no_threshold_section_when_nobody_is_blocked(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    await seed_customer(db, name="Quiet", max_mau=100, mau=3)
    view = await _home_of(client, slack, fake_slack, "U0001")
    assert "max-MAU threshold" not in all_text(view["blocks"])


async def test_viewers_cannot_add_and_admins_see_delivery_problems(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.ADMIN)
    await grant(db, "U0002", Role.VIEWER)
    fake_slack.fail("chat.postMessage", error="channel_not_found", times=1)
    await share_dashboard(client, slack, user_id="U0001")
    await calls_to(fake_slack, "chat.postMessage")
    for _ in range(100):  # the worker records the failure after the call
        view = await _home_of(client, slack, fake_slack, "U0001")
        if "could not be delivered" in all_text(view["blocks"]):
            break
        await asyncio.sleep(0.02)
    assert "*1 message could not be delivered*" in all_text(view["blocks"])
    viewer_view = await _home_of(client, slack, fake_slack, "U0002")
    assert "could not be delivered" not in all_text(viewer_view["blocks"])
    assert "Add customer" not in _list_buttons(viewer_view)


async def test_more_trials_than_shown_are_counted(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    for index in range(13):
        await seed_customer(db, name=f"Trial {index:02d}", status="active_trial", trial_end=TODAY)
    view = await _home_of(client, slack, fake_slack, "U0001")
    text = all_text(view["blocks"])
    assert "(13)" in text and "…and 3 more" in text
    assert "Trial 09" in text and "Trial 10" not in text


async def test_other_workspaces_figures_never_show(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0900", Role.OWNER, team_id="T0900")
    await seed_customer(db, name="Theirs", team_id="T0900", users=500, mau=800, locations=3)
    view = await _home_of(client, slack, fake_slack, "U0001")
    assert _kpis(view)["*Customers*"] == "0 of 100 allowed"
    assert _kpis(view)["*MAU this month*"] == "0 · no allowance yet"
    assert "Theirs" not in json.dumps(view)


async def test_strangers_are_told_whom_to_ask_by_name(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0002", Role.APPROVER)
    await seed_customer(db, name="Secret Corp", users=5)
    view = await _home_of(client, slack, fake_slack, "U0404")
    [body] = [block for block in view["blocks"] if block.get("block_id") == BlockId.HOME_BODY]
    assert body["text"]["type"] == "mrkdwn"  # the owner as a name, not as <@U0001>
    assert body["text"]["text"].endswith(
        "Ask an owner or admin of your MSP (<@U0001>) to add you: they type "
        "`/msp role @your-name member`."
    )
    # Only whom to ask: no figures, no customers, no one who cannot give a role.
    assert "Secret Corp" not in str(view) and "U0002" not in str(view)


async def test_opening_the_messages_tab_publishes_nothing(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    await post(client, slack.app_home_opened(user_id="U0001", tab="messages"))
    await post(client, slack.app_home_opened(user_id="U0001"))
    await asyncio.sleep(0.1)
    await settle_bot(client)
    assert len(await calls_to(fake_slack, "views.publish")) == 1


async def test_refresh_button_redraws_with_new_figures(client, slack, db, fake_slack):
    await grant(db, "U0001", Role.OWNER)
    view = await _home_of(client, slack, fake_slack, "U0001")
    assert _kpis(view)["*Customers*"] == "0 of 100 allowed"
    await seed_customer(db, name="New One")
    reply = await post(
        client,
        slack.block_actions(
            action_id=ActionId.HOME_REFRESH, value="", user_id="U0001", view={"type": "home"}
        ),
    )
    assert reply.status == 200
    [_, refreshed] = await calls_to(fake_slack, "views.publish", 2)
    assert _kpis(refreshed.args["view"])["*Customers*"] == "1 of 100 allowed"


async def test_changes_redraw_the_tabs_of_recent_viewers_once(
    client, slack, db, fake_slack, clock: FakeClock
):
    await staff_with_home_open(db, {"U0001": Role.OWNER, "U0002": Role.VIEWER}, opened_at=clock.now)
    await staff_with_home_open(db, {"U0003": Role.ADMIN}, opened_at=clock.now - timedelta(days=31))
    await set_msp(db, home_stale_since=None)  # granting roles made it stale
    await add_customer(client, slack, user_id="U0001", name="Fresh Co")
    wake = []

    # Nothing before the changes have settled...
    assert await refresh_stale_home_tabs(db=db, clock=clock, wake=lambda: wake.append(1)) == 0
    clock.advance(seconds=3)
    # ...then one redraw per recent viewer, and nothing more until the next change.
    assert await refresh_stale_home_tabs(db=db, clock=clock, wake=lambda: wake.append(1)) == 2
    assert await refresh_stale_home_tabs(db=db, clock=clock, wake=lambda: wake.append(1)) == 0
    assert wake == [1]
    await settle_bot(client)
    calls = await calls_to(fake_slack, "views.publish", 2)
    assert sorted(call.args["user_id"] for call in calls) == ["U0001", "U0002"]
    assert all(_kpis(call.args["view"])["*Customers*"].startswith("1") for call in calls)


async def test_two_replicas_refreshing_at_once_redraw_once(backend, db, clock: FakeClock):
    await staff_with_home_open(db, {"U0001": Role.OWNER, "U0005": Role.MEMBER}, opened_at=clock.now)
    await seed_customer(db, name="Mine", users=4, assigned=["U0005"])
    await set_msp(db, home_stale_since=clock.now - timedelta(minutes=1))
    queued = await asyncio.gather(
        *(refresh_stale_home_tabs(db=db, clock=clock, wake=lambda: None) for _ in range(4))
    )
    assert sorted(queued) == [0, 0, 0, 2]


async def test_opening_the_tab_makes_a_person_a_viewer(client, slack, db, fake_slack, clock):
    await grant(db, "U0001", Role.OWNER)
    await _home_of(client, slack, fake_slack, "U0001")
    await set_msp(db, home_stale_since=datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    assert await refresh_stale_home_tabs(db=db, clock=clock, wake=lambda: None) == 1


async def test_open_alerts_come_first_worst_first_with_their_menus(
    client, slack, db, fake_slack, clock: FakeClock
):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0004", Role.MEMBER)
    acme = await seed_customer(db, name="Acme")
    globex = await seed_customer(db, name="Globex", assigned=["U0004"])
    rows = [
        (acme, "low", "firing", "Printer low on toner"),
        (globex, "critical", "acknowledged", "Firewall <down>"),
        (acme, "high", "snoozed", "Backup failed"),
        (acme, "medium", "firing", "Disk 80%"),
        (acme, "critical", "resolved", "Old news"),
    ]
    async with db.unit_of_work() as session:
        msp_id = (await session.get(Customer, acme)).msp_id
        for n, (customer_id, severity, status, title) in enumerate(rows):
            session.add(
                Alert(
                    msp_id=msp_id,
                    customer_id=customer_id,
                    customer_name="x",
                    kind="k",
                    severity=severity,
                    title=title,
                    dedup_key=f"k{n}",
                    status=status,
                    source="api",
                    occurred_at=clock(),
                    first_seen_at=clock(),
                    last_seen_at=clock(),
                    updated_at=clock(),
                )
            )
    view = await _home_of(client, slack, fake_slack, "U0001")
    text = all_text(view["blocks"])
    opened = next(n for n, b in enumerate(view["blocks"]) if "*Open alerts* (4)" in str(b))
    kpis = next(n for n, b in enumerate(view["blocks"]) if b.get("block_id") == BlockId.HOME_KPIS)
    assert opened < kpis  # what needs someone now comes first
    assert "1 critical" in text and "1 high" in text and "1 medium" in text and "1 low" in text
    shown = [line for line in text.splitlines() if any(r[3][:6] in line for r in rows)]
    assert "Firewall &lt;down&gt;" in shown[0] and "Backup failed" in shown[1]
    assert "Disk 80%" in shown[2] and "Printer" not in text and "Old news" not in text
    assert "…and 1 more: `/msp alerts`." in text
    menus = [b["accessory"]["action_id"] for b in view["blocks"] if b.get("accessory")]
    assert menus.count(ActionId.ALERT_ROW_MENU) == 3
    # A member sees their assigned customers' alerts only.
    member = all_text((await _home_of(client, slack, fake_slack, "U0004"))["blocks"])
    assert "*Open alerts* (1)" in member and "Backup failed" not in member


def _buttons(view: dict) -> list[str]:
    return [
        element["action_id"]
        for block in view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


async def test_a_new_msps_home_shows_first_steps_not_a_wall_of_syntax(
    client, slack, db, fake_slack
):
    await grant(db, "U0001", Role.OWNER)
    view = await _home_of(client, slack, fake_slack, "U0001")
    text = all_text(view["blocks"])
    assert "*First steps*" in text and "msp-bot customers import" in text
    assert _buttons(view)[:2] == [ActionId.HOME_ADD_CUSTOMER, ActionId.SUBSCRIPTION_NEW]
    assert _buttons(view).count(ActionId.HOME_ADD_CUSTOMER) == 1
    assert "[severity>=LEVEL]" not in text and "`/msp help` lists what you can do" in text

    await seed_customer(db, name="Acme")
    later = await _home_of(client, slack, fake_slack, "U0001")
    assert "First steps" not in all_text(later["blocks"])


# ---------------------------------------------------------------- requests waiting


def _kinds(view: dict) -> list[str]:
    return [block["type"] for block in view["blocks"]]


async def test_a_members_own_requests_wait_above_the_figures_with_withdraw(
    client, slack, db, fake_slack, bot
):
    """Where an approver sees the requests to decide, a member sees theirs: above
    the figures, as theirs (no mention of themselves), each with Withdraw; and never
    two dividers in a row."""
    await grant_staff(db)
    await paid(db, assigned=[MEMBER], agents_reporting=9, agents_total=10)
    await seed_customer(db, name="Trialling", status="active_trial", trial_end=TODAY)
    mine = await ask(
        client, slack, fake_slack, "add-licences Northwind", **{BlockId.REQUEST_LICENCES: "5"}
    )
    await ask(client, slack, fake_slack, "extend Trialling", ADMIN)
    view = await _home_of(client, slack, fake_slack, MEMBER)

    kinds = _kinds(view)
    assert not [i for i in range(1, len(kinds)) if kinds[i] == kinds[i - 1] == "divider"], kinds
    texts = [(block.get("text") or {}).get("text", "") for block in view["blocks"]]
    waiting = texts.index(":hourglass_flowing_sand: *Your requests waiting* (1)")
    figures = [block.get("block_id") for block in view["blocks"]].index(BlockId.HOME_KPIS)
    assert waiting < figures
    row = view["blocks"][waiting + 1]
    assert row["text"]["text"] == f"*#{mine.request_id} Add licences*: +5 licences · Northwind"
    withdraw = row["accessory"]
    assert withdraw["action_id"] == ActionId.REQUEST_WITHDRAW
    assert withdraw["confirm"]["title"]["text"] == f"Withdraw request #{mine.request_id}?"
    assert withdraw["confirm"]["text"] == {
        "type": "plain_text",
        "text": "Add licences: +5 licences for Northwind. The approvers will no longer see it.",
    }
    assert MEMBER not in json.dumps(view)  # the member is never mentioned to themselves

    # Withdraw works from there; the tab drawn next has nothing waiting.
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_WITHDRAW,
            value=withdraw["value"],
            user_id=MEMBER,
            channel_id=None,
            view={"type": "home"},
        ),
    )
    await settle(bot)
    [request, _] = await request_rows(db)
    assert request.status == "withdrawn"
    redrawn = await _home_of(client, slack, fake_slack, MEMBER)
    assert "Your requests waiting" not in all_text(redrawn["blocks"])


async def test_an_approvers_own_request_is_asked_by_you(client, slack, db, fake_slack):
    """Those who decide see every request waiting, each with Review (one's own review
    offers Withdraw); their own say "asked by you", the others name who asked."""
    await grant_staff(db)
    await paid(db, assigned=[MEMBER])
    await seed_customer(db, name="Trialling", status="active_trial", trial_end=TODAY)
    theirs = await ask(
        client, slack, fake_slack, "add-licences Northwind", **{BlockId.REQUEST_LICENCES: "5"}
    )
    own = await ask(client, slack, fake_slack, "extend Trialling", ADMIN)
    view = await _home_of(client, slack, fake_slack, ADMIN)
    rows = {
        block["accessory"]["value"]: block["text"]["text"]
        for block in view["blocks"]
        if (block.get("accessory") or {}).get("action_id") == ActionId.REQUEST_REVIEW
    }
    assert rows[request_ref(own.request_id)].endswith("· Trialling · asked by you")
    assert rows[request_ref(theirs.request_id)].endswith(f"· Northwind · asked by <@{MEMBER}>")


async def test_view_on_a_home_row_opens_the_card_in_a_modal(client, slack, db, fake_slack):
    """The Home tab has no message to answer below: the card opens over it."""
    await grant_staff(db)
    await seed_customer(
        db, name="Soon Ending", status="active_trial", trial_end=TODAY + timedelta(days=2)
    )
    view = await _home_of(client, slack, fake_slack, "U0001")
    button = next(
        element
        for block in view["blocks"]
        for element in [block.get("accessory") or {}, *block.get("elements", [])]
        if element.get("action_id") == ActionId.VIEW_CUSTOMER
    )
    before = len(fake_slack.calls_to("views.open"))
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.VIEW_CUSTOMER, value=button["value"], user_id="U0001", view=view
        ),
    )
    (opened,) = (await calls_to(fake_slack, "views.open", before + 1))[before:]
    assert "Soon Ending" in json.dumps(opened.args["view"])
