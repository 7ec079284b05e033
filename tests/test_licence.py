"""The MAU licence (R19) through Slack: the licence view, its controls, `/msp mau`
charts and MAU allowance orders, within the roles and the tenant."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import insert, select, update

from bot.domain.customers import email_key, name_key, new_account_number
from bot.domain.mau import Projection, readable_month
from bot.domain.requests import RequestType
from bot.domain.roles import Role
from bot.errors import NotAllowed
from bot.ids import ActionId, BlockId, CallbackId
from bot.notify.notifiers import outbox_notifiers
from bot.payloads import CustomerRef, LicenceState, RequestFormState, RequestRef
from bot.results.licence import (
    ChosenCustomer,
    CustomerMonth,
    LicenceOverview,
    MonthFigures,
    OrderLine,
)
from bot.services import licence as service
from bot.services import requests as request_service
from bot.services.tenancy import Requester
from bot.views import licence as views
from scheduler.jobs.notices import run_sweep
from storage.engine import Database
from storage.models import (
    AuditEvent,
    Customer,
    CustomerAssignment,
    CustomerUsage,
    MauAllowanceOrder,
    Msp,
    OutboxItem,
)
from storage.repositories import licence as licence_repo
from tests.drive import all_text, calls_to, post
from tests.forms import number
from tests.seed import grant
from tests.slack_requests import SignedRequest, sign
from tests.support import SIGNING_SECRET, TEAM_ID
from tests.wait import settle_bot

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # tests.support.FakeClock
MONTHS = [date(2025, 12, 1)] + [date(2026, m, 1) for m in range(1, 12)]
PNG = b"\x89PNG\r\n\x1a\n"
OTHER_TEAM = "T0900"


# ---------------------------------------------------------------- seeding


@pytest.fixture
async def owner(db):
    await grant(db, "U0001", Role.OWNER)
    return "U0001"


async def _msp_id(db: Database, team_id: str = TEAM_ID) -> int:
    async with db.unit_of_work() as session:
        return int(await session.scalar(select(Msp.id).where(Msp.team_id == team_id)))


async def _make_customers(
    db: Database, names: list[str], *, team_id: str = TEAM_ID, assigned: str | None = None
) -> list[int]:
    """Customers written directly (faster than the Add modal, which has its own tests)."""
    msp_id = await _msp_id(db, team_id)
    rows = [
        {
            "msp_id": msp_id,
            "account_number": new_account_number(),
            "name": name,
            "name_key": name_key(name),
            "admin_email": f"admin{index}@{team_id.lower()}-{name_key(name)[:40]}.example",
            "admin_email_key": email_key(
                f"admin{index}@{team_id.lower()}-{name_key(name)[:40]}.example"
            ),
            "plan": "professional",
            "status": "paid",
            "licences": 10,
            "created_by": "U0001",
            "add_ons": [],
            "created_at": NOW,
            "updated_at": NOW,
        }
        for index, name in enumerate(names)
    ]
    async with db.unit_of_work() as session:
        await session.execute(insert(Customer), rows)
        ids = list(
            (
                await session.scalars(
                    select(Customer.id)
                    .where(
                        Customer.msp_id == msp_id,
                        Customer.name_key.in_([name_key(n) for n in names]),
                    )
                    .order_by(Customer.id)
                )
            ).all()
        )
        if assigned:
            session.add_all(
                CustomerAssignment(customer_id=cid, slack_user_id=assigned) for cid in ids
            )
    return ids


async def _usage(db: Database, customer_id: int, by_month: dict[date, int], *, team_id=TEAM_ID):
    msp_id = await _msp_id(db, team_id)
    async with db.unit_of_work() as session:
        session.add_all(
            CustomerUsage(
                msp_id=msp_id, customer_id=customer_id, month=month, mau=mau, reported_at=NOW
            )
            for month, mau in by_month.items()
        )


async def _set_allowance(db: Database, allowance: int, *, team_id: str = TEAM_ID) -> None:
    async with db.unit_of_work() as session:
        await session.execute(
            update(Msp).where(Msp.team_id == team_id).values(mau_allowance=allowance)
        )


async def _seed_order(
    db: Database, quantity: int, at: datetime, *, note: str = ""
) -> MauAllowanceOrder:
    """An applied allowance order, as an approved MAU allowance request leaves it."""
    msp_id = await _msp_id(db)
    async with db.unit_of_work() as session:
        after = await licence_repo.raise_allowance(
            session, msp_id=msp_id, quantity=quantity, maximum=2_000_000_000, now=at
        )
        assert after is not None
        return await licence_repo.add_order(
            session,
            msp_id=msp_id,
            ordered_by="U0001",
            quantity=quantity,
            allowance_before=after - quantity,
            allowance_after=after,
            status="applied",
            note=note,
            at=at,
        )


def _requester(msp_id: int, role: Role, user_id: str = "U0001") -> Requester:
    return Requester(msp_id=msp_id, team_id=TEAM_ID, user_id=user_id, role=role)


# ---------------------------------------------------------------- reading the blocks


def _fields(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """The headline fields: {"MAU this month": "12,000 of 10,000", ...}."""
    found = {}
    for block in blocks:
        for field in block.get("fields", []) or []:
            title, _, value = field["text"].partition("\n")
            found[title.strip("*")] = value
    return found


def _table(blocks: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The rows of the first monospace table, by month label ("Nov 2026 (to date)"):
    its columns are at least two spaces apart."""
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        if "```" in text:
            body = text.split("```")[1]
            rows = [re.split(r" {2,}", line.strip()) for line in body.strip().splitlines()]
            return {row[0]: row[1:] for row in rows}
    raise AssertionError("no table in the blocks")


