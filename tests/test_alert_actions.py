"""Acting on alerts end to end: alerts in through the API, the
buttons clicked through signed Slack requests, and what the fake Slack shows
afterwards in every channel. Acknowledge, Resolve, Snooze (and its end), Open
customer, who may act, two clicks at once, a reopened alert's thread reply, a
storm's digest with its "List all", and `/msp alerts`."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app import Bot
from bot.domain.alerts import AlertAction
from bot.ids import ActionId, CallbackId
from bot.payloads import AlertBulk, AlertListRef, AlertQuery
from scheduler.jobs.alerts import wake_snoozed_alerts
from storage.engine import Database
from storage.models import Alert, AlertSubscription, AuditEvent, CustomerAssignment, OutboxItem
from tests.drive import Reply, all_text, ask, button, post, post_json, share_dashboard
from tests.fake_slack import RESPONSE_URL_CALL, FakeSlack
from tests.seed import ADMIN, APPROVER, MEMBER, OWNER, VIEWER, Tenant, grant_staff, make_tenant
from tests.support import fast_bot
from tests.test_alert_routing import subscribe
from tests.wait import settle

NOC, SUPPORT = "C0NOC", "C0SUPPORT"
PATH = "/api/v1/alerts"


@pytest.fixture
async def bot(settings, db, clock) -> Bot:
    return fast_bot(settings, db, clock)


@pytest.fixture
async def tenant(db: Database, clock) -> Tenant:
    tenant = await make_tenant(db, clock, names={"Acme Dental": 100, "Globex": 100})
    await grant_staff(db)
    await subscribe(db, clock, tenant, NOC)
    await subscribe(db, clock, tenant, SUPPORT)
    return tenant


def report(tenant: Tenant, name: str = "Acme Dental", **fields: Any) -> dict[str, Any]:
    return {
        "customer": tenant.accounts[name],
        "kind": "backup_failed",
        "severity": "high",
        "title": f"Backup failed at {name}",
        "dedup_key": f"backup:{name}",
        **fields,
    }


async def send(client, bot: Bot, tenant: Tenant, *alerts: dict[str, Any]) -> dict[str, Any]:
    answer = await post_json(client, PATH, tenant.token, {"alerts": list(alerts)})
    assert answer.status == 200, answer.json
    await settle(bot)
    return answer.json


def shown_in(fake_slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """The messages of a channel as Slack now shows them, oldest first."""
    return [
        message for (where, _ts), message in sorted(fake_slack.messages.items()) if where == channel
    ]


def action_ids(message: dict[str, Any]) -> set[str]:
    return {
        element.get("action_id")
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }


async def press(
    client, slack, element: dict[str, Any], user_id: str, *, option: int | None = None, **where
) -> Reply:
    """Click a button, or pick the `option`th option of a select or overflow menu."""
    chosen = None if option is None else element["options"][option]
    return await post(
        client,
        slack.block_actions(
            action_id=element["action_id"],
            value=element.get("value"),
            selected_option=chosen,
            user_id=user_id,
            **({"channel_id": NOC} | where),
        ),
    )


def replies_to(fake_slack: FakeSlack) -> list[str]:
    """What the bot answered clicks with, below the message (response_url)."""
    return [
        all_text(call.args.get("blocks") or []) for call in fake_slack.calls_to(RESPONSE_URL_CALL)
    ]


async def alert_row(db: Database) -> Alert:
    async with db.unit_of_work() as session:
        return (await session.scalars(select(Alert).order_by(Alert.id.desc()))).first()


async def audit_actions(db: Database) -> list[str]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "alert")
            .order_by(AuditEvent.id)
        )
        return list(rows.all())


# ---------------------------------------------------------------- the buttons


async def test_an_alert_message_offers_the_four_actions(backend, client, bot, tenant, fake_slack):
    await send(client, bot, tenant, report(tenant))
    for channel in (NOC, SUPPORT):
        (message,) = shown_in(fake_slack, channel)
        assert action_ids(message) == {
            ActionId.ALERT_ACKNOWLEDGE,
            ActionId.ALERT_RESOLVE,
            ActionId.ALERT_SNOOZE,
            ActionId.ALERT_OPEN_CUSTOMER,
        }
        snooze = button(message, ActionId.ALERT_SNOOZE)
        assert [o["text"]["text"] for o in snooze["options"]] == ["1 hour", "4 hours", "24 hours"]


async def test_acknowledging_updates_every_message_and_is_audited(
    backend, client, slack, bot, tenant, fake_slack, db
):
    await send(client, bot, tenant, report(tenant))
    (message,) = shown_in(fake_slack, NOC)
    reply = await press(client, slack, button(message, ActionId.ALERT_ACKNOWLEDGE), ADMIN)
    assert reply.status == 200
    await settle(bot)
    for channel in (NOC, SUPPORT):
        (shown,) = shown_in(fake_slack, channel)
        assert f"Acknowledged by <@{ADMIN}>" in all_text(shown["blocks"])
        assert ActionId.ALERT_ACKNOWLEDGE not in action_ids(shown)
        assert ActionId.ALERT_RESOLVE in action_ids(shown)
    assert len(fake_slack.calls_to("chat.update")) == 2
    row = await alert_row(db)
    assert (row.status, row.acknowledged_by) == ("acknowledged", ADMIN)
    assert await audit_actions(db) == ["alert.created", "alert.acknowledged"]


async def test_acknowledging_twice_says_who_did_it_first(client, slack, bot, tenant, fake_slack):
    await send(client, bot, tenant, report(tenant))
    (message,) = shown_in(fake_slack, NOC)
    acknowledge = button(message, ActionId.ALERT_ACKNOWLEDGE)
    await press(client, slack, acknowledge, ADMIN)
    await settle(bot)
    await press(client, slack, acknowledge, OWNER)  # from the copy they still had
    await settle(bot)
    [said] = [
        block["text"]
        for call in fake_slack.calls_to(RESPONSE_URL_CALL)
        for block in call.args.get("blocks") or []
        if "already acknowledged" in block.get("text", {}).get("text", "")
    ]
    # A mention each reader sees as a name: mrkdwn, where plain text shows "<@U…>".
    assert said == {
        "type": "mrkdwn",
        "text": f":information_source: This alert was already acknowledged by <@{ADMIN}>. "
        "Nothing was changed.",
    }
    assert len(fake_slack.calls_to("chat.update")) == 2  # only the first click changed anything


async def test_viewers_cannot_act_and_nothing_changes(
    backend, client, slack, bot, tenant, fake_slack, db
):
    await send(client, bot, tenant, report(tenant))
    (message,) = shown_in(fake_slack, NOC)
    for action_id in (ActionId.ALERT_ACKNOWLEDGE, ActionId.ALERT_RESOLVE):
        await press(client, slack, button(message, action_id), VIEWER)
    await press(client, slack, button(message, ActionId.ALERT_SNOOZE), VIEWER, option=0)
    await settle(bot)
    refusals = replies_to(fake_slack)
    assert len(refusals) == 3 and all("Viewers can see alerts" in text for text in refusals)
    assert (await alert_row(db)).status == "firing"
    assert fake_slack.calls_to("chat.update") == []
    assert await audit_actions(db) == ["alert.created"]


async def test_a_refusal_on_the_home_tab_is_a_modal_titled_alerts(
    client, slack, bot, tenant, fake_slack, db
):
    """Where there is no message to answer below (the Home tab), the refusal opens a
    modal named after the feature that refused, not another feature's."""
    await send(client, bot, tenant, report(tenant))
    (message,) = shown_in(fake_slack, NOC)
    acknowledge = button(message, ActionId.ALERT_ACKNOWLEDGE)
    await press(client, slack, acknowledge, VIEWER, channel_id=None, view={"type": "home"})
    await settle(bot)
    [opened] = fake_slack.calls_to("views.open")
    assert opened.args["view"]["title"]["text"] == "Alerts"
    assert "Viewers can see alerts" in all_text(opened.args["view"]["blocks"])
    assert (await alert_row(db)).status == "firing"
    assert fake_slack.calls_to("chat.update") == []


