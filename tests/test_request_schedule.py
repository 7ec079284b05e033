"""The scheduler's part of requests, with the injected clock: approved changes
apply on their effective date in the MSP's time zone and not a moment before,
deletions complete 30 days after approval, pending requests expire after the
MSP's waiting time, and two sweeps at once (or one run twice) do each thing once."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from bot.domain.customers import CustomerField
from bot.domain.requests import RequestType
from bot.ids import ActionId, BlockId, CallbackId
from bot.notify.notifiers import outbox_notifiers
from bot.payloads import CustomerRef, RequestFormState
from scheduler.jobs.requests import (
    apply_scheduled_changes,
    expire_pending_requests,
    roll_renewals,
)
from storage.engine import Database
from storage.models import Customer
from tests.drive import (
    Asked,
    all_text,
    approve,
    approve_deletion,
    ask,
    button,
    click,
    day,
    messages_in,
    moment_shown,
    outcome,
    post,
    request_ref,
    shown_message,
)
from tests.forms import selected, typed
from tests.rows import audit_rows, customer_row, request_rows
from tests.seed import (
    ADMIN,
    APPROVALS,
    APPROVER,
    MEMBER,
    VIEWER,
    grant_staff,
    paid,
    seed_customer,
    set_msp,
)
from tests.support import NOW_SHOWN, fast_bot
from tests.wait import settle

RENEWAL = date(2027, 3, 1)
# The contract start stays: it anchors every renewal (bot/domain/terms.py).
CONTRACT_START = date(2026, 3, 1)
NEXT_RENEWAL = date(2028, 3, 1)
ASKED_AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # the FakeClock's time
SECOND = timedelta(seconds=1)


bot = pytest.fixture(fast_bot, name="bot")  # Slack's pacing of a channel lifted

staff = pytest.fixture(grant_staff, name="staff")


async def sweep(db: Database, clock, moment: datetime) -> int:
    clock.now = moment
    return await apply_scheduled_changes(
        db=db, clock=clock, wake=lambda: None, notifiers=outbox_notifiers()
    )


async def expire(db: Database, clock, moment: datetime) -> int:
    clock.now = moment
    return await expire_pending_requests(
        db=db, clock=clock, wake=lambda: None, notifiers=outbox_notifiers()
    )


def notices(fake_slack) -> list[str]:
    """The requester's DMs, oldest first."""
    return [message["text"] for message in messages_in(fake_slack, "D" + MEMBER[1:])]


def midnight(moment: date) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


# ---------------------------------------------------------------- changes at renewal

AT_RENEWAL: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # type: (the words, the modal's fields, the customer after the renewal)
    "decrease": (
        "decrease-licences",
        {BlockId.REQUEST_LICENCES: "6"},
        {"licences": 6, "renewal_date": NEXT_RENEWAL, "contract_start": CONTRACT_START},
    ),
    "downgrade": (
        "downgrade",
        {BlockId.REQUEST_PLAN: selected("essentials")},
        {"plan": "essentials", "renewal_date": NEXT_RENEWAL, "contract_start": CONTRACT_START},
    ),
    "remove add-on": (
        "remove-addon",
        {BlockId.REQUEST_ADD_ON: selected("activconnect")},
        {
            "add_ons": ["Screen Details"],
            "renewal_date": NEXT_RENEWAL,
            "contract_start": CONTRACT_START,
        },
    ),
    "cancel": (
        "cancel",
        {},
        {"plan": "free", "status": "free", "renewal_date": None, "contract_start": None},
    ),
}


def columns(customer: Customer, names: dict[str, Any]) -> dict[str, Any]:
    return {name: getattr(customer, name) for name in names}


async def professional(db: Database, name: str = "Northwind") -> int:
    """Professional, 10 licences and two add-ons, renewing on RENEWAL."""
    return await paid(
        db,
        name=name,
        plan="professional",
        add_ons=["ActivConnect", "Screen Details"],
        assigned=[MEMBER],
    )


async def approved(bot, client, slack, fake_slack, kind: str, name: str = "Northwind") -> Asked:
    words, fields, _after = AT_RENEWAL[kind]
    asked = await ask(client, slack, fake_slack, f"{words} {name}", **fields)
    await approve(bot, client, slack, fake_slack, asked)
    return asked


