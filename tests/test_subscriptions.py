"""Subscriptions end to end: `/msp subscribe`, `/msp unsubscribe`, `/msp
subscriptions` with its Remove and New subscription buttons, and the modal, through
signed Slack requests; the rows and audit events as the database has them."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from bot.domain.roles import Role
from bot.domain.subscriptions import EXAMPLE
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import CustomerRef, SubscriptionRef
from storage.engine import Database
from storage.models import AlertSubscription, Msp
from tests.drive import all_text, button, calls_to, post
from tests.rows import audit_rows
from tests.seed import ADMIN, APPROVER, MEMBER, OWNER, VIEWER, grant, grant_staff, seed_customer

NOC = "<#C0NOC|noc>"


@pytest.fixture(autouse=True)
def _on_each_backend(backend: str) -> None:
    """SQLite always; PostgreSQL too when MSPBOT_TEST_DATABASE_URL names one."""


@pytest.fixture
async def staff(db: Database) -> None:
    await grant_staff(db)


@pytest.fixture
async def acme(db: Database, staff) -> dict[str, int]:
    """Three customers; the member is assigned to Acme Corp and Globex."""
    return {
        "Acme Corp": await seed_customer(db, name="Acme Corp", assigned=[MEMBER]),
        "Globex": await seed_customer(db, name="Globex", assigned=[MEMBER]),
        "Initech": await seed_customer(db, name="Initech"),
    }


async def rows(db: Database) -> list[AlertSubscription]:
    async with db.unit_of_work() as session:
        found = (
            await session.scalars(select(AlertSubscription).order_by(AlertSubscription.id))
        ).all()
        for row in found:
            session.expunge(row)
        return list(found)


async def command(client, slack, text: str, user_id: str = OWNER, **kwargs):
    reply = await post(client, slack.slash_command(text, user_id=user_id, **kwargs))
    assert reply.status == 200
    return reply


def shown(reply) -> str:
    return all_text(reply.json["blocks"])


# ---------------------------------------------------------------- /msp subscribe


async def test_subscribe_a_channel_with_filters(client, slack, db, acme):
    reply = await command(
        client,
        slack,
        f'subscribe {NOC} alerts trials severity&gt;=high customer="Acme Corp",Globex '
        "not customer=Initech kind=agent_offline",
    )
    assert "Subscribed" in shown(reply), reply.text
    (row,) = await rows(db)
    assert (row.target, row.target_kind) == ("C0NOC", "channel")
    assert sorted(row.topics) == ["alerts", "trials"]
    assert row.min_severity == "high"
    assert row.customers_included == sorted([acme["Acme Corp"], acme["Globex"]])
    assert row.customers_excluded == [acme["Initech"]]
    assert row.kinds == ["agent_offline"]
    assert row.created_by == OWNER
    (event,) = await audit_rows(db, "subscription.created")
    assert event.actor == OWNER and event.after["target"] == "C0NOC"
    assert event.after["excluded"] == ["Initech"]


async def test_subscribe_here_means_the_channel_typed_in(client, slack, db, acme):
    await command(client, slack, "subscribe", channel_id="C0HERE")
    (row,) = await rows(db)
    assert (row.target, row.target_kind, row.topics) == ("C0HERE", "channel", ["alerts"])
    assert row.customers_included == [] and row.customers_excluded == []


async def test_subscribe_me_with_quiet_hours(client, slack, db, acme, fake_slack):
    """Read in the person's own time zone, as Slack has it (users.info)."""
    fake_slack.add_user(VIEWER, tz="America/Los_Angeles")
    reply = await command(client, slack, "subscribe me digest quiet=22:00-07:00", user_id=VIEWER)
    assert "Subscribed" in shown(reply)
    (row,) = await rows(db)
    assert (row.target, row.target_kind) == (VIEWER, "person")
    assert (row.quiet_start, row.quiet_end) == ("22:00", "07:00")
    assert row.quiet_timezone == "America/Los_Angeles"
    assert "quiet 22:00-07:00 (America/Los_Angeles)" in shown(reply)
    assert [call.args["user"] for call in fake_slack.calls_to("users.info")] == [VIEWER]