async def test_members_act_only_on_their_assigned_customers(
    client, slack, bot, tenant, fake_slack, db
):
    await send(client, bot, tenant, report(tenant), report(tenant, "Globex"))
    acme, globex = shown_in(fake_slack, NOC)
    async with db.unit_of_work() as session:
        row = await session.scalar(select(Alert).where(Alert.customer_name == "Globex"))
        session.add(CustomerAssignment(customer_id=row.customer_id, slack_user_id=MEMBER))
    await press(client, slack, button(acme, ActionId.ALERT_RESOLVE), MEMBER)
    await press(client, slack, button(globex, ActionId.ALERT_RESOLVE), MEMBER)
    await settle(bot)
    async with db.unit_of_work() as session:
        statuses = dict((await session.execute(select(Alert.customer_name, Alert.status))).all())
    assert statuses == {"Acme Dental": "firing", "Globex": "resolved"}
    assert any("assigned to them" in text for text in replies_to(fake_slack))


async def test_two_people_resolving_at_once_one_wins(
    backend, client, slack, bot, tenant, fake_slack, db
):
    await send(client, bot, tenant, report(tenant))
    (message,) = shown_in(fake_slack, NOC)
    resolve = button(message, ActionId.ALERT_RESOLVE)
    replies = await asyncio.gather(
        *(press(client, slack, resolve, who) for who in (OWNER, ADMIN, APPROVER))
    )
    assert all(reply.status == 200 for reply in replies)
    await settle(bot)
    row = await alert_row(db)
    assert row.status == "resolved" and row.resolved_by in (OWNER, ADMIN, APPROVER)
    losers = [text for text in replies_to(fake_slack) if "already resolved" in text]
    assert len(losers) == 2 and all(f"<@{row.resolved_by}>" in text for text in losers)
    assert (await audit_actions(db)).count("alert.resolved") == 1
    for channel in (NOC, SUPPORT):
        (shown,) = shown_in(fake_slack, channel)
        assert f"Resolved by <@{row.resolved_by}>" in all_text(shown["blocks"])
        assert action_ids(shown) == {ActionId.ALERT_OPEN_CUSTOMER}