@pytest.mark.parametrize("kind", list(AT_RENEWAL))
async def test_a_change_at_renewal_applies_on_the_renewal_date_and_not_the_day_before(
    client, slack, db, staff, fake_slack, bot, clock, kind
):
    customer_id = await professional(db)
    asked = await approved(bot, client, slack, fake_slack, kind)
    after = AT_RENEWAL[kind][2]
    before = columns(await customer_row(db, customer_id), after)

    assert await sweep(db, clock, midnight(RENEWAL) - SECOND) == 0
    assert columns(await customer_row(db, customer_id), after) == before
    assert (await request_rows(db))[0].status == "scheduled"

    assert await sweep(db, clock, midnight(RENEWAL)) == 1
    await settle(bot)
    assert columns(await customer_row(db, customer_id), after) == after
    (request,) = await request_rows(db)
    assert (request.status, request.applied_at) == ("applied", midnight(RENEWAL))
    applied = f":white_check_mark: Approved by <@U0003> {NOW_SHOWN} and applied"
    # The message's explanation names the renewal, so its outcome does not; the DM does.
    assert outcome(shown_message(fake_slack, asked.request_id)) == applied
    assert notices(fake_slack)[-1].endswith(f": {applied} on {day(RENEWAL)}.")
    assert len(notices(fake_slack)) == 2  # approved, then applied
    [audited] = await audit_rows(db, "request.applied")
    assert audited.actor == "job:renewals"
    changed = (await audit_rows(db, "customer.updated"))[-1]  # the change applied
    assert (changed.actor, changed.entity_id) == (
        "job:renewals",
        request.account_number,
    )


async def test_changes_due_on_one_renewal_move_the_term_on_once(
    client, slack, db, staff, fake_slack, bot, clock
):
    customer_id = await professional(db)
    for kind in ("decrease", "downgrade", "remove add-on"):
        await approved(bot, client, slack, fake_slack, kind)
    assert await sweep(db, clock, midnight(RENEWAL) + timedelta(hours=1)) == 3
    customer = await customer_row(db, customer_id)
    assert (customer.licences, customer.plan, customer.add_ons) == (
        6,
        "essentials",
        ["Screen Details"],
    )
    assert (customer.contract_start, customer.renewal_date) == (CONTRACT_START, NEXT_RENEWAL)
    assert await sweep(db, clock, midnight(RENEWAL) + timedelta(hours=2)) == 0


# ---------------------------------------------------------------- deletions (R16)


async def test_a_deletion_completes_30_days_after_its_approval_not_on_day_29(
    client, slack, db, staff, fake_slack, bot, clock
):
    customer_id = await seed_customer(db, name="Old Free", status="free", assigned=[MEMBER])
    asked = await ask(client, slack, fake_slack, "delete Old Free")
    clock.now = ASKED_AT + timedelta(days=3)  # approved three days after it was asked
    await approve_deletion(bot, client, slack, fake_slack, asked, "Old Free")
    deletion_day = date(2026, 12, 25)
    assert (await request_rows(db))[0].effective_on == deletion_day

    assert await sweep(db, clock, midnight(deletion_day) - SECOND) == 0  # day 29
    assert (await customer_row(db, customer_id)).status == "scheduled_deletion"
    assert await sweep(db, clock, midnight(deletion_day)) == 1  # day 30
    assert (await customer_row(db, customer_id)).status == "deleted"
    assert (await request_rows(db))[0].status == "applied"


async def test_a_scheduled_change_whose_customer_record_was_deleted_stops_no_sweep(
    client, slack, db, staff, fake_slack, bot, clock
):
    """R21 may delete the record of a customer scheduled for deletion: its request
    is then reversed, and the other scheduled changes still apply."""
    customer_id = await seed_customer(db, name="Old Free", status="free", assigned=[MEMBER])
    asked = await ask(client, slack, fake_slack, "delete Old Free")
    await approve_deletion(bot, client, slack, fake_slack, asked, "Old Free")
    other = await professional(db, name="Other Co")
    await approved(bot, client, slack, fake_slack, "decrease", name="Other Co")
    deleted = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.DELETE_CUSTOMER,
            private_metadata=CustomerRef(customer_id=customer_id).encode(),
            values={CustomerField.CONFIRM_NAME: {ActionId.FIELD: typed("Old Free")}},
            user_id=ADMIN,
        ),
    )
    assert deleted.json["response_action"] == "update", deleted.text

    assert await sweep(db, clock, midnight(RENEWAL)) == 2
    await settle(bot)
    deletion, decrease = await request_rows(db)
    assert (deletion.status, deletion.customer_id) == ("reversed", None)
    assert deletion.decision_note == "The customer's record was deleted before this took effect."
    assert decrease.status == "applied"
    assert (await customer_row(db, other)).licences == 6
    assert outcome(shown_message(fake_slack, asked.request_id)) == (
        ":rewind: Reversed before it took effect: "
        "The customer's record was deleted before this took effect."
    )


