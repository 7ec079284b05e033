"""Customer accounts through Slack: add, find, list, edit, delete, within the roles."""

from __future__ import annotations

import json
import re
import time
import unicodedata
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, update

from bot.domain.roles import Role
from bot.ids import ActionId, CallbackId, CustomerField
from bot.payloads import CustomerRef, EditCustomerState, ListState
from bot.sentences import readable_day
from storage.models import (
    AuditEvent,
    Customer,
    CustomerAssignment,
    CustomerContact,
    CustomerLocation,
)
from tests.drive import (
    account_number_in,
    add_customer,
    all_text,
    as_slack_sends,
    calls_to,
    day,
    dispatched,
    held_view,
    input_block,
    post,
    submit_add,
)
from tests.forms import add_values, block_ids, checkboxes, selected, text, typed
from tests.rows import customers
from tests.seed import (
    ADMIN,
    MEMBER,
    RENEWAL,
    VIEWER,
    grant,
    paid,
    seed_customer,
    set_max_customers,
)
from tests.slack_requests import FORM_CONTENT_TYPE, SignedRequest, sign
from tests.wait import settle_bot

TODAY = date(2026, 11, 22)  # tests.support.FakeClock's day


@pytest.fixture
async def owner(db):
    await grant(db, "U0001", Role.OWNER)
    return "U0001"


async def _audit(db, action: str) -> list[AuditEvent]:
    async with db.unit_of_work() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list((await session.scalars(query)).all())


# ---------------------------------------------------------------- adding


async def test_msp_add_opens_the_form_with_the_default_price(client, slack, fake_slack, owner):
    command = slack.slash_command("add", user_id=owner)
    reply = await post(client, command)
    assert reply.status == 200 and reply.text == ""
    [call] = await calls_to(fake_slack, "views.open")
    assert call.args["trigger_id"] == command.payload["trigger_id"]
    view = call.args["view"]
    assert view["callback_id"] == CallbackId.ADD_CUSTOMER
    blocks = {block["block_id"]: block for block in view["blocks"]}
    # A trial has no price to type: the plan says the price it will have.
    assert CustomerField.PRICE not in blocks
    assert "a licence costs $75.00 a month" in blocks[CustomerField.PLAN]["hint"]["text"]
    # R20: a new account never blocks, as an explicit, ticked choice.
    assert "initial_value" not in blocks[CustomerField.THRESHOLD]["element"]
    [never] = blocks[CustomerField.NEVER_BLOCK]["element"]["initial_options"]
    assert never["value"] == "never"
    assert "blocked once this many" in blocks[CustomerField.THRESHOLD]["hint"]["text"]
    assert blocks[CustomerField.ASSIGNED]["element"]["type"] == "multi_users_select"


async def test_shortcut_and_home_button_open_the_same_form(client, slack, fake_slack, owner):
    await post(client, slack.global_shortcut(callback_id=CallbackId.ADD_CUSTOMER_SHORTCUT))
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.HOME_ADD_CUSTOMER, channel_id=None, view={"type": "home"}
        ),
    )
    calls = await calls_to(fake_slack, "views.open", 2)
    assert [c.args["view"]["callback_id"] for c in calls] == [CallbackId.ADD_CUSTOMER] * 2


async def test_adding_a_trial_shows_the_card_and_writes_everything(client, slack, db, owner):
    reply = await submit_add(
        client,
        slack,
        name="Acme Dental",
        email=" Admin@Acme-Dental.com ",
        locations="Main office\nWarehouse\n\nmain office",
        contact_name="Dana Lee",
        contact_email="dana@acme-dental.com",
        assigned=["U0005"],
    )
    body = reply.json
    assert body["response_action"] == "update"
    shown = all_text(body["view"]["blocks"])
    account = account_number_in(body["view"])
    assert "Added Acme Dental, account" in shown and account in shown
    assert "Active trial (30 days left)" in shown
    # R18: a trial shows the price it will have, not a total of $0 for no licences.
    assert "*Price per licence*\n$75.00 a month after the trial" in shown
    assert "$0" not in shown
    [customer] = await customers(db)
    assert customer.account_number == account
    assert (customer.plan, customer.status) == ("trial", "active_trial")
    # R4: the 30th day counting today is the trial's last (what trial_end holds).
    assert customer.trial_start == TODAY and customer.trial_end == TODAY + timedelta(days=29)
    assert customer.admin_email == "Admin@Acme-Dental.com"
    # The price is a licence's; a trial has no licences yet.
    assert (customer.unit_price_cents, customer.licences) == (7500, 0)
    assert customer.created_by == owner
    async with db.unit_of_work() as session:
        locations = (await session.scalars(select(CustomerLocation.name))).all()
        contacts = (await session.scalars(select(CustomerContact.email))).all()
        assigned = (await session.scalars(select(CustomerAssignment.slack_user_id))).all()
    assert list(locations) == ["Main office", "Warehouse"]
    assert list(contacts) == ["dana@acme-dental.com"]
    assert list(assigned) == ["U0005"]
    [created] = await _audit(db, "customer.created")
    assert created.actor == owner and created.entity_id == account
    assert created.after["locations"] == ["Main office", "Warehouse"]


async def test_adding_a_paid_customer(client, slack, db, owner):
    reply = await submit_add(
        client, slack, plan="professional", licences="25", term="annual", price="1,050.02"
    )
    [customer] = await customers(db)
    assert (customer.plan, customer.status, customer.licences) == ("professional", "paid", 25)
    assert (customer.term, customer.contract_start) == ("annual", TODAY)
    assert customer.renewal_date == date(2027, 11, 22)
    # The price typed is a licence's a month; the monthly total is derived from it.
    assert (customer.unit_price_cents, customer.monthly_price_cents) == (105002, 2625050)
    shown = all_text(reply.json["view"]["blocks"])
    assert "*Price per licence*\n$1,050.02 a month" in shown
    assert "*Monthly total*\n$26,250.50 (25 licences x $1,050.02)" in shown
    assert "*Term*\nAnnual since <!date^" in shown and "|22 Nov 2026>" in shown
    assert "*Renewal*\n<!date^" in shown and "|22 Nov 2027>" in shown