async def test_a_snooze_holds_then_the_sweep_wakes_it(
    backend, client, slack, bot, tenant, fake_slack, db, clock
):
    await send(client, bot, tenant, report(tenant))
    (message,) = shown_in(fake_slack, NOC)
    await press(client, slack, button(message, ActionId.ALERT_SNOOZE), APPROVER, option=1)
    await settle(bot)
    row = await alert_row(db)
    assert row.status == "snoozed" and row.snoozed_by == APPROVER
    assert (
        row.snoozed_until.replace(tzinfo=None) - clock().replace(tzinfo=None)
    ).seconds == 4 * 3600
    (shown,) = shown_in(fake_slack, SUPPORT)
    assert f"Snoozed by <@{APPROVER}> until" in all_text(shown["blocks"])
    # A repeat while snoozed counts, and stays snoozed.
    await send(client, bot, tenant, report(tenant))
    assert (await alert_row(db)).status == "snoozed"
    clock.advance(hours=3, minutes=59)
    wake_snoozed = functools.partial(
        wake_snoozed_alerts, db=db, clock=clock, wake=bot.delivery.wake, notifiers=bot.notifiers
    )
    assert await wake_snoozed() == 0
    clock.advance(minutes=1)
    assert await wake_snoozed() == 1
    assert await wake_snoozed() == 0
    await settle(bot)
    assert (await alert_row(db)).status == "firing"
    for channel in (NOC, SUPPORT):
        (shown,) = shown_in(fake_slack, channel)
        text = all_text(shown["blocks"])
        assert "Firing" in text and "2 times" in text and "Snoozed" not in text
    assert (await audit_actions(db))[-2:] == ["alert.snoozed", "alert.snooze_ended"]


async def test_a_forged_snooze_length_is_refused(client, slack, bot, tenant, fake_slack, db):
    await send(client, bot, tenant, report(tenant))
    (message,) = shown_in(fake_slack, NOC)
    snooze = button(message, ActionId.ALERT_SNOOZE)
    forged = json.loads(snooze["options"][0]["value"]) | {"hours": 3}
    snooze["options"][0]["value"] = json.dumps(forged)
    await press(client, slack, snooze, OWNER, option=0)
    await settle(bot)
    assert any("Snooze for one of: 1 h, 4 h, 24 h" in text for text in replies_to(fake_slack))
    assert (await alert_row(db)).status == "firing"


async def test_another_msps_alert_cannot_be_touched(
    client, slack, bot, tenant, fake_slack, db, clock
):
    other = await make_tenant(db, clock, team_id="T0OTHER", names={"Other Co": 100})
    await send(client, bot, tenant, report(tenant))
    (message,) = shown_in(fake_slack, NOC)
    await post_json(client, PATH, other.token, {"alerts": [report(other, "Other Co")]})
    async with db.unit_of_work() as session:
        theirs = await session.scalar(select(Alert).where(Alert.msp_id == other.msp_id))
    forged = button(message, ActionId.ALERT_RESOLVE)
    forged["value"] = json.dumps({"alert_id": theirs.id, "action": "resolve"})
    await press(client, slack, forged, OWNER)
    await settle(bot)
    async with db.unit_of_work() as session:
        assert (await session.get(Alert, theirs.id, populate_existing=True)).status == "firing"
    assert any("does not exist in this MSP" in text for text in replies_to(fake_slack))


async def test_open_customer_shows_the_card_below(client, slack, bot, tenant, fake_slack):
    await send(client, bot, tenant, report(tenant))
    (message,) = shown_in(fake_slack, NOC)
    await press(client, slack, button(message, ActionId.ALERT_OPEN_CUSTOMER), VIEWER)
    await settle(bot)
    (card,) = replies_to(fake_slack)
    assert "Acme Dental" in card and tenant.accounts["Acme Dental"] in card
    assert "*Open alerts* (1)" in card and "1 high" in card