# ---------------------------------------------------------------- the MSP's time zone


async def test_the_msps_time_zone_decides_the_day(client, slack, db, staff, fake_slack, bot, clock):
    await set_msp(db, timezone="Pacific/Auckland")  # UTC+13 in March (daylight time)
    customer_id = await professional(db)
    await approved(bot, client, slack, fake_slack, "decrease")
    local_midnight = datetime(2027, 2, 28, 11, 0, tzinfo=UTC)  # 2027-03-01 00:00 in Auckland

    assert await sweep(db, clock, local_midnight - SECOND) == 0
    assert (await customer_row(db, customer_id)).licences == 10
    assert await sweep(db, clock, local_midnight) == 1
    customer = await customer_row(db, customer_id)
    assert (customer.licences, customer.renewal_date) == (6, NEXT_RENEWAL)


async def test_a_msp_behind_utc_waits_for_its_own_day(
    client, slack, db, staff, fake_slack, bot, clock
):
    await set_msp(db, timezone="America/Los_Angeles")  # UTC-8 in March
    customer_id = await professional(db)
    await approved(bot, client, slack, fake_slack, "decrease")
    local_midnight = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # 2027-03-01 00:00 in Los Angeles

    assert await sweep(db, clock, midnight(RENEWAL)) == 0  # still 28 February there
    assert await sweep(db, clock, local_midnight - SECOND) == 0
    assert (await customer_row(db, customer_id)).licences == 10
    assert await sweep(db, clock, local_midnight) == 1
    assert (await customer_row(db, customer_id)).licences == 6


# ---------------------------------------------------------------- expiry


@pytest.mark.parametrize("expiry_days", [None, 3])
async def test_a_pending_request_expires_after_the_msps_waiting_time_and_not_before(
    client, slack, db, staff, fake_slack, bot, clock, expiry_days
):
    if expiry_days is not None:
        await set_msp(db, request_expiry_days=expiry_days)
    customer_id = await professional(db)
    asked = await ask(
        client, slack, fake_slack, "add-licences Northwind", **{BlockId.REQUEST_LICENCES: "2"}
    )
    expires = ASKED_AT + timedelta(days=expiry_days or 7)  # 7: the default
    (request,) = await request_rows(db)
    assert request.expires_at == expires

    assert await expire(db, clock, expires - SECOND) == 0
    assert (await request_rows(db))[0].status == "pending"
    assert await expire(db, clock, expires) == 1
    await settle(bot)
    (request,) = await request_rows(db)
    assert (request.status, request.decided_at, request.decided_by) == ("expired", expires, None)
    expired = f":zzz: Expired {moment_shown(expires)} without a decision"
    assert outcome(shown_message(fake_slack, asked.request_id)) == expired
    assert notices(fake_slack) == [
        f"Your request #1 (Add licences: +2 licences) for {request.customer_name} · "
        f"{request.account_number}: {expired}."
    ]
    [audited] = await audit_rows(db, "request.expired")
    assert audited.actor == "job:expire_pending_requests"

    await click(client, slack, ActionId.REQUEST_APPROVE, request_ref(1), "U0003")
    await settle(bot)
    [answer] = [call.args["text"] for call in fake_slack.calls_to("response_url")]
    assert answer == (
        f"This request expired without a decision {moment_shown(expires)}. Nothing was changed."
    )
    assert (await customer_row(db, customer_id)).licences == 10
    assert await expire(db, clock, expires + timedelta(days=30)) == 0