def _context_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        element.get("text", "")
        for block in blocks
        if block["type"] == "context"
        for element in block["elements"]
    ]


def _section_with(blocks: list[dict[str, Any]], words: str) -> str:
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        if words in text:
            return text
    raise AssertionError(f"no section with {words!r}")


def _element(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any] | None:
    for block in blocks:
        for element in block.get("elements", []) or []:
            if element.get("action_id") == action_id:
                return element
    return None


async def _licence(client, slack, user_id: str = "U0001", team_id: str | None = None):
    reply = await post(client, slack.slash_command("licence", user_id=user_id, team_id=team_id))
    assert reply.status == 200
    return reply.json


def _with_state(request: SignedRequest, values: dict[str, Any]) -> SignedRequest:
    """The same interaction with the message's menu state filled in, signed again."""
    payload = {**request.payload, "state": {"values": values}}
    body = "payload=" + quote(json.dumps(payload, separators=(",", ":")), safe="")
    timestamp = int(request.headers["X-Slack-Request-Timestamp"])
    headers = {
        **request.headers,
        "X-Slack-Signature": sign(body, secret=SIGNING_SECRET, timestamp=timestamp),
    }
    return SignedRequest(body=body, headers=headers, payload=payload)


# ---------------------------------------------------------------- the licence view


async def test_licence_view_shows_this_month_the_year_and_the_orders(client, slack, db, owner):
    acme, beta = await _make_customers(db, ["Acme", "Beta"])
    await _usage(db, acme, {m: 1_000 * (i + 1) for i, m in enumerate(MONTHS)})  # Nov: 12,000
    await _usage(db, beta, {MONTHS[-1]: 500, MONTHS[-2]: 250})
    await _seed_order(db, 8_000, datetime(2026, 3, 10, 12, tzinfo=UTC), note="first <!channel>")
    await _seed_order(db, 2_000, datetime(2026, 7, 1, 12, tzinfo=UTC))

    body = await _licence(client, slack)
    blocks = body["blocks"]
    assert len(blocks) <= 50
    fields = _fields(blocks)
    assert fields["MAU this month"] == "12,500 of 10,000"
    assert fields["Overage so far"] == ":red_circle: *2,500* MAU over"  # R19: 12,500 - 10,000
    assert fields["Allowance used"] == "125.0%"
    # 12,500 MAU in 22 of 30 days -> 17,045 by the month's end, 7,045 over.
    assert fields["Month-end estimate"] == "about 17,045 (:warning: 7,045 over)"
    assert (
        "Estimate: at this month's pace so far (12,500 active users in 22 of 30 days), "
        "about 17,045 by the end of the month, 7,045 over the allowance of 10,000."
    ) in _context_texts(blocks)

    table = _table(blocks)
    assert list(table) == [
        "Month",
        *[readable_month(m) for m in MONTHS[:-1]],
        "Nov 2026 (to date)",  # this month: partial
    ]
    assert table["Month"] == ["MAU", "Allowance", "Overage"]
    # Before the first order (March) there was no allowance: plain usage, not overage.
    assert table["Dec 2025"] == ["1,000", "none", "-"]
    assert table["Feb 2026"] == ["3,000", "none", "-"]
    assert table["Mar 2026"] == ["4,000", "8,000", "0"]
    assert table["Jun 2026"] == ["7,000", "8,000", "0"]
    assert table["Jul 2026"] == ["8,000", "10,000", "0"]
    assert table["Oct 2026"] == ["11,250", "10,000", "1,250"]
    assert table["Nov 2026 (to date)"] == ["12,500", "10,000", "2,500"]

    per_customer = _section_with(blocks, "MAU per customer, Nov 2026 (to date)")
    assert "12,500 MAU across 2 customers" in per_customer
    assert per_customer.index("Acme") < per_customer.index("Beta")
    assert "*12,000*" in per_customer and "*500*" in per_customer

    orders = _section_with(blocks, "Allowance orders")
    first, second = orders.splitlines()[1:3]
    assert "<@U0001>" in first and "+2,000" in first and "8,000 → 10,000" in first
    assert "+8,000" in second and "0 → 8,000" in second
    assert "first &lt;!channel&gt;" in second and "<!channel>" not in orders
    assert "<!date^" in first  # each reader sees the date in their own time zone

    assert _element(blocks, ActionId.LICENCE_EXTEND) is not None  # an owner may order
    months = _element(blocks, ActionId.LICENCE_MONTH)
    assert len(months["options"]) == 12
    assert months["initial_option"]["text"]["text"] == "Nov 2026 (to date)"
    assert [o["text"]["text"] for o in months["options"]][1:3] == ["Oct 2026", "Sep 2026"]
    customer = _element(blocks, ActionId.LICENCE_CUSTOMER)
    assert customer["type"] == "external_select"
    assert customer["initial_option"]["text"]["text"] == "Whole MSP"


async def test_usage_exactly_at_the_allowance_is_no_overage(client, slack, db, owner):
    [acme] = await _make_customers(db, ["Acme"])
    await _usage(db, acme, {MONTHS[-1]: 10_000, MONTHS[-2]: 10_001})
    await _set_allowance(db, 10_000)
    fields = _fields((await _licence(client, slack))["blocks"])
    assert fields["MAU this month"] == "10,000 of 10,000"
    assert fields["Overage so far"] == ":large_green_circle: none"
    assert fields["Allowance used"] == "100.0%"
    table = _table((await _licence(client, slack))["blocks"])
    assert table["Nov 2026 (to date)"] == ["10,000", "10,000", "0"]
    assert table["Oct 2026"] == ["10,001", "10,000", "1"]


