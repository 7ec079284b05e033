"""Requests and approvals end to end: signed Slack requests in, the fake Slack's
calls checked (the request modal, the approval message, its update in place, the
requester's DM), and the customer as the database has it afterwards."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from bot.domain.requests import RequestType
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import RequestFormState, RequestRef
from bot.views.mrkdwn import slack_date
from storage.engine import Database
from storage.models import AuditEvent, ChangeRequest, Customer, Msp
from tests.drive import (
    all_text,
    approval_message,
    as_slack_sends,
    button,
    calls_to,
    click,
    day,
    dispatched,
    held_view,
    input_block,
    open_form,
    post,
    posts_to,
    request_ref,
    submit,
)
from tests.forms import selected, submit_values, typed
from tests.rows import customer_row, request_rows
from tests.seed import (
    ADMIN,
    APPROVALS,
    APPROVER,
    MEMBER,
    OWNER,
    RENEWAL,
    grant_staff,
    paid,
    seed_customer,
    set_msp,
)
from tests.support import TODAY
from tests.wait import settle_bot


@pytest.fixture
async def staff(db: Database) -> None:
    await grant_staff(db)


# ---------------------------------------------------------------- add licences (R9), end to end


async def test_add_licences_is_asked_approved_and_applied_with_the_prorated_charge(
    client, slack, db, staff, fake_slack
):
    customer_id = await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    assert view["callback_id"] == CallbackId.REQUEST_FORM
    assert view["title"]["text"] == "Add licences"
    text = json.dumps(view)
    # $750/month for 10 licences: $75 a licence a month; 99 of 365 days are left.
    assert "at $244.11 each for the 99 days left of the term" in text
    reply = await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "2"})
    assert reply.json["response_action"] == "update", reply.text
    assert "Request #1" in json.dumps(reply.json["view"])

    message = await approval_message(fake_slack)
    shown = all_text(message["blocks"])
    assert "Request #1: Add licences" in shown
    assert "+2 licences" in shown and "<@U0004>" in shown
    approve = button(message, ActionId.REQUEST_APPROVE)
    (request,) = await request_rows(db)
    assert request.status == "pending"
    # 2 licences x $75 a month x 12 months x 99/365 of the term left
    assert request.details["prorated_amount"] == "488.22"

    await click(client, slack, ActionId.REQUEST_APPROVE, approve["value"], "U0003")
    updates = await calls_to(fake_slack, "chat.update")
    assert updates, "the approval message is updated in place"
    assert updates[-1].args["channel"] == APPROVALS
    assert "Approved by <@U0003>" in all_text(updates[-1].args["blocks"])
    assert not any(b["type"] == "actions" for b in updates[-1].args["blocks"]), (
        "a decided request has no buttons"
    )
    dm = await posts_to(fake_slack, "U0004", 1)
    assert "Approved by <@U0003>" in dm[0].args["text"]
    customer = await customer_row(db, customer_id)
    assert customer.licences == 12
    (request,) = await request_rows(db)
    assert request.status == "applied" and request.decided_by == "U0003"


async def test_a_second_click_is_told_who_decided_and_changes_nothing(
    client, slack, db, staff, fake_slack
):
    customer_id = await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "1"})
    value = RequestRef(request_id=1).encode()
    await click(client, slack, ActionId.REQUEST_APPROVE, value, "U0003")
    await click(client, slack, ActionId.REQUEST_APPROVE, value, "U0002")
    answers = await calls_to(fake_slack, "response_url")
    assert any("already approved by <@U0003>" in a.args["text"] for a in answers)
    assert (await customer_row(db, customer_id)).licences == 11
    async with db.unit_of_work() as session:
        approvals = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "request.approved"))
        ).all()
    assert len(approvals) == 1


# ---------------------------------------------------------------- who may do what


async def test_viewers_and_members_cannot_approve(client, slack, db, staff, fake_slack):
    await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "1"})
    value = RequestRef(request_id=1).encode()
    for user_id in ("U0005", "U0004"):
        await click(client, slack, ActionId.REQUEST_APPROVE, value, user_id)
    answers = await calls_to(fake_slack, "response_url", 2)
    said = sorted(a.args["text"] for a in answers[-2:])
    refusal = ":no_entry: Only owners, admins and approvers can approve or deny requests; "
    assert said == [f"{refusal}your role is Member.", f"{refusal}your role is Viewer."], said
    assert (await request_rows(db))[0].status == "pending"


async def _reviewed(client, slack, fake_slack, user_id: str) -> dict:
    """The Home tab's row of request #1, its Review clicked: the modal it opens, as
    Slack holds it (with its id and hash, for a click inside it)."""
    await post(client, slack.app_home_opened(user_id=user_id))
    [published] = await calls_to(fake_slack, "views.publish")
    home = published.args["view"]
    assert not any(
        element.get("action_id") == ActionId.REQUEST_APPROVE
        for block in home["blocks"]
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]
    ), "a row approves nothing blind"
    review = button(home, ActionId.REQUEST_REVIEW)
    opened_before = len(fake_slack.calls_to("views.open"))
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_REVIEW,
            value=review["value"],
            user_id=user_id,
            channel_id=None,
            view={"type": "home"},
        ),
    )
    opened = (await calls_to(fake_slack, "views.open", opened_before + 1))[-1]
    [shown] = [
        v for v in fake_slack.views.values() if (v["title"] or {}).get("text") == "Review request"
    ]
    assert shown["blocks"] == opened.args["view"]["blocks"]
    return shown


async def test_a_row_on_home_shows_the_whole_request_before_approving_it(
    client, slack, db, staff, fake_slack, bot
):
    customer_id = await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    await submit(
        client, slack, view, **{BlockId.REQUEST_LICENCES: "15", BlockId.REQUEST_REASON: "new site"}
    )
    shown = await _reviewed(client, slack, fake_slack, "U0003")
    text = all_text(shown["blocks"])
    assert "15 licences" in text and "$" in text and "Reason: new site" in text, text
    assert button(shown, ActionId.REQUEST_DENY)["text"]["text"] == "Deny…"
    approve = button(shown, ActionId.REQUEST_APPROVE)
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_APPROVE,
            value=approve["value"],
            user_id="U0003",
            channel_id=None,
            view=shown,
        ),
    )
    [redrawn] = await calls_to(fake_slack, "views.update")
    assert redrawn.args["view_id"] == shown["id"]
    assert redrawn.args["view"]["title"]["text"] == "Done"
    assert "Approved by <@U0003>" in all_text(redrawn.args["view"]["blocks"])
    assert (await customer_row(db, customer_id)).licences == 25


async def test_the_asker_reviewing_their_own_request_may_withdraw_it_not_approve_it(
    client, slack, db, staff, fake_slack, bot
):
    await paid(db)
    view = await open_form(client, slack, fake_slack, "add-licences Northwind", user_id="U0002")
    await submit(client, slack, view, user_id="U0002", **{BlockId.REQUEST_LICENCES: "1"})
    shown = await _reviewed(client, slack, fake_slack, "U0002")
    actions = [
        element["action_id"]
        for block in shown["blocks"]
        for element in block.get("elements") or []
        if element.get("type") == "button"
    ]
    assert actions == [ActionId.REQUEST_WITHDRAW]
    assert "someone else decides it" in all_text(shown["blocks"])
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_WITHDRAW,
            value=button(shown, ActionId.REQUEST_WITHDRAW)["value"],
            user_id="U0002",
            channel_id=None,
            view=shown,
        ),
    )
    [redrawn] = await calls_to(fake_slack, "views.update")
    assert "Withdrawn" in all_text(redrawn.args["view"]["blocks"])
    assert (await request_rows(db))[0].status == "withdrawn"


async def test_someone_who_may_not_decide_is_offered_no_decision_in_review(
    client, slack, db, staff, fake_slack
):
    await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "1"})
    opened_before = len(fake_slack.calls_to("views.open"))
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_REVIEW,
            value=RequestRef(request_id=1).encode(),
            user_id="U0005",  # a viewer, with a click the Home tab never offers them
            channel_id=None,
            view={"type": "home"},
        ),
    )
    shown = (await calls_to(fake_slack, "views.open", opened_before + 1))[-1].args["view"]
    assert "+1 licence" in all_text(shown["blocks"])
    assert not [block for block in shown["blocks"] if block["type"] == "actions"]


async def test_the_requests_list_offers_review_to_approvers(client, slack, db, staff, fake_slack):
    await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "1"})
    reply = await post(client, slack.slash_command("requests pending", user_id="U0003"))
    assert button(reply.json, ActionId.REQUEST_REVIEW)["text"]["text"] == "Review"


async def test_nobody_approves_their_own_request_unless_the_msp_allows_it(
    client, slack, db, staff, fake_slack
):
    customer_id = await paid(db)
    view = await open_form(client, slack, fake_slack, "add-licences Northwind", user_id="U0002")
    await submit(client, slack, view, user_id="U0002", **{BlockId.REQUEST_LICENCES: "1"})
    value = RequestRef(request_id=1).encode()
    await click(client, slack, ActionId.REQUEST_APPROVE, value, "U0002")
    answers = await calls_to(fake_slack, "response_url")
    assert "cannot decide your own request" in answers[-1].args["text"]
    assert (await customer_row(db, customer_id)).licences == 10

    reply = await post(client, slack.slash_command("settings self-approval on", user_id="U0001"))
    assert "Settings saved" in reply.text
    await click(client, slack, ActionId.REQUEST_APPROVE, value, "U0002")
    for _ in range(100):
        if (await customer_row(db, customer_id)).licences == 11:
            break
    assert (await customer_row(db, customer_id)).licences == 11


async def test_a_member_cannot_request_for_a_customer_not_assigned_to_them(
    client, slack, db, staff, fake_slack
):
    await paid(db)  # not assigned to U0004
    reply = await post(
        client, slack.slash_command("request add-licences Northwind", user_id="U0004")
    )
    assert "No customer you can see matches" in reply.text
    forged = RequestFormState(kind="add_licences", customer_id=1).encode()
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.REQUEST_FORM,
            private_metadata=forged,
            values=submit_values(**{BlockId.REQUEST_LICENCES: "3"}),
            user_id="U0004",
        ),
    )
    assert "not assigned to you" in reply.text
    assert await request_rows(db) == []


async def test_viewers_and_approvers_cannot_make_requests(client, slack, db, staff, fake_slack):
    await paid(db)
    for user_id in ("U0005", "U0003"):
        reply = await post(
            client, slack.slash_command("request add-licences Northwind", user_id=user_id)
        )
        assert "cannot use /msp request" in reply.json["text"]  # the notification: plain
        # The block is plain text, where backticks would show as backticks.
        [block] = reply.json["blocks"]
        assert block["text"]["type"] == "plain_text"
        assert "cannot use /msp request" in block["text"]["text"], block


async def test_a_mistyped_request_type_gets_the_closest_one(client, slack, db, staff, fake_slack):
    await paid(db)
    reply = await post(client, slack.slash_command("request extnd Northwind", user_id="U0002"))
    said = reply.json["text"]
    assert "I don't know the request type “extnd”. Did you mean extend?" in said, said
    assert await request_rows(db) == []


# ---------------------------------------------------------------- refusals and scheduling (R10)


async def test_a_late_licence_decrease_is_refused_with_the_next_window_and_can_be_scheduled(
    client, slack, db, staff, fake_slack, clock
):
    renewal = TODAY + timedelta(days=20)
    customer_id = await paid(db, renewal_date=renewal, contract_start=date(2025, 12, 12))
    reply = await post(
        client, slack.slash_command("request decrease-licences Northwind", user_id="U0002")
    )
    assert "30 days before renewal" in reply.text, reply.text
    schedule = button(reply.json, ActionId.REQUEST_SCHEDULE)
    next_renewal = date(2027, 12, 12)  # a 12-month term on from 2026-12-12
    assert schedule["text"]["text"] == "Ask for that date"
    assert f"take effect on {day(next_renewal)} instead" in all_text(reply.json["blocks"])

    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_SCHEDULE, value=schedule["value"], user_id="U0002"
        ),
    )
    [opened] = await calls_to(fake_slack, "views.open")
    view = opened.args["view"]
    assert "next one" in json.dumps(view)
    reply = await submit(client, slack, view, user_id="U0002", **{BlockId.REQUEST_LICENCES: "6"})
    assert reply.json["response_action"] == "update", reply.text
    (request,) = await request_rows(db)
    assert request.effective_on == next_renewal

    await click(client, slack, ActionId.REQUEST_APPROVE, RequestRef(request_id=1).encode(), "U0001")
    for _ in range(100):
        if (await request_rows(db))[0].status != "pending":
            break
    assert (await request_rows(db))[0].status == "scheduled"
    assert (await customer_row(db, customer_id)).licences == 10  # not before renewal


async def test_a_bad_licence_count_is_flagged_on_its_field(client, slack, db, staff, fake_slack):
    await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    reply = await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "-3"})
    assert reply.json["response_action"] == "errors"
    assert BlockId.REQUEST_LICENCES in reply.json["errors"]
    assert await request_rows(db) == []


async def test_a_trial_request_for_a_paid_account_is_refused_at_once(
    client, slack, db, staff, fake_slack
):
    await paid(db)
    reply = await post(client, slack.slash_command("request extend Northwind", user_id="U0002"))
    assert reply.json["text"] == (
        ":no_entry: A trial extension needs an active or expired trial; this account is paid."
    )
    await settle_bot(client)
    assert fake_slack.calls_to("views.open") == []


# ---------------------------------------------------------------- one open request of a type


async def test_a_type_already_open_is_said_before_the_form_opens_with_review(
    client, slack, db, staff, fake_slack
):
    await seed_customer(
        db, name="Trial Co", status="active_trial", trial_end=TODAY + timedelta(days=3)
    )
    view = await open_form(client, slack, fake_slack, "extend Trial Co", user_id=ADMIN)
    await submit(client, slack, view, user_id=ADMIN, **{BlockId.REQUEST_DAYS: "30"})
    opened = len(fake_slack.calls_to("views.open"))

    reply = await post(client, slack.slash_command("request extend Trial Co", user_id=OWNER))
    shown = all_text(reply.json["blocks"])
    assert f"Trial Co already has request #1 ({RequestType.TRIAL_EXTENSION.label}" in shown
    assert f"waiting for approval, asked by <@{ADMIN}>" in shown
    review = button(reply.json, ActionId.REQUEST_REVIEW)
    assert RequestRef.decode(review["value"]).request_id == 1
    await settle_bot(client)
    assert len(fake_slack.calls_to("views.open")) == opened, "no form to fill in for nothing"

    # From the card's Request… menu too, below the message clicked.
    value = RequestFormState(kind=RequestType.TRIAL_EXTENSION, customer_id=1).encode()
    answers = len(fake_slack.calls_to("response_url"))
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_START, selected_option={"value": value}, user_id=OWNER
        ),
    )
    [answer] = (await calls_to(fake_slack, "response_url", answers + 1))[answers:]
    assert button(answer.args, ActionId.REQUEST_REVIEW)["value"] == review["value"]

    # Review shows the open request, to decide it there.
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_REVIEW, value=review["value"], user_id=APPROVER
        ),
    )
    [reviewing] = (await calls_to(fake_slack, "views.open", opened + 1))[opened:]
    assert reviewing.args["view"]["title"]["text"] == "Review request"

    # Another type opens its form as before.
    upgrade = await open_form(client, slack, fake_slack, "upgrade Trial Co", user_id=OWNER)
    assert upgrade["callback_id"] == CallbackId.REQUEST_FORM
    assert RequestFormState.decode(upgrade["private_metadata"]).kind == RequestType.UPGRADE


async def test_a_type_asked_by_someone_else_while_the_form_is_open_is_said_then(
    client, slack, db, staff, fake_slack
):
    await seed_customer(
        db, name="Trial Co", status="active_trial", trial_end=TODAY + timedelta(days=3)
    )
    await open_form(client, slack, fake_slack, "extend Trial Co", user_id=OWNER)
    mine = held_view(fake_slack, CallbackId.REQUEST_FORM)
    theirs = await open_form(client, slack, fake_slack, "extend Trial Co", user_id=ADMIN)
    await submit(client, slack, theirs, user_id=ADMIN, **{BlockId.REQUEST_DAYS: "30"})
    pushed = len(fake_slack.calls_to("views.push"))
    entered = {BlockId.REQUEST_DAYS: {"type": "number_input", "value": "20"}}
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_FORM_INPUT,
            block_id=BlockId.REQUEST_DAYS,
            value="20",
            extra_action={"type": "number_input"},
            user_id=OWNER,
            channel_id=None,
            view={**mine, "state": {"values": as_slack_sends(mine, entered)}},
        ),
    )
    [said] = (await calls_to(fake_slack, "views.push", pushed + 1))[pushed:]
    assert "already has request #1" in all_text(said.args["view"]["blocks"])
    assert button(said.args["view"], ActionId.REQUEST_REVIEW)
    # Sending it anyway is refused on its field: the database keeps one open.
    reply = await submit(client, slack, mine, user_id=OWNER, **{BlockId.REQUEST_DAYS: "20"})
    assert "request #1" in reply.json["errors"][BlockId.REQUEST_DAYS]
    assert len(await request_rows(db)) == 1


# ---------------------------------------------------------------- the preview follows what is typed


def _preview(view: dict) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == BlockId.REQUEST_PREVIEW]
    return block["text"]["text"]


async def test_the_extension_preview_follows_the_days_typed(client, slack, db, staff, fake_slack):
    trial_end = TODAY + timedelta(days=3)
    await seed_customer(db, name="Trial Co", status="active_trial", trial_end=trial_end)
    view = await open_form(client, slack, fake_slack, "extend Trial Co", user_id=ADMIN)
    days = input_block(view, BlockId.REQUEST_DAYS)
    assert days["dispatch_action"] is True
    assert days["element"]["action_id"] == ActionId.REQUEST_FORM_INPUT
    assert days["element"]["dispatch_action_config"] == {
        "trigger_actions_on": ["on_enter_pressed", "on_character_entered"]
    }
    assert slack_date(trial_end + timedelta(days=14)) in _preview(view)  # R7's default

    held = held_view(fake_slack, CallbackId.REQUEST_FORM)
    entered = {
        BlockId.REQUEST_DAYS: {"type": "number_input", "value": "30"},
        BlockId.REQUEST_REASON: typed("Busy season"),
    }
    redraw = await dispatched(
        client, slack, fake_slack, held, BlockId.REQUEST_DAYS, entered, user_id=ADMIN
    )
    assert (redraw.args["view_id"], redraw.args["hash"]) == (held["id"], held["hash"])
    redrawn = redraw.args["view"]
    preview = _preview(redrawn)
    assert "extended by 30 days" in preview
    assert slack_date(trial_end + timedelta(days=30)) in preview
    assert redrawn["private_metadata"] == view["private_metadata"]
    assert input_block(redrawn, BlockId.REQUEST_DAYS)["element"]["initial_value"] == "30"
    reason = input_block(redrawn, BlockId.REQUEST_REASON)["element"]
    assert reason["initial_value"] == "Busy season"

    # A number the rules refuse: the preview says what is wrong.
    for typed_days, wrong in (("0", "at least 1"), ("91", "at most 90"), ("ten", "whole number")):
        held = held_view(fake_slack, CallbackId.REQUEST_FORM)
        entered = {BlockId.REQUEST_DAYS: {"type": "number_input", "value": typed_days}}
        redraw = await dispatched(
            client, slack, fake_slack, held, BlockId.REQUEST_DAYS, entered, user_id=ADMIN
        )
        assert wrong in _preview(redraw.args["view"]), typed_days
    # Nothing typed: R7's default again.
    held = held_view(fake_slack, CallbackId.REQUEST_FORM)
    entered = {BlockId.REQUEST_DAYS: {"type": "number_input", "value": None}}
    redraw = await dispatched(
        client, slack, fake_slack, held, BlockId.REQUEST_DAYS, entered, user_id=ADMIN
    )
    assert slack_date(trial_end + timedelta(days=14)) in _preview(redraw.args["view"])
    assert await request_rows(db) == []


async def test_the_add_licences_preview_shows_what_the_count_typed_costs(
    client, slack, db, staff, fake_slack
):
    await paid(db, assigned=[MEMBER])
    await open_form(client, slack, fake_slack, "add-licences Northwind")
    held = held_view(fake_slack, CallbackId.REQUEST_FORM)
    entered = {BlockId.REQUEST_LICENCES: {"type": "number_input", "value": "2"}}
    redraw = await dispatched(
        client, slack, fake_slack, held, BlockId.REQUEST_LICENCES, entered, user_id=MEMBER
    )
    # 2 licences x $75 a month x 12 months x 99/365 of the term left
    preview = _preview(redraw.args["view"])
    assert "Adds 2 licences at once: $488.22 for the 99 days left of the term" in preview


async def test_the_upgrade_preview_follows_the_plan_chosen(client, slack, db, staff, fake_slack):
    await seed_customer(
        db, name="Trial Co", status="active_trial", trial_end=TODAY + timedelta(days=3)
    )
    view = await open_form(client, slack, fake_slack, "upgrade Trial Co", user_id=ADMIN)
    plan = input_block(view, BlockId.REQUEST_PLAN)
    assert plan["dispatch_action"] is True
    # Before a plan is chosen the seats may be left out, and the form says for which
    # plan they may not.
    seats = input_block(view, BlockId.REQUEST_LICENCES)
    assert seats["optional"] is True
    assert seats["hint"]["text"] == (
        "For Enterprise, required: its quote is for this many seats. For another plan, "
        "leave it empty for a licence for each user."
    )
    assert _preview(view) == (
        "The account moves to the plan chosen as soon as the request is approved "
        "(Enterprise once the customer has accepted its quote)."
    )
    held = held_view(fake_slack, CallbackId.REQUEST_FORM)
    entered = {BlockId.REQUEST_PLAN: selected("enterprise")}
    redraw = await dispatched(
        client, slack, fake_slack, held, BlockId.REQUEST_PLAN, entered, user_id=ADMIN
    )
    # Enterprise chosen: its seats are now required, and the preview waits for them
    # rather than warning about a figure not typed yet.
    seats = input_block(redraw.args["view"], BlockId.REQUEST_LICENCES)
    assert seats["optional"] is False
    assert seats["hint"]["text"] == "Enterprise's quote is for this many seats."
    assert ":warning:" not in _preview(redraw.args["view"])
    held = held_view(fake_slack, CallbackId.REQUEST_FORM)
    entered[BlockId.REQUEST_LICENCES] = {"type": "number_input", "value": "40"}
    redraw = await dispatched(
        client, slack, fake_slack, held, BlockId.REQUEST_LICENCES, entered, user_id=ADMIN
    )
    redrawn = redraw.args["view"]
    assert "for 40 seats" in _preview(redrawn)
    chosen = input_block(redrawn, BlockId.REQUEST_PLAN)["element"]["initial_option"]
    assert chosen["value"] == "enterprise"


# ---------------------------------------------------------------- trial extension (R7), denial


async def test_a_trial_extension_denied_with_a_reason(client, slack, db, staff, fake_slack):
    customer_id = await seed_customer(
        db, name="Trial Co", status="active_trial", trial_end=TODAY + timedelta(days=3)
    )
    view = await open_form(client, slack, fake_slack, "extend Trial Co", user_id="U0002")
    await submit(client, slack, view, user_id="U0002", **{BlockId.REQUEST_DAYS: "14"})
    message = await approval_message(fake_slack)
    deny = button(message, ActionId.REQUEST_DENY)
    await click(client, slack, ActionId.REQUEST_DENY, deny["value"], "U0003")
    opened = (await calls_to(fake_slack, "views.open", 2))[-1]
    assert opened.args["view"]["callback_id"] == CallbackId.DENY_REQUEST
    empty = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.DENY_REQUEST,
            private_metadata=opened.args["view"]["private_metadata"],
            values={
                BlockId.REQUEST_DENY_NOTE: {
                    ActionId.FIELD: {"type": "plain_text_input", "value": " "}
                }
            },
            user_id="U0003",
        ),
    )
    assert empty.json["response_action"] == "errors"
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.DENY_REQUEST,
            private_metadata=opened.args["view"]["private_metadata"],
            values={
                BlockId.REQUEST_DENY_NOTE: {
                    ActionId.FIELD: {"type": "plain_text_input", "value": "<!channel> no budget"}
                }
            },
            user_id="U0003",
        ),
    )
    assert reply.json["response_action"] == "update"
    updates = await calls_to(fake_slack, "chat.update")
    shown = all_text(updates[-1].args["blocks"])
    assert "Denied by <@U0003>" in shown and "&lt;!channel&gt; no budget" in shown
    assert (await customer_row(db, customer_id)).trial_end == TODAY + timedelta(days=3)


async def test_an_approved_extension_counts_from_the_trial_end(
    client, slack, db, staff, fake_slack
):
    customer_id = await seed_customer(
        db, name="Trial Co", status="expired_trial", trial_end=TODAY - timedelta(days=5)
    )
    view = await open_form(client, slack, fake_slack, "extend Trial Co", user_id="U0002")
    await submit(client, slack, view, user_id="U0002", **{BlockId.REQUEST_DAYS: "10"})
    await click(client, slack, ActionId.REQUEST_APPROVE, RequestRef(request_id=1).encode(), "U0001")
    await calls_to(fake_slack, "chat.update")
    customer = await customer_row(db, customer_id)
    assert customer.status == "active_trial"
    # It had ended: 10 more days from today, today being the first (trial_end is the
    # last active day, R4).
    assert customer.trial_end == TODAY + timedelta(days=9)


# ---------------------------------------------------------------- deletion (R16): typed name


async def test_approving_a_deletion_needs_the_typed_name_and_schedules_it(
    client, slack, db, staff, fake_slack
):
    customer_id = await seed_customer(db, name="Old Free", status="free")
    view = await open_form(client, slack, fake_slack, "delete Old Free", user_id="U0002")
    await submit(client, slack, view, user_id="U0002")
    await click(client, slack, ActionId.REQUEST_APPROVE, RequestRef(request_id=1).encode(), "U0001")
    opened = (await calls_to(fake_slack, "views.open", 2))[-1]
    confirm = opened.args["view"]
    assert confirm["callback_id"] == CallbackId.CONFIRM_DELETION

    def typed(name: str):
        return slack.view_submission(
            callback_id=CallbackId.CONFIRM_DELETION,
            private_metadata=confirm["private_metadata"],
            values={
                BlockId.REQUEST_CONFIRM_NAME: {
                    ActionId.FIELD: {"type": "plain_text_input", "value": name}
                }
            },
            user_id="U0001",
        )

    wrong = await post(client, typed("Old"))
    assert wrong.json["response_action"] == "errors"
    assert BlockId.REQUEST_CONFIRM_NAME in wrong.json["errors"]
    assert (await customer_row(db, customer_id)).status == "free"
    right = await post(client, typed("old free"))
    assert right.json["response_action"] == "update"
    customer = await customer_row(db, customer_id)
    assert customer.status == "scheduled_deletion"
    (request,) = await request_rows(db)
    assert request.status == "scheduled"
    assert request.effective_on == TODAY + timedelta(days=30)


async def test_deleting_during_a_paid_term_is_refused_with_the_renewal(
    client, slack, db, staff, fake_slack
):
    await paid(db)
    reply = await post(client, slack.slash_command("request delete Northwind", user_id="U0002"))
    assert "cannot be deleted during its paid term" in reply.text
    # R16: the earliest date it would be allowed, as each reader's own date
    refused = reply.json["blocks"][0]["text"]
    assert refused["type"] == "mrkdwn" and f"on {day(RENEWAL)} at the soonest" in refused["text"]
    assert f"on {day(RENEWAL)} at the soonest" in reply.json["text"]
    assert "2027-03-01" not in reply.text
    await settle_bot(client)
    assert fake_slack.calls_to("views.open") == []


# ---------------------------------------------------------------- lists, withdraw, routing


async def test_requests_list_and_withdraw(client, slack, db, staff, fake_slack):
    await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "4"})
    reply = await post(client, slack.slash_command("requests mine", user_id="U0004"))
    assert "Your requests (1)" in reply.text or "Your requests (1)" in all_text(
        reply.json["blocks"]
    )
    withdraw = button(reply.json, ActionId.REQUEST_WITHDRAW)
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_WITHDRAW, value=withdraw["value"], user_id="U0004"
        ),
    )
    await calls_to(fake_slack, "response_url")
    assert (await request_rows(db))[0].status == "withdrawn"
    approver_list = await post(client, slack.slash_command("requests", user_id="U0003"))
    assert "(0)" in all_text(approver_list.json["blocks"])


async def test_without_an_approvals_channel_owners_get_a_dm(client, slack, db, staff, fake_slack):
    await set_msp(db, approvals_channel=None)
    await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "1"})
    dm = await posts_to(fake_slack, "U0001", 1)
    assert "Request #1" in dm[0].args["text"]


async def test_settings_name_the_approvals_channel(client, slack, db, staff, fake_slack):
    reply = await post(client, slack.slash_command("settings approvals <#C0NEW|approvals>"))
    assert "<#C0NEW>" in all_text(reply.json["blocks"])
    bad = await post(client, slack.slash_command("settings approvals general"))
    assert "Name the channel with #" in bad.text
    member = await post(client, slack.slash_command("settings", user_id="U0004"))
    assert "cannot use /msp settings" in member.text


# ---------------------------------------------------------------- the card


async def test_the_card_offers_requests_and_shows_their_history(
    client, slack, db, staff, fake_slack
):
    await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "4"})
    reply = await post(client, slack.slash_command("customer Northwind", user_id="U0004"))
    blocks = reply.json["blocks"]
    menu = button(reply.json, ActionId.REQUEST_START)
    labels = [option["text"]["text"] for option in menu["options"]]
    assert "Add licences" in labels and "Extend trial" not in labels
    assert "#1 Add licences: +4 licences" in all_text(blocks)

    option = next(o for o in menu["options"] if o["text"]["text"] == "Add licences")
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_START, selected_option=option, user_id="U0004"
        ),
    )
    opened = (await calls_to(fake_slack, "views.open", 2))[-1]
    assert opened.args["view"]["title"]["text"] == "Add licences"


# ---------------------------------------------------------------- checked again at approval


async def test_a_cancellation_is_not_approved_once_the_account_is_past_due(
    client, slack, db, staff, fake_slack
):
    """R14 holds when the approver clicks, not only when the request was asked."""
    customer_id = await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "cancel Northwind")
    await submit(client, slack, view)
    async with db.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        customer.past_due = True
    await click(client, slack, ActionId.REQUEST_APPROVE, request_ref(1), "U0003")
    answers = await calls_to(fake_slack, "response_url")
    assert "past-due balance" in answers[-1].args["text"]
    (request,) = await request_rows(db)
    assert request.status == "pending" and request.decided_by is None
    assert (await customer_row(db, customer_id)).status == "paid"


async def test_a_change_whose_date_passed_while_it_waited_is_not_approved(
    client, slack, db, staff, fake_slack, clock
):
    customer_id = await paid(db, assigned=["U0004"])
    view = await open_form(client, slack, fake_slack, "decrease-licences Northwind")
    await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "6"})
    async with db.unit_of_work() as session:
        await session.execute(update(Msp).values(request_expiry_days=90))
        await session.execute(
            update(ChangeRequest).values(expires_at=clock() + timedelta(days=200))
        )
    clock.advance(days=100)  # past the renewal on 2027-03-01
    await click(client, slack, ActionId.REQUEST_APPROVE, request_ref(1), "U0003")
    answers = await calls_to(fake_slack, "response_url")
    assert f"{day(RENEWAL)}, which has passed while it waited" in answers[-1].args["text"]
    assert (await request_rows(db))[0].status == "pending"
    assert (await customer_row(db, customer_id)).licences == 10


async def test_a_deletion_is_not_approved_once_the_account_is_paid_again(
    client, slack, db, staff, fake_slack
):
    customer_id = await seed_customer(db, name="Old Free", status="free")
    view = await open_form(client, slack, fake_slack, "delete Old Free", user_id="U0002")
    await submit(client, slack, view, user_id="U0002")
    async with db.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        customer.status, customer.plan, customer.renewal_date = "paid", "essentials", RENEWAL
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.CONFIRM_DELETION,
            private_metadata=request_ref(1),
            values={
                BlockId.REQUEST_CONFIRM_NAME: {
                    ActionId.FIELD: {"type": "plain_text_input", "value": "Old Free"}
                }
            },
            user_id="U0001",
        ),
    )
    assert "cannot be deleted during its paid term" in reply.text
    assert (await request_rows(db))[0].status == "pending"
    assert (await customer_row(db, customer_id)).status == "paid"