async def test_an_expired_request_says_its_deadline_and_offers_to_ask_again(
    client, slack, db, staff, fake_slack, bot, clock
):
    """The sweep runs a while after the deadline: the message and the DM say when the
    request expired (its deadline), not when the sweep noticed; nothing says it
    "takes effect"; and both offer Ask again, the same form for the same customer,
    which the rules refuse to whoever may not ask."""
    customer_id = await professional(db)
    asked = await ask(
        client, slack, fake_slack, "add-licences Northwind", **{BlockId.REQUEST_LICENCES: "2"}
    )
    deadline = ASKED_AT + timedelta(days=7)
    assert await expire(db, clock, deadline + timedelta(minutes=30)) == 1
    await settle(bot)

    expired = f":zzz: Expired {moment_shown(deadline)} without a decision"
    message = shown_message(fake_slack, asked.request_id)
    assert outcome(message) == expired
    assert "Takes effect" not in all_text(message["blocks"])
    again = RequestFormState(kind=RequestType.ADD_LICENCES, customer_id=customer_id).encode()
    assert button(message, ActionId.REQUEST_START) == {
        "type": "button",
        "action_id": ActionId.REQUEST_START,
        "text": {"type": "plain_text", "text": "Ask again", "emoji": True},
        "value": again,
    }
    [dm] = [m for m in messages_in(fake_slack, "D" + MEMBER[1:]) if "Expired" in m["text"]]
    assert dm["text"].endswith(f": {expired}.")
    assert button(dm, ActionId.REQUEST_START)["value"] == again

    # Its asker, from the DM: the same form opens, for the same customer.
    opened = len(fake_slack.calls_to("views.open"))
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_START,
            value=again,
            user_id=MEMBER,
            channel_id="D" + MEMBER[1:],
        ),
    )
    await settle(bot)
    [form] = [call.args["view"] for call in fake_slack.calls_to("views.open")[opened:]]
    assert form["title"]["text"] == "Add licences"
    state = RequestFormState.decode(form["private_metadata"])
    assert (state.kind, state.customer_id) == (RequestType.ADD_LICENCES, customer_id)

    # A viewer, from the approvals channel: refused below the message, no form.
    await click(client, slack, ActionId.REQUEST_START, again, VIEWER)
    await settle(bot)
    assert len(fake_slack.calls_to("views.open")) == opened + 1
    [refused] = [call.args["text"] for call in fake_slack.calls_to("response_url")]
    assert "cannot make requests" in refused

    # Approve on the expired message: expired at its deadline, nothing changed.
    await click(client, slack, ActionId.REQUEST_APPROVE, request_ref(asked.request_id), APPROVER)
    await settle(bot)
    answer = fake_slack.calls_to("response_url")[-1].args["text"]
    assert answer == (
        f"This request expired without a decision {moment_shown(deadline)}. Nothing was changed."
    )
    assert (await customer_row(db, customer_id)).licences == 10


async def test_an_approved_request_waiting_for_its_date_does_not_expire(
    client, slack, db, staff, fake_slack, bot, clock
):
    await professional(db)
    await approved(bot, client, slack, fake_slack, "decrease")
    assert await expire(db, clock, ASKED_AT + timedelta(days=60)) == 0
    assert (await request_rows(db))[0].status == "scheduled"


# ---------------------------------------------------------------- exactly once


async def test_two_sweeps_at_once_apply_each_change_once(
    client, slack, db, staff, fake_slack, bot, clock, backend, database_url
):
    customers = []
    for n in range(3):
        customers.append(await professional(db, name=f"Customer {n}"))
        # Changes that stack at one renewal (a cancellation would conflict with them).
        for kind in ("decrease", "downgrade", "remove add-on"):
            await approved(bot, client, slack, fake_slack, kind, name=f"Customer {n}")
    clock.now = midnight(RENEWAL)
    replicas = [Database(database_url), Database(database_url)]
    each_replica = {"clock": clock, "wake": lambda: None, "notifiers": bot.notifiers}
    try:
        both = await asyncio.gather(
            *(apply_scheduled_changes(db=r, **each_replica) for r in replicas),
            *(expire_pending_requests(db=r, **each_replica) for r in replicas),
        )
    finally:
        for replica in replicas:
            await replica.dispose()
    await settle(bot)

    assert sum(both[:2]) == 9 and sum(both[2:]) == 0
    assert [request.status for request in await request_rows(db)] == ["applied"] * 9
    assert len(await audit_rows(db, "request.applied")) == 9
    for customer_id in customers:
        customer = await customer_row(db, customer_id)
        assert (customer.status, customer.plan, customer.licences) == ("paid", "essentials", 6)
        assert (customer.renewal_date, customer.contract_start) == (NEXT_RENEWAL, CONTRACT_START)
    # Each approval message: posted once, updated once when approved and once when applied.
    assert (
        len([c for c in fake_slack.calls_to("chat.update") if c.args["channel"] == APPROVALS]) == 18
    )