# ---------------------------------------------------------------- resolved, then again


async def test_a_reopened_alert_replies_in_the_thread_of_the_last_one(
    backend, client, slack, bot, tenant, fake_slack
):
    await send(client, bot, tenant, report(tenant))
    first = {c.args["channel"]: c for c in fake_slack.calls_to("chat.postMessage")}
    (message,) = shown_in(fake_slack, NOC)
    await press(client, slack, button(message, ActionId.ALERT_RESOLVE), OWNER)
    await settle(bot)
    before = len(fake_slack.calls_to("chat.postMessage"))
    await send(client, bot, tenant, report(tenant))
    again = fake_slack.calls_to("chat.postMessage")[before:]
    assert len(again) == 2
    first_ts = {
        channel: ts
        for (channel, ts), shown in fake_slack.messages.items()
        if "thread_ts" not in shown
    }
    for call in again:
        channel = call.args["channel"]
        assert channel in first
        assert call.args["thread_ts"] == first_ts[channel]
        assert call.args["reply_broadcast"] is True
        # Firing again, after a resolution: the count is since then, not a contradiction.
        assert "Firing again (resolved once before) · seen once since, last" in all_text(
            call.args["blocks"]
        )
        assert ActionId.ALERT_ACKNOWLEDGE in action_ids(call.args)


# ---------------------------------------------------------------- storms


async def test_a_storm_becomes_one_digest_per_channel_and_list_all_reaches_every_alert(
    backend, client, slack, bot, tenant, fake_slack, db
):
    # Channels that do not group alerts by customer: a burst is merged into a digest.
    async with db.unit_of_work() as session:
        await session.execute(update(AlertSubscription).values(group_by="off"))
    storm = [
        report(
            tenant,
            "Acme Dental" if n % 3 else "Globex",
            dedup_key=f"disk:{n}",
            severity="critical" if n == 7 else "medium",
            title=f"Disk {n} <full>",
        )
        for n in range(30)
    ]
    await send(client, bot, tenant, *storm)
    for channel in (NOC, SUPPORT):
        (digest,) = shown_in(fake_slack, channel)
        text = all_text(digest["blocks"])
        assert "30 alerts while this channel was busy" in text
        assert "1 critical" in text and "29 medium" in text
        assert "Acme Dental 20" in text and "Globex 10" in text
        assert "Disk 7 &lt;full&gt;" in text.split("Worst:")[1].splitlines()[1]
    (digest,) = shown_in(fake_slack, NOC)
    list_all = button(digest, ActionId.ALERT_LIST_ALL)
    async with db.unit_of_work() as session:
        ids = set((await session.scalars(select(Alert.id))).all())
    assert set(AlertListRef.decode(list_all["value"]).alert_ids) == ids and len(ids) == 30
    # Every merged post keeps its own row, marked merged into the digest.
    async with db.unit_of_work() as session:
        statuses = (await session.scalars(select(OutboxItem.status))).all()
    assert sorted(set(statuses)) == ["coalesced", "sent"] and statuses.count("sent") == 2

    # A viewer's list offers what a viewer may do: open the customer.
    await press(client, slack, list_all, VIEWER)
    await settle(bot)
    (opened,) = fake_slack.calls_to("views.open")
    viewed = opened.args["view"]
    assert "Disk 7" in all_text(viewed["blocks"][1:2])  # the worst first
    buttons = [block["accessory"] for block in viewed["blocks"] if block.get("accessory")]
    assert len(buttons) == 30
    assert {button["action_id"] for button in buttons} == {ActionId.ALERT_OPEN_CUSTOMER}

    await press(client, slack, list_all, ADMIN)
    await settle(bot)
    (_, opened) = fake_slack.calls_to("views.open")
    modal = opened.args["view"]
    assert modal["callback_id"] == CallbackId.ALERT_LIST
    menus = [block["accessory"] for block in modal["blocks"] if block.get("accessory")]
    assert {m["action_id"] for m in menus} == {ActionId.ALERT_ROW_MENU} and len(menus) == 30

    # Acknowledge one from the list: the list is redrawn, the digest is left alone.
    updates_before = len(fake_slack.calls_to("chat.update"))
    await press(client, slack, menus[0], ADMIN, option=0, view=modal, channel_id=None)
    await settle(bot)
    (redrawn,) = fake_slack.calls_to("views.update")
    assert f"Acknowledged by <@{ADMIN}>" in all_text(redrawn.args["view"]["blocks"])
    assert len(fake_slack.calls_to("chat.update")) == updates_before
    # A repeat of a merged alert sends nothing either: List all shows it as it is.
    posts_before = len(fake_slack.calls_to("chat.postMessage"))
    await send(client, bot, tenant, storm[3])
    assert len(fake_slack.calls_to("chat.postMessage")) == posts_before
    assert len(fake_slack.calls_to("chat.update")) == updates_before


