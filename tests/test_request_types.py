"""Every request type end to end, the way Slack drives it: `/msp request TYPE
CUSTOMER` opens the type's modal, its submission posts the approval message to
the approvals channel, another approver's Approve click updates that message in
place and tells the requester, and the customer's row changes as the rule says
(R6-R17, R19). Refusals name the rule's reason and, where there is one, the
earliest date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from bot.ids import ActionId, BlockId, CallbackId
from bot.notify.notifiers import outbox_notifiers
from bot.payloads import CustomerRef
from scheduler.jobs.requests import apply_scheduled_changes
from storage.engine import Database
from storage.models import MauAllowanceOrder
from tests.drive import (
    Asked,
    all_text,
    approve,
    approve_deletion,
    ask,
    button,
    click,
    day,
    has_actions,
    input_block,
    lines,
    messages_in,
    open_form,
    outcome,
    post,
    request_ref,
    shown_message,
    submit,
)
from tests.forms import block_ids, plan_options, selected, typed
from tests.rows import audit_rows, customer_row, msp_row, request_rows
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
from tests.support import NOW_SHOWN, TODAY, fast_bot
from tests.wait import settle, settle_bot

EXPIRES = (
    "Expires <!date^1795942800^{date_short_pretty} {time}|29 Nov 2026 09:00 UTC> if nobody "
    "decides it."
)
APPLIED = f":white_check_mark: Approved by <@{APPROVER}> {NOW_SHOWN} and applied"


bot = pytest.fixture(fast_bot, name="bot")  # Slack's pacing of a channel lifted

staff = pytest.fixture(grant_staff, name="staff")


def scheduled_for(moment: date, approver: str = APPROVER) -> str:
    """A scheduled request's outcome on its approval message, whose explanation names
    `moment` already (so the outcome does not say it again)."""
    return f":calendar: Approved by <@{approver}> {NOW_SHOWN}; scheduled for the day above"


async def head(db: Database, customer_id: int, request_id: int, label: str) -> list[str]:
    """The first lines of an approval message: the title and who the request is for."""
    customer = await customer_row(db, customer_id)
    return [f"Request #{request_id}: {label}", f"{customer.name} · {customer.account_number}"]


async def check_asked(
    db: Database,
    asked: Asked,
    customer_id: int,
    label: str,
    what: str | None,
    when: date | None,
    explanation: str,
    asker: str = MEMBER,
) -> None:
    """The approval message as posted: what is asked (beyond its type, which the title
    says: no "What" when there is nothing more), the rules' explanation, which says
    when it takes effect (so no field says it again), the buttons and the expiry."""
    assert lines(asked.message["blocks"]) == [
        *await head(db, customer_id, asked.request_id, label),
        f"*Asked by* <@{asker}>",
        *([f"*What* {what}"] if what else []),
        explanation,
        "Approve",
        "Deny…",
        EXPIRES,
    ]
    if when is not None:
        assert day(when) in explanation


def preview_of(view: dict) -> str:
    """What a request form's preview says."""
    [preview] = [b for b in view["blocks"] if b.get("block_id") == BlockId.REQUEST_PREVIEW]
    return preview["text"]["text"]


async def sweep_on(db: Database, clock, moment: datetime) -> int:
    clock.now = moment
    return await apply_scheduled_changes(
        db=db, clock=clock, wake=lambda: None, notifiers=outbox_notifiers()
    )


# ---------------------------------------------------------------- trial extension (R7)


@pytest.mark.parametrize(
    ("status", "trial_end", "days", "ends"),
    [
        ("active_trial", date(2026, 11, 25), "14", date(2026, 12, 9)),  # from the trial end
        ("expired_trial", date(2026, 11, 17), "10", date(2026, 12, 1)),  # today is day 1
    ],
)
async def test_a_trial_extension_is_approved_and_the_trial_runs_on(
    client, slack, db, staff, fake_slack, bot, status, trial_end, days, ends
):
    customer_id = await seed_customer(
        db, name="Trial Co", status=status, trial_end=trial_end, assigned=[MEMBER]
    )
    asked = await ask(client, slack, fake_slack, "extend Trial Co", **{BlockId.REQUEST_DAYS: days})
    assert asked.view["title"]["text"] == "Extend trial"
    days_field = input_block(asked.view, BlockId.REQUEST_DAYS)["element"]
    assert days_field["initial_value"] == "14"  # R7's default
    explanation = f"The trial is extended by {days} days: approved today, it ends on {day(ends)}."
    await check_asked(db, asked, customer_id, "Extend trial", f"+{days} days", None, explanation)

    result = await approve(bot, client, slack, fake_slack, asked)
    assert outcome(result.message) == APPLIED
    who = (await head(db, customer_id, asked.request_id, ""))[1]
    assert result.notice["text"] == (
        f"Your request #{asked.request_id} (Extend trial: +{days} days) for {who}: {APPLIED}."
    )
    customer = await customer_row(db, customer_id)
    assert (customer.status, customer.plan, customer.trial_end) == ("active_trial", "trial", ends)