async def test_quiet_hours_without_the_persons_zone_say_whose_zone_they_are_read_in(
    client, slack, db, acme, fake_slack
):
    fake_slack.fail("users.info", error="user_not_found")
    reply = await command(client, slack, "subscribe me digest quiet=22:00-07:00", user_id=VIEWER)
    (row,) = await rows(db)
    assert row.quiet_timezone is None
    assert "quiet 22:00-07:00 (the MSP's time zone)" in shown(reply)


async def test_a_persons_time_zone_is_looked_up_once_an_hour(client, slack, db, acme, fake_slack):
    fake_slack.add_user(VIEWER, tz="Europe/Paris")
    for topic in ("digest", "trials"):
        await command(client, slack, f"subscribe me {topic} quiet=22:00-07:00", user_id=VIEWER)
    assert [row.quiet_timezone for row in await rows(db)] == ["Europe/Paris"] * 2
    assert len(fake_slack.calls_to("users.info")) == 1


async def test_no_time_zone_is_looked_up_without_quiet_hours(client, slack, db, acme, fake_slack):
    reply = await command(client, slack, "subscribe me digest", user_id=VIEWER)
    assert "Subscribed" in shown(reply)
    (row,) = await rows(db)
    assert row.quiet_timezone is None
    assert fake_slack.calls_to("users.info") == []


async def test_here_in_a_direct_message_is_the_person(client, slack, db, acme):
    await command(client, slack, "subscribe", user_id=APPROVER, channel_id="D0DM")
    (row,) = await rows(db)
    assert (row.target, row.target_kind) == (APPROVER, "person")


async def test_invalid_filters_are_explained_with_the_example(client, slack, db, acme):
    for text in ("subscribe severity&gt;=urgent", "subscribe bananas", 'subscribe customer="Acme'):
        reply = await command(client, slack, text)
        assert EXAMPLE in shown(reply), reply.text
    assert await rows(db) == []


async def test_an_unknown_customer_is_named(client, slack, db, acme):
    reply = await command(client, slack, "subscribe customer=Umbrella")
    assert "“Umbrella”" in shown(reply) and EXAMPLE in shown(reply)
    assert await rows(db) == []


async def test_a_duplicate_is_refused_politely(client, slack, db, acme):
    await command(client, slack, f"subscribe {NOC} severity&gt;=high")
    reply = await command(client, slack, f"subscribe {NOC} alerts severity=high")
    assert "already is a subscription with these filters" in shown(reply)
    assert len(await rows(db)) == 1
    other = await command(client, slack, f"subscribe {NOC} severity&gt;=critical")
    assert "Subscribed" in shown(other)
    assert len(await rows(db)) == 2


# ---------------------------------------------------------------- roles


async def test_viewers_members_and_approvers_cannot_subscribe_a_channel(client, slack, db, acme):
    for user_id in (VIEWER, MEMBER, APPROVER):
        reply = await command(client, slack, f"subscribe {NOC}", user_id=user_id)
        assert "Only owners and admins can subscribe a channel" in shown(reply)
    assert await rows(db) == []
    await command(client, slack, f"subscribe {NOC}", user_id=ADMIN)
    assert len(await rows(db)) == 1


async def test_a_member_subscription_means_their_assigned_customers(client, slack, db, acme):
    await command(client, slack, "subscribe me", user_id=MEMBER)
    (row,) = await rows(db)
    assert row.customers_included == sorted([acme["Acme Corp"], acme["Globex"]])


async def test_a_member_cannot_subscribe_to_others_customers(client, slack, db, acme):
    reply = await command(client, slack, "subscribe me customer=Initech", user_id=MEMBER)
    assert "“Initech”" in shown(reply)
    assert await rows(db) == []
    await command(client, slack, "subscribe me customer=Globex", user_id=MEMBER)
    (row,) = await rows(db)
    assert row.customers_included == [acme["Globex"]]