async def test_no_usage_and_no_allowance(client, slack, db, owner):
    body = await _licence(client, slack)
    fields = _fields(body["blocks"])
    assert fields["MAU this month"] == "0 (no allowance yet)"
    assert fields["Overage so far"] == "none: no allowance yet"
    assert fields["Allowance used"] == "no allowance bought"
    assert "No usage reported for Nov 2026 (to date)" in all_text(body["blocks"])
    assert "No allowance orders yet" in all_text(body["blocks"])


async def test_this_month_is_the_msps_month(client, slack, db, owner, clock):
    """On 30 November at 12:00 UTC it is already 1 December in Auckland."""
    [acme] = await _make_customers(db, ["Acme"])
    await _usage(db, acme, {date(2026, 11, 1): 900, date(2026, 12, 1): 40})
    async with db.unit_of_work() as session:
        await session.execute(update(Msp).values(timezone="Pacific/Auckland"))
    clock.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    blocks = (await _licence(client, slack))["blocks"]
    assert _fields(blocks)["MAU this month"] == "40 (no allowance yet)"
    assert list(_table(blocks))[-2:] == ["Nov 2026", "Dec 2026 (to date)"]
    assert "40 active users in 1 day so far" in all_text(blocks)


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER, Role.APPROVER])
async def test_only_owners_and_admins_see_the_licence(client, slack, db, owner, fake_slack, role):
    await grant(db, "U0002", role)
    reply = await post(client, slack.slash_command("licence", user_id="U0002"))
    assert "cannot use /msp licence" in reply.json["text"]
    assert "blocks" not in reply.json or "MAU this month" not in json.dumps(reply.json)
    # A forged click on the view's menus is refused by the service too.
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.LICENCE_MONTH,
            user_id="U0002",
            selected_option={"value": LicenceState(month="2026-10").encode()},
        ),
    )
    [answer] = await calls_to(fake_slack, "response_url")
    assert "Only owners and admins" in answer.args["text"]
    assert answer.args["replace_original"] is False


async def test_admins_see_the_licence_but_cannot_order(client, slack, db, owner, fake_slack):
    await grant(db, "U0002", Role.ADMIN)
    await _set_allowance(db, 10_000)
    blocks = (await _licence(client, slack, user_id="U0002"))["blocks"]
    assert _fields(blocks)["MAU this month"] == "0 of 10,000"
    assert _element(blocks, ActionId.LICENCE_EXTEND) is None
    await post(client, slack.block_actions(action_id=ActionId.LICENCE_EXTEND, user_id="U0002"))
    [answer] = await calls_to(fake_slack, "response_url")
    assert "Only an owner can order more MAU allowance" in answer.args["text"]
    await settle_bot(client)
    assert fake_slack.calls_to("views.open") == []
    forged = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.REQUEST_FORM,
            private_metadata=RequestFormState(kind=RequestType.MAU_ALLOWANCE_ORDER).encode(),
            user_id="U0002",
            values={BlockId.REQUEST_QUANTITY: number("5000")},
        ),
    )
    assert "Only an owner can order more MAU allowance" in forged.text
    assert await _orders(db) == []
    async with db.unit_of_work() as session:
        assert await session.scalar(select(Msp.mau_allowance)) == 10_000


async def _orders(db: Database) -> list[MauAllowanceOrder]:
    async with db.unit_of_work() as session:
        query = select(MauAllowanceOrder).order_by(MauAllowanceOrder.id)
        return list((await session.scalars(query)).all())


def _order(typed: str, note: str | None = None) -> dict:
    values = {BlockId.REQUEST_QUANTITY: number(typed)}
    if note is not None:
        values[BlockId.REQUEST_REASON] = {
            ActionId.FIELD: {"type": "plain_text_input", "value": note}
        }
    return values


ORDER_FORM = RequestFormState(kind=RequestType.MAU_ALLOWANCE_ORDER).encode()