# ---------------------------------------------------------------- upgrades (R6, R11)


PLANS_ABOVE_FREE = ["essentials", "professional", "enterprise"]
YEAR_FROM_TODAY = (TODAY, date(2027, 11, 22))


@pytest.mark.parametrize(
    ("status", "command", "seats", "options", "explanation", "after"),
    [
        # R6: a trial starts a term, with the seats asked for.
        (
            "active_trial",
            "upgrade",
            "5",
            PLANS_ABOVE_FREE,
            " with 5 licences",
            (5, *YEAR_FROM_TODAY),
        ),
        # R11: a paid plan keeps its term.
        (
            "paid",
            "upgrade",
            None,
            ["professional", "enterprise"],
            "",
            (10, date(2026, 3, 1), RENEWAL),
        ),
        # R17: a free account reactivates by upgrading, and starts a term.
        ("free", "reactivate", None, PLANS_ABOVE_FREE, "", (10, *YEAR_FROM_TODAY)),
    ],
)
async def test_a_move_to_professional_applies_at_once(
    client, slack, db, staff, fake_slack, bot, status, command, seats, options, explanation, after
):
    record = {"active_trial": {"plan": "trial", "licences": 0}, "free": {"plan": "free"}}
    customer_id = await paid(db, status=status, assigned=[MEMBER], **record.get(status, {}))
    fields = {BlockId.REQUEST_PLAN: selected("professional")}
    if seats:
        fields[BlockId.REQUEST_LICENCES] = seats
    asked = await ask(client, slack, fake_slack, f"{command} Northwind", **fields)
    assert plan_options(asked.view) == options
    before = {"active_trial": "Trial", "free": "Free"}.get(status, "Essentials")
    what = f"{before} → Professional" + (f", {seats} seats" if seats else "")
    explained = (
        f"The account moves to Professional{explanation} as soon as the request is approved."
    )
    label = {"upgrade": "Upgrade plan", "reactivate": "Reactivate subscription"}[command]
    await check_asked(db, asked, customer_id, label, what, None, explained)
    result = await approve(bot, client, slack, fake_slack, asked)
    assert outcome(result.message) == APPLIED
    customer = await customer_row(db, customer_id)
    assert (customer.plan, customer.status) == ("professional", "paid")
    assert (customer.licences, customer.contract_start, customer.renewal_date) == after


async def test_enterprise_needs_a_quote_for_a_number_of_seats(
    client, slack, db, staff, fake_slack, bot
):
    customer_id = await paid(db, plan="professional", assigned=[MEMBER])
    view = await open_form(client, slack, fake_slack, "upgrade Northwind")
    assert plan_options(view) == ["enterprise"]
    no_seats = await submit(client, slack, view, **{BlockId.REQUEST_PLAN: selected("enterprise")})
    assert no_seats.json == {
        "response_action": "errors",
        "errors": {
            BlockId.REQUEST_LICENCES: "Enterprise needs a quote: give the number of seats for it."
        },
    }
    asked = await ask(
        client,
        slack,
        fake_slack,
        "upgrade Northwind",
        **{BlockId.REQUEST_PLAN: selected("enterprise"), BlockId.REQUEST_LICENCES: "40"},
    )
    explained = (
        "Enterprise needs a quote: the request asks for one for 40 seats; approve it once "
        "the customer has accepted the quote, and the plan changes then."
    )
    await check_asked(
        db,
        asked,
        customer_id,
        "Upgrade plan",
        "Professional → Enterprise, 40 seats",
        None,
        explained,
    )
    (request,) = await request_rows(db)
    assert request.details["quote_needed"] is True
    assert (request.details["target_plan"], request.details["licence_count"]) == ("enterprise", 40)
    await approve(bot, client, slack, fake_slack, asked)
    customer = await customer_row(db, customer_id)
    assert (customer.plan, customer.licences, customer.renewal_date) == ("enterprise", 40, RENEWAL)