@pytest.mark.parametrize(
    ("term", "start", "renewal"),
    [
        # Anchored to the 31st: November's renewal is on its last day.
        ("monthly", date(2025, 8, 31), date(2026, 11, 30)),
        ("annual", date(2024, 2, 29), date(2027, 2, 28)),
        ("annual", date(2025, 11, 22), date(2027, 11, 22)),
    ],
)
async def test_a_paid_customer_added_mid_contract_renews_on_its_contracts_day(
    client, slack, db, owner, term, start, renewal
):
    """A customer brought in mid-contract keeps its contract's term and renewal day,
    not one counted from the day it was added (a contract started a year ago today
    renews today: its next renewal is a term later)."""
    reply = await submit_add(
        client, slack, plan="essentials", licences="4", term=term, contract_start=start
    )
    assert reply.json["response_action"] == "update", reply.text
    [customer] = await customers(db)
    assert (customer.term, customer.contract_start, customer.renewal_date) == (
        term,
        start,
        renewal,
    )
    shown = all_text(reply.json["view"]["blocks"])
    assert f"|{readable_day(start)}>" in shown and f"|{readable_day(renewal)}>" in shown


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "not-an-email"}, CustomerField.ADMIN_EMAIL, "not a valid email"),
        ({"email": ""}, CustomerField.ADMIN_EMAIL, "Enter the admin's email"),
        ({"name": ""}, CustomerField.NAME, "Enter the organization's name"),
        ({"name": "   "}, CustomerField.NAME, "Enter the organization's name"),
        ({"name": "x" * 81}, CustomerField.NAME, "at most 80 characters"),
        (
            {"plan": "professional", "licences": "-3", "term": "annual"},
            CustomerField.LICENCES,
            "at least 1",
        ),
        (
            {"plan": "professional", "licences": "ten", "term": "annual"},
            CustomerField.LICENCES,
            "whole number",
        ),
        (
            {"plan": "professional", "licences": "5000000", "term": "annual"},
            CustomerField.LICENCES,
            "at most 100,000",
        ),
        (
            {
                "plan": "essentials",
                "licences": "5",
                "term": "monthly",
                "contract_start": TODAY + timedelta(days=1),
            },
            CustomerField.CONTRACT_START,
            "cannot be in the future",
        ),
        (
            {"plan": "essentials", "licences": "5", "term": "annual", "contract_start": None},
            CustomerField.CONTRACT_START,
            "Pick the day the paid contract started",
        ),
        ({"plan": "essentials", "licences": "5"}, CustomerField.TERM, "monthly or annual"),
        (
            {"plan": "professional", "licences": None, "term": "annual"},
            CustomerField.LICENCES,
            "Enter the number of licences",
        ),
        (
            {"plan": "essentials", "licences": "5", "term": "weekly"},
            CustomerField.TERM,
            "monthly or annual",
        ),
        ({"plan": "free"}, CustomerField.PLAN, "trial or a paid plan"),
        ({"threshold": "0"}, CustomerField.THRESHOLD, "at least 1"),
        ({"price": "-5"}, CustomerField.PRICE, "cannot be negative"),
        ({"price": "abc"}, CustomerField.PRICE, "amount like 75"),
        ({"contact_email": "dana@"}, CustomerField.CONTACT_EMAIL, "not a valid email"),
        ({"locations": "x" * 101}, CustomerField.LOCATIONS, "at most 100 characters"),
    ],
)
async def test_bad_input_is_flagged_on_its_field_and_nothing_is_written(
    client, slack, db, owner, fields, field, message
):
    reply = await submit_add(client, slack, **fields)
    body = reply.json
    assert body["response_action"] == "errors"
    assert message in body["errors"][field], body["errors"]
    assert await customers(db) == []
    assert await _audit(db, "customer.created") == []


# ---------------------------------------------------------------- the Add form as it is filled in

PAID_CONTRACT = [
    CustomerField.LICENCES,
    CustomerField.TERM,
    CustomerField.CONTRACT_START,
    CustomerField.PRICE,
]
BEFORE = [CustomerField.NAME, CustomerField.ADMIN_EMAIL, CustomerField.PLAN]
AFTER = [
    CustomerField.THRESHOLD,
    CustomerField.NEVER_BLOCK,
    CustomerField.LOCATIONS,
    CustomerField.CONTACT_NAME,
    CustomerField.CONTACT_EMAIL,
    CustomerField.ASSIGNED,
]
TYPED_SO_FAR = {
    CustomerField.NAME: typed("Acme Dental"),
    CustomerField.ADMIN_EMAIL: typed("it@acme-dental.com"),
    CustomerField.LOCATIONS: typed("Main office\nLab"),
    CustomerField.NEVER_BLOCK: {"type": "checkboxes", "selected_options": [{"value": "never"}]},
    CustomerField.ASSIGNED: {"type": "multi_users_select", "selected_users": ["U0005"]},
}


async def _opened_add_form(client, slack, fake_slack, owner: str) -> dict:
    """`/msp add`: the form as Slack holds it once open (its id and hash)."""
    await post(client, slack.slash_command("add", user_id=owner))
    await calls_to(fake_slack, "views.open")
    return held_view(fake_slack, CallbackId.ADD_CUSTOMER)


def _people_read(view: dict) -> list[str]:
    """The labels, hints and placeholders of a form's inputs."""
    texts = []
    for block in view["blocks"]:
        if block["type"] == "input":
            texts.append(block["label"]["text"])
            texts.append((block.get("hint") or {}).get("text", ""))
            texts.append((block["element"].get("placeholder") or {}).get("text", ""))
    return texts


async def test_the_add_form_asks_the_name_first_and_a_trial_only_what_it_needs(
    client, slack, fake_slack, owner
):
    view = await _opened_add_form(client, slack, fake_slack, owner)
    assert block_ids(view) == BEFORE + AFTER
    plan = input_block(view, CustomerField.PLAN)
    assert plan["dispatch_action"] is True
    assert plan["element"]["action_id"] == ActionId.ADD_CUSTOMER_PLAN
    assert plan["element"]["initial_option"]["value"] == "trial"
    assert plan["hint"]["text"].startswith("A trial lasts 30 days; after it, a licence costs")
    assert not any("(paid plans)" in text for text in _people_read(view))


async def test_a_paid_plan_chosen_adds_its_contract_keeping_what_was_typed(
    client, slack, fake_slack, owner
):
    view = await _opened_add_form(client, slack, fake_slack, owner)
    entered = {**TYPED_SO_FAR, CustomerField.PLAN: selected("professional")}
    redraw = await dispatched(
        client, slack, fake_slack, view, CustomerField.PLAN, entered, user_id=owner
    )
    # The open modal is redrawn, unless it changed since (the hash).
    assert (redraw.args["view_id"], redraw.args["hash"]) == (view["id"], view["hash"])
    paid = redraw.args["view"]
    assert paid["callback_id"] == CallbackId.ADD_CUSTOMER
    assert block_ids(paid) == BEFORE + PAID_CONTRACT + AFTER
    for field in PAID_CONTRACT:  # required, so no "(optional)" beside them
        assert not input_block(paid, field).get("optional"), field
    element = {field: input_block(paid, field)["element"] for field in block_ids(paid)}
    assert element[CustomerField.PLAN]["initial_option"]["value"] == "professional"
    assert element[CustomerField.NAME]["initial_value"] == "Acme Dental"
    assert element[CustomerField.ADMIN_EMAIL]["initial_value"] == "it@acme-dental.com"
    assert element[CustomerField.LOCATIONS]["initial_value"] == "Main office\nLab"
    assert [o["value"] for o in element[CustomerField.NEVER_BLOCK]["initial_options"]] == ["never"]
    assert element[CustomerField.ASSIGNED]["initial_users"] == ["U0005"]
    assert element[CustomerField.PRICE]["initial_value"] == "75.00"
    assert element[CustomerField.CONTRACT_START]["initial_date"] == TODAY.isoformat()
    assert "1 to 100,000" in input_block(paid, CustomerField.LICENCES)["hint"]["text"]
    for words in _people_read(view) + _people_read(paid):  # numbers as people read them
        assert not re.search(r"\d{4}", words), words

    # Back to a trial: the contract goes, what was typed stays.
    held = held_view(fake_slack, CallbackId.ADD_CUSTOMER)
    entered = {
        **entered,
        CustomerField.PLAN: selected("trial"),
        CustomerField.LICENCES: {"type": "number_input", "value": "25"},
    }
    redraw = await dispatched(
        client, slack, fake_slack, held, CustomerField.PLAN, entered, user_id=owner
    )
    assert (redraw.args["view_id"], redraw.args["hash"]) == (view["id"], held["hash"])
    trial = redraw.args["view"]
    assert block_ids(trial) == BEFORE + AFTER
    assert input_block(trial, CustomerField.NAME)["element"]["initial_value"] == "Acme Dental"