async def test_a_member_without_customers_is_told(client, slack, db, staff):
    reply = await command(client, slack, "subscribe me", user_id=MEMBER)
    assert "No customers are assigned to you" in shown(reply)


# ---------------------------------------------------------------- list, Remove, unsubscribe


async def test_list_and_remove(client, slack, db, fake_slack, acme):
    await command(client, slack, f"subscribe {NOC} not customer=Initech")
    await command(client, slack, "subscribe me trials", user_id=VIEWER)
    listing = await command(client, slack, "subscriptions")
    text = shown(listing)
    assert "<#C0NOC>" in text and "not Initech" in text and "<@U0005>" in text
    remove = button(listing.json, ActionId.SUBSCRIPTION_REMOVE)
    first = SubscriptionRef.decode(remove["value"]).subscription_id

    await post(
        client,
        slack.block_actions(
            action_id=ActionId.SUBSCRIPTION_REMOVE, value=remove["value"], user_id=OWNER
        ),
    )
    answers = await calls_to(fake_slack, "response_url")
    # The row is gone from the list below: the notice says what it was.
    assert answers[-1].args["blocks"][0]["text"]["text"] == (
        f":no_bell: Removed *#{first}* <#C0NOC>: alerts · all customers · not Initech"
    )
    assert answers[-1].args["replace_original"] is True
    assert [row.target for row in await rows(db)] == [VIEWER]
    (event,) = await audit_rows(db, "subscription.removed")
    assert event.before["target"] == "C0NOC" and event.actor == OWNER


async def test_removing_asks_first_and_can_be_undone(client, slack, db, fake_slack, acme):
    async def undo_as(user_id: str, subscription_id: int) -> None:
        value = SubscriptionRef(subscription_id=subscription_id).encode()
        click = slack.block_actions(
            action_id=ActionId.SUBSCRIPTION_UNDO, value=value, user_id=user_id
        )
        await post(client, click)

    await command(client, slack, f"subscribe {NOC} severity&gt;=high not customer=Initech")
    [before] = await rows(db)
    listing = await command(client, slack, "subscriptions")
    remove = button(listing.json, ActionId.SUBSCRIPTION_REMOVE)
    assert remove["confirm"]["title"]["text"] == f"Remove subscription #{before.id}?"
    assert remove["confirm"]["confirm"]["text"] == "Remove"
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.SUBSCRIPTION_REMOVE, value=remove["value"], user_id=OWNER
        ),
    )
    [removed] = await calls_to(fake_slack, "response_url")
    undo = button(removed.args, ActionId.SUBSCRIPTION_UNDO)
    assert await rows(db) == []

    await post(
        client,
        slack.block_actions(
            action_id=ActionId.SUBSCRIPTION_UNDO, value=undo["value"], user_id=OWNER
        ),
    )
    [_, restored] = await calls_to(fake_slack, "response_url", 2)
    [after] = await rows(db)
    # What came back, in full; its new number only when it has one.
    assert restored.args["blocks"][0]["text"]["text"] == restored_notice(
        before.id,
        f"*#{after.id}* <#C0NOC>: alerts · severity high or worse · all customers · not Initech",
    )
    keep = ("target", "topics", "min_severity", "customers_excluded", "customers_included")
    assert [getattr(after, name) for name in keep] == [getattr(before, name) for name in keep]

    # A second Undo (an older copy of the answer) makes no second one.
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.SUBSCRIPTION_UNDO, value=undo["value"], user_id=OWNER
        ),
    )
    [*_, again] = await calls_to(fake_slack, "response_url", 3)
    assert f"It is back already, as #{after.id}" in again.args["text"]
    assert len(await rows(db)) == 1

    # Undo is for whoever could have removed it: a viewer cannot bring a channel's back.
    removed_id = after.id
    await command(client, slack, f"unsubscribe #{after.id}")
    await undo_as(VIEWER, after.id)
    [*_, refused] = await calls_to(fake_slack, "response_url", 4)
    assert f"no removed subscription #{after.id}" in refused.args["text"]
    assert await rows(db) == []
    await undo_as(OWNER, after.id)
    [*_, back] = await calls_to(fake_slack, "response_url", 5)
    [after] = await rows(db)
    assert back.args["blocks"][0]["text"]["text"] == restored_notice(
        removed_id,
        f"*#{after.id}* <#C0NOC>: alerts · severity high or worse · all customers · not Initech",
    )

    # /msp unsubscribe offers Undo too.
    reply = await command(client, slack, f"unsubscribe #{after.id}")
    assert button(reply.json, ActionId.SUBSCRIPTION_UNDO)