async def test_a_free_account_reactivates_to_enterprise_with_its_seats(
    client, slack, db, staff, fake_slack
):
    """The modal offered Enterprise with no field for its seats, so choosing it was
    always refused, on the reason (found by tests/resilience/test_modal_fuzz.py)."""
    await paid(db, status="free", plan="free", assigned=[MEMBER])
    view = await open_form(client, slack, fake_slack, "reactivate Northwind")
    assert block_ids(view) == [
        BlockId.REQUEST_PLAN,
        BlockId.REQUEST_LICENCES,
        BlockId.REQUEST_REASON,
    ]
    no_seats = await submit(client, slack, view, **{BlockId.REQUEST_PLAN: selected("enterprise")})
    assert set(no_seats.json["errors"]) == {BlockId.REQUEST_LICENCES}
    fields = {BlockId.REQUEST_PLAN: selected("enterprise"), BlockId.REQUEST_LICENCES: "25"}
    await ask(client, slack, fake_slack, "reactivate Northwind", **fields)
    (request,) = await request_rows(db)
    assert (request.details["target_plan"], request.details["licence_count"]) == ("enterprise", 25)


async def test_blank_seats_on_an_upgrade_are_no_seats(client, slack, db, staff, fake_slack):
    await paid(db, assigned=[MEMBER])
    fields = {BlockId.REQUEST_PLAN: selected("professional"), BlockId.REQUEST_LICENCES: "\xa0 "}
    await ask(client, slack, fake_slack, "upgrade Northwind", **fields)
    (request,) = await request_rows(db)
    assert "licence_count" not in request.details


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("professional", "This account is already on Professional"),
        ("essentials", "Essentials is not above Professional"),
    ],
)
async def test_an_upgrade_to_the_same_or_a_lower_plan_is_refused_on_the_plan_field(
    client, slack, db, staff, fake_slack, target, error
):
    await paid(db, plan="professional", assigned=[MEMBER])
    view = await open_form(client, slack, fake_slack, "upgrade Northwind")
    reply = await submit(client, slack, view, **{BlockId.REQUEST_PLAN: selected(target)})
    assert reply.json == {
        "response_action": "errors",
        "errors": {
            BlockId.REQUEST_PLAN: f"{error}: moving to a lower plan is a downgrade request, "
            "which takes effect at renewal with 30 days' notice."
        },
    }
    assert await request_rows(db) == []


# ---------------------------------------------------------------- licences (R9, R10)


async def test_added_licences_are_charged_for_the_rest_of_the_term(
    client, slack, db, staff, fake_slack, bot
):
    customer_id = await paid(db, assigned=[MEMBER])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    # $750 a month for 10 licences: $75 a licence a month, for 99 of the term's 365 days.
    # Before a count is typed, the rule and a licence's price, not a quote for one.
    assert preview_of(view) == (
        "Licences are added as soon as the request is approved, at $244.11 each for the 99 "
        f"days left of the term, so all licences renew together on {day(RENEWAL)}."
    )
    assert "hint" not in input_block(view, BlockId.REQUEST_LICENCES)
    asked = await ask(
        client, slack, fake_slack, "add-licences Northwind", **{BlockId.REQUEST_LICENCES: "2"}
    )
    explanation = (
        "Adds 2 licences at once: $488.22 for the 99 days left of the term, so all licences "
        f"renew on {day(RENEWAL)}."
    )
    assert lines(asked.sent["blocks"])[1] == explanation
    await check_asked(db, asked, customer_id, "Add licences", "+2 licences", None, explanation)
    (request,) = await request_rows(db)
    assert (request.details["prorated_amount"], request.details["prorated_days"]) == ("488.22", 99)
    result = await approve(bot, client, slack, fake_slack, asked)
    assert outcome(result.message) == APPLIED
    customer = await customer_row(db, customer_id)
    assert (customer.licences, customer.renewal_date) == (12, RENEWAL)