async def test_a_forged_plan_redraws_the_trial_form(client, slack, fake_slack, owner):
    view = await _opened_add_form(client, slack, fake_slack, owner)
    entered = {**TYPED_SO_FAR, CustomerField.PLAN: selected("<!channel>")}
    redraw = await dispatched(
        client, slack, fake_slack, view, CustomerField.PLAN, entered, user_id=owner
    )
    assert block_ids(redraw.args["view"]) == BEFORE + AFTER


async def test_add_sent_as_a_paid_plan_is_chosen_shows_the_contract_to_fill_in(
    client, slack, fake_slack, db, owner
):
    """Add clicked right after a paid plan was chosen, before the form was redrawn:
    the form comes back with the plan's contract, nothing added yet."""
    view = await _opened_add_form(client, slack, fake_slack, owner)
    entered = {**TYPED_SO_FAR, CustomerField.PLAN: selected("essentials")}
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.ADD_CUSTOMER,
            values=as_slack_sends(view, entered),
            blocks=view["blocks"],
            user_id=owner,
        ),
    )
    assert reply.json["response_action"] == "update", reply.text
    shown = reply.json["view"]
    assert block_ids(shown) == BEFORE + PAID_CONTRACT + AFTER
    assert input_block(shown, CustomerField.NAME)["element"]["initial_value"] == "Acme Dental"
    assert await customers(db) == []


async def test_a_paid_plan_sent_without_its_contract_is_refused_on_its_fields(
    client, slack, db, owner
):
    """A client may send any state: the server checks what a paid plan needs."""
    reply = await submit_add(
        client, slack, plan="enterprise", licences=None, term=None, contract_start=None
    )
    assert reply.json["response_action"] == "errors", reply.text
    errors = reply.json["errors"]
    assert set(errors) == {
        CustomerField.LICENCES,
        CustomerField.TERM,
        CustomerField.CONTRACT_START,
    }
    assert errors[CustomerField.LICENCES] == "Enter the number of licences of the paid plan."
    assert await customers(db) == []


async def test_all_bad_fields_are_reported_at_once(client, slack, db, owner):
    reply = await submit_add(client, slack, name="", email="nope", price="-1")
    assert set(reply.json["errors"]) == {
        CustomerField.NAME,
        CustomerField.ADMIN_EMAIL,
        CustomerField.PRICE,
    }


NULL_ELEMENT = {"null": True}  # stands for an element state of JSON null


def _with_nulls(slack, callback_id: str, values: dict) -> SignedRequest:
    """A view_submission whose NULL_ELEMENT states are sent as null (Slack's
    builder cannot), signed like any other."""
    payload = slack.view_submission(callback_id=callback_id, values=values).payload
    for actions in payload["view"]["state"]["values"].values():
        for action_id, state in actions.items():
            if state == NULL_ELEMENT:
                actions[action_id] = None
    body = "payload=" + quote(json.dumps(payload), safe="")
    stamp = int(time.time())
    headers = {
        "Content-Type": FORM_CONTENT_TYPE,
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": sign(body, secret=slack.signing_secret, timestamp=stamp),
    }
    return SignedRequest(body=body, headers=headers, payload=payload)


async def test_forged_or_unstorable_values_are_flagged_on_their_fields(client, slack, db, owner):
    """Found by tests/resilience/test_modal_fuzz.py: each of these was an unexpected
    error ("Something went wrong"), a value PostgreSQL refuses, or garbage stored."""
    field = ActionId.FIELD
    flagged = {
        CustomerField.NAME: {field: NULL_ELEMENT},
        CustomerField.ADMIN_EMAIL: text("\ud800@x.com"),  # a lone surrogate (valid JSON)
        CustomerField.CONTACT_NAME: text("Da\x00na"),  # NUL: PostgreSQL refuses it
        CustomerField.LOCATIONS: text("HQ\n\x00"),
        CustomerField.THRESHOLD: {field: {"type": "number_input", "value": "9" * 5000}},
        CustomerField.ASSIGNED: {
            field: {"type": "multi_users_select", "selected_users": ["<!channel>"]}
        },
    }
    for block_id, state in flagged.items():
        values = {**add_values(), block_id: state}
        reply = await post(client, _with_nulls(slack, CallbackId.ADD_CUSTOMER, values))
        assert reply.json["response_action"] == "errors", (block_id, reply.text)
        assert set(reply.json["errors"]) == {block_id}, reply.json["errors"]
    assert await customers(db) == []
    # Not a list of users: none chosen, not a crash.
    values = {
        **add_values(contact_email="d" * 240 + "@x.com"),
        CustomerField.ASSIGNED: {field: {"type": "multi_users_select", "selected_users": True}},
    }
    reply = await post(
        client, slack.view_submission(callback_id=CallbackId.ADD_CUSTOMER, values=values)
    )
    assert reply.json["response_action"] == "update", reply.text
    async with db.unit_of_work() as session:
        [contact] = (await session.scalars(select(CustomerContact))).all()
    assert contact.email == "d" * 240 + "@x.com" and len(contact.name) == 100  # its column


async def test_a_forged_huge_id_is_refused_on_its_field(client, slack, owner):
    values = {
        "customer_find": {
            ActionId.CUSTOMER_SEARCH: {
                "type": "external_select",
                "selected_option": {"value": json.dumps({"customer_id": 2**63})},
            }
        }
    }
    reply = await post(
        client, slack.view_submission(callback_id=CallbackId.FIND_CUSTOMER, values=values)
    )
    assert set(reply.json["errors"]) == {"customer_find"}  # was an OverflowError in SQLite


async def test_r1_admin_email_is_unique_across_all_accounts(client, slack, db, owner, fake_slack):
    await add_customer(client, slack, email="it@acme.com", name="Acme")
    again = await submit_add(client, slack, email="  IT@ACME.com ", name="Other name")
    assert again.json["errors"] == {
        CustomerField.ADMIN_EMAIL: "This admin email is already used by another account."
    }
    # Another MSP's address cannot be reused either, and nobody learns whose it is.
    await grant(db, "U0900", Role.OWNER, team_id="T0900")
    await seed_customer(
        db,
        name="Globex Theirs",
        team_id="T0900",
        admin_email="ops@globex.com",
        admin_email_key="ops@globex.com",
    )
    other = await submit_add(client, slack, email="OPS@globex.com", name="Ours too")
    assert "already used by another account" in other.json["errors"][CustomerField.ADMIN_EMAIL]
    assert "Globex" not in other.text
    assert len(await customers(db)) == 2