# ---------------------------------------------------------------- /msp alerts


async def test_msp_alerts_lists_the_worst_first_and_acts_from_a_row(
    backend, client, slack, bot, tenant, fake_slack, db
):
    await send(
        client,
        bot,
        tenant,
        report(tenant, severity="low", dedup_key="a", title="Low one"),
        report(tenant, "Globex", severity="critical", dedup_key="b", title="Critical one"),
        report(tenant, severity="medium", dedup_key="c", title="Gone", status="firing"),
    )
    await send(client, bot, tenant, report(tenant, dedup_key="c", title="Gone", status="resolved"))
    reply = await post(client, slack.slash_command("alerts", user_id=VIEWER))
    text = all_text(reply.json["blocks"])
    assert "Open alerts" in text and "1 critical" in text and "1 low" in text
    assert text.index("Critical one") < text.index("Low one") and "Gone" not in text

    reply = await post(client, slack.slash_command("alerts all Acme Dental", user_id=VIEWER))
    text = all_text(reply.json["blocks"])
    assert "Gone" in text and "Low one" in text and "Critical one" not in text

    viewer_rows = [b for b in reply.json["blocks"] if "row" in b.get("block_id", "")]
    assert all(len(row["elements"]) == 1 for row in viewer_rows)  # Open customer only
    reply = await post(client, slack.slash_command("alerts all Acme Dental", user_id=OWNER))
    rows = [b for b in reply.json["blocks"] if "row" in b.get("block_id", "")]
    resolve = next(e for e in rows[0]["elements"] if e["action_id"] == ActionId.ALERT_RESOLVE)
    await press(client, slack, resolve, OWNER, block_id=rows[0]["block_id"])  # "Low one"
    await settle(bot)
    # The listing is redrawn in place, the row resolved.
    calls = fake_slack.calls_to(RESPONSE_URL_CALL)
    (redrawn,) = [all_text(c.args["blocks"]) for c in calls if c.args.get("replace_original")]
    assert "~Low one~" in redrawn and "Resolved by" in redrawn
    async with db.unit_of_work() as session:
        assert (
            await session.scalar(select(Alert.status).where(Alert.dedup_key == "a")) == "resolved"
        )


async def test_msp_alerts_for_a_member_shows_only_their_customers(
    client, slack, bot, tenant, fake_slack, db
):
    await send(client, bot, tenant, report(tenant), report(tenant, "Globex"))
    async with db.unit_of_work() as session:
        globex = await session.scalar(select(Alert).where(Alert.customer_name == "Globex"))
        session.add(CustomerAssignment(customer_id=globex.customer_id, slack_user_id=MEMBER))
    reply = await post(client, slack.slash_command("alerts", user_id=MEMBER))
    text = all_text(reply.json["blocks"])
    assert "Backup failed at Globex" in text and "Acme" not in text


async def test_msp_alerts_when_nothing_is_open_and_for_an_unknown_customer(
    client, slack, bot, tenant
):
    reply = await post(client, slack.slash_command("alerts open", user_id=OWNER))
    # Said once, with where alerts come from and how to get them: no "none" above it.
    said = [block["text"]["text"] for block in reply.json["blocks"] if block["type"] != "actions"]
    assert said == [
        "Open alerts",
        ":white_check_mark: Nothing is open. Alerts come from your monitoring tools through "
        "the alerts API (`POST /api/v1/alerts`); `/msp subscribe` has them posted as they fire.",
    ]
    reply = await post(client, slack.slash_command("alerts Nobody Inc", user_id=OWNER))
    assert "No customer you can see matches" in all_text(reply.json["blocks"])


async def test_quiet_hours_hold_a_persons_alert_until_they_end(client, bot, tenant, db, clock):
    hour = clock().hour
    await subscribe(
        db, clock, tenant, "U0QUIET", quiet_start=f"{hour:02d}:00", quiet_end=f"{hour + 2:02d}:00"
    )
    await post_json(client, PATH, tenant.token, {"alerts": [report(tenant)]})
    await bot.in_flight.drain(5.0)
    async with db.unit_of_work() as session:
        held = await session.scalar(select(OutboxItem).where(OutboxItem.lane == "U0QUIET"))
        assert held.status == "pending"
        # Due in two hours; make it due now, as two hours passing would.
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == held.id)
            .values(next_attempt_at=held.created_at)
        )
    await settle(bot)
    async with db.unit_of_work() as session:
        assert (await session.get(OutboxItem, held.id, populate_existing=True)).status == "sent"


# ---------------------------------------------------------------- filters, end to end