async def test_licences_added_twice_are_quoted_at_the_unit_price_and_never_drift(
    client, slack, db, staff, fake_slack, bot, clock
):
    """R9 with money that never drifts: 10 licences at $75 each; +10, then +10 more a
    month later. Each quote is unit price x licences added x the share of the term
    left, rounded once to the cent, whatever was added before; the monthly total
    on the card follows the licences (unit price x licences)."""
    await paid(db, assigned=[MEMBER])  # annual, 2026-03-01 to 2027-03-01: 365 days

    async def card() -> str:
        reply = await post(client, slack.slash_command("customer Northwind", user_id=MEMBER))
        return all_text(reply.json["blocks"])

    assert "*Monthly total*\n$750.00 (10 licences x $75.00)" in await card()
    # (days left, each licence's quote, +10's quote): $75 x 12 months x days / 365.
    for days_left, each, ten, total in (
        (99, "$244.11", "$2,441.10", "$1,500.00 (20 licences"),  # 900 x 99 / 365 = 244.109…
        (69, "$170.14", "$1,701.37", "$2,250.00 (30 licences"),  # 9,000 x 69 / 365 = 1,701.369…
    ):
        clock.now = datetime.combine(RENEWAL - timedelta(days=days_left), time(9), tzinfo=UTC)
        view = await open_form(client, slack, fake_slack, "add-licences Northwind")
        assert f"at {each} each for the {days_left} days left" in preview_of(view)
        asked = await ask(
            client, slack, fake_slack, "add-licences Northwind", **{BlockId.REQUEST_LICENCES: "10"}
        )
        assert lines(asked.sent["blocks"])[1] == (
            f"Adds 10 licences at once: {ten} for the {days_left} days left of the term, so all "
            f"licences renew on {day(RENEWAL)}."
        )
        await approve(bot, client, slack, fake_slack, asked)
        assert f"*Monthly total*\n{total} x $75.00)" in await card()
    first, second = await request_rows(db)
    assert [r.details["prorated_amount"] for r in (first, second)] == ["2441.10", "1701.37"]
    customer = await customer_row(db, first.customer_id)
    assert (customer.licences, customer.unit_price_cents, customer.monthly_price_cents) == (
        30,
        7_500,
        225_000,
    )


@pytest.mark.parametrize(
    "renewal",
    [date(2026, 12, 22), date(2026, 12, 23)],  # 30 days away (the last day in time), 31
)
async def test_a_licence_decrease_in_time_is_scheduled_for_renewal(
    client, slack, db, staff, fake_slack, bot, renewal
):
    start = date(renewal.year - 1, renewal.month, renewal.day)
    customer_id = await paid(db, renewal_date=renewal, contract_start=start, assigned=[MEMBER])
    view = await open_form(client, slack, fake_slack, "decrease-licences Northwind")
    assert input_block(view, BlockId.REQUEST_LICENCES)["element"]["max_value"] == "9"
    asked = await ask(
        client,
        slack,
        fake_slack,
        "decrease-licences Northwind",
        **{BlockId.REQUEST_LICENCES: "6"},
    )
    explained = (
        f"The account goes from 10 to 6 licences on {day(renewal)}, the renewal date; "
        "there are no refunds for the current term. 8 users are in use, more than the 6 "
        "licences asked for: remove users before the renewal."
    )
    await check_asked(
        db, asked, customer_id, "Decrease licences", "10 → 6 licences", renewal, explained
    )
    result = await approve(bot, client, slack, fake_slack, asked)
    assert outcome(result.message) == scheduled_for(renewal)
    (request,) = await request_rows(db)
    assert (request.status, request.effective_on, request.applied_at) == (
        "scheduled",
        renewal,
        None,
    )
    assert (await customer_row(db, customer_id)).licences == 10  # not before the renewal


async def test_a_licence_decrease_29_days_before_renewal_is_refused_with_the_next_window(
    client, slack, db, staff, fake_slack
):
    await paid(
        db, renewal_date=date(2026, 12, 21), contract_start=date(2025, 12, 21), assigned=[MEMBER]
    )
    reply = await post(
        client, slack.slash_command("request decrease-licences Northwind", user_id=MEMBER)
    )
    reason = (
        f"Licence decreases must be asked for 30 days before renewal ({day(date(2026, 12, 21))}); "
        f"the next window closes on {day(date(2027, 11, 21))}, for the renewal on "
        f"{day(date(2027, 12, 21))}."
    )
    assert reply.json["text"] == f"Not allowed: {reason}"
    assert button(reply.json, ActionId.REQUEST_SCHEDULE)["text"]["text"] == "Ask for that date"
    # The date is said beside it as a date token: a button's label can hold none.
    assert f"take effect on {day(date(2027, 12, 21))} instead" in all_text(reply.json["blocks"])
    await settle_bot(client)
    assert fake_slack.calls_to("views.open") == []