async def test_a_deleted_account_frees_its_email_and_name_at_once(client, slack, db, owner):
    """R1, R2 among live accounts: a deleted (or removed) account's email and name
    are free for a new one at once; its own row keeps them (its history)."""
    gone = await seed_customer(
        db,
        name="Old Trial",
        status="deleted",
        admin_email="old@acme.com",
        admin_email_key="old@acme.com",
    )
    again = await submit_add(client, slack, name="OLD trial", email=" Old@Acme.com")
    assert again.json["response_action"] == "update", again.text
    # The live account holds them now: the messages say so as before.
    third = await submit_add(client, slack, name="Old Trial", email="old@acme.com")
    assert third.json["errors"] == {
        CustomerField.NAME: "Your MSP already has a customer with this name."
    }
    fourth = await submit_add(client, slack, name="New name", email="OLD@acme.com")
    assert fourth.json["errors"] == {
        CustomerField.ADMIN_EMAIL: "This admin email is already used by another account."
    }
    rows = {row.id: row for row in await customers(db)}
    assert (rows[gone].name, rows[gone].admin_email_key) == ("Old Trial", "old@acme.com")
    assert len(rows) == 2


async def test_an_edit_may_take_a_deleted_accounts_email_and_name(
    client, slack, db, owner, fake_slack
):
    await seed_customer(
        db, name="Delta", status="deleted", admin_email="d@x.com", admin_email_key="d@x.com"
    )
    await add_customer(client, slack, name="Gamma", email="g@x.com")
    gamma = (await customers(db))[1]
    view = await _open_edit(client, slack, fake_slack, gamma.id)
    reply = await _submit_edit(
        client, slack, view, **{CustomerField.NAME: "Delta", CustomerField.ADMIN_EMAIL: "D@x.com"}
    )
    assert reply.json["response_action"] == "update", reply.text
    edited = (await customers(db))[1]
    assert (edited.name, edited.admin_email_key) == ("Delta", "d@x.com")


async def test_r2_names_are_unique_within_the_msp_only(client, slack, db, owner):
    await grant(db, "U0900", Role.OWNER, team_id="T0900")
    await seed_customer(db, name="Acme Dental", team_id="T0900")  # another MSP's
    ours = await submit_add(client, slack, name="Acme Dental", email="a@acme.com")
    assert ours.json["response_action"] == "update"
    again = await submit_add(client, slack, name="ACME dental", email="b@acme.com")
    assert "already has a customer with this name" in again.json["errors"][CustomerField.NAME]


async def test_r3_no_customer_past_the_maximum(client, slack, db, owner, fake_slack):
    await add_customer(client, slack, name="One", email="one@x.com")
    await set_max_customers(db, 1)
    refused = await post(client, slack.slash_command("add", user_id=owner))
    assert "already manages 1 of its 1 customers" in refused.json["text"]
    await settle_bot(client)
    assert fake_slack.calls_to("views.open") == []
    late = await submit_add(client, slack, name="Two", email="two@x.com")
    assert "1 of its 1 customers" in late.json["errors"][CustomerField.NAME]
    assert len(await customers(db)) == 1


async def test_names_keep_unicode_and_mrkdwn_never_formats(client, slack, db, owner):
    await add_customer(client, slack, name="Café Müller GmbH", email="a@cafe.de")
    nasty = "<!channel> *x* <@U1>"
    added = await submit_add(client, slack, name=nasty, email="b@x.com")
    listing = await post(client, slack.slash_command("customers", user_id=owner))
    card = await post(client, slack.slash_command("customer channel", user_id=owner))
    assert "Café Müller GmbH" in all_text(listing.json["blocks"])
    for surface in (added.json["view"]["blocks"], listing.json["blocks"], card.json["blocks"]):
        shown_raw = [t for t in _text_objects(surface) if nasty in t["text"]]
        assert shown_raw, "the name is shown"
        # Where the name appears as typed, Slack does not interpret it.
        assert all(t["type"] == "plain_text" for t in shown_raw)
    assert "<!channel>" not in listing.json["text"] and "<!channel>" not in card.json["text"]


def _text_objects(blocks: list[dict]) -> list[dict]:
    found = []
    for block in blocks:
        for key in ("text",):
            if isinstance(block.get(key), dict):
                found.append(block[key])
        found.extend(block.get("fields") or [])
        found.extend(
            e for e in block.get("elements") or [] if e.get("type") in ("mrkdwn", "plain_text")
        )
    return found


@pytest.mark.parametrize("role", [Role.APPROVER, Role.VIEWER])
async def test_approvers_and_viewers_cannot_add(client, slack, db, owner, fake_slack, role):
    await grant(db, "U0002", role)
    reply = await post(client, slack.slash_command("add", user_id="U0002"))
    assert "cannot use /msp add" in reply.json["text"]
    forged = await submit_add(client, slack, user_id="U0002")
    assert forged.json["response_action"] == "update"  # the error modal
    assert "cannot add customers" in forged.text
    assert await customers(db) == []


async def test_a_member_who_adds_is_assigned(client, slack, db, owner):
    await grant(db, "U0003", Role.MEMBER)
    await add_customer(client, slack, user_id="U0003", name="Mine", email="m@x.com")
    async with db.unit_of_work() as session:
        assigned = (await session.scalars(select(CustomerAssignment.slack_user_id))).all()
    assert list(assigned) == ["U0003"]


# ---------------------------------------------------------------- finding and the card


async def test_customer_by_account_number_or_partial_name(client, slack, db, owner):
    account = await add_customer(
        client,
        slack,
        name="Acme Dental",
        email="a@acme.com",
        plan="essentials",
        licences="10",
        term="annual",
    )
    for query in (account, account.lower().replace("-", ""), "dental", "ACME"):
        reply = await post(client, slack.slash_command(f"customer {query}", user_id=owner))
        shown = all_text(reply.json["blocks"])
        assert account in shown, query
        for fact in (
            "Essentials",
            "Paid",
            "0 / 10",
            "0 / never blocks",
            "*Price per licence*\n$75.00 a month",
            "*Monthly total*\n$750.00 (10 licences x $75.00)",
            "*Term*\nAnnual since <!date^",
            "*Renewal*\n<!date^",
            "0 / 0",
        ):
            assert fact in shown, fact
        actions = next(b for b in reply.json["blocks"] if b["type"] == "actions")
        assert [e["action_id"] for e in actions["elements"]] == [
            ActionId.REQUEST_START,
            ActionId.EDIT_CUSTOMER,
            ActionId.CORRECT_BILLING,  # an owner's; no Delete in a paid term (R16)
        ]


async def test_several_matches_give_a_picker_that_shows_the_card(
    client, slack, db, owner, fake_slack
):
    await add_customer(client, slack, name="Acme Dental", email="a@x.com")
    await add_customer(client, slack, name="Acme Legal", email="b@x.com")
    await add_customer(client, slack, name="Zenith", email="c@x.com")
    reply = await post(client, slack.slash_command("customer acme", user_id=owner))
    select_menu = reply.json["blocks"][0]["accessory"]
    assert select_menu["action_id"] == ActionId.PICK_CUSTOMER
    labels = [o["text"]["text"] for o in select_menu["options"]]
    assert [label.split(" (")[0] for label in labels] == ["Acme Dental", "Acme Legal"]
    chosen = select_menu["options"][1]
    await post(
        client, slack.block_actions(action_id=ActionId.PICK_CUSTOMER, selected_option=chosen)
    )
    [answer] = await calls_to(fake_slack, "response_url")
    assert answer.args["replace_original"] is True
    assert "Acme Legal" in all_text(answer.args["blocks"])