async def test_filters_made_in_slack_include_and_exclude_what_reaches_each_channel(
    backend, client, slack, bot, tenant, fake_slack
):
    for text in (
        "subscribe <#C0GLOBEX|globex> customer=Globex kind=backup_failed,disk_full",
        'subscribe <#C0NOTACME|rest> not customer="Acme Dental" severity>=high',
    ):
        reply = await post(client, slack.slash_command(text, user_id=OWNER))
        assert "Subscribed" in all_text(reply.json["blocks"]), reply.json
    await send(
        client,
        bot,
        tenant,
        report(tenant, "Globex", dedup_key="g1", title="G backup"),
        report(tenant, "Globex", dedup_key="g2", title="G printer", kind="printer"),
        report(
            tenant, "Globex", dedup_key="g3", title="G low disk", kind="disk_full", severity="low"
        ),
        report(tenant, dedup_key="a1", title="A backup"),
    )

    def titles(channel: str) -> set[str]:
        return {
            line.split("*")[1]
            for message in shown_in(fake_slack, channel)
            for line in all_text(message["blocks"]).splitlines()
            if line.count("*") >= 2 and line.startswith(":") and not line.startswith(":thread:")
        }

    assert titles("C0GLOBEX") == {"G backup", "G low disk"}
    assert titles("C0NOTACME") == {"G backup", "G printer"}
    assert titles(NOC) == {"G backup", "G printer", "G low disk", "A backup"}


async def test_an_alert_acted_on_from_the_home_tab_says_so_in_a_modal(
    client, slack, bot, tenant, fake_slack, db
):
    await send(client, bot, tenant, report(tenant))
    await post(client, slack.app_home_opened(user_id=ADMIN))
    await settle(bot)
    home = fake_slack.calls_to("views.publish")[-1].args["view"]
    assert "*Open alerts* (1)" in all_text(home["blocks"])
    (menu,) = [
        b["accessory"]
        for b in home["blocks"]
        if (b.get("accessory") or {}).get("action_id") == ActionId.ALERT_ROW_MENU
    ]
    await press(client, slack, menu, ADMIN, option=0, view=home, channel_id=None)
    await settle(bot)
    assert (await alert_row(db)).status == "acknowledged"
    (opened,) = fake_slack.calls_to("views.open")
    assert f"Acknowledged by <@{ADMIN}>" in all_text(opened.args["view"]["blocks"])
    for channel in (NOC, SUPPORT):  # the messages in the channels follow
        (shown,) = shown_in(fake_slack, channel)
        assert f"Acknowledged by <@{ADMIN}>" in all_text(shown["blocks"])


def element_ids(surface: dict[str, Any]) -> set[str]:
    """The action ids a message or view offers: accessories and actions blocks' elements."""
    found = set()
    for block in surface["blocks"]:
        for element in [block.get("accessory"), *(block.get("elements") or [])]:
            if isinstance(element, dict) and "action_id" in element:
                found.add(element["action_id"])
    return found


def open_customer_rows(surface: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        block["accessory"]
        for block in surface["blocks"]
        if (block.get("accessory") or {}).get("action_id") == ActionId.ALERT_OPEN_CUSTOMER
    ]


async def test_a_viewers_home_tab_offers_open_customer_on_each_alert_and_it_opens_the_card(
    client, slack, bot, tenant, fake_slack, db
):
    """A viewer may not act on alerts: the Home tab's rows offer what they may do, as
    `/msp alerts` does, instead of a menu whose every choice would be refused."""
    await send(client, bot, tenant, report(tenant))
    await post(client, slack.app_home_opened(user_id=VIEWER))
    await settle(bot)
    home = fake_slack.calls_to("views.publish")[-1].args["view"]
    assert "*Open alerts* (1)" in all_text(home["blocks"])
    assert ActionId.ALERT_ROW_MENU not in element_ids(home)
    (opener,) = open_customer_rows(home)
    assert opener["text"]["text"] == "Open customer"
    await press(client, slack, opener, VIEWER, view=home, channel_id=None)
    await settle(bot)
    (opened,) = fake_slack.calls_to("views.open")  # the card, over the Home tab
    card = json.dumps(opened.args["view"])
    assert "Acme Dental" in card and tenant.accounts["Acme Dental"] in card
    assert (await alert_row(db)).status == "firing"
    # Whoever may act keeps the menu.
    await post(client, slack.app_home_opened(user_id=APPROVER))
    await settle(bot)
    approvers = fake_slack.calls_to("views.publish")[-1].args["view"]
    assert ActionId.ALERT_ROW_MENU in element_ids(approvers) and not open_customer_rows(approvers)