# ---------------------------------------------------------------- downgrade (R12)


async def test_a_downgrade_is_scheduled_for_renewal(client, slack, db, staff, fake_slack, bot):
    customer_id = await paid(db, plan="professional", assigned=[MEMBER])
    view = await open_form(client, slack, fake_slack, "downgrade Northwind")
    assert plan_options(view) == ["essentials"]
    asked = await ask(
        client,
        slack,
        fake_slack,
        "downgrade Northwind",
        **{BlockId.REQUEST_PLAN: selected("essentials")},
    )
    explained = (
        f"The account moves from Professional to Essentials on {day(RENEWAL)}, the "
        "renewal date; there are no refunds for the current term."
    )
    await check_asked(
        db, asked, customer_id, "Downgrade plan", "Professional → Essentials", RENEWAL, explained
    )
    result = await approve(bot, client, slack, fake_slack, asked)
    assert outcome(result.message) == scheduled_for(RENEWAL)
    assert (await customer_row(db, customer_id)).plan == "professional"


# ---------------------------------------------------------------- add-ons (R13)


async def test_an_add_on_needs_a_paid_plan(client, slack, db, staff, fake_slack):
    await seed_customer(db, name="Free Co", status="free", assigned=[MEMBER])
    reply = await post(client, slack.slash_command("request add-addon Free Co", user_id=MEMBER))
    assert reply.json["text"] == (
        ":no_entry: An add-on needs a paid plan; this account is on the free plan."
    )
    await settle_bot(client)
    assert fake_slack.calls_to("views.open") == []


async def test_an_added_add_on_applies_at_once(client, slack, db, staff, fake_slack, bot):
    customer_id = await paid(db, assigned=[MEMBER])
    asked = await ask(
        client,
        slack,
        fake_slack,
        "add-addon Northwind",
        **{BlockId.REQUEST_ADD_ON: selected("activconnect")},
    )
    add_on = input_block(asked.view, BlockId.REQUEST_ADD_ON)["element"]
    assert [o["value"] for o in add_on["options"]] == [
        "activconnect",
        "screen_details",
    ]
    explained = (
        "ActivConnect applies to every user at once and co-terms with the plan: it "
        f"is prorated for the 99 days left of the term and renews with it on {day(RENEWAL)}."
    )
    await check_asked(db, asked, customer_id, "Add an add-on", "ActivConnect", None, explained)
    result = await approve(bot, client, slack, fake_slack, asked)
    assert outcome(result.message) == APPLIED
    assert (await customer_row(db, customer_id)).add_ons == ["ActivConnect"]


async def test_a_removed_add_on_goes_at_renewal(client, slack, db, staff, fake_slack, bot):
    customer_id = await paid(db, add_ons=["ActivConnect", "screen_details"], assigned=[MEMBER])
    asked = await ask(
        client,
        slack,
        fake_slack,
        "remove-addon Northwind",
        **{BlockId.REQUEST_ADD_ON: selected("screen_details")},
    )
    explained = (
        f"Screen Details is removed on {day(RENEWAL)}, the renewal date; there are no "
        "refunds for the current term."
    )
    await check_asked(
        db, asked, customer_id, "Remove an add-on", "Screen Details", RENEWAL, explained
    )
    result = await approve(bot, client, slack, fake_slack, asked)
    assert outcome(result.message) == scheduled_for(RENEWAL)
    assert (await customer_row(db, customer_id)).add_ons == ["ActivConnect", "screen_details"]


# ---------------------------------------------------------------- cancel (R14, R15)

OVER_FREE_LIMITS = (
    "Once free, the account will be over the free limits (3 users, 3 GB): it has 8 users and "
    "4.5 GB of data. Remove users or data before the term ends, or it will stop showing data."
)