async def test_no_match_says_so(client, slack, owner):
    reply = await post(client, slack.slash_command("customer nothing-like-it", user_id=owner))
    assert "No customer matches “nothing-like-it”" in reply.json["text"]


async def test_customer_without_a_query_opens_the_finder(client, slack, fake_slack, db, owner):
    account = await add_customer(client, slack, name="Acme", email="a@x.com")
    await post(client, slack.slash_command("customer", user_id=owner))
    [call] = await calls_to(fake_slack, "views.open")
    assert call.args["view"]["callback_id"] == CallbackId.FIND_CUSTOMER
    options = await post(
        client, slack.block_suggestion(action_id=ActionId.CUSTOMER_SEARCH, value="acm")
    )
    [option] = options.json["options"]
    values = {
        "customer_find": {
            ActionId.CUSTOMER_SEARCH: {"type": "external_select", "selected_option": option}
        }
    }
    shown = await post(
        client, slack.view_submission(callback_id=CallbackId.FIND_CUSTOMER, values=values)
    )
    assert account in all_text(shown.json["view"]["blocks"])


async def test_type_ahead_puts_best_matches_first_and_stops_at_100(client, slack, db, owner):
    await set_max_customers(db, 500)
    for n in range(105):
        await add_customer(client, slack, name=f"Clinic {n:03d} Acme", email=f"c{n}@x.com")
    exact = await add_customer(client, slack, name="Acme", email="acme@x.com")
    await add_customer(client, slack, name="Acme Dental", email="ad@x.com")
    reply = await post(
        client, slack.block_suggestion(action_id=ActionId.CUSTOMER_SEARCH, value="acme")
    )
    options = reply.json["options"]
    assert len(options) == 100
    assert options[0]["text"]["text"] == f"Acme ({exact})"
    assert options[1]["text"]["text"].startswith("Acme Dental")


# ---------------------------------------------------------------- lists


async def test_trials_list_pages_and_totals(client, slack, db, owner, fake_slack):
    await set_max_customers(db, 100)
    for n in range(45):
        await add_customer(client, slack, name=f"Trial {n:02d}", email=f"t{n}@x.com")
    await add_customer(
        client,
        slack,
        name="Paying",
        email="p@x.com",
        plan="enterprise",
        licences="50",
        term="annual",
    )
    async with db.unit_of_work() as session:
        await session.execute(
            update(Customer).where(Customer.status == "active_trial").values(users=2)
        )
        await session.execute(update(Customer).where(Customer.status == "paid").values(users=40))
    reply = await post(client, slack.slash_command("customers trials", user_id=owner))
    body = reply.json
    shown = all_text(body["blocks"])
    assert "*45* customers" in shown and "*90* trial users" in shown and "page 1 of 3" in shown
    assert "billed" not in shown  # R5: trial users are not billable users
    assert len(body["blocks"]) <= 50
    rows = [
        b for b in body["blocks"] if b.get("accessory", {}).get("action_id") == ActionId.ROW_MENU
    ]
    assert len(rows) == 20
    [nav] = [b for b in body["blocks"] if b["type"] == "actions"]
    next_button, sort_menu = nav["elements"]
    assert next_button["action_id"] == ActionId.LIST_NEXT
    assert sort_menu["action_id"] == ActionId.LIST_SORT
    await post(
        client, slack.block_actions(action_id=ActionId.LIST_NEXT, value=next_button["value"])
    )
    [page_two] = await calls_to(fake_slack, "response_url")
    assert page_two.args["replace_original"] is True
    assert "page 2 of 3" in all_text(page_two.args["blocks"])
    assert "Trial 20" in all_text(page_two.args["blocks"])
    paid = await post(client, slack.slash_command("customers paid", user_id=owner))
    assert "*40* active (billed) users" in all_text(paid.json["blocks"])


async def test_list_text_filter_and_view_button(client, slack, db, owner, fake_slack):
    await add_customer(client, slack, name="Northwind", email="n@x.com")
    await add_customer(client, slack, name="Southwind", email="s@x.com")
    reply = await post(client, slack.slash_command("customers north", user_id=owner))
    shown = all_text(reply.json["blocks"])
    assert "Northwind" in shown and "Southwind" not in shown
    row_menu = next(b for b in reply.json["blocks"] if "accessory" in b)["accessory"]
    view_card = row_menu["options"][0]
    assert view_card["text"]["text"] == "View card"
    overflow = {"type": "overflow"}
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.ROW_MENU, selected_option=view_card, extra_action=overflow
        ),
    )
    [card] = await calls_to(fake_slack, "response_url")
    assert card.args["replace_original"] is False
    assert "Northwind" in all_text(card.args["blocks"])


async def test_forged_page_state_is_refused_politely(client, slack, owner, fake_slack):
    await post(client, slack.block_actions(action_id=ActionId.LIST_NEXT, value='{"page": -4}'))
    [answer] = await calls_to(fake_slack, "response_url")
    assert "out of date" in answer.args["text"]


# ---------------------------------------------------------------- editing


async def _open_edit(client, slack, fake_slack, customer_id: int, user_id: str = "U0001"):
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.EDIT_CUSTOMER,
            user_id=user_id,
            value=CustomerRef(customer_id=customer_id).encode(),
        ),
    )
    return (await calls_to(fake_slack, "views.open"))[-1].args["view"]


def _edit_values(view, **changes) -> dict:
    values = {}
    for block in view["blocks"]:
        element = block.get("element")
        if not element:
            continue
        if element["type"] == "multi_users_select":
            values[block["block_id"]] = {
                ActionId.FIELD: {
                    "type": "multi_users_select",
                    "selected_users": element.get("initial_users", []),
                }
            }
        elif element["type"] == "checkboxes":
            ticked = [o["value"] for o in element.get("initial_options") or []]
            values[block["block_id"]] = checkboxes(ticked)
        else:
            values[block["block_id"]] = text(element.get("initial_value"))
    for field, value in changes.items():
        values[field] = text(value)
    return values


async def _add_paying(client, slack, *, licences: str) -> None:
    """A monthly Essentials customer, "Paying", added through the form."""
    await add_customer(
        client,
        slack,
        name="Paying",
        email="p@x.com",
        plan="essentials",
        licences=licences,
        term="monthly",
    )


async def _submit_edit(client, slack, view, **changes):
    """Submit the Edit form as it was opened, with `changes` typed over it."""
    return await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.EDIT_CUSTOMER,
            private_metadata=view["private_metadata"],
            values=_edit_values(view, **changes),
        ),
    )


async def test_edit_saves_and_audits_before_and_after(client, slack, db, owner, fake_slack):
    await add_customer(client, slack, name="Acme", email="a@x.com", locations="HQ")
    [customer] = await customers(db)
    view = await _open_edit(client, slack, fake_slack, customer.id)
    assert view["callback_id"] == CallbackId.EDIT_CUSTOMER
    assert EditCustomerState.decode(view["private_metadata"]).version == 1
    values = _edit_values(
        view,
        **{
            CustomerField.NAME: "Acme Corp",
            CustomerField.NOTES: "VIP",
            CustomerField.PRICE: "99.5",
        },
    )
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.EDIT_CUSTOMER,
            values=values,
            private_metadata=view["private_metadata"],
        ),
    )
    assert reply.json["response_action"] == "update"
    assert "Acme Corp" in all_text(reply.json["view"]["blocks"])
    [saved] = await customers(db)
    assert (saved.name, saved.notes, saved.unit_price_cents, saved.version) == (
        "Acme Corp",
        "VIP",
        9950,
        2,
    )
    [event] = await _audit(db, "customer.updated")
    assert event.before["name"] == "Acme" and event.after["name"] == "Acme Corp"
    assert event.after["locations"] == ["HQ"]


