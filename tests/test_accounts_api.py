"""POST /api/v1/accounts through the real aiohttp app: the billing system's partial
updates of commercial figures, checked against the rules, all or nothing, each
changed account audited with the token, resends changing nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.services.audit import AuditAction
from storage.models import AuditEvent, Customer
from tests.drive import field_errors, post_json
from tests.seed import make_tenant

PATH = "/api/v1/accounts"
# tests.support.FakeClock's day is 2026-11-22.
PAID = {
    "plan": "essentials",
    "status": "paid",
    "licences": 10,
    "term": "monthly",
    "contract_start": date(2026, 3, 15),
    "renewal_date": date(2026, 12, 15),
    "unit_price_cents": 5000,
    "past_due": False,
}


async def _tenant(db, clock, **paid: Any):
    """Acme Dental paid (PAID, with `paid` changed), Harbor Clinic an active trial."""
    tenant = await make_tenant(db, clock, names={"Acme Dental": 500, "Harbor Clinic": 500})
    async with db.unit_of_work() as session:
        await session.execute(
            update(Customer)
            .where(Customer.account_number == tenant.accounts["Acme Dental"])
            .values(**{**PAID, **paid})
        )
    return tenant


async def _customer(db, account: str) -> Customer:
    async with db.unit_of_work() as session:
        found = await session.scalar(select(Customer).where(Customer.account_number == account))
        assert found is not None
        session.expunge(found)
        return found


async def _events(db) -> list[AuditEvent]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == AuditAction.CUSTOMER_BILLING_UPDATED.value)
            .order_by(AuditEvent.id)
        )
        return list(rows.all())


async def test_only_the_figures_sent_change_and_each_change_is_audited(backend, client, db, clock):
    tenant = await _tenant(db, clock)
    acme, harbor = tenant.accounts["Acme Dental"], tenant.accounts["Harbor Clinic"]
    before = await _customer(db, acme)
    body = {
        "accounts": [
            {"customer": acme.lower(), "licences": 12, "past_due": True, "term": "monthly"},
            {"customer": "harbor CLINIC", "past_due": False},
        ]
    }
    answer = await post_json(client, PATH, tenant.token, body)
    assert answer.status == 200, answer.json
    assert answer.json == {
        "ok": True,
        "changed": 1,
        "unchanged": 1,
        "accounts": [
            {
                "account_number": acme,
                "name": "Acme Dental",
                "result": "changed",
                "before": {"licences": 10, "past_due": False},
                "after": {"licences": 12, "past_due": True},
            },
            {
                "account_number": harbor,
                "name": "Harbor Clinic",
                "result": "unchanged",
                "before": {},
                "after": {},
            },
        ],
    }
    after = await _customer(db, acme)
    assert (after.licences, after.past_due, after.version) == (12, True, before.version + 1)
    assert (after.plan, after.term, after.renewal_date, after.unit_price_cents) == (
        "essentials",
        "monthly",
        date(2026, 12, 15),
        5000,
    )
    [event] = await _events(db)
    assert (event.actor, event.entity_id) == (f"api:token:{tenant.token_id}", acme)
    assert (event.before, event.after) == (
        {"licences": 10, "past_due": False},
        {"licences": 12, "past_due": True},
    )
    clock.advance(minutes=5)
    again = await post_json(client, PATH, tenant.token, body)
    assert (again.json["changed"], again.json["unchanged"]) == (0, 2)
    assert len(await _events(db)) == 1
    assert (await _customer(db, acme)).version == after.version


async def test_every_commercial_figure_can_be_set(client, db, clock):
    tenant = await _tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    figures = {
        "plan": "professional",
        "licences": 40,
        "term": "annual",
        "contract_start": "2026-02-01",
        "renewal_date": "2027-02-01",
        "unit_price": "49.50",
        "past_due": True,
    }
    answer = await post_json(
        client, PATH, tenant.token, {"accounts": [{"customer": acme, **figures}]}
    )
    assert answer.status == 200, answer.json
    assert answer.json["accounts"][0]["after"] == figures
    customer = await _customer(db, acme)
    assert (
        customer.plan,
        customer.licences,
        customer.term,
        customer.contract_start,
        customer.renewal_date,
        customer.unit_price_cents,
        customer.past_due,
    ) == ("professional", 40, "annual", date(2026, 2, 1), date(2027, 2, 1), 4950, True)


@pytest.mark.parametrize(
    ("figures", "field", "says"),
    [
        ({"licences": -1}, "licences", "at least 1 licence"),
        ({"licences": 0}, "licences", "at least 1 licence"),
        ({"licences": "12"}, "licences", "valid integer"),
        ({"plan": "trial"}, "plan", "is a request"),
        ({"plan": "gold"}, "plan", "Input should be"),
        ({"contract_start": "2026-12-01"}, "contract_start", "cannot be in the future"),
        ({"renewal_date": "2026-11-22"}, "renewal_date", "must be after today"),
        ({"renewal_date": "2027-06-15"}, "renewal_date", "can be 22 Dec 2026 at the latest"),
        ({"term": "weekly"}, "term", "'monthly' or 'annual'"),
        ({"unit_price": "12.345"}, "unit_price", "at most two decimals"),
        ({"unit_price": -5}, "unit_price", "cannot be negative"),
        ({"unit_price": "NaN"}, "unit_price", "finite number"),
        ({"past_due": "yes"}, "past_due", "valid boolean"),
        ({"colour": "blue"}, "colour", "Unknown field."),
    ],
)
async def test_one_bad_figure_refuses_the_whole_batch(client, db, clock, figures, field, says):
    tenant = await _tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    good = {"customer": tenant.accounts["Harbor Clinic"], "past_due": True}
    body = {"accounts": [good, {"customer": acme, "past_due": True, **figures}]}
    errors = field_errors(await post_json(client, PATH, tenant.token, body))
    assert list(errors) == [f"accounts[1].{field}"], errors
    assert says in errors[f"accounts[1].{field}"]
    assert not (await _customer(db, tenant.accounts["Harbor Clinic"])).past_due
    assert not (await _customer(db, acme)).past_due
    assert await _events(db) == []


async def test_a_trial_has_no_licences_or_term_to_set(client, db, clock):
    tenant = await _tenant(db, clock)
    harbor = tenant.accounts["Harbor Clinic"]
    body = {
        "accounts": [
            {"customer": harbor, "licences": 5, "term": "annual"},
            {"customer": "Acme Dental", "plan": "free"},
        ]
    }
    errors = field_errors(await post_json(client, PATH, tenant.token, body))
    assert set(errors) == {"accounts[0].licences", "accounts[0].term", "accounts[1].plan"}
    assert errors["accounts[0].licences"].startswith("Only a paid plan has licences")
    assert "(upgrade, downgrade, cancel)" in errors["accounts[1].plan"]


async def test_unknown_and_repeated_customers_are_named(client, db, clock):
    tenant = await _tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    body = {
        "accounts": [
            {"customer": acme, "licences": 11},
            {"customer": "Nobody Ltd", "licences": 11},
            {"customer": "acme dental", "licences": 12},
        ]
    }
    errors = field_errors(await post_json(client, PATH, tenant.token, body))
    assert errors == {
        "accounts[1].customer": "No customer Nobody Ltd in this MSP.",
        "accounts[2].customer": f"accounts[0] already updates {acme}: send one update per account.",
    }
    assert (await _customer(db, acme)).licences == 10


async def test_a_token_reaches_only_its_own_msps_accounts(client, db, clock):
    ours = await _tenant(db, clock)
    theirs = await make_tenant(db, clock, team_id="T0002", names={"Other": 500})
    body = {"accounts": [{"customer": ours.accounts["Acme Dental"], "past_due": True}]}
    errors = field_errors(await post_json(client, PATH, theirs.token, body))
    assert list(errors) == ["accounts[0].customer"]
    assert not (await _customer(db, ours.accounts["Acme Dental"])).past_due


async def test_without_a_token_nothing_is_read(client, db, clock):
    await _tenant(db, clock)
    answer = await post_json(client, PATH, None, {"accounts": [{"customer": "x"}]})
    assert answer.status == 401 and answer.json["error"] == "invalid_token"