async def test_a_cancellation_is_pending_until_renewal_then_the_account_is_free(
    client, slack, db, staff, fake_slack, bot, clock
):
    customer_id = await paid(db, data_used_gb=4.5, assigned=[MEMBER])
    asked = await ask(client, slack, fake_slack, "cancel Northwind")
    assert lines(asked.view["blocks"])[2] == f":warning: {OVER_FREE_LIMITS}"
    assert block_ids(asked.view) == [BlockId.REQUEST_REASON]
    explained = (
        "The paid plan ends with its term and the account becomes free on "
        f"{day(RENEWAL)}, the renewal date; there are no refunds for the current term. "
        f"{OVER_FREE_LIMITS}"
    )
    await check_asked(
        db, asked, customer_id, "Cancel subscription", "Essentials → Free", RENEWAL, explained
    )
    result = await approve(bot, client, slack, fake_slack, asked)
    assert outcome(result.message) == scheduled_for(RENEWAL)
    customer = await customer_row(db, customer_id)
    assert (customer.status, customer.plan) == ("pending_cancellation", "essentials")

    assert await sweep_on(db, clock, datetime(2027, 3, 1, 0, 0, tzinfo=UTC)) == 1
    await settle(bot)
    customer = await customer_row(db, customer_id)
    assert (customer.status, customer.plan, customer.renewal_date, customer.contract_start) == (
        "free",
        "free",
        None,
        None,
    )
    # The explanation above names the renewal: the outcome does not say it again.
    assert outcome(shown_message(fake_slack, asked.request_id)) == APPLIED


async def test_a_past_due_account_cannot_be_cancelled(client, slack, db, staff, fake_slack):
    await paid(db, past_due=True, assigned=[MEMBER])
    reply = await post(client, slack.slash_command("request cancel Northwind", user_id=MEMBER))
    assert reply.json["text"] == (
        ":no_entry: This account has a past-due balance: settle the past-due balance first, "
        "then ask to cancel."
    )
    await settle_bot(client)
    assert fake_slack.calls_to("views.open") == []


# ---------------------------------------------------------------- reactivate (R17)


async def test_reactivating_a_cancelled_plan_reverses_its_cancellation(
    client, slack, db, staff, fake_slack, bot, clock
):
    customer_id = await paid(db, assigned=[MEMBER])
    cancel = await ask(client, slack, fake_slack, "cancel Northwind")
    await approve(bot, client, slack, fake_slack, cancel)
    reactivate = await ask(client, slack, fake_slack, "reactivate Northwind")
    assert block_ids(reactivate.view) == [BlockId.REQUEST_REASON]  # the plan stays
    assert lines(reactivate.message["blocks"])[4] == (
        f"The cancellation is withdrawn: the Essentials plan renews on {day(RENEWAL)} as before."
    )
    # The cancellation's requester is told it was reversed, then of the reactivation.
    result = await approve(bot, client, slack, fake_slack, reactivate, notices=2)
    assert outcome(result.message) == APPLIED
    customer = await customer_row(db, customer_id)
    assert (customer.status, customer.plan, customer.renewal_date) == (
        "paid",
        "essentials",
        RENEWAL,
    )
    cancelled, _ = await request_rows(db)
    assert (cancelled.status, cancelled.decision_note) == ("reversed", "Withdrawn by request #2")
    assert outcome(shown_message(fake_slack, cancel.request_id)) == (
        ":rewind: Reversed before it took effect: Withdrawn by request #2"
    )
    assert await sweep_on(db, clock, datetime(2027, 3, 1, 9, 0, tzinfo=UTC)) == 0
    assert (await customer_row(db, customer_id)).status == "paid"


# ---------------------------------------------------------------- delete account (R16)


async def test_a_deletion_is_confirmed_by_name_scheduled_and_completed_30_days_later(
    client, slack, db, staff, fake_slack, bot, clock
):
    customer_id = await seed_customer(db, name="Old Free", status="free", assigned=[MEMBER])
    asked = await ask(client, slack, fake_slack, "delete Old Free")
    assert button(asked.message, ActionId.REQUEST_APPROVE)["text"]["text"] == "Approve…"
    wrong = await approve_deletion(bot, client, slack, fake_slack, asked, "Old")
    assert wrong["errors"] == {
        BlockId.REQUEST_CONFIRM_NAME: "Type the customer's name exactly as shown to approve its "
        "deletion."
    }
    assert (await customer_row(db, customer_id)).status == "free"
    await approve_deletion(bot, client, slack, fake_slack, asked, "old free")
    deletion_day = date(2026, 12, 22)
    assert outcome(shown_message(fake_slack, asked.request_id)) == scheduled_for(
        deletion_day, ADMIN
    )
    assert (await customer_row(db, customer_id)).status == "scheduled_deletion"
    (request,) = await request_rows(db)
    assert (request.status, request.effective_on) == ("scheduled", deletion_day)

    assert await sweep_on(db, clock, datetime(2026, 12, 22, 0, 0, tzinfo=UTC)) == 1
    assert (await customer_row(db, customer_id)).status == "deleted"
    assert (await request_rows(db))[0].status == "applied"