async def test_a_shared_dashboard_offers_only_what_anyone_in_the_channel_may_click(
    client, slack, bot, tenant, fake_slack
):
    """The copy posted for a channel is for reading: no alert menu and no Review, whose
    answers depend on who clicks; Open customer shows each clicker the card as their
    role allows."""
    await send(client, bot, tenant, report(tenant))
    await ask(client, slack, fake_slack, "extend Acme Dental", user_id=ADMIN)
    private = await post(client, slack.slash_command("dashboard", user_id=OWNER))
    offered = element_ids(private.json)
    assert ActionId.ALERT_ROW_MENU in offered and ActionId.REQUEST_REVIEW in offered

    await share_dashboard(client, slack, user_id=OWNER, channel_id="C0SHARE")
    await settle(bot)
    (shared,) = [
        call.args
        for call in fake_slack.calls_to("chat.postMessage")
        if call.args["channel"] == "C0SHARE"
    ]
    text = all_text(shared["blocks"])
    assert "*Open alerts* (1)" in text and "Waiting for approval" in text  # still there to read
    offered = element_ids(shared)
    assert ActionId.ALERT_ROW_MENU not in offered and ActionId.REQUEST_REVIEW not in offered
    (opener,) = open_customer_rows(shared)
    await press(client, slack, opener, VIEWER, channel_id="C0SHARE")
    await settle(bot)
    assert tenant.accounts["Acme Dental"] in replies_to(fake_slack)[-1]


# ---------------------------------------------------------------- /msp alerts: pages, filters, bulk


def listed_titles(message: dict[str, Any]) -> list[str]:
    return [
        all_text([block]).split("*")[1]
        for block in message["blocks"]
        if block["type"] == "section" and block.get("text", {}).get("text", "").startswith(":")
    ]


def element(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    return next(
        e
        for block in message["blocks"]
        if block["type"] == "actions"
        for e in block["elements"]
        if e["action_id"] == action_id
    )


async def redrawn_by(client, slack, bot: Bot, fake_slack: FakeSlack, *click: Any, **kw) -> dict:
    """Click, and the listing as the click redrew it in place."""
    await press(client, slack, *click, **kw)
    await settle(bot)
    calls = fake_slack.calls_to(RESPONSE_URL_CALL)
    return [c.args for c in calls if c.args.get("replace_original")][-1]


async def test_msp_alerts_pages_and_filters_in_place(client, slack, bot, tenant, fake_slack):
    await send(
        client,
        bot,
        tenant,
        *(
            report(tenant, dedup_key=f"d{n}", title=f"Alert {n:02d}", severity="low")
            for n in range(23)
        ),
        report(tenant, "Globex", dedup_key="g", title="Globex down", severity="critical"),
    )
    first = (await post(client, slack.slash_command("alerts", user_id=OWNER))).json
    titles = listed_titles(first)
    assert len(titles) == 10 and titles[0] == "Globex down"
    assert "1 to 10 of 24" in all_text(first["blocks"])
    next_page = element(first, f"{ActionId.ALERT_LIST_PAGE}.next")
    second = await redrawn_by(client, slack, bot, fake_slack, next_page, OWNER)
    assert "11 to 20 of 24" in all_text(second["blocks"])
    assert not set(listed_titles(second)) & set(titles)
    next_page = element(second, f"{ActionId.ALERT_LIST_PAGE}.next")
    third = await redrawn_by(client, slack, bot, fake_slack, next_page, OWNER)
    assert "21 to 24 of 24" in all_text(third["blocks"]) and len(listed_titles(third)) == 4
    with pytest.raises(StopIteration):
        element(third, f"{ActionId.ALERT_LIST_PAGE}.next")  # the last page has no Next
    severity = element(third, f"{ActionId.ALERT_LIST_FILTER}.severity")
    # Critical or worse, from the first page again.
    critical = await redrawn_by(client, slack, bot, fake_slack, severity, OWNER, option=1)
    assert listed_titles(critical) == ["Globex down"]
    assert "Open alerts, critical or worse" in all_text(critical["blocks"])
    typed = await post(
        client, slack.slash_command("alerts resolved severity&gt;=high", user_id=OWNER)
    )
    assert "No alerts match" in all_text(typed.json["blocks"])


async def test_resolve_all_resolves_each_matching_alert_once_even_clicked_twice_at_once(
    backend, client, slack, bot, tenant, fake_slack, db
):
    await send(
        client,
        bot,
        tenant,
        *(report(tenant, dedup_key=f"d{n}", title=f"Disk {n}") for n in range(12)),
        report(tenant, "Globex", dedup_key="g", title="Globex down"),
    )
    listing = (
        await post(client, slack.slash_command("alerts open Acme Dental", user_id=ADMIN))
    ).json
    resolve_all = element(listing, f"{ActionId.ALERT_LIST_BULK}.resolve")
    assert resolve_all["text"]["text"] == "Resolve all 12"
    assert "Resolve 12 of the open alerts for Acme Dental" in resolve_all["confirm"]["text"]["text"]
    assert resolve_all["confirm"]["text"]["type"] == "plain_text"  # a name formats nothing
    await asyncio.gather(*(press(client, slack, resolve_all, who) for who in (ADMIN, OWNER)))
    await settle(bot)
    async with db.unit_of_work() as session:
        statuses = dict((await session.execute(select(Alert.title, Alert.status))).all())
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "alert.resolved"))
        ).all()
    assert statuses.pop("Globex down") == "firing"  # not in the filter
    assert set(statuses.values()) == {"resolved"}
    assert len(events) == 12  # each once, whoever clicked
    said = " ".join(replies_to(fake_slack))
    assert "Resolved 12 alerts" in said or "Resolved" in said
    # Every message of its own (not a digest listing several) says so, in every channel.
    own = [m for m in shown_in(fake_slack, NOC) if (m.get("metadata") or {}).get("event_payload")]
    disks = [all_text(m["blocks"]) for m in own if "Disk" in all_text(m["blocks"])]
    assert disks and all("Resolved by" in text for text in disks)