def restored_notice(removed_id: int, row: str) -> str:
    """What Undo says: the row as the list shows it (its number first), and the number
    it had only when that is not its number now."""
    new_number = not row.startswith(f"*#{removed_id}* ")
    return f":bell: Restored {f'#{removed_id} as ' if new_number else ''}{row}"


async def test_undo_names_the_old_number_only_when_the_subscription_has_a_new_one(
    client, slack, db, fake_slack, acme
):
    await command(client, slack, f"subscribe {NOC} severity&gt;=high")
    await command(client, slack, "subscribe me trials")
    first, _mine = await rows(db)
    removed = await command(client, slack, f"unsubscribe #{first.id}")
    assert removed.json["blocks"][0]["text"]["text"] == (
        f":no_bell: Removed *#{first.id}* <#C0NOC>: alerts · severity high or worse · all customers"
    )
    undo = button(removed.json, ActionId.SUBSCRIPTION_UNDO)
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.SUBSCRIPTION_UNDO, value=undo["value"], user_id=OWNER
        ),
    )
    [answer] = await calls_to(fake_slack, "response_url")
    [back] = [row for row in await rows(db) if row.target == "C0NOC"]
    assert back.id != first.id  # a row after it holds the next number: it comes back as new
    assert answer.args["blocks"][0]["text"]["text"] == (
        f":bell: Restored #{first.id} as *#{back.id}* <#C0NOC>: alerts · severity high or "
        "worse · all customers"
    )


async def test_people_see_and_remove_only_their_own(client, slack, db, fake_slack, acme):
    await command(client, slack, f"subscribe {NOC}")
    await command(client, slack, "subscribe me", user_id=VIEWER)
    listing = await command(client, slack, "subscriptions", user_id=VIEWER)
    text = shown(listing)
    assert "Your subscriptions" in text and "C0NOC" not in text
    channel_id = (await rows(db))[0].id
    forged = SubscriptionRef(subscription_id=channel_id).encode()
    await post(
        client,
        slack.block_actions(action_id=ActionId.SUBSCRIPTION_REMOVE, value=forged, user_id=VIEWER),
    )
    answers = await calls_to(fake_slack, "response_url")
    assert f"no subscription #{channel_id} you can remove" in answers[-1].args["text"]
    assert len(await rows(db)) == 2


async def test_unsubscribe_by_the_same_words_or_by_id(client, slack, db, acme):
    await command(client, slack, f"subscribe {NOC} severity&gt;=high customer=Globex")
    await command(client, slack, "subscribe me", user_id=VIEWER)
    missing = await command(client, slack, f"unsubscribe {NOC} severity&gt;=low")
    assert "no subscription with those filters" in shown(missing)
    reply = await command(client, slack, f"unsubscribe {NOC} customer=Globex severity=high")
    assert "Removed" in shown(reply)
    [left] = await rows(db)
    assert left.target == VIEWER
    by_id = await command(client, slack, f"unsubscribe #{left.id}", user_id=VIEWER)
    assert "Removed" in shown(by_id)
    assert await rows(db) == []
    assert len(await audit_rows(db, "subscription.removed")) == 2


async def test_a_viewer_cannot_unsubscribe_a_channel(client, slack, db, acme):
    await command(client, slack, f"subscribe {NOC}")
    reply = await command(client, slack, f"unsubscribe {NOC}", user_id=VIEWER)
    assert "Only owners and admins" in shown(reply)
    assert len(await rows(db)) == 1


# ---------------------------------------------------------------- the modal