async def test_a_refusal_after_the_typed_name_is_titled_as_a_refusal(
    client, slack, db, staff, fake_slack, bot
):
    """The admin who asked for the deletion types the name to approve it: nobody
    decides their own request, and the modal says so under "Not allowed"."""
    customer_id = await seed_customer(db, name="Old Free", status="free", assigned=[MEMBER])
    asked = await ask(client, slack, fake_slack, "delete Old Free", user_id=ADMIN)
    opened = len(fake_slack.calls_to("views.open"))
    await click(client, slack, ActionId.REQUEST_APPROVE, request_ref(asked.request_id), ADMIN)
    await settle(bot)
    [confirm] = [call.args["view"] for call in fake_slack.calls_to("views.open")[opened:]]
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.CONFIRM_DELETION,
            private_metadata=confirm["private_metadata"],
            values={BlockId.REQUEST_CONFIRM_NAME: {ActionId.FIELD: typed("Old Free")}},
            user_id=ADMIN,
        ),
    )
    answer = reply.json
    assert answer["response_action"] == "update"
    assert answer["view"]["title"]["text"] == "Not allowed"
    assert "cannot decide your own request" in all_text(answer["view"]["blocks"])
    assert (await customer_row(db, customer_id)).status == "free"


async def test_an_admin_reverses_a_scheduled_deletion_from_the_card(
    client, slack, db, staff, fake_slack, bot
):
    customer_id = await seed_customer(
        db, name="Lapsed", status="expired_trial", trial_end=date(2026, 11, 1), assigned=[MEMBER]
    )
    asked = await ask(client, slack, fake_slack, "delete Lapsed")
    await approve_deletion(bot, client, slack, fake_slack, asked, "Lapsed")
    member_card = await post(client, slack.slash_command("customer Lapsed", user_id=MEMBER))
    with pytest.raises(AssertionError):
        button(member_card.json, ActionId.REVERSE_DELETION)
    card = await post(client, slack.slash_command("customer Lapsed", user_id=ADMIN))
    reverse = button(card.json, ActionId.REVERSE_DELETION)
    assert (reverse["text"]["text"], reverse["value"]) == (
        "Reverse deletion",
        CustomerRef(customer_id=customer_id).encode(),
    )
    await click(client, slack, ActionId.REVERSE_DELETION, reverse["value"], ADMIN)
    await settle(bot)
    assert (await customer_row(db, customer_id)).status == "expired_trial"
    (request,) = await request_rows(db)
    assert request.status == "reversed"
    assert outcome(shown_message(fake_slack, asked.request_id)) == (
        ":rewind: Reversed before it took effect"
    )
    [answer] = [c.args for c in fake_slack.calls_to("response_url")]
    assert answer["text"] == f"The deletion of Lapsed was reversed (request #{asked.request_id})."
    assert len(await audit_rows(db, "request.reversed")) == 1


async def test_a_deletion_during_a_paid_term_is_refused_until_it_ends(
    client, slack, db, staff, fake_slack
):
    await paid(db, assigned=[MEMBER])
    reply = await post(client, slack.slash_command("request delete Northwind", user_id=MEMBER))
    assert reply.json["text"] == (
        ":no_entry: An account cannot be deleted during its paid term: cancel the plan first, "
        f"then ask again after the term ends (on {day(RENEWAL)} at the soonest)."
    )


# ---------------------------------------------------------------- remove expired trial (R8)


async def test_an_expired_trial_is_removed(client, slack, db, staff, fake_slack, bot):
    customer_id = await seed_customer(
        db,
        name="Gone Trial",
        status="expired_trial",
        trial_end=date(2026, 11, 1),
        assigned=[MEMBER],
    )
    asked = await ask(client, slack, fake_slack, "remove-trial Gone Trial")
    explained = "The expired trial is removed as soon as the request is approved."
    await check_asked(db, asked, customer_id, "Remove expired trial", None, None, explained)
    result = await approve(bot, client, slack, fake_slack, asked)
    assert outcome(result.message) == APPLIED
    assert (await customer_row(db, customer_id)).status == "deleted"
    card = await post(client, slack.slash_command("customer Gone Trial", user_id=MEMBER))
    assert card.json["text"].startswith("No customer matches “Gone Trial”.")


