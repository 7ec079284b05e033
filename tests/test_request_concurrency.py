"""A request is decided exactly once, however many approvers click at the same
moment, on SQLite and on PostgreSQL: one decision, one update of the approval
message, one audit row, the change made once, and everyone else told who decided.
A Slack retry of a click changes nothing, and nobody reaches a customer (or a
request) they may not see by forging what a modal or a button carries."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain.roles import Role
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import RequestFormState
from storage.engine import Database
from storage.models import ChangeRequest, Msp
from tests.drive import (
    ask,
    calls_to,
    lines,
    messages_in,
    post,
    request_ref,
    shown_message,
    updates_to,
)
from tests.forms import selected, submit_values, typed
from tests.rows import audit_rows, customer_row, request_rows
from tests.seed import APPROVALS, APPROVER, MEMBER, grant, grant_staff, paid, seed_customer
from tests.support import NOW_SHOWN, fast_bot
from tests.wait import settle, settle_bot

APPROVERS = [f"UAPP{n:02d}" for n in range(1, 21)]
DELETION_DAY = "<!date^1797940800^{date_short_pretty}|22 Dec 2026>"
CLICKED_AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # the FakeClock's time
DENY_NOTE = "No budget this quarter"


bot = pytest.fixture(fast_bot, name="bot")  # Slack's pacing of a channel lifted


@pytest.fixture
async def staff(db: Database) -> None:
    await grant_staff(db)
    for user_id in APPROVERS:
        await grant(db, user_id, Role.APPROVER)


async def asked_for_two_licences(client, slack, db, fake_slack) -> int:
    """Northwind (10 licences), and a request for 2 more waiting for approval."""
    customer_id = await paid(db, assigned=[MEMBER])
    asked = await ask(
        client, slack, fake_slack, "add-licences Northwind", **{BlockId.REQUEST_LICENCES: "2"}
    )
    assert asked.request_id == 1
    return customer_id


def approve_click(slack, user_id: str, request_id: int = 1):
    return slack.block_actions(
        action_id=ActionId.REQUEST_APPROVE,
        value=request_ref(request_id),
        user_id=user_id,
        channel_id=APPROVALS,
    )


def deny_submission(slack, user_id: str, request_id: int = 1):
    return slack.view_submission(
        callback_id=CallbackId.DENY_REQUEST,
        private_metadata=request_ref(request_id),
        values={BlockId.REQUEST_DENY_NOTE: {ActionId.FIELD: typed(DENY_NOTE)}},
        user_id=user_id,
    )


NOT_YOURS = [":no_entry: That customer does not exist, or is not assigned to you."]


def refused_in_modal(reply) -> list[str]:
    """A refusal that is no field's: the modal is replaced by the reason."""
    assert reply.json["response_action"] == "update"
    return lines(reply.json["view"]["blocks"])


def answers(fake_slack) -> list[dict]:
    """What the bot said below the clicked message (respond via response_url)."""
    return [call.args for call in fake_slack.calls_to("response_url")]


def already(verb: str, winner: str) -> str:
    return f"This request was already {verb} by <@{winner}> {NOW_SHOWN}. Nothing was changed."


async def check_decided_once(
    db, fake_slack, *, status: str, action: str, deciders: list[str] = APPROVERS
) -> str:
    """One decision, by one person, audited once, and one update of the message;
    the decider's id."""
    (request,) = await request_rows(db)
    assert request.status == status
    assert request.decided_at == CLICKED_AT
    winner = request.decided_by
    assert winner in deciders
    [audited] = await audit_rows(db, action)
    assert audited.actor == winner
    decisions = await audit_rows(db, "request.approved") + await audit_rows(db, "request.denied")
    assert len(decisions) == 1
    [update] = updates_to(fake_slack, APPROVALS)
    shown = shown_message(fake_slack, 1)
    assert update["blocks"] == shown["blocks"]
    if status == "applied":
        assert lines(shown["blocks"])[-1] == (
            f":white_check_mark: Approved by <@{winner}> {NOW_SHOWN} and applied"
        )
    else:
        assert lines(shown["blocks"])[-1] == f":x: Denied by <@{winner}> {NOW_SHOWN}: {DENY_NOTE}"
    assert len(messages_in(fake_slack, "D" + MEMBER[1:])) == 1  # the requester is told once
    return winner


# ---------------------------------------------------------------- many approvers at once