async def open_modal(client, slack, fake_slack, user_id: str = OWNER) -> dict:
    listing = await command(client, slack, "subscriptions", user_id=user_id)
    new = button(listing.json, ActionId.SUBSCRIPTION_NEW)
    before = len(fake_slack.calls_to("views.open"))
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.SUBSCRIPTION_NEW,
            value=new.get("value"),
            user_id=user_id,
            channel_id="C0LIST",
        ),
    )
    calls = await calls_to(fake_slack, "views.open", before + 1)
    return calls[before].args["view"]


def form_values(
    *,
    target: str | None = None,
    topics: tuple[str, ...] = ("alerts",),
    severity: str = "any",
    include: tuple[int, ...] = (),
    exclude: tuple[int, ...] = (),
    kinds: str = "",
    quiet: str = "",
    grouping: str | None = None,
) -> dict:
    def picked(ids: tuple[int, ...]) -> dict:
        options = [{"value": CustomerRef(customer_id=i).encode()} for i in ids]
        return {"type": "multi_external_select", "selected_options": options}

    return {
        BlockId.SUBSCRIPTION_TARGET: {
            ActionId.FIELD: {"type": "conversations_select", "selected_conversation": target}
        },
        BlockId.SUBSCRIPTION_TOPICS: {
            ActionId.FIELD: {
                "type": "checkboxes",
                "selected_options": [{"value": topic} for topic in topics],
            }
        },
        BlockId.SUBSCRIPTION_SEVERITY: {
            ActionId.FIELD: {"type": "static_select", "selected_option": {"value": severity}}
        },
        BlockId.SUBSCRIPTION_CUSTOMERS: {ActionId.CUSTOMER_SEARCH: picked(include)},
        BlockId.SUBSCRIPTION_EXCLUDED: {ActionId.CUSTOMER_SEARCH: picked(exclude)},
        BlockId.SUBSCRIPTION_KINDS: {
            ActionId.FIELD: {"type": "plain_text_input", "value": kinds or None}
        },
        BlockId.SUBSCRIPTION_QUIET: {
            ActionId.FIELD: {"type": "plain_text_input", "value": quiet or None}
        },
        BlockId.SUBSCRIPTION_GROUPING: {
            ActionId.FIELD: {
                "type": "static_select",
                "selected_option": {"value": grouping} if grouping else None,
            }
        },
    }


async def submit_modal(client, slack, view: dict, user_id: str = OWNER, **fields):
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.SUBSCRIPTION_FORM,
            private_metadata=view["private_metadata"],
            values=form_values(**fields),
            user_id=user_id,
        ),
    )
    assert reply.status == 200
    return reply.json


async def test_the_modal_opens_and_subscribes(client, slack, db, fake_slack, acme):
    view = await open_modal(client, slack, fake_slack)
    assert view["callback_id"] == CallbackId.SUBSCRIPTION_FORM
    target = next(b for b in view["blocks"] if b.get("block_id") == BlockId.SUBSCRIPTION_TARGET)
    assert target["element"]["initial_conversation"] == "C0LIST"
    # Filled in, so it says so: submitted as it is, the channel gets them, not the person.
    assert target["hint"]["text"] == (
        "This channel is filled in: clear it to get them yourself, by direct message."
    )
    customers = next(
        b for b in view["blocks"] if b.get("block_id") == BlockId.SUBSCRIPTION_CUSTOMERS
    )
    assert customers["element"]["action_id"] == ActionId.CUSTOMER_SEARCH
    answer = await submit_modal(
        client,
        slack,
        view,
        target="C0NOC",
        topics=("alerts", "mau"),
        severity="high",
        exclude=(acme["Initech"],),
        kinds="agent_offline, max_mau",
    )
    assert answer["response_action"] == "update", answer
    assert "not Initech" in json.dumps(answer["view"])
    (row,) = await rows(db)
    assert (row.target, row.min_severity, sorted(row.topics)) == (
        "C0NOC",
        "high",
        ["alerts", "mau"],
    )
    assert row.customers_excluded == [acme["Initech"]]
    assert row.kinds == ["agent_offline", "max_mau"]