async def test_an_active_trial_cannot_be_removed(client, slack, db, staff, fake_slack):
    await seed_customer(
        db, name="Live Trial", status="active_trial", trial_end=date(2026, 12, 1), assigned=[MEMBER]
    )
    reply = await post(
        client, slack.slash_command("request remove-trial Live Trial", user_id=MEMBER)
    )
    assert reply.json["text"] == (
        ":no_entry: Removing an expired trial needs an expired trial; this account is on an "
        "active trial."
    )


# ---------------------------------------------------------------- MAU allowance order (R19)


async def test_only_an_owner_orders_mau_allowance_and_approval_raises_it(
    client, slack, db, staff, fake_slack, bot
):
    await set_msp(db, mau_allowance=10_000)
    refused = await post(client, slack.slash_command("request mau", user_id=ADMIN))
    assert refused.json["text"] == ":no_entry: Only an owner can order more MAU allowance."
    view = await open_form(client, slack, fake_slack, "mau", user_id=OWNER)
    assert lines(view["blocks"])[0] == "The allowance is *10,000* MAU; this month so far: *0* MAU."
    # Untouched, the form says the rule, not an error about a figure nobody has typed.
    assert lines(view["blocks"])[1] == "More MAU allowance for the MSP is ordered once approved."
    assert ":warning:" not in all_text(view["blocks"])
    assert input_block(view, BlockId.REQUEST_QUANTITY)["hint"]["text"] == (
        "At most 10,000,000 in one order."
    )
    asked = await ask(
        client, slack, fake_slack, "mau", user_id=OWNER, **{BlockId.REQUEST_QUANTITY: "5000"}
    )
    assert lines(asked.message["blocks"])[:5] == [
        f"Request #{asked.request_id}: Order MAU allowance",
        "The MSP's MAU allowance",
        f"*Asked by* <@{OWNER}>",
        "*What* +5,000 MAU",
        "Orders 5,000 more MAU allowance for the MSP as soon as the request is approved.",
    ]
    assert (await msp_row(db)).mau_allowance == 10_000  # not before approval
    result = await approve(bot, client, slack, fake_slack, asked, approver=ADMIN)
    assert outcome(result.message) == APPLIED.replace(APPROVER, ADMIN)
    assert (await msp_row(db)).mau_allowance == 15_000
    async with db.unit_of_work() as session:
        order = await session.scalar(select(MauAllowanceOrder))
    assert order is not None
    assert (order.ordered_by, order.quantity, order.allowance_before, order.allowance_after) == (
        OWNER,
        5000,
        10_000,
        15_000,
    )
    [audited] = await audit_rows(db, "mau_allowance.ordered")
    assert (audited.actor, audited.after["mau_allowance"]) == (ADMIN, 15_000)
    assert not [m for m in messages_in(fake_slack, APPROVALS) if has_actions(m)]


# ---------------------------------------------------------------- the account line


async def test_a_forms_account_line_says_each_date_in_its_tense(
    client, slack, db, staff, fake_slack
):
    """Above every request form: a trial still running "ends", one that has ended
    "ended"; a cancelled plan "ends" rather than renewing; a paid account's old trial
    is no longer news."""
    ended, running, leaving = date(2026, 11, 10), date(2026, 12, 1), date(2027, 1, 15)
    await seed_customer(
        db, name="Gone Trial", status="expired_trial", trial_end=ended, assigned=[MEMBER]
    )
    await seed_customer(
        db, name="Live Trial", status="active_trial", trial_end=running, assigned=[MEMBER]
    )
    await paid(
        db, name="Leaving", status="pending_cancellation", renewal_date=leaving, assigned=[MEMBER]
    )
    await paid(db, name="Upgraded", trial_end=date(2026, 2, 28), assigned=[MEMBER])

    async def account_line(text: str) -> str:
        view = await open_form(client, slack, fake_slack, text)
        return view["blocks"][0]["text"]["text"]

    assert (await account_line("remove-trial Gone Trial")).endswith(f"· trial ended {day(ended)}")
    assert (await account_line("extend Live Trial")).endswith(f"· trial ends {day(running)}")
    cancelled = await account_line("reactivate Leaving")
    assert cancelled.endswith(f"· ends {day(leaving)}") and "renews" not in cancelled
    upgraded = await account_line("add-licences Upgraded")
    assert upgraded.endswith(f"· renews {day(RENEWAL)}") and "trial" not in upgraded
