"""An owner corrects a customer's commercial figures from its card, with a reason:
through signed Slack requests, the form, the refusals (other roles, a missing
reason, figures that cannot be, a stale form), the audit log and the card."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, update

from bot.domain.commercial import CommercialField as C
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import CustomerRef
from storage.models import AuditEvent, Customer
from tests.drive import all_text, calls_to, post
from tests.forms import checkboxes, number, text
from tests.seed import ADMIN, OWNER, grant_staff, paid


def _select(value: str | None) -> dict[str, Any]:
    option = {"value": value} if value else None
    return {ActionId.FIELD: {"type": "static_select", "selected_option": option}}


def _date(value: str | None) -> dict[str, Any]:
    return {ActionId.FIELD: {"type": "datepicker", "selected_date": value}}


def _values(view: dict[str, Any], **changes: dict[str, Any]) -> dict[str, Any]:
    """The form as Slack sends it back, each field as it was filled in, with `changes`."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block.get("element")
        if not element:
            continue
        kind = element["type"]
        if kind == "static_select":
            values[block["block_id"]] = _select((element.get("initial_option") or {}).get("value"))
        elif kind == "datepicker":
            values[block["block_id"]] = _date(element.get("initial_date"))
        elif kind == "checkboxes":
            ticked = [o["value"] for o in element.get("initial_options") or []]
            values[block["block_id"]] = checkboxes(ticked)
        else:
            values[block["block_id"]] = number(element.get("initial_value"))
    return {**values, **changes}


async def _open(client, slack, fake_slack, customer_id: int, user_id: str = OWNER):
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.CORRECT_BILLING,
            user_id=user_id,
            value=CustomerRef(customer_id=customer_id).encode(),
        ),
    )
    return (await calls_to(fake_slack, "views.open"))[-1].args["view"]


async def _submit(client, slack, view, values, user_id: str = OWNER):
    return await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.CORRECT_BILLING,
            values=values,
            private_metadata=view["private_metadata"],
            user_id=user_id,
        ),
    )


async def _customer(db, customer_id: int) -> Customer:
    async with db.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        session.expunge(customer)
        return customer


async def _corrections(db) -> list[AuditEvent]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "customer.billing_corrected")
            .order_by(AuditEvent.id)
        )
        return list(rows.all())


async def test_an_owner_corrects_the_figures_with_a_reason_shown_on_the_card(
    backend, client, slack, db, fake_slack
):
    await grant_staff(db)
    customer_id = await paid(db, past_due=False)
    view = await _open(client, slack, fake_slack, customer_id)
    assert view["callback_id"] == CallbackId.CORRECT_BILLING
    blocks = {block.get("block_id"): block for block in view["blocks"]}
    assert blocks[C.LICENCES]["element"]["initial_value"] == "10"
    assert blocks[C.RENEWAL_DATE]["element"]["initial_date"] == "2027-03-01"
    values = _values(
        view,
        **{
            C.LICENCES: number("12"),
            C.PAST_DUE: checkboxes(["past_due"]),
            BlockId.BILLING_REASON: text("The contract <says> 12 licences"),
        },
    )
    reply = await _submit(client, slack, view, values)
    assert reply.json["response_action"] == "update", reply.json
    shown = all_text(reply.json["view"]["blocks"])
    assert "Billing data corrected by <@U0001> on <!date^" in shown
    assert "The contract &lt;says&gt; 12 licences" in shown
    customer = await _customer(db, customer_id)
    assert (customer.licences, customer.past_due, customer.renewal_date) == (
        12,
        True,
        date(2027, 3, 1),
    )
    [event] = await _corrections(db)
    assert (event.actor, event.entity_id, event.note) == (
        OWNER,
        customer.account_number,
        "The contract <says> 12 licences",
    )
    assert (event.before, event.after) == (
        {"licences": 10, "past_due": False},
        {"licences": 12, "past_due": True},
    )


async def test_a_correction_needs_a_reason_and_possible_figures(client, slack, db, fake_slack):
    await grant_staff(db)
    customer_id = await paid(db)
    view = await _open(client, slack, fake_slack, customer_id)
    no_reason = await _submit(client, slack, view, _values(view, **{C.LICENCES: number("12")}))
    assert no_reason.json["errors"] == {
        BlockId.BILLING_REASON: "Say why these figures are corrected."
    }
    impossible = _values(
        view,
        **{
            C.LICENCES: number("0"),
            C.PLAN: _select("trial"),
            C.RENEWAL_DATE: _date("2026-11-01"),
            BlockId.BILLING_REASON: text("fixing"),
        },
    )
    refused = await _submit(client, slack, view, impossible)
    errors = refused.json["errors"]
    assert set(errors) == {C.PLAN, C.LICENCES, C.RENEWAL_DATE}, errors
    assert "is a request" in errors[C.PLAN]
    assert (await _customer(db, customer_id)).licences == 10
    assert await _corrections(db) == []


async def test_only_owners_correct_billing_data(client, slack, db, fake_slack):
    await grant_staff(db)
    customer_id = await paid(db)
    owners_view = await _open(client, slack, fake_slack, customer_id)
    await _open(client, slack, fake_slack, customer_id, user_id=ADMIN)
    [refused] = await calls_to(fake_slack, "response_url")
    assert "Only an owner can correct billing data" in refused.args["text"]
    # A submission forged from an owner's form is refused on the server too.
    values = _values(
        owners_view, **{C.LICENCES: number("99"), BlockId.BILLING_REASON: text("because")}
    )
    forged = await _submit(client, slack, owners_view, values, user_id=ADMIN)
    assert "Only an owner" in forged.json["errors"][BlockId.BILLING_REASON]
    assert (await _customer(db, customer_id)).licences == 10
    card = await post(client, slack.slash_command("customer Northwind", user_id=ADMIN))
    assert ActionId.CORRECT_BILLING not in str(card.json)


async def test_a_correction_on_a_stale_form_is_refused(client, slack, db, fake_slack):
    await grant_staff(db)
    customer_id = await paid(db)
    view = await _open(client, slack, fake_slack, customer_id)
    async with db.unit_of_work() as session:  # the billing system changed it meanwhile
        await session.execute(
            update(Customer).where(Customer.id == customer_id).values(version=Customer.version + 1)
        )
    values = _values(view, **{C.LICENCES: number("12"), BlockId.BILLING_REASON: text("fix")})
    late = await _submit(client, slack, view, values)
    assert "changed after you opened this form" in late.json["errors"][BlockId.BILLING_REASON]
    assert (await _customer(db, customer_id)).licences == 10