async def test_the_modal_fills_in_no_channel_from_the_home_tab_or_a_dm(
    client, slack, db, fake_slack, acme
):
    """Opened where there is no channel (the Home tab, a DM with the bot), "Send to"
    starts empty: submitted as it is, the notices come to the person."""
    home = {"type": "home", "blocks": []}
    for where in ({"view": home, "channel_id": None}, {"channel_id": "D0OWNER"}):
        before = len(fake_slack.calls_to("views.open"))
        await post(
            client,
            slack.block_actions(action_id=ActionId.SUBSCRIPTION_NEW, user_id=OWNER, **where),
        )
        view = (await calls_to(fake_slack, "views.open", before + 1))[before].args["view"]
        [target] = [b for b in view["blocks"] if b.get("block_id") == BlockId.SUBSCRIPTION_TARGET]
        assert "initial_conversation" not in target["element"]
        assert target["hint"]["text"] == "Leave empty to get them yourself, by direct message."
    answer = await submit_modal(client, slack, view)
    assert answer["response_action"] == "update", answer
    assert [(row.target, row.target_kind) for row in await rows(db)] == [(OWNER, "person")]


async def test_the_modal_shows_field_errors(client, slack, db, fake_slack, acme):
    view = await open_modal(client, slack, fake_slack)
    answer = await submit_modal(
        client, slack, view, target="C0NOC", topics=(), kinds="bad kind", quiet="22:00-07:00"
    )
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {
        BlockId.SUBSCRIPTION_TOPICS,
        BlockId.SUBSCRIPTION_KINDS,
        BlockId.SUBSCRIPTION_QUIET,
    }
    forged = await submit_modal(client, slack, view, target="C1>|<!channel")
    assert set(forged["errors"]) == {BlockId.SUBSCRIPTION_TARGET}
    bad_quiet = await submit_modal(client, slack, view, quiet="25:00-07:00")
    assert "HH:MM-HH:MM" in bad_quiet["errors"][BlockId.SUBSCRIPTION_QUIET]
    both = await submit_modal(
        client, slack, view, include=(acme["Globex"],), exclude=(acme["Globex"],)
    )
    assert both["response_action"] == "errors"
    assert await rows(db) == []


async def test_the_modal_flags_forged_values_on_their_own_fields(
    client, slack, db, fake_slack, acme
):
    """Found by tests/resilience/test_modal_fuzz.py: a topic the modal never offered
    was dropped silently; a customer both included and excluded was flagged on the
    topics; a malformed customer value on no block at all (Slack refuses such an
    answer), a huge one failed."""
    view = await open_modal(client, slack, fake_slack)
    unknown = await submit_modal(client, slack, view, topics=("alerts", "bogus"))
    assert set(unknown["errors"]) == {BlockId.SUBSCRIPTION_TOPICS}
    both = await submit_modal(
        client, slack, view, include=(acme["Globex"],), exclude=(acme["Globex"],)
    )
    assert set(both["errors"]) == {BlockId.SUBSCRIPTION_EXCLUDED}
    for value in ("{", json.dumps({"customer_id": 2**63})):
        values = form_values()
        picker = values[BlockId.SUBSCRIPTION_EXCLUDED][ActionId.CUSTOMER_SEARCH]
        picker["selected_options"] = [{"value": value}]
        reply = await post(
            client,
            slack.view_submission(
                callback_id=CallbackId.SUBSCRIPTION_FORM,
                private_metadata=view["private_metadata"],
                values=values,
                user_id=OWNER,
            ),
        )
        assert set(reply.json["errors"]) == {BlockId.SUBSCRIPTION_EXCLUDED}, reply.text
    assert await rows(db) == []