async def test_an_owner_asks_for_more_allowance_and_an_approver_grants_it(
    client, slack, db, owner, fake_slack
):
    """R19: only an owner orders; the order is a request another approver decides."""
    await grant(db, "U0003", Role.APPROVER)
    await _set_allowance(db, 10_000)
    [acme] = await _make_customers(db, ["Acme"])
    await _usage(db, acme, {MONTHS[-1]: 9_500})
    await post(client, slack.slash_command("licence", user_id=owner))
    await post(client, slack.block_actions(action_id=ActionId.LICENCE_EXTEND, user_id=owner))
    [opened] = await calls_to(fake_slack, "views.open")
    form = opened.args["view"]
    assert form["callback_id"] == CallbackId.REQUEST_FORM
    assert form["title"]["text"] == "Order MAU allowance"
    assert "*10,000* MAU" in all_text(form["blocks"]) and "*9,500* MAU" in all_text(form["blocks"])
    inputs = {block["block_id"]: block for block in form["blocks"] if block["type"] == "input"}
    assert inputs[BlockId.REQUEST_QUANTITY]["element"]["type"] == "number_input"
    assert inputs[BlockId.REQUEST_REASON]["optional"] is True

    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.REQUEST_FORM,
            private_metadata=form["private_metadata"],
            user_id=owner,
            values=_order("5000", "Q4 <b>"),
        ),
    )
    assert reply.json["response_action"] == "update"
    assert "(Order MAU allowance: +5,000 MAU)" in json.dumps(reply.json["view"])
    assert await _orders(db) == []  # not before it is approved
    [posted] = await calls_to(fake_slack, "chat.postMessage")  # no approvals channel: the owner
    assert posted.args["channel"] == owner and "Request #1" in posted.args["text"]

    await post(
        client,
        slack.block_actions(
            action_id=ActionId.REQUEST_APPROVE,
            value=RequestRef(request_id=1).encode(),
            user_id="U0003",
        ),
    )
    await calls_to(fake_slack, "chat.update")
    [order] = await _orders(db)
    assert (order.quantity, order.allowance_before, order.allowance_after) == (
        5_000,
        10_000,
        15_000,
    )
    assert (order.status, order.ordered_by, order.note) == ("applied", owner, "Q4 <b>")
    async with db.unit_of_work() as session:
        assert await session.scalar(select(Msp.mau_allowance)) == 15_000
        [event] = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "mau_allowance.ordered")
            )
        ).all()
    assert event.actor == "U0003" and event.entity_id == str(order.id)
    assert event.before == {"mau_allowance": 10_000}
    assert event.after["mau_allowance"] == 15_000 and event.after["quantity"] == 5_000

    blocks = (await _licence(client, slack))["blocks"]
    assert _fields(blocks)["MAU this month"] == "9,500 of 15,000"
    orders = _section_with(blocks, "Allowance orders")
    assert "+5,000" in orders and "10,000 → 15,000" in orders and "Q4 &lt;b&gt;" in orders


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "at least 1"),
        ("-500", "at least 1"),
        ("lots", "whole number"),
        ("2.5", "whole number"),
        ("", "whole number"),
        ("10000001", "at most 10,000,000"),
        ("99999999999999999999", "at most 10,000,000"),
    ],
)
async def test_a_bad_quantity_is_flagged_on_its_field(client, slack, db, owner, typed, message):
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.REQUEST_FORM,
            private_metadata=ORDER_FORM,
            user_id=owner,
            values=_order(typed),
        ),
    )
    assert reply.json["response_action"] == "errors"
    assert message in reply.json["errors"][BlockId.REQUEST_QUANTITY]
    assert await _orders(db) == []


async def test_an_order_past_the_largest_allowance_is_refused_on_the_field(
    client, slack, db, owner
):
    await _set_allowance(db, 1_999_999_000)
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.REQUEST_FORM,
            private_metadata=ORDER_FORM,
            user_id=owner,
            values=_order("5000"),
        ),
    )
    assert "at most 2,000,000,000" in reply.json["errors"][BlockId.REQUEST_QUANTITY]
    assert await _orders(db) == []


async def test_a_too_long_note_is_flagged_on_its_field(client, slack, db, owner):
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.REQUEST_FORM,
            private_metadata=ORDER_FORM,
            user_id=owner,
            values=_order("5", "x" * 501),
        ),
    )
    assert "at most 500 characters" in reply.json["errors"][BlockId.REQUEST_REASON]


# ---------------------------------------------------------------- the controls


async def test_picking_a_customer_and_a_month_re_renders_in_place(
    client, slack, db, owner, fake_slack
):
    acme, beta = await _make_customers(db, ["Acme", "Beta & <Sons>"])
    await _usage(db, acme, {MONTHS[-1]: 700, MONTHS[-3]: 300})
    await _usage(db, beta, {MONTHS[-1]: 50, MONTHS[-3]: 900})
    await _set_allowance(db, 1_000)
    picked = slack.block_actions(
        action_id=ActionId.LICENCE_CUSTOMER,
        selected_option={"value": CustomerRef(customer_id=beta).encode()},
        extra_action={"type": "external_select"},
    )
    month_menu = {
        f"{BlockId.LICENCE_CONTROLS}.0.2026-11": {
            ActionId.LICENCE_MONTH: {
                "type": "static_select",
                "selected_option": {"value": LicenceState(month="2026-09").encode()},
            }
        }
    }
    await post(client, _with_state(picked, month_menu))
    [answer] = await calls_to(fake_slack, "response_url")
    assert answer.args["replace_original"] is True
    blocks = answer.args["blocks"]
    assert _fields(blocks)["MAU this month"] == "750 of 1,000"  # the headline stays the MSP's
    table = _table(blocks)
    assert table["Month"] == ["Customer", "MSP MAU", "Allowance"]
    assert table["Nov 2026 (to date)"] == ["50", "750", "1,000"]
    assert table["Sep 2026"] == ["900", "1,200", "1,000"]
    assert "Beta &amp; &lt;Sons&gt;" in _section_with(blocks, "beside the whole MSP")
    # The month picked before is kept: the per-customer table is September's.
    per_customer = _section_with(blocks, "MAU per customer, Sep 2026")
    assert per_customer.index("Beta") < per_customer.index("Acme")
    customer = _element(blocks, ActionId.LICENCE_CUSTOMER)
    assert customer["initial_option"]["text"]["text"].startswith("Beta & <Sons> (")
    chart = _element(blocks, ActionId.LICENCE_CHART)
    assert LicenceState.decode(chart["value"]) == LicenceState(customer_id=beta, month="2026-09")

    # Each month option carries the customer, so picking a month keeps it.
    october = next(
        o
        for o in _element(blocks, ActionId.LICENCE_MONTH)["options"]
        if o["text"]["text"] == "Oct 2026"
    )
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.LICENCE_MONTH, selected_option={"value": october["value"]}
        ),
    )
    answers = await calls_to(fake_slack, "response_url", 2)
    blocks = answers[1].args["blocks"]
    assert "MAU per customer, Oct 2026" in all_text(blocks)
    assert "No usage reported for Oct 2026" in all_text(blocks)
    assert _table(blocks)["Month"][0] == "Customer"

    # Back to the whole MSP.
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.LICENCE_CUSTOMER,
            selected_option={"value": LicenceState().encode()},
            extra_action={"type": "external_select"},
        ),
    )
    answers = await calls_to(fake_slack, "response_url", 3)
    assert _table(answers[2].args["blocks"])["Month"] == ["MAU", "Allowance", "Overage"]