async def test_twenty_approve_clicks_at_once_decide_once(
    client, slack, db, staff, fake_slack, bot, backend
):
    customer_id = await asked_for_two_licences(client, slack, db, fake_slack)
    replies = await asyncio.gather(
        *(post(client, approve_click(slack, user_id)) for user_id in APPROVERS)
    )
    assert [reply.status for reply in replies] == [200] * 20
    await settle(bot)

    winner = await check_decided_once(db, fake_slack, status="applied", action="request.approved")
    assert (await customer_row(db, customer_id)).licences == 12  # added once
    told = answers(fake_slack)
    assert [answer["text"] for answer in told] == [already("approved", winner)] * 19
    assert {answer["response_type"] for answer in told} == {"ephemeral"}
    assert {answer["replace_original"] for answer in told} == {False}


async def test_denials_and_approvals_at_once_decide_once(
    client, slack, db, staff, fake_slack, bot, backend
):
    customer_id = await asked_for_two_licences(client, slack, db, fake_slack)
    approvers, deniers = APPROVERS[::2], APPROVERS[1::2]
    replies = await asyncio.gather(
        *(post(client, approve_click(slack, user_id)) for user_id in approvers),
        *(post(client, deny_submission(slack, user_id)) for user_id in deniers),
    )
    await settle(bot)

    (request,) = await request_rows(db)
    approved = request.status == "applied"
    winner = await check_decided_once(
        db,
        fake_slack,
        status=request.status,
        action="request.approved" if approved else "request.denied",
    )
    assert winner in (approvers if approved else deniers)
    assert (await customer_row(db, customer_id)).licences == (12 if approved else 10)
    outcome = (
        f":white_check_mark: Approved by <@{winner}> {NOW_SHOWN} and applied"
        if approved
        else f":x: Denied by <@{winner}> {NOW_SHOWN}: {DENY_NOTE}"
    )
    # Every denial form ends on the outcome, the winner's and the others' alike.
    for reply in replies[len(approvers) :]:
        assert reply.json["response_action"] == "update"
        assert lines(reply.json["view"]["blocks"]) == [f"Request #1: {outcome}."]
    # The approve clicks that lost are told below the message.
    losing_clicks = len(approvers) - (1 if approved else 0)
    verb = "approved" if approved else "denied"
    assert [answer["text"] for answer in answers(fake_slack)] == [already(verb, winner)] * (
        losing_clicks
    )
    assert request.decision_note == (None if approved else DENY_NOTE)


# ---------------------------------------------------------------- Slack retries


async def test_a_retried_click_changes_nothing(client, slack, db, staff, fake_slack, bot, backend):
    customer_id = await asked_for_two_licences(client, slack, db, fake_slack)
    click = approve_click(slack, APPROVER)
    retry = replace(
        click,
        headers={**click.headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    # The retry can arrive while the first delivery is still being handled, or after.
    first, during = await asyncio.gather(post(client, click), post(client, retry))
    await settle(bot)
    after = await post(client, retry)
    await settle(bot)

    assert (first.status, during.status, after.status) == (200, 200, 200)
    await check_decided_once(
        db, fake_slack, status="applied", action="request.approved", deciders=[APPROVER]
    )
    assert len(await audit_rows(db, "customer.updated")) == 1
    assert (await customer_row(db, customer_id)).licences == 12
    assert [answer["text"] for answer in answers(fake_slack)] == [already("approved", APPROVER)] * 2


# ---------------------------------------------------------------- who may reach what


async def test_a_member_cannot_request_for_a_customer_not_assigned_to_them(
    client, slack, db, staff, fake_slack
):
    customer_id = await paid(db)  # assigned to nobody
    reply = await post(
        client, slack.slash_command("request add-licences Northwind", user_id=MEMBER)
    )
    assert reply.json["text"].startswith(":no_entry: No customer you can see matches “Northwind”.")
    forged = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.REQUEST_FORM,
            private_metadata=RequestFormState(
                kind="add_licences", customer_id=customer_id
            ).encode(),
            values=submit_values(**{BlockId.REQUEST_LICENCES: "3"}),
            user_id=MEMBER,
        ),
    )
    assert refused_in_modal(forged) == NOT_YOURS
    assert await request_rows(db) == []
    await settle_bot(client)
    assert fake_slack.calls_to("views.open") == []