async def test_the_modal_for_a_member_is_theirs_and_their_customers(
    client, slack, db, fake_slack, acme
):
    view = await open_modal(client, slack, fake_slack, user_id=MEMBER)
    assert BlockId.SUBSCRIPTION_TARGET not in [b.get("block_id") for b in view["blocks"]]
    refused = await submit_modal(client, slack, view, user_id=MEMBER, include=(acme["Initech"],))
    assert refused["response_action"] == "errors"
    assert "not assigned to you" in refused["errors"][BlockId.SUBSCRIPTION_CUSTOMERS]
    forged = await submit_modal(client, slack, view, user_id=MEMBER, target="C0NOC")
    assert "Only owners and admins" in forged["errors"][BlockId.SUBSCRIPTION_TARGET]
    answer = await submit_modal(client, slack, view, user_id=MEMBER, quiet="22:00-07:00")
    assert answer["response_action"] == "update"
    (row,) = await rows(db)
    assert (row.target, row.quiet_start) == (MEMBER, "22:00")
    assert row.customers_included == sorted([acme["Acme Corp"], acme["Globex"]])


# ---------------------------------------------------------------- tenant isolation


async def test_another_msp_neither_sees_nor_removes_them(
    client, slack, db, fake_slack, acme, clock
):
    """Another workspace's MSP (this bot serves ours only, so it is written directly):
    its subscription and its customer are out of our staff's reach."""
    await grant(db, "U0900", Role.OWNER, team_id="T0002")
    umbrella = await seed_customer(db, name="Umbrella", team_id="T0002")
    async with db.unit_of_work() as session:
        theirs = await session.scalar(select(Msp.id).where(Msp.team_id == "T0002"))
        row = AlertSubscription(
            msp_id=theirs,
            target="C0THEIRS",
            target_kind="channel",
            topics=["alerts"],
            customers_included=[umbrella],
            created_by="U0900",
            created_at=clock(),
        )
        session.add(row)
        await session.flush()
        row_id = row.id
    ours = await command(client, slack, "subscriptions")
    assert "C0THEIRS" not in shown(ours) and "None yet" in shown(ours)
    by_id = await command(client, slack, f"unsubscribe #{row_id}")
    assert f"no subscription #{row_id}" in shown(by_id)
    named = await command(client, slack, "subscribe customer=Umbrella")
    assert "“Umbrella”" in shown(named)
    assert [(row.id, row.msp_id) for row in await rows(db)] == [(row_id, theirs)]


# ---------------------------------------------------------------- grouping and races


async def test_a_subscription_says_how_it_groups_alerts(client, slack, db, fake_slack, acme):
    reply = await command(client, slack, f"subscribe {NOC} alerts group=kind,10m")
    assert "grouped by customer and kind within 10 min" in shown(reply)
    (row,) = await rows(db)
    assert (row.group_by, row.group_minutes) == ("kind", 10)
    default = await command(client, slack, "subscribe <#C0OPS|ops> alerts")
    assert "grouped" not in shown(default)  # the default is not spelled out
    again = await command(client, slack, f"subscribe {NOC} alerts group=off")
    assert "already is a subscription" in shown(again)  # how, not what: the same one
    wrong = await command(client, slack, f"subscribe {NOC} alerts group=90m")
    assert "within 1 to 60 minutes" in shown(wrong)
    view = await open_modal(client, slack, fake_slack)
    grouping = next(b for b in view["blocks"] if b.get("block_id") == BlockId.SUBSCRIPTION_GROUPING)
    assert grouping["element"]["initial_option"]["value"] == "customer,5"
    answer = await submit_modal(client, slack, view, target="C0DM", grouping="off")
    assert answer["response_action"] == "update", answer
    assert "not grouped" in json.dumps(answer["view"])
    forged = await submit_modal(client, slack, view, target="C0X", grouping="kind,900")
    assert set(forged["errors"]) == {BlockId.SUBSCRIPTION_GROUPING}


async def test_the_same_subscription_made_at_once_is_made_once(client, slack, db, acme):
    """Both requests pass the duplicate check before either has written; the unique
    index on the target and filters keeps one."""
    replies = await asyncio.gather(
        *(command(client, slack, f"subscribe {NOC} alerts severity=high") for _ in range(6))
    )
    made = [reply for reply in replies if "Subscribed" in shown(reply)]
    assert len(made) == 1, [shown(reply) for reply in replies]
    assert all("already is a subscription" in shown(r) for r in replies if r not in made)
    assert len(await rows(db)) == 1