async def test_editing_a_paid_account_keeps_its_price_per_licence(
    client, slack, db, owner, fake_slack
):
    """The Edit form shows the stored price, a licence's a month: saved unchanged,
    the price stays (it once opened with the monthly total, which a save then
    stored as the price of each licence)."""
    await _add_paying(client, slack, licences="10")
    [customer] = await customers(db)
    view = await _open_edit(client, slack, fake_slack, customer.id)
    shown = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert shown[CustomerField.PRICE]["label"]["text"] == "Price per licence a month ($)"
    assert shown[CustomerField.PRICE]["element"]["initial_value"] == "75.00"
    reply = await _submit_edit(client, slack, view, **{CustomerField.NOTES: "renewing"})
    assert "*Monthly total*\n$750.00 (10 licences x $75.00)" in all_text(
        reply.json["view"]["blocks"]
    )
    [saved] = await customers(db)
    assert (saved.unit_price_cents, saved.monthly_price_cents) == (7_500, 75_000)


async def test_edit_on_a_stale_copy_does_not_overwrite(client, slack, db, owner, fake_slack):
    await add_customer(client, slack, name="Acme", email="a@x.com")
    [customer] = await customers(db)
    first = await _open_edit(client, slack, fake_slack, customer.id)
    second = await _open_edit(client, slack, fake_slack, customer.id)
    await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.EDIT_CUSTOMER,
            values=_edit_values(first, **{CustomerField.NAME: "First"}),
            private_metadata=first["private_metadata"],
        ),
    )
    late = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.EDIT_CUSTOMER,
            values=_edit_values(second, **{CustomerField.NAME: "Second"}),
            private_metadata=second["private_metadata"],
        ),
    )
    assert "changed by someone else" in late.json["errors"][CustomerField.NAME]
    assert (await customers(db))[0].name == "First"


async def test_edit_applies_r1_and_r2(client, slack, db, owner, fake_slack):
    await add_customer(client, slack, name="Acme", email="a@x.com")
    await add_customer(client, slack, name="Beta", email="b@x.com")
    beta = (await customers(db))[1]
    view = await _open_edit(client, slack, fake_slack, beta.id)
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.EDIT_CUSTOMER,
            private_metadata=view["private_metadata"],
            values=_edit_values(
                view, **{CustomerField.NAME: "ACME", CustomerField.ADMIN_EMAIL: "A@x.com"}
            ),
        ),
    )
    assert "already has a customer with this name" in reply.json["errors"][CustomerField.NAME]
    assert (await customers(db))[1].name == "Beta"


# ---------------------------------------------------------------- max-MAU threshold (R20)


async def test_never_block_is_an_explicit_choice_and_a_threshold_is_literal(
    client, slack, db, owner, fake_slack
):
    await add_customer(client, slack, name="Open", email="o@x.com")  # the form's default
    await add_customer(
        client, slack, name="Big", email="b@x.com", threshold="1,500,000", never_block=False
    )
    neither = await submit_add(client, slack, name="N", email="n@x.com", never_block=False)
    both = await submit_add(
        client, slack, name="B", email="bb@x.com", threshold="5", never_block=True
    )
    assert "or tick “Never block”" in neither.json["errors"][CustomerField.THRESHOLD]
    assert "untick “Never block”" in both.json["errors"][CustomerField.THRESHOLD]
    open_co, big = await customers(db)
    assert (open_co.max_mau_threshold, big.max_mau_threshold) == (None, 1_500_000)
    view = await _open_edit(client, slack, fake_slack, big.id)
    shown = {block["block_id"]: block["element"] for block in view["blocks"] if "element" in block}
    assert shown[CustomerField.THRESHOLD]["initial_value"] == "1500000"
    assert not shown[CustomerField.NEVER_BLOCK].get("initial_options")
    values = _edit_values(view, **{CustomerField.THRESHOLD: ""})
    values[CustomerField.NEVER_BLOCK] = checkboxes(["never"])
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.EDIT_CUSTOMER,
            private_metadata=view["private_metadata"],
            values=values,
        ),
    )
    assert "MAU / threshold*\n0 / never blocks" in all_text(reply.json["view"]["blocks"])
    assert (await customers(db))[1].max_mau_threshold is None


# ---------------------------------------------------------------- free limits (R15)


async def test_expired_trials_and_free_accounts_over_a_free_limit_are_flagged(
    client, slack, db, owner
):
    await seed_customer(db, name="Crowded Trial", status="expired_trial", users=5)
    await seed_customer(db, name="Heavy Free", status="free", users=1, data_used_gb=4.5)
    await seed_customer(db, name="Small Free", status="free", users=3, data_used_gb=3.0)
    await seed_customer(db, name="Big Trial", status="active_trial", users=50)
    listed = await post(client, slack.slash_command("customers all", user_id=owner))
    rows = [block["fields"] for block in listed.json["blocks"] if block.get("fields")]
    flagged = [
        name["text"].split(" · ")[0]
        for name, details in rows
        if "over free limits" in details["text"]
    ]
    assert flagged == ["Crowded Trial", "Heavy Free"]
    card = await post(client, slack.slash_command("customer Crowded Trial", user_id=owner))
    assert "Over free limits*: 5 users and 0 GB; the free plan allows 3 users and 3 GB" in (
        all_text(card.json["blocks"])
    )
    within = await post(client, slack.slash_command("customer Small Free", user_id=owner))
    assert "Over free limits" not in all_text(within.json["blocks"])


# ---------------------------------------------------------------- deleting


async def _delete(client, slack, customer_id: int, typed: str, user_id: str = "U0001"):
    return await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.DELETE_CUSTOMER,
            user_id=user_id,
            private_metadata=CustomerRef(customer_id=customer_id).encode(),
            values={CustomerField.CONFIRM_NAME: text(typed)},
        ),
    )


async def test_delete_needs_the_typed_name_and_removes_related_records(
    client, slack, db, owner, fake_slack
):
    await add_customer(
        client,
        slack,
        name="Acme",
        email="a@x.com",
        locations="HQ\nLab",
        contact_name="Dana",
        assigned=["U0005"],
    )
    [customer] = await customers(db)
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.DELETE_CUSTOMER, value=CustomerRef(customer_id=customer.id).encode()
        ),
    )
    [opened] = await calls_to(fake_slack, "views.open")
    assert opened.args["view"]["callback_id"] == CallbackId.DELETE_CUSTOMER
    wrong = await _delete(client, slack, customer.id, "acme inc")
    assert "not the customer's name" in wrong.json["errors"][CustomerField.CONFIRM_NAME]
    assert len(await customers(db)) == 1
    done = await _delete(client, slack, customer.id, "Acme")
    assert "was deleted" in all_text(done.json["view"]["blocks"])
    assert await customers(db) == []
    async with db.unit_of_work() as session:
        for table in (CustomerLocation, CustomerContact, CustomerAssignment):
            assert await session.scalar(select(func.count()).select_from(table)) == 0
    [event] = await _audit(db, "customer.deleted")
    assert event.before["locations"] == ["HQ", "Lab"] and event.after is None