async def test_a_sweep_run_twice_applies_nothing_twice(
    client, slack, db, staff, fake_slack, bot, clock
):
    customer_id = await professional(db)
    await approved(bot, client, slack, fake_slack, "decrease")
    assert await sweep(db, clock, midnight(RENEWAL)) == 1
    assert await sweep(db, clock, midnight(RENEWAL)) == 0
    assert await sweep(db, clock, midnight(NEXT_RENEWAL)) == 0  # nor at the next renewal
    customer = await customer_row(db, customer_id)
    # The term renewed again on its own, without applying the change again.
    assert (customer.licences, customer.renewal_date) == (6, date(2029, 3, 1))
    assert len(await audit_rows(db, "request.applied")) == 1
    async with db.unit_of_work() as session:
        assert (
            await session.scalar(select(Customer.version).where(Customer.id == customer_id))
        ) == 4  # two renewals and one change


# ---------------------------------------------------------------- the jobs


async def test_the_request_jobs_are_registered(bot):
    for job_id, job in (
        ("apply_scheduled_changes", apply_scheduled_changes),
        ("expire_pending_requests", expire_pending_requests),
    ):
        registered = bot.scheduler.get_job(job_id)
        assert registered is not None, job_id
        assert registered.func.__wrapped__ is job  # counted and timed for /metrics
        assert isinstance(registered.trigger, IntervalTrigger)
        assert registered.trigger.interval == timedelta(seconds=300)  # the default sweep
        assert registered.kwargs["db"] is bot.db
        assert set(registered.kwargs) == {"db", "clock", "wake", "notifiers"}


# ---------------------------------------------------------------- renewals


async def test_a_paid_term_renews_on_each_renewal_date_even_after_downtime(
    client, slack, db, staff, fake_slack, bot, clock
):
    customer_id = await professional(db)
    clock.now = midnight(date(2029, 3, 2))  # three renewal dates passed while down
    renew = functools.partial(
        roll_renewals, db=db, clock=clock, wake=lambda: None, notifiers=bot.notifiers
    )
    assert await renew() == 3
    assert await renew() == 0
    customer = await customer_row(db, customer_id)
    assert (customer.status, customer.renewal_date) == ("paid", date(2030, 3, 1))
    renewed = await audit_rows(db, "customer.renewed")
    assert [row.actor for row in renewed] == ["job:renewals"] * 3
    assert {row.entity_id for row in renewed} == {customer.account_number}


async def test_a_cancellation_conflicting_with_a_scheduled_decrease_is_refused(
    client, slack, db, staff, fake_slack, bot, clock
):
    await professional(db)
    await approved(bot, client, slack, fake_slack, "decrease")
    with pytest.raises(AssertionError, match=r"conflicts with request #1 \(Decrease licences"):
        await approved(bot, client, slack, fake_slack, "cancel")


@pytest.mark.parametrize("kind", list(AT_RENEWAL))
@pytest.mark.parametrize("status", ["free", "deleted"])
async def test_a_change_at_renewal_of_an_account_no_longer_paying_is_not_applied_and_said(
    client, slack, db, staff, fake_slack, bot, clock, kind, status
):
    """No renewal comes for an account that stopped paying (billing moved it to free,
    or it was deleted), so its change at renewal is concluded on its date, not
    left scheduled for ever: marked not applied with the reason, and the requester
    and the approval message told, as the renewal job does."""
    customer_id = await professional(db)
    asked = await approved(bot, client, slack, fake_slack, kind)
    async with db.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        customer.status, customer.plan = status, "free"

    assert await sweep(db, clock, midnight(RENEWAL) - SECOND) == 0
    assert await sweep(db, clock, midnight(RENEWAL)) == 1
    await settle(bot)
    (request,) = await request_rows(db)
    assert request.status == "reversed" and request.applied_at is None
    # The stored note reads in plain text; the messages show its date as a date token.
    assert request.decision_note.startswith("not applied on 1 Mar 2027: "), request.decision_note
    reason = request.decision_note.split(": ", 1)[1]
    assert ("deleted" if status == "deleted" else "free") in reason
    told = f":rewind: Reversed before it took effect: not applied on {day(RENEWAL)}: {reason}"
    assert outcome(shown_message(fake_slack, asked.request_id)) == told
    # The reason ends a sentence: the DM gives it no second full stop.
    assert reason.endswith(".")
    assert notices(fake_slack)[-1].endswith(f": {told}")
    [audited] = await audit_rows(db, "request.reversed")
    assert (audited.actor, audited.after["customer"]) == (
        "job:apply_scheduled_changes",
        request.account_number,
    )
    assert (await customer_row(db, customer_id)).status == status  # nothing changed
    assert await sweep(db, clock, midnight(RENEWAL) + timedelta(days=1)) == 0