async def test_the_customer_menu_offers_the_whole_msp_and_matches(client, slack, db, owner):
    await _make_customers(db, [f"Northwind {i}" for i in range(120)] + ["Southwind"])
    reply = await post(
        client, slack.block_suggestion(action_id=ActionId.LICENCE_CUSTOMER, value="north")
    )
    options = reply.json["options"]
    assert len(options) == 100
    assert options[0]["text"]["text"] == "Whole MSP"
    assert LicenceState.decode(options[0]["value"]) == LicenceState()
    assert all(o["text"]["text"].startswith("Northwind") for o in options[1:])
    assert LicenceState.decode(options[1]["value"]).customer_id is not None


async def test_post_chart_here_uploads_the_selection(client, slack, db, owner, fake_slack):
    [acme] = await _make_customers(db, ["Acme"])
    await _usage(db, acme, {MONTHS[-1]: 70})
    value = LicenceState(customer_id=acme, month="2026-11").encode()
    await post(
        client,
        slack.block_actions(action_id=ActionId.LICENCE_CHART, value=value, channel_id="C0077"),
    )
    [complete] = await calls_to(fake_slack, "files.completeUploadExternal")
    assert complete.args["channel_id"] == "C0077"
    [png] = fake_slack.uploaded_files.values()
    assert png.startswith(PNG)
    [requested] = fake_slack.calls_to("files.getUploadURLExternal")
    assert requested.args["filename"].endswith("-2026-11.png")
    # The file's title says whose; the comment, what it covers, once and to everyone.
    [posted] = complete.args["files"]
    assert posted["title"].startswith("Monthly active users: Acme")
    assert complete.args["initial_comment"] == (
        "MAU for the last 12 months; Nov 2026 is to date (22 of 30 days)."
    )


# ---------------------------------------------------------------- /msp mau


def _chart_offer(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """`/msp mau`'s "Post chart in this channel", as Slack sends its click."""
    [offer] = [block for block in blocks if block.get("block_id") == BlockId.MAU_CHART]
    return {"block_id": offer["block_id"], **offer["accessory"]}


async def test_msp_mau_answers_with_numbers_and_posts_the_chart_when_asked(
    client, slack, db, owner, fake_slack
):
    [acme] = await _make_customers(db, ["Acme"])
    await _usage(db, acme, {m: 100 * (i + 1) for i, m in enumerate(MONTHS)})
    await _set_allowance(db, 1_000)
    reply = await post(client, slack.slash_command("mau", user_id=owner, channel_id="C0042"))
    assert reply.status == 200 and reply.json["response_type"] == "ephemeral"
    blocks = reply.json["blocks"]
    table = _table(blocks)
    assert table["Month"] == ["MAU", "Allowance", "Overage"]
    assert table["Nov 2026 (to date)"] == ["1,200", "1,000", "200"]
    assert table["Dec 2025"] == ["100", "1,000", "0"]
    assert "everyone in <#C0042>" in all_text(blocks)
    button = _chart_offer(blocks)
    await post(
        client,
        slack.block_actions(
            action_id=button["action_id"],
            block_id=button["block_id"],
            value=button["value"],
            user_id=owner,
            channel_id="C0042",
        ),
    )
    [complete] = await calls_to(fake_slack, "files.completeUploadExternal")
    assert complete.args["channel_id"] == "C0042"
    # Posted for the whole channel: no ping of whoever clicked, nor the title again.
    comment = complete.args["initial_comment"]
    assert "<@" not in comment and "Monthly active users" not in comment
    assert comment.startswith("MAU for the last 12 months; Nov 2026 is to date")
    [png] = fake_slack.uploaded_files.values()
    assert png.startswith(PNG)
    assert int.from_bytes(png[16:20], "big") == 1200


async def test_no_chart_of_zeros_is_offered_or_posted(client, slack, db, owner, fake_slack):
    """Before any usage is reported there is nothing to chart: the answer says where
    usage comes from, and a click from an older answer posts nothing either."""
    await _make_customers(db, ["Acme"])
    reply = await post(client, slack.slash_command("mau", user_id=owner, channel_id="C0042"))
    blocks = reply.json["blocks"]
    assert not [block for block in blocks if block.get("block_id") == BlockId.MAU_CHART]
    assert "No MAU has been reported for these 12 months yet" in all_text(blocks)
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.LICENCE_CHART,
            block_id=BlockId.MAU_CHART,
            value=LicenceState(customer_id=None).encode(),
            user_id=owner,
            channel_id="C0042",
        ),
    )
    [said] = await calls_to(fake_slack, "response_url")
    assert "No MAU has been reported" in said.args["text"]
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