async def test_the_typed_name_confirms_however_its_accents_were_composed(client, slack, db, owner):
    """A keyboard may send "é" as e + a combining accent (NFD); names are stored NFC
    (found by tests/resilience/test_modal_fuzz.py)."""
    await add_customer(client, slack, name="Café Noir", email="c@x.com")
    [customer] = await customers(db)
    done = await _delete(client, slack, customer.id, unicodedata.normalize("NFD", " Café Noir "))
    assert "was deleted" in all_text(done.json["view"]["blocks"])
    assert await customers(db) == []


async def test_r16_a_paid_term_blocks_deletion_here(client, slack, db, owner):
    await _add_paying(client, slack, licences="3")
    [customer] = await customers(db)
    reply = await _delete(client, slack, customer.id, "Paying")
    # What to do instead, not a dead end: a paid account is cancelled first.
    assert reply.json["errors"][CustomerField.CONFIRM_NAME] == (
        "Paying is in a paid term, and an account cannot be deleted during its paid term: "
        "cancel its subscription first (/msp request cancel), then delete it once the term "
        "ends (on 22 Dec 2026 at the soonest)."
    )
    assert len(await customers(db)) == 1


@pytest.mark.parametrize("role", [Role.MEMBER, Role.APPROVER, Role.VIEWER])
async def test_only_admins_and_owners_delete(client, slack, db, owner, role, fake_slack):
    await grant(db, "U0002", role)
    await add_customer(client, slack, name="Acme", email="a@x.com", assigned=["U0002"])
    [customer] = await customers(db)
    card = await post(client, slack.slash_command("customer acme", user_id="U0002"))
    buttons = [
        e["action_id"] for b in card.json["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert ActionId.DELETE_CUSTOMER not in buttons
    forged = await _delete(client, slack, customer.id, "Acme", user_id="U0002")
    assert "Only admins and owners can delete customers." in forged.text
    assert len(await customers(db)) == 1


def _elements(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def test_a_paid_card_offers_no_delete_but_what_leads_to_one(
    client, slack, db, owner, fake_slack
):
    """R16: Delete during a paid term could only be refused. Those who may delete are
    told instead to cancel first (the card's own menu offers it) and from when the
    account can be deleted; nobody else is told about deleting."""
    await grant(db, ADMIN, Role.ADMIN)
    await grant(db, MEMBER, Role.MEMBER)
    await paid(db, name="Paying", assigned=[MEMBER])  # renews on RENEWAL, 1 Mar 2027
    # Renewing within the 30 days' notice: a cancellation ends the term a year later.
    await paid(db, name="Late", renewal_date=date(2026, 12, 10), contract_start=date(2025, 12, 10))
    for user in (owner, ADMIN):
        card = (await post(client, slack.slash_command("customer Paying", user_id=user))).json
        assert ActionId.DELETE_CUSTOMER not in [e["action_id"] for e in _elements(card["blocks"])]
        [menu] = [e for e in _elements(card["blocks"]) if e["action_id"] == ActionId.REQUEST_START]
        assert "Cancel subscription" in [o["text"]["text"] for o in menu["options"]]
        assert card["blocks"][-1] == {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "A paid account cannot be deleted during its term: cancel its "
                    "subscription first (*Cancel subscription* in *Request…*), and it can be "
                    f"deleted once the term ends, on {day(RENEWAL)} at the soonest.",
                }
            ],
        }
    late = (await post(client, slack.slash_command("customer Late", user_id=owner))).json
    assert f"once the term ends, on {day(date(2027, 12, 10))} at the soonest." in (
        all_text(late["blocks"])
    )
    member = (await post(client, slack.slash_command("customer Paying", user_id=MEMBER))).json
    assert "deleted" not in all_text(member["blocks"])

    # A Delete clicked on a card shown before the term began says so before any typing.
    customer_id = (await customers(db))[0].id
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.DELETE_CUSTOMER,
            value=CustomerRef(customer_id=customer_id).encode(),
            user_id=owner,
        ),
    )
    [answer] = await calls_to(fake_slack, "response_url")
    assert "cancel its subscription first (" in answer.args["text"]
    assert "/msp request cancel" in answer.args["text"]
    assert f"(on {day(RENEWAL)} at the soonest)" in answer.args["text"]
    assert fake_slack.calls_to("views.open") == []


async def test_a_cancelled_card_says_when_its_paid_term_ends(client, slack, db, owner):
    """A cancelled plan does not renew: its card says when it ends, and from when it
    can be deleted, instead of a renewal and a Delete that would be refused."""
    ends = date(2027, 1, 15)
    await paid(db, name="Leaving", status="pending_cancellation", renewal_date=ends)
    card = (await post(client, slack.slash_command("customer Leaving", user_id=owner))).json
    shown = all_text(card["blocks"])
    assert f"*Ends*\n{day(ends)}" in shown and "*Renewal*" not in shown
    assert ActionId.DELETE_CUSTOMER not in [e["action_id"] for e in _elements(card["blocks"])]
    assert card["blocks"][-1]["elements"][0]["text"] == (
        f"Cancelled: it can be deleted once its paid term ends on {day(ends)}."
    )


async def test_a_card_whose_deletion_is_scheduled_offers_reverse_deletion_not_delete(
    client, slack, db, owner
):
    """Its deletion is on its way: the card offers to take it back, not a permanent
    deletion at once beside it."""
    await seed_customer(db, name="Going", status="scheduled_deletion", plan="free")
    card = (await post(client, slack.slash_command("customer Going", user_id=owner))).json
    buttons = [e["action_id"] for e in _elements(card["blocks"])]
    assert ActionId.REVERSE_DELETION in buttons
    assert ActionId.DELETE_CUSTOMER not in buttons
    # A free account, out of any paid term, still offers Delete.
    await seed_customer(db, name="Idle", status="free", plan="free")
    idle = (await post(client, slack.slash_command("customer Idle", user_id=owner))).json
    assert ActionId.DELETE_CUSTOMER in [e["action_id"] for e in _elements(idle["blocks"])]


async def test_add_ons_are_shown_by_their_names(client, slack, db, owner):
    """Stored by catalog key (the API, an import) or by name (an approved request)."""
    await paid(db, name="Addons", add_ons=["activconnect", "Screen Details", "Legacy Widget"])
    card = (await post(client, slack.slash_command("customer Addons", user_id=owner))).json
    assert "*Add-ons:* ActivConnect, Screen Details, Legacy Widget" in all_text(card["blocks"])