async def test_nobody_reaches_another_msps_customer_or_request(
    client, slack, db, staff, fake_slack, bot
):
    await grant(db, "U0900", Role.OWNER, team_id="T0900")
    theirs = await seed_customer(db, name="Their Co", team_id="T0900", licences=5)
    async with db.unit_of_work() as session:
        their_msp = await session.scalar(select(Msp.id).where(Msp.team_id == "T0900"))
        session.add(
            ChangeRequest(
                msp_id=their_msp,
                customer_id=theirs,
                customer_name="Their Co",
                kind="add_licences",
                status="pending",
                requested_by="U0900",
                details={"licence_count": 3, "summary": "+3 licences"},
                requested_at=CLICKED_AT,
                expires_at=CLICKED_AT + timedelta(days=7),
            )
        )
    forged = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.REQUEST_FORM,
            private_metadata=RequestFormState(kind="add_licences", customer_id=theirs).encode(),
            values=submit_values(**{BlockId.REQUEST_LICENCES: "3"}),
            user_id="U0002",  # an admin here, who sees every customer of this MSP
        ),
    )
    assert refused_in_modal(forged) == NOT_YOURS
    await post(client, approve_click(slack, APPROVER, request_id=1))
    await calls_to(fake_slack, "response_url")  # the error handler answers after the listener
    await settle(bot)
    assert [answer["text"] for answer in answers(fake_slack)] == [
        ":no_entry: That request does not exist in this MSP."
    ]
    (request,) = await request_rows(db)
    assert (request.status, request.decided_by) == ("pending", None)
    assert (await customer_row(db, theirs)).licences == 5


async def test_a_deletion_confirmed_by_twenty_at_once_is_scheduled_once(
    client, slack, db, staff, fake_slack, bot, backend
):
    customer_id = await seed_customer(db, name="Old Free", status="free", assigned=[MEMBER])
    await ask(client, slack, fake_slack, "delete Old Free")
    confirmations = [
        slack.view_submission(
            callback_id=CallbackId.CONFIRM_DELETION,
            private_metadata=request_ref(1),
            values={BlockId.REQUEST_CONFIRM_NAME: {ActionId.FIELD: typed("Old Free")}},
            user_id=user_id,
        )
        for user_id in APPROVERS
    ]
    replies = await asyncio.gather(*(post(client, confirm) for confirm in confirmations))
    await settle(bot)

    (request,) = await request_rows(db)
    assert (request.status, request.effective_on) == ("scheduled", date(2026, 12, 22))
    assert request.details["previous_status"] == "free"  # not the status it was given
    winner = request.decided_by
    outcome = f":calendar: Approved by <@{winner}> {NOW_SHOWN}; takes effect on {DELETION_DAY}"
    assert [lines(reply.json["view"]["blocks"]) for reply in replies] == [
        [f"Request #1: {outcome}."]
    ] * 20
    assert (await customer_row(db, customer_id)).status == "scheduled_deletion"
    assert len(await audit_rows(db, "request.approved")) == 1
    assert len(await audit_rows(db, "customer.updated")) == 1
    assert len(updates_to(fake_slack, APPROVALS)) == 1


# ---------------------------------------------------------------- two requests, one customer


async def test_two_requests_about_one_customer_decided_at_once_both_count(
    client, slack, db, staff, fake_slack, bot, backend
):
    """+2 licences and an upgrade to 30 seats, approved at the same moment: one after
    the other, whichever goes first, the customer ends with 30 or 32 licences, never
    with the 12 one of them computed before the other's change."""
    customers = []
    for n in range(6):
        customer_id = await paid(db, name=f"Customer {n}", assigned=[MEMBER])
        for text, fields in (
            ("add-licences", {BlockId.REQUEST_LICENCES: "2"}),
            (
                "upgrade",
                {BlockId.REQUEST_PLAN: selected("professional"), BlockId.REQUEST_LICENCES: "30"},
            ),
        ):
            await ask(client, slack, fake_slack, f"{text} Customer {n}", **fields)
        customers.append(customer_id)
    await asyncio.gather(
        *(
            post(client, approve_click(slack, APPROVERS[request_id], request_id))
            for request_id in range(1, 13)
        )
    )
    await settle(bot)

    assert [request.status for request in await request_rows(db)] == ["applied"] * 12
    for customer_id in customers:
        customer = await customer_row(db, customer_id)
        assert (customer.plan, customer.version) == ("professional", 3)
        assert customer.licences in (30, 32)
        first, second = [
            event
            for event in await audit_rows(db, "customer.updated")
            if event.entity_id == customer.account_number
        ]
        assert first.after == second.before  # the second change started from the first's
        assert second.after["licences"] == customer.licences