async def test_a_member_charts_their_customer_only(client, slack, db, owner, fake_slack):
    await grant(db, "U0003", Role.MEMBER)
    [theirs] = await _make_customers(db, ["Theirs"], assigned="U0003")
    [others] = await _make_customers(db, ["Others"])
    await _usage(db, theirs, {MONTHS[-1]: 42})
    await _usage(db, others, {MONTHS[-1]: 9_999})

    whole = await post(client, slack.slash_command("mau", user_id="U0003"))
    assert "Name one of your customers" in whole.json["text"]

    refused = await post(client, slack.slash_command("mau others", user_id="U0003"))
    assert "No customer you can see matches" in refused.json["text"]
    assert "9,999" not in refused.text

    reply = await post(client, slack.slash_command("mau theirs", user_id="U0003"))
    blocks = reply.json["blocks"]
    table = _table(blocks)
    assert table["Month"] == ["MAU"] and table["Nov 2026 (to date)"] == ["42"]
    assert "Theirs" in all_text(blocks)
    button = _chart_offer(blocks)
    await post(
        client,
        slack.block_actions(
            action_id=button["action_id"],
            block_id=button["block_id"],
            value=button["value"],
            user_id="U0003",
        ),
    )
    await calls_to(fake_slack, "files.completeUploadExternal")
    assert len(fake_slack.uploaded_files) == 1
    [posted] = await calls_to(fake_slack, "response_url")
    assert posted.args["replace_original"] is True
    assert "being posted in" in all_text(posted.args["blocks"])

    # A forged chart button for someone else's customer finds nothing.
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.LICENCE_CHART,
            user_id="U0003",
            value=LicenceState(customer_id=others).encode(),
        ),
    )
    answers = await calls_to(fake_slack, "response_url", 2)
    assert "not assigned to you" in answers[1].args["text"]


async def test_viewers_chart_the_whole_msp(client, slack, db, owner, fake_slack):
    await grant(db, "U0004", Role.VIEWER)
    [acme] = await _make_customers(db, ["Acme"])
    await _usage(db, acme, {MONTHS[-1]: 321})
    reply = await post(client, slack.slash_command("mau", user_id="U0004"))
    # No allowance bought yet: plain usage, no overage.
    assert _table(reply.json["blocks"])["Nov 2026 (to date)"] == ["321", "none", "-"]
    button = _chart_offer(reply.json["blocks"])
    await post(
        client,
        slack.block_actions(action_id=button["action_id"], value=button["value"], user_id="U0004"),
    )
    await calls_to(fake_slack, "files.completeUploadExternal")
    assert len(fake_slack.uploaded_files) == 1


async def test_msp_mau_with_several_matches_names_them(client, slack, db, owner):
    await _make_customers(db, [f"Acme {i}" for i in range(8)] + ["Acme"])
    several = await post(client, slack.slash_command("mau acm", user_id=owner))
    text = several.json["text"]
    assert "Several customers match" in text and "and 4 more" in text
    assert "account number" in text
    exact = await post(client, slack.slash_command("mau acme", user_id=owner))
    # The exact name wins over the names containing it.
    assert "*Monthly active users, last 12 months*: Acme `" in all_text(exact.json["blocks"])


# ---------------------------------------------------------------- one estimate, one sentence


async def _said_everywhere(client, slack, db, clock) -> dict[str, list[str]]:
    """What each place says about this month's estimate: the licence view, `/msp mau`,
    the chart (its caption), the dashboard, and the MAU notice (when one is sent)."""
    licence = await _licence(client, slack)
    mau = (await post(client, slack.slash_command("mau", channel_id="C0042"))).json
    dashboard = (await post(client, slack.slash_command("dashboard"))).json
    requester = _requester(await _msp_id(db), Role.OWNER)
    async with db.unit_of_work() as session:
        series = await service.mau_series(session, requester=requester, now=clock())
    await run_sweep(
        "mau_notices", db=db, clock=clock, wake=lambda: None, notifiers=outbox_notifiers()
    )
    async with db.unit_of_work() as session:
        notices = (await session.scalars(select(OutboxItem).where(OutboxItem.kind == "post"))).all()
    return {
        "licence": _context_texts(licence["blocks"]),
        "mau": _context_texts(mau["blocks"]),
        "chart": [views.mau_chart(series).caption],
        "dashboard": _context_texts(dashboard["blocks"]),
        "notice": [notice.payload["text"] for notice in notices],
    }


async def test_every_place_gives_the_same_estimate_in_the_same_words(
    client, slack, db, owner, clock
):
    """22 November: 7,500 MAU (under 80%) in 22 of 30 days points to 10,227, over the
    10,000: the MAU notice is the estimate's."""
    [acme] = await _make_customers(db, ["Acme"])
    await _usage(db, acme, {MONTHS[-1]: 7_500})
    await _set_allowance(db, 10_000)
    sentence = (
        "Estimate: at this month's pace so far (7,500 active users in 22 of 30 days), "
        "about 10,227 by the end of the month, 227 over the allowance of 10,000."
    )
    said = await _said_everywhere(client, slack, db, clock)
    assert sentence in said["licence"]
    assert sentence in said["mau"]
    assert said["chart"] == [sentence]
    assert f":chart_with_upwards_trend: {sentence}" in said["dashboard"]
    [notice] = said["notice"]
    assert notice == (
        ":chart_with_upwards_trend: This month's MAU may end over the allowance. " + sentence
    )
    fields = _fields((await _licence(client, slack))["blocks"])
    assert fields["Month-end estimate"] == "about 10,227 (:warning: 227 over)"