async def test_a_card_over_its_max_mau_threshold_says_new_end_users_are_blocked(
    client, slack, db, owner
):
    """R20, counted as the dashboard and the alert count it: this month's reported MAU
    at or over the threshold."""
    await grant(db, VIEWER, Role.VIEWER)
    await paid(db, name="Over", max_mau=1200, mau=1450, mau_this_month=1450)
    await paid(db, name="At", max_mau=1200, mau=1200, mau_this_month=1200)
    await paid(db, name="Under", max_mau=1200, mau=1199, mau_this_month=1199)
    # Over it last month only: this month blocks nobody yet.
    await paid(db, name="Before", max_mau=10, mau=50, month=date(2026, 10, 1))
    await paid(db, name="Never", max_mau=None, mau=5000, mau_this_month=5000)

    async def shown(name: str, user: str = owner) -> str:
        reply = await post(client, slack.slash_command(f"customer {name}", user_id=user))
        return all_text(reply.json["blocks"])

    assert (
        ":no_entry: *New end users are blocked*: 1,450 MAU this month, over its max-MAU "
        "threshold of 1,200. Raise the threshold with *Edit* to let them in now; otherwise "
        "they stay blocked until the month ends."
    ) in await shown("Over")
    assert "1,200 MAU this month, at its max-MAU threshold of 1,200." in await shown("At")
    for name in ("Under", "Before", "Never"):
        assert "blocked" not in await shown(name), name
    # Someone who cannot edit the customer is told who can let them in.
    assert "until the month ends or an admin raises the threshold." in await shown("Over", VIEWER)


# ---------------------------------------------------------------- role scoping


async def test_members_see_and_edit_only_their_customers(client, slack, db, owner, fake_slack):
    await grant(db, "U0003", Role.MEMBER)
    await add_customer(client, slack, name="Theirs", email="t@x.com", assigned=["U0003"])
    await add_customer(client, slack, name="Others", email="o@x.com")
    theirs, others = await customers(db)
    listing = all_text(
        (await post(client, slack.slash_command("customers", user_id="U0003"))).json["blocks"]
    )
    assert "Theirs" in listing and "Others" not in listing
    missing = await post(client, slack.slash_command("customer others", user_id="U0003"))
    assert "No customer matches" in missing.json["text"]
    options = await post(
        client,
        slack.block_suggestion(action_id=ActionId.CUSTOMER_SEARCH, value="s", user_id="U0003"),
    )
    assert [o["text"]["text"].split(" (")[0] for o in options.json["options"]] == ["Theirs"]
    # A forged Edit on someone else's customer finds nothing.
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.EDIT_CUSTOMER,
            user_id="U0003",
            value=CustomerRef(customer_id=others.id).encode(),
        ),
    )
    [answer] = await calls_to(fake_slack, "response_url")
    assert "not assigned to you" in answer.args["text"]
    await settle_bot(client)
    assert fake_slack.calls_to("views.open") == []
    view = await _open_edit(client, slack, fake_slack, theirs.id, user_id="U0003")
    saved = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.EDIT_CUSTOMER,
            user_id="U0003",
            private_metadata=view["private_metadata"],
            values=_edit_values(view, **{CustomerField.NOTES: "mine"}),
        ),
    )
    assert saved.json["response_action"] == "update"
    forged = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.EDIT_CUSTOMER,
            user_id="U0003",
            private_metadata=EditCustomerState(customer_id=others.id, version=1).encode(),
            values=_edit_values(
                view, **{CustomerField.NAME: "Hijacked", CustomerField.ADMIN_EMAIL: "h@x.com"}
            ),
        ),
    )
    assert "not assigned to you" in forged.text
    assert (await customers(db))[1].name == "Others"


async def test_viewers_read_everything_but_change_nothing(client, slack, db, owner, fake_slack):
    await grant(db, "U0004", Role.VIEWER)
    await add_customer(client, slack, name="Acme", email="a@x.com")
    [customer] = await customers(db)
    card = await post(client, slack.slash_command("customer acme", user_id="U0004"))
    assert "Acme" in all_text(card.json["blocks"])
    assert not [b for b in card.json["blocks"] if b["type"] == "actions"]
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.EDIT_CUSTOMER,
            user_id="U0004",
            value=CustomerRef(customer_id=customer.id).encode(),
        ),
    )
    [answer] = await calls_to(fake_slack, "response_url")
    assert "edit only the customers assigned to you" in answer.args["text"]
    forged = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.EDIT_CUSTOMER,
            user_id="U0004",
            private_metadata=EditCustomerState(customer_id=customer.id, version=1).encode(),
            values={
                CustomerField.NAME: text("Hijacked"),
                CustomerField.ADMIN_EMAIL: text("h@x.com"),
                CustomerField.THRESHOLD: text("5"),
                CustomerField.PRICE: text("1"),
            },
        ),
    )
    assert "edit only the customers assigned to you" in forged.text
    assert (await customers(db))[0].name == "Acme"


async def test_customers_of_another_msp_are_out_of_reach(client, slack, db, owner, fake_slack):
    await add_customer(client, slack, name="Ours", email="o@x.com")
    await grant(db, "U0900", Role.OWNER, team_id="T0900")
    theirs = await seed_customer(db, name="Theirs", team_id="T0900")
    listing = await post(client, slack.slash_command("customers", user_id="U0001"))
    assert "Ours" in listing.text and "Theirs" not in listing.text
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.DELETE_CUSTOMER,
            user_id="U0001",
            value=CustomerRef(customer_id=theirs).encode(),
        ),
    )
    [answer] = await calls_to(fake_slack, "response_url")
    assert "does not exist" in answer.args["text"]
    deleted = await _delete(client, slack, theirs, "Theirs", user_id="U0001")
    assert deleted.status == 200
    assert sorted(customer.name for customer in await customers(db)) == ["Ours", "Theirs"]


def test_list_state_round_trip():
    state = ListState(text="acme", page=3)
    assert ListState.decode(state.encode()) == state
    assert json.loads(state.encode()) == {"text": "acme", "page": 3}


# ---------------------------------------------------------------- export


async def test_export_uploads_a_csv_to_the_persons_dm(client, slack, db, owner, fake_slack):
    await add_customer(client, slack, name="Acme", email="a@x.com")
    await add_customer(client, slack, name="Beta", email="b@x.com")
    reply = await post(
        client, slack.slash_command("export customers", user_id=owner, channel_id="C0042")
    )
    assert reply.status == 200
    [complete] = await calls_to(fake_slack, "files.completeUploadExternal")
    [url_request] = fake_slack.calls_to("files.getUploadURLExternal")
    assert url_request.args["filename"] == "customers-2026-11-22.csv"
    assert complete.args["channel_id"] == "D0001"  # the fake's DM with U0001
    assert "the MSP's 2 customers" in complete.args["initial_comment"]
    [data] = fake_slack.uploaded_files.values()
    text_lines = data.decode("utf-8-sig").splitlines()
    assert text_lines[0].startswith("account_number,name,admin_email")
    assert [line.split(",")[1] for line in text_lines[1:]] == ["Acme", "Beta"]


async def test_a_members_export_holds_only_their_customers(client, slack, db, owner, fake_slack):
    await grant(db, "U0003", Role.MEMBER)
    await add_customer(client, slack, name="Theirs", email="t@x.com", assigned=["U0003"])
    await add_customer(client, slack, name="Others", email="o@x.com")
    await post(client, slack.slash_command("export customers", user_id="U0003"))
    await calls_to(fake_slack, "files.completeUploadExternal")
    [data] = fake_slack.uploaded_files.values()
    assert b"Theirs" in data and b"Others" not in data


async def test_export_needs_the_word_customers(client, slack, owner):
    reply = await post(client, slack.slash_command("export", user_id=owner))
    assert "Usage: /msp export customers" in reply.json["text"]