async def test_viewers_get_no_bulk_buttons_and_members_change_only_their_customers(
    client, slack, bot, tenant, fake_slack, db
):
    await send(client, bot, tenant, report(tenant), report(tenant, "Globex"))
    viewer = (await post(client, slack.slash_command("alerts", user_id=VIEWER))).json
    with pytest.raises(StopIteration):
        element(viewer, f"{ActionId.ALERT_LIST_BULK}.resolve")
    async with db.unit_of_work() as session:
        globex = await session.scalar(select(Alert).where(Alert.customer_name == "Globex"))
        session.add(CustomerAssignment(customer_id=globex.customer_id, slack_user_id=MEMBER))
    member = (await post(client, slack.slash_command("alerts", user_id=MEMBER))).json
    await press(client, slack, element(member, f"{ActionId.ALERT_LIST_BULK}.acknowledge"), MEMBER)
    await settle(bot)
    async with db.unit_of_work() as session:
        statuses = dict((await session.execute(select(Alert.customer_name, Alert.status))).all())
    assert statuses == {"Globex": "acknowledged", "Acme Dental": "firing"}
    forged = AlertBulk(query=AlertQuery(), action=AlertAction.RESOLVE).encode()
    await press(
        client, slack, {"action_id": f"{ActionId.ALERT_LIST_BULK}.resolve", "value": forged}, VIEWER
    )
    await settle(bot)
    assert any("Viewers can see alerts" in text for text in replies_to(fake_slack))


async def test_snoozes_that_are_over_wake_a_batch_per_transaction(
    client, bot, tenant, db, clock, monkeypatch
):
    """Each batch commits on its own (other writers get through between), and the
    job goes on while batches come full, so every snooze that is over wakes, once."""
    from datetime import timedelta

    monkeypatch.setattr("bot.services.alert_actions.WAKE_BATCH", 2)
    await send(client, bot, tenant, *(report(tenant, dedup_key=f"backup:{n}") for n in range(5)))
    async with db.unit_of_work() as session:
        await session.execute(
            update(Alert).values(status="snoozed", snoozed_until=clock() + timedelta(hours=1))
        )
    clock.advance(hours=1)
    batches: list[int] = []
    woken = await wake_snoozed_alerts(
        db=db, clock=clock, wake=lambda: batches.append(1), notifiers=bot.notifiers
    )
    assert woken == 5 and len(batches) == 3  # 2 + 2 + 1
    async with db.unit_of_work() as session:
        assert set((await session.scalars(select(Alert.status))).all()) == {"firing"}
    assert (await audit_actions(db)).count("alert.snooze_ended") == 5
    assert (
        await wake_snoozed_alerts(db=db, clock=clock, wake=lambda: None, notifiers=bot.notifiers)
        == 0
    )


async def test_msp_alerts_says_what_is_wrong_with_a_filter_or_a_forged_page(
    client, slack, bot, tenant, fake_slack
):
    reply = await post(client, slack.slash_command("alerts severity&gt;=urgent", user_id=OWNER))
    text = all_text(reply.json["blocks"])
    assert "severity>=LEVEL" in text and "Try: /msp alerts open severity>=high" in text
    forged = '{"status":"everything","offset":-1}'
    await press(
        client, slack, {"action_id": f"{ActionId.ALERT_LIST_PAGE}.next", "value": forged}, OWNER
    )
    await settle(bot)
    assert any("out of date" in said for said in replies_to(fake_slack))