async def test_early_in_the_month_nothing_warns_of_overage(client, slack, db, owner, clock):
    """7 November: 3,000 MAU in 7 days would point to 12,857, over the 10,000; too few
    days to go on, so no place warns and the licence view says why."""
    [acme] = await _make_customers(db, ["Acme"])
    await _usage(db, acme, {MONTHS[-1]: 3_000})
    await _set_allowance(db, 10_000)
    clock.now = datetime(2026, 11, 7, 9, 0, tzinfo=UTC)
    sentence = (
        "No month-end estimate before day 10 of the month: 3,000 active users in 7 days "
        "so far are too few to go on."
    )
    said = await _said_everywhere(client, slack, db, clock)
    assert sentence in said["licence"] and sentence in said["mau"]
    assert said["chart"] == [sentence]
    assert not [text for text in said["dashboard"] if "estimate" in text.lower()]
    assert said["notice"] == []
    fields = _fields((await _licence(client, slack))["blocks"])
    assert fields["Month-end estimate"] == "from day 10 of the month"
    assert ":warning:" not in json.dumps(fields)


async def test_an_estimate_within_the_allowance_warns_nowhere(client, slack, db, owner, clock):
    [acme] = await _make_customers(db, ["Acme"])
    await _usage(db, acme, {MONTHS[-1]: 6_000})
    await _set_allowance(db, 10_000)
    sentence = (
        "Estimate: at this month's pace so far (6,000 active users in 22 of 30 days), "
        "about 8,182 by the end of the month, within the allowance of 10,000."
    )
    said = await _said_everywhere(client, slack, db, clock)
    assert sentence in said["licence"] and sentence in said["mau"]
    assert said["chart"] == [sentence]
    assert not [text for text in said["dashboard"] if "estimate" in text.lower()]
    assert said["notice"] == []
    assert _fields((await _licence(client, slack))["blocks"])["Month-end estimate"] == "about 8,182"


# ---------------------------------------------------------------- tenants


async def test_another_msps_usage_is_never_counted(client, slack, db, owner, fake_slack):
    [ours] = await _make_customers(db, ["Ours"])
    await _usage(db, ours, {MONTHS[-1]: 100})
    await grant(db, "U0900", Role.OWNER, team_id=OTHER_TEAM)
    [theirs] = await _make_customers(db, ["Theirs"], team_id=OTHER_TEAM)
    await _usage(db, theirs, {MONTHS[-1]: 5_000, MONTHS[0]: 7_000}, team_id=OTHER_TEAM)
    await _set_allowance(db, 123, team_id=OTHER_TEAM)

    blocks = (await _licence(client, slack))["blocks"]
    assert _fields(blocks)["MAU this month"] == "100 (no allowance yet)"
    assert _table(blocks)["Dec 2025"][0] == "0"
    assert "Theirs" not in all_text(blocks)

    # Their own figures are theirs alone (this bot serves our workspace only, so they
    # are read through the service).
    their_msp = await _msp_id(db, OTHER_TEAM)
    their_owner = Requester(msp_id=their_msp, team_id=OTHER_TEAM, user_id="U0900", role=Role.OWNER)
    async with db.unit_of_work() as session:
        theirs_overview = await service.licence_overview(session, requester=their_owner, now=NOW)
    assert (theirs_overview.mau, theirs_overview.allowance) == (5_000, 123)
    assert [row.name for row in theirs_overview.top_customers] == ["Theirs"]

    # Our owner cannot reach their customer with a forged selection.
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.LICENCE_MONTH,
            user_id="U0001",
            selected_option={"value": LicenceState(customer_id=theirs).encode()},
        ),
    )
    [answer] = await calls_to(fake_slack, "response_url")
    assert "does not exist" in answer.args["text"]
    assert "5,000" not in json.dumps(answer.args) and "Theirs" not in json.dumps(answer.args)


# ---------------------------------------------------------------- storage, both backends


async def test_repository_aggregates_on_each_backend(db, backend):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0900", Role.OWNER, team_id=OTHER_TEAM)
    ids = await _make_customers(db, ["A", "B", "C"], assigned="U0003")
    [foreign] = await _make_customers(db, ["F"], team_id=OTHER_TEAM)
    for cid, base in zip(ids, (10, 20, 30), strict=True):
        await _usage(db, cid, {m: base + i for i, m in enumerate(MONTHS)})
    await _usage(db, foreign, {m: 1_000 for m in MONTHS}, team_id=OTHER_TEAM)
    msp_id = await _msp_id(db)
    async with db.unit_of_work() as session:
        totals = await licence_repo.msp_mau_by_month(
            session, msp_id=msp_id, first=MONTHS[1], last=MONTHS[-1]
        )
        assert len(totals) == 11 and totals[MONTHS[-1]] == 10 + 20 + 30 + 3 * 11
        assert await licence_repo.mau_for_month(session, msp_id=msp_id, month=MONTHS[0]) == 60
        one = await licence_repo.customer_mau_by_month(
            session,
            msp_id=msp_id,
            customer_id=ids[1],
            assigned_to="U0003",
            first=MONTHS[0],
            last=MONTHS[-1],
        )
        assert one[MONTHS[-1]] == 31
        hidden = await licence_repo.customer_mau_by_month(
            session,
            msp_id=msp_id,
            customer_id=ids[1],
            assigned_to="U0404",
            first=MONTHS[0],
            last=MONTHS[-1],
        )
        assert hidden == {}
        assert (
            await licence_repo.customer_mau_by_month(
                session,
                msp_id=msp_id,
                customer_id=foreign,
                assigned_to=None,
                first=MONTHS[0],
                last=MONTHS[-1],
            )
            == {}
        )
        top, count = await licence_repo.top_customers_for_month(
            session, msp_id=msp_id, month=MONTHS[-1], limit=2
        )
        assert [row.name for row in top] == ["C", "B"] and count == 3
    first = await _seed_order(db, 100, datetime(2026, 1, 5, tzinfo=UTC))
    second = await _seed_order(db, 50, datetime(2026, 6, 5, tzinfo=UTC))
    assert (first.allowance_before, first.allowance_after) == (0, 100)
    assert (second.allowance_before, second.allowance_after) == (100, 150)
    async with db.unit_of_work() as session:
        explaining = await licence_repo.orders_explaining(
            session, msp_id=msp_id, since=datetime(2026, 3, 1, tzinfo=UTC)
        )
        assert [o.quantity for o in explaining] == [100, 50]
        recent = await licence_repo.recent_orders(session, msp_id=msp_id, limit=1)
        assert [o.quantity for o in recent] == [50]
        assert await licence_repo.count_orders(session, msp_id=msp_id) == 2


async def test_service_roles_on_each_backend(db, backend):
    await grant(db, "U0001", Role.OWNER)
    msp_id = await _msp_id(db)
    async with db.unit_of_work() as session:
        for role in (Role.MEMBER, Role.VIEWER, Role.APPROVER):
            with pytest.raises(NotAllowed):
                await service.licence_overview(session, requester=_requester(msp_id, role), now=NOW)
        for role in (Role.ADMIN, Role.MEMBER, Role.APPROVER):
            with pytest.raises(NotAllowed, match="Only an owner"):
                request_service.check_can_request(
                    _requester(msp_id, role), RequestType.MAU_ALLOWANCE_ORDER
                )
        overview = await service.licence_overview(
            session, requester=_requester(msp_id, Role.ADMIN), now=NOW, month=date(2020, 1, 1)
        )
        assert overview.selected_month == date(2026, 11, 1)  # out of range: this month
        assert not overview.can_order


# ---------------------------------------------------------------- Slack's limits


async def test_a_large_msp_stays_within_slacks_limits(client, slack, db, owner):
    names = [f"Customer {i:05d} " + "&<>" * 10 for i in range(5_000)]
    ids = await _make_customers(db, names)
    msp_id = await _msp_id(db)
    async with db.unit_of_work() as session:
        await session.execute(
            insert(CustomerUsage),
            [
                {
                    "msp_id": msp_id,
                    "customer_id": cid,
                    "month": MONTHS[-1],
                    "mau": 1 + index,
                    "reported_at": NOW,
                }
                for index, cid in enumerate(ids)
            ],
        )
    for index in range(50):
        await _seed_order(
            db, 10 + index, datetime(2026, 11, 1, 10, index, tzinfo=UTC), note="<&>" * 160
        )
    blocks = (await _licence(client, slack))["blocks"]
    _assert_within_limits(blocks)
    assert _fields(blocks)["MAU this month"] == f"{5_000 * 5_001 // 2:,} of {sum(range(10, 60)):,}"
    per_customer = _section_with(blocks, "MAU per customer")
    assert "across 5,000 customers" in per_customer
    more = re.search(r"…and ([\d,]+) more customers", per_customer)
    shown = per_customer.count("`") // 2
    assert more and int(more.group(1).replace(",", "")) == 5_000 - shown
    assert "Customer 04999" in per_customer  # the largest first
    orders = _section_with(blocks, "Allowance orders")
    assert re.search(r"…and \d+ more earlier orders", orders)


def _assert_within_limits(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= 50
    for block in blocks:
        text = block.get("text") or {}
        assert len(text.get("text", "")) <= 3000
        for field in block.get("fields", []) or []:
            assert len(field["text"]) <= 2000
        assert len(block.get("fields", []) or []) <= 10


def test_the_view_cuts_pathological_lists_to_fit():
    """Names made only of characters that escaping makes five times longer."""
    month = date(2026, 11, 1)
    overview = LicenceOverview(
        today=date(2026, 11, 22),
        month=month,
        mau=10,
        allowance=5,
        overage=5,
        percent_used=200.0,
        projection=Projection(mau_to_date=10, days_elapsed=22, days_in_month=30, allowance=5),
        history=[MonthFigures(month=m, mau=10, allowance=5, overage=5) for m in MONTHS],
        customer=ChosenCustomer(id=1, name="&" * 80, account_number="ABCD-EFGH"),
        orders=[
            OrderLine(
                id=i,
                day=month,
                ordered_by="U0001",
                quantity=1,
                allowance_before=i,
                allowance_after=i + 1,
                status="applied",
                note="&" * 500,
            )
            for i in range(10)
        ],
        order_count=50,
        months=MONTHS,
        selected_month=month,
        selected_month_mau=10,
        top_customers=[
            CustomerMonth(customer_id=i, name="<" * 80, account_number="ABCD-EFGH", mau=1)
            for i in range(15)
        ],
        customers_with_mau=5_000,
        can_order=True,
    )
    blocks = views.licence_message(overview).blocks
    _assert_within_limits(blocks)
    assert "<<" not in json.dumps(blocks)
    assert "…and 4,9" in _section_with(blocks, "MAU per customer")
