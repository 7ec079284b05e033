"""POST /api/v1/usage through the real aiohttp app: bearer tokens, validation named
by field, all-or-nothing writes, idempotency, tenant scoping and R20."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, select, update

from bot.app import build_app
from bot.domain.usage import format_month, next_month, parse_month, reached_max_mau
from bot.services import api_tokens
from bot.services.audit import OPERATOR_ACTOR, AuditAction
from storage.models import AuditEvent, Customer, CustomerUsage, Msp
from tests.drive import Answer, field_errors, post_chunked_spaces, post_json
from tests.rows import home_stale_since, statements_sent
from tests.seed import insert_bulk_customers, make_tenant
from tests.support import TEAM_ID

PATH = "/api/v1/usage"
NOW_MONTH = "2026-11"  # tests.support.FakeClock's month


# ---------------------------------------------------------------- pure rules (R20)


@pytest.mark.parametrize(
    ("before", "after", "threshold", "reached"),
    [
        (0, 99, 100, False),
        (0, 100, 100, True),  # at the threshold counts
        (99, 150, 100, True),
        (100, 150, 100, False),  # already there: not again
        (150, 150, 100, False),
        (150, 90, 100, False),  # going down
        (0, 5_000_000, None, False),  # "never block"
        (0, 5_000_000, 1_000_000, True),  # R20: taken literally, however large
        (0, 1_500_000, 1_500_000, True),
        (0, 1_499_999, 1_500_000, False),
        (0, 999_999, 999_999, True),
    ],
)
def test_reached_max_mau(before, after, threshold, reached):
    assert reached_max_mau(before, after, threshold) is reached


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2026-11", date(2026, 11, 1)),
        ("2000-01", date(2000, 1, 1)),
        ("2026-13", None),
        ("2026-00", None),
        ("2026-1", None),
        ("26-11", None),
        ("2026/11", None),
        ("2026-11-01", None),
        ("1999-12", None),
        ("November", None),
        ("\uff12\uff10\uff12\uff16-11", None),  # full-width digits are not a month
    ],
)
def test_parse_month(text, month):
    assert parse_month(text) == month


def test_next_month_and_format():
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert format_month(next_month(date(2026, 1, 1))) == "2026-02"


# ---------------------------------------------------------------- set-up


def item(customer: str, month: str = NOW_MONTH, **figures: Any) -> dict[str, Any]:
    return {
        "customer": customer,
        "month": month,
        "mau": 40,
        "users": 25,
        "agents_total": 30,
        "agents_reporting": 28,
        "data_gb": 2.5,
        **figures,
    }


async def send(client, token: str | None, body: Any = None, **options: Any) -> Answer:
    return await post_json(client, PATH, token, body, **options)


async def _customer(db, account: str) -> Customer:
    async with db.unit_of_work() as session:
        found = await session.scalar(select(Customer).where(Customer.account_number == account))
        assert found is not None
        return found


async def _usage_rows(db) -> list[tuple[str, str, int, int, int, int, float]]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(
                Customer.account_number,
                CustomerUsage.month,
                CustomerUsage.mau,
                CustomerUsage.users,
                CustomerUsage.agents_total,
                CustomerUsage.agents_reporting,
                CustomerUsage.data_gb,
            )
            .join(Customer, Customer.id == CustomerUsage.customer_id)
            .order_by(Customer.account_number, CustomerUsage.month)
        )
        return [(a, format_month(m), *rest) for a, m, *rest in rows.all()]


async def _events(db, action: str) -> list[AuditEvent]:
    async with db.unit_of_work() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list((await session.scalars(query)).all())


# ---------------------------------------------------------------- recording


async def test_usage_is_recorded_and_copied_onto_the_customer(backend, client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 500, "Harbor Clinic": 500})
    acme, harbor = tenant.accounts["Acme Dental"], tenant.accounts["Harbor Clinic"]
    before = await _customer(db, acme)
    answer = await send(
        client,
        tenant.token,
        {
            "usage": [
                item(acme.replace("-", "").lower(), mau=40, data_gb=2.5),  # account, loosely
                item("  HARBOR clinic ", mau=7, users=6, agents_total=3, agents_reporting=0),
            ]
        },
    )
    assert answer.status == 200, answer.json
    assert answer.json == {
        "ok": True,
        "accepted": 2,
        "created": 2,
        "updated": 0,
        "max_mau_reached": [],
    }
    assert await _usage_rows(db) == sorted(
        [(acme, NOW_MONTH, 40, 25, 30, 28, 2.5), (harbor, NOW_MONTH, 7, 6, 3, 0, 2.5)]
    )
    customer = await _customer(db, acme)
    assert (
        customer.mau_this_month,
        customer.users,
        customer.agents_total,
        customer.agents_reporting,
        customer.data_used_gb,
    ) == (40, 25, 30, 28, 2.5)
    assert customer.usage_reported_at == clock()
    assert customer.version == before.version  # the Edit modal's guard is untouched
    assert (await _customer(db, harbor)).mau_this_month == 7
    assert await home_stale_since(db, tenant.msp_id) == clock()


async def test_the_same_report_twice_changes_nothing(backend, client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 1_000_000, "Harbor Clinic": 900})
    body = {"usage": [item(account) for account in tenant.accounts.values()]}
    first = await send(client, tenant.token, body)
    rows = await _usage_rows(db)
    clock.advance(minutes=5)
    second = await send(client, tenant.token, body)
    assert (first.status, second.status) == (200, 200)
    assert (first.json["created"], first.json["updated"]) == (2, 0)
    assert (second.json["created"], second.json["updated"]) == (0, 2)
    assert second.json["accepted"] == 2
    assert await _usage_rows(db) == rows


async def test_a_later_report_for_the_month_replaces_its_figures(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant.token, {"usage": [item(acme, mau=40)]})
    clock.advance(hours=1)
    answer = await send(client, tenant.token, {"usage": [item(acme, mau=55, data_gb=3.0)]})
    assert (answer.json["created"], answer.json["updated"]) == (0, 1)
    assert await _usage_rows(db) == [(acme, NOW_MONTH, 55, 25, 30, 28, 3.0)]
    customer = await _customer(db, acme)
    assert (customer.mau_this_month, customer.data_used_gb) == (55, 3.0)
    assert customer.usage_reported_at == clock()


async def test_an_older_month_does_not_overwrite_newer_figures(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant.token, {"usage": [item(acme, mau=40, users=25)]})
    reported_at = clock()
    clock.advance(hours=1)
    answer = await send(client, tenant.token, {"usage": [item(acme, "2026-10", mau=90, users=80)]})
    assert answer.status == 200 and answer.json["created"] == 1
    assert [row[:3] for row in await _usage_rows(db)] == [
        (acme, "2026-10", 90),
        (acme, NOW_MONTH, 40),
    ]
    customer = await _customer(db, acme)
    assert (customer.mau_this_month, customer.users) == (40, 25)
    assert customer.usage_reported_at == reported_at


async def test_a_backfill_shows_its_newest_month_on_the_customer(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    months = [("2026-11", 30), ("2026-09", 10), ("2026-10", 20)]
    answer = await send(
        client, tenant.token, {"usage": [item(acme, month, mau=mau) for month, mau in months]}
    )
    assert answer.json["created"] == 3
    assert (await _customer(db, acme)).mau_this_month == 30


async def test_a_first_report_for_a_past_month_is_shown_until_a_newer_one(
    backend, client, db, clock
):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant.token, {"usage": [item(acme, "2026-10", mau=20)]})
    assert (await _customer(db, acme)).mau_this_month == 20
    await send(client, tenant.token, {"usage": [item(acme, "2026-09", mau=10)]})
    assert (await _customer(db, acme)).mau_this_month == 20  # September is older


async def test_next_month_is_the_latest_allowed_in_the_msps_time_zone(client, db, clock):
    clock.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # already December in Kiribati
    utc = await make_tenant(db, clock, team_id="T0001")
    kiribati = await make_tenant(
        db, clock, team_id="T0002", names={"Line Islands": 100}, timezone="Pacific/Kiritimati"
    )
    ahead = await send(client, utc.token, {"usage": [item(utc.accounts["Acme Dental"], "2026-12")]})
    assert ahead.status == 200
    too_far = await send(
        client, utc.token, {"usage": [item(utc.accounts["Acme Dental"], "2027-01")]}
    )
    assert too_far.status == 422
    assert too_far.json["errors"] == [
        {
            "field": "usage[0].month",
            "message": "2027-01 is more than one month ahead (this MSP's current month is "
            "2026-11).",
        }
    ]
    there = await send(
        client, kiribati.token, {"usage": [item(kiribati.accounts["Line Islands"], "2027-01")]}
    )
    assert there.status == 200, there.json


# ---------------------------------------------------------------- R20


async def test_r20_reaching_the_max_mau_threshold_is_recorded_once(backend, client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 100, "Harbor Clinic": None})
    acme, harbor = tenant.accounts["Acme Dental"], tenant.accounts["Harbor Clinic"]
    below = await send(client, tenant.token, {"usage": [item(acme, mau=90)]})
    assert below.json["max_mau_reached"] == []
    reached = await send(
        client, tenant.token, {"usage": [item(acme, mau=100), item(harbor, mau=5_000_000)]}
    )
    assert reached.json["max_mau_reached"] == [acme]  # Harbor never blocks
    again = await send(client, tenant.token, {"usage": [item(acme, mau=100)]})
    higher = await send(client, tenant.token, {"usage": [item(acme, mau=130)]})
    assert again.json["max_mau_reached"] == higher.json["max_mau_reached"] == []
    [recorded] = await _events(db, AuditAction.CUSTOMER_MAX_MAU_REACHED)
    assert recorded.actor == f"api:token:{tenant.token_id}"
    assert (recorded.entity_type, recorded.entity_id) == ("customer", acme)
    assert recorded.before == {"month": NOW_MONTH, "mau": 90, "max_mau_threshold": 100}
    assert recorded.after == {"month": NOW_MONTH, "mau": 100, "max_mau_threshold": 100}
    assert recorded.msp_id == tenant.msp_id


async def test_r20_a_new_month_starts_below_the_threshold(client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 100})
    acme = tenant.accounts["Acme Dental"]
    old = await send(client, tenant.token, {"usage": [item(acme, "2026-10", mau=150)]})
    assert old.json["max_mau_reached"] == []  # only the current month raises it
    now = await send(client, tenant.token, {"usage": [item(acme, mau=150)]})
    assert now.json["max_mau_reached"] == [acme]
    assert len(await _events(db, AuditAction.CUSTOMER_MAX_MAU_REACHED)) == 1


# ---------------------------------------------------------------- all or nothing, tenancy


async def test_an_unknown_customer_refuses_the_whole_report(backend, client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 10})
    acme = tenant.accounts["Acme Dental"]
    answer = await send(
        client,
        tenant.token,
        {"usage": [item(acme, mau=50), item("Nobody Inc"), item("ABCD-9999")]},
    )
    assert answer.status == 422
    assert answer.json["ok"] is False and answer.json["error"] == "invalid_request"
    assert answer.json["errors"] == [
        {"field": "usage[1].customer", "message": "No customer Nobody Inc in this MSP."},
        {"field": "usage[2].customer", "message": "No customer ABCD-9999 in this MSP."},
    ]
    assert await _usage_rows(db) == []
    assert (await _customer(db, acme)).mau_this_month == 0
    assert await _events(db, AuditAction.CUSTOMER_MAX_MAU_REACHED) == []
    assert await home_stale_since(db, tenant.msp_id) is None


async def test_a_token_reaches_only_its_own_msps_customers(backend, client, db, clock):
    mine = await make_tenant(db, clock, team_id="T0001", names={"Acme Dental": 100})
    theirs = await make_tenant(db, clock, team_id="T0002", names={"Harbor Clinic": 100})
    harbor = theirs.accounts["Harbor Clinic"]
    for name_or_number in (harbor, "Harbor Clinic"):
        answer = await send(client, mine.token, {"usage": [item(name_or_number, mau=500)]})
        assert answer.status == 422
        assert answer.json["errors"] == [
            {"field": "usage[0].customer", "message": f"No customer {name_or_number} in this MSP."}
        ]
    assert await _usage_rows(db) == []
    assert (await _customer(db, harbor)).mau_this_month == 0


async def test_deleted_customers_are_unknown(client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    async with db.unit_of_work() as session:
        await session.execute(update(Customer).values(status="deleted"))
    answer = await send(client, tenant.token, {"usage": [item(acme)]})
    assert answer.status == 422
    assert answer.json["errors"][0]["field"] == "usage[0].customer"


async def test_one_report_per_customer_and_month(client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    answer = await send(
        client,
        tenant.token,
        {"usage": [item(acme), item("acme dental", "2026-10"), item("ACME DENTAL")]},
    )
    assert answer.status == 422
    assert answer.json["errors"] == [
        {
            "field": "usage[2].customer",
            "message": f"usage[0] already reports {acme} for {NOW_MONTH}: send one report "
            "per customer and month.",
        }
    ]
    assert await _usage_rows(db) == []


async def test_an_account_number_wins_over_a_name_that_looks_like_one(client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 1_000_000})
    acme = tenant.accounts["Acme Dental"]
    # Another customer whose *name* is Acme's account number.
    await make_tenant(db, clock, names={acme: 1_000_000})
    answer = await send(client, tenant.token, {"usage": [item(acme.lower(), mau=12)]})
    assert answer.status == 200, answer.json
    assert (await _customer(db, acme)).mau_this_month == 12


# ---------------------------------------------------------------- authentication


async def test_without_a_token_nothing_is_read(client, db, clock):
    tenant = await make_tenant(db, clock)
    answer = await send(client, None, {"usage": [item(tenant.accounts["Acme Dental"])]})
    assert answer.status == 401
    assert answer.json["ok"] is False and answer.json["error"] == "invalid_token"
    assert "Authorization: Bearer" in answer.json["message"]
    assert answer.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer mspbot_not-a-real-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "mspbot_without_scheme",
    ],
)
async def test_a_wrong_token_is_refused(client, db, clock, authorization):
    tenant = await make_tenant(db, clock)
    answer = await send(
        client,
        None,
        {"usage": [item(tenant.accounts["Acme Dental"])]},
        headers={"Authorization": authorization},
    )
    assert answer.status == 401
    assert answer.json["error"] == "invalid_token"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert await _usage_rows(db) == []


async def test_the_scheme_is_case_insensitive(client, db, clock):
    tenant = await make_tenant(db, clock)
    answer = await send(
        client,
        None,
        {"usage": [item(tenant.accounts["Acme Dental"])]},
        headers={"Authorization": f"bearer {tenant.token}"},
    )
    assert answer.status == 200


async def test_a_revoked_token_is_refused(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    body = {"usage": [item(tenant.accounts["Acme Dental"])]}
    assert (await send(client, tenant.token, body)).status == 200
    async with db.unit_of_work() as session:
        await api_tokens.revoke_token(
            session,
            team_id=TEAM_ID,
            which=str(tenant.token_id),
            revoked_by=OPERATOR_ACTOR,
            now=clock(),
        )
    answer = await send(client, tenant.token, body)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_authentication_comes_before_the_body(client, db, clock):
    answer = await send(client, "mspbot_wrong", data=b"not json", headers={"Content-Type": "x/y"})
    assert answer.status == 401


async def test_a_use_is_recorded_on_the_token(client, db, clock):
    tenant = await make_tenant(db, clock)
    await send(client, tenant.token, {"usage": [item(tenant.accounts["Acme Dental"])]})
    listed = await _tokens(db)
    assert listed[0].last_used_at == clock()


async def _tokens(db) -> list[api_tokens.TokenInfo]:
    async with db.unit_of_work() as session:
        return await api_tokens.list_tokens(session, team_id=TEAM_ID)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"mau": -1}, "mau", "greater than or equal to 0"),
        ({"users": -1}, "users", "greater than or equal to 0"),
        ({"agents_total": -1}, "agents_total", "greater than or equal to 0"),
        ({"agents_reporting": -1}, "agents_reporting", "greater than or equal to 0"),
        ({"data_gb": -0.5}, "data_gb", "greater than or equal to 0"),
        ({"mau": "40"}, "mau", "valid integer"),
        ({"mau": 40.0}, "mau", "valid integer"),
        ({"mau": True}, "mau", "valid integer"),
        ({"mau": 2**31}, "mau", "less than or equal to 1000000000"),
        ({"data_gb": "2.5"}, "data_gb", "valid number"),
        ({"customer": ""}, "customer", "at least 1 character"),
        ({"customer": 1234}, "customer", "valid string"),
        ({"month": "2026-13"}, "month", "YYYY-MM"),
        ({"month": "2026-1"}, "month", "YYYY-MM"),
        ({"month": "11/2026"}, "month", "YYYY-MM"),
        ({"month": "2026-11-01"}, "month", "YYYY-MM"),
        ({"agents_total": 3, "agents_reporting": 4}, "agents_reporting", "agents_total (3)"),
        ({"colour": "blue"}, "colour", "Unknown field."),
    ],
)
async def test_each_bad_field_is_named(client, db, clock, changes, field, says):
    tenant = await make_tenant(db, clock)
    good = item(tenant.accounts["Acme Dental"])
    body = {"usage": [good, good, good, {**good, **changes}]}
    errors = field_errors(await send(client, tenant.token, body))
    assert list(errors) == [f"usage[3].{field}"]
    assert says in errors[f"usage[3].{field}"]
    assert await _usage_rows(db) == []


async def test_every_problem_is_listed_at_once(client, db, clock):
    tenant = await make_tenant(db, clock)
    bad = {"customer": tenant.accounts["Acme Dental"], "month": "soon", "mau": -3, "users": "2"}
    answer = await send(client, tenant.token, {"usage": [bad, {"mau": 4}]})
    errors = field_errors(answer)
    assert errors == {
        "usage[0].month": "Give the month as YYYY-MM, like 2026-11.",
        "usage[0].mau": "Input should be greater than or equal to 0",
        "usage[0].users": "Input should be a valid integer",
        "usage[1].customer": "This field is required.",
        "usage[1].month": "This field is required.",
    }
    assert answer.json["message"].startswith("Nothing was recorded: the request has 5 problems")


# ---------------------------------------------------------------- partial reports


def _figures_of(customer: Customer) -> tuple[int, int, int, int, float]:
    return (
        customer.mau_this_month,
        customer.users,
        customer.agents_total,
        customer.agents_reporting,
        customer.data_used_gb,
    )


async def test_an_rmm_and_the_vendor_each_report_their_own_figures(backend, client, db, clock):
    """Neither overwrites the other's figures with zeros: what a report leaves out
    stays as it is, on the month's row and on the customer."""
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    rmm = {"customer": acme, "month": NOW_MONTH, "agents_total": 30, "agents_reporting": 28}
    vendor = {"customer": acme, "month": NOW_MONTH, "mau": 40, "users": 25, "data_gb": 2.5}
    first = await send(client, tenant.token, {"usage": [rmm]})
    second = await send(client, tenant.token, {"usage": [vendor]})
    assert (first.status, second.status) == (200, 200), second.json
    assert (first.json["created"], second.json["updated"]) == (1, 1)
    assert await _usage_rows(db) == [(acme, NOW_MONTH, 40, 25, 30, 28, 2.5)]
    assert _figures_of(await _customer(db, acme)) == (40, 25, 30, 28, 2.5)
    clock.advance(days=10)  # December: the RMM's agents again, the MAU shown stays
    await send(client, tenant.token, {"usage": [{**rmm, "month": "2026-12", "agents_total": 31}]})
    assert (await _usage_rows(db))[-1] == (acme, "2026-12", 0, 0, 31, 28, 0.0)
    assert _figures_of(await _customer(db, acme)) == (40, 25, 31, 28, 2.5)


async def test_agents_reporting_alone_is_checked_against_the_agents_stored(client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant.token, {"usage": [item(acme, agents_total=5, agents_reporting=5)]})
    alone = {"customer": acme, "month": NOW_MONTH, "agents_reporting": 6}
    errors = field_errors(await send(client, tenant.token, {"usage": [alone]}))
    assert errors == {
        "usage[0].agents_reporting": "Cannot be more than agents_total (5) for this month."
    }
    assert (await _customer(db, acme)).agents_reporting == 5


async def test_usage_that_changes_figures_is_audited_with_its_sender(backend, client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 1_000_000, "Harbor Clinic": 900})
    acme, harbor = tenant.accounts["Acme Dental"], tenant.accounts["Harbor Clinic"]
    await send(client, tenant.token, {"usage": [item(acme, mau=40), item(harbor)]})
    clock.advance(minutes=5)
    body = {"usage": [item(acme, mau=41), item(harbor)]}  # only Acme's MAU moves
    await send(client, tenant.token, body)
    await send(client, tenant.token, body)  # a resend changes nothing, audits nothing
    events = await _events(db, AuditAction.CUSTOMER_USAGE_REPORTED)
    assert [(e.entity_id, e.actor) for e in events] == [
        (acme, f"api:token:{tenant.token_id}"),
        (harbor, f"api:token:{tenant.token_id}"),
        (acme, f"api:token:{tenant.token_id}"),
    ]
    assert (events[-1].before, events[-1].after) == (
        {"month": NOW_MONTH, "mau": 40},
        {"month": NOW_MONTH, "mau": 41},
    )


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"usage": []}, "usage", "at least 1 item"),
        ({}, "usage", "This field is required."),
        ({"usage": {}}, "usage", "valid array"),
        ({"usage": [item("X")], "extra": 1}, "extra", "Unknown field."),
        ([item("X")], "body", "Input should be an object"),
        ("usage", "body", "Input should be an object"),
    ],
)
async def test_the_body_must_be_a_list_of_reports(client, db, clock, body, field, says):
    tenant = await make_tenant(db, clock)
    errors = field_errors(await send(client, tenant.token, body))
    assert field in errors and says in errors[field], errors


async def test_at_most_1000_reports(client, db, clock):
    tenant = await make_tenant(db, clock)
    body = {"usage": [item(tenant.accounts["Acme Dental"])] * 1001}
    errors = field_errors(await send(client, tenant.token, body))
    assert errors == {"usage": "List should have at most 1000 items after validation, not 1001"}


async def test_not_json_is_a_400(client, db, clock):
    tenant = await make_tenant(db, clock)
    for data in (b"{not json", b"", b"\xff\xfe{}", b'{"usage": []} trailing'):
        answer = await send(client, tenant.token, data=data)
        assert answer.status == 400, data
        assert answer.json["ok"] is False and answer.json["error"] == "invalid_json"
        assert answer.json["message"].startswith("The body is not valid JSON")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_the_body_must_be_sent_as_json(client, db, clock, content_type):
    tenant = await make_tenant(db, clock)
    body = json.dumps({"usage": [item(tenant.accounts["Acme Dental"])]}).encode()
    headers = {"Content-Type": content_type} if content_type else {"Content-Type": ""}
    answer = await send(client, tenant.token, data=body, headers=headers)
    assert answer.status == 415
    assert answer.json["error"] == "unsupported_media_type"


async def test_json_with_a_charset_is_json(client, db, clock):
    tenant = await make_tenant(db, clock)
    body = json.dumps({"usage": [item(tenant.accounts["Acme Dental"])]}).encode()
    answer = await send(
        client, tenant.token, data=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert answer.status == 200


async def test_a_body_over_1_mb_is_refused_by_its_length(client, db, clock):
    tenant = await make_tenant(db, clock)
    big = b'{"usage": [' + b" " * (1024 * 1024) + b"]}"
    answer = await send(client, tenant.token, data=big)
    assert answer.status == 413
    assert answer.json == {
        "ok": False,
        "error": "too_large",
        "message": "The body can be at most 1 MB (1,048,576 bytes): send fewer items per request.",
    }


async def test_a_chunked_body_over_1_mb_is_refused_by_what_was_read(client, db, clock):
    tenant = await make_tenant(db, clock)

    status = await post_chunked_spaces(client, PATH, tenant.token, collection="usage", kb=20 * 64)
    assert status == 413


# ---------------------------------------------------------------- unexpected errors, routing


async def test_an_unexpected_error_is_a_500_with_an_error_id(
    client, db, clock, monkeypatch, caplog
):
    tenant = await make_tenant(db, clock)

    async def broken(*_args, **_kwargs):
        raise RuntimeError("the database fell over")

    monkeypatch.setattr("bot.services.usage.record_usage", broken)
    with caplog.at_level(logging.ERROR):
        answer = await send(client, tenant.token, {"usage": [item(tenant.accounts["Acme Dental"])]})
    assert answer.status == 500
    assert answer.json["ok"] is False and answer.json["error"] == "internal"
    error_id = answer.json["error_id"]
    assert len(error_id) == 8 and error_id in answer.json["message"]
    [logged] = [r for r in caplog.records if getattr(r, "error_id", None) == error_id]
    assert error_id in logged.getMessage() and logged.exc_info is not None
    assert all(tenant.token not in r.getMessage() for r in caplog.records)
    assert "the database fell over" not in json.dumps(answer.json)


async def test_only_post_is_served(client):
    assert (await client.get(PATH)).status == 405


async def test_the_usage_api_is_served_in_socket_mode_too(settings, db, clock):
    socket_mode = settings.model_copy(update={"slack_app_token": SecretStr("xapp-1-test")})
    bot = build_app(socket_mode, clock=clock, db=db)
    paths = {route.resource.canonical for route in bot.web.router.routes()}
    assert PATH in paths and "/slack/events" not in paths


# ---------------------------------------------------------------- 1,000 reports


async def test_1000_reports_take_the_same_statements_as_two(backend, settings, db, clock):
    """No per-item queries: the statements sent do not grow with the report's size."""
    # The Home tab job polls every few seconds on its own: slowed, so none of its
    # statements lands among the requests'.
    quiet = settings.model_copy(update={"mspbot_home_refresh_seconds": 3600.0})
    async with TestClient(TestServer(build_app(quiet, clock=clock, db=db).web)) as client:
        await _1000_reports_take_the_same_statements_as_two(client, db, clock)


async def _1000_reports_take_the_same_statements_as_two(client, db, clock) -> None:
    tenant = await make_tenant(db, clock, names={})
    await insert_bulk_customers(db, msp_id=tenant.msp_id, now=clock(), count=1000)

    def body(count: int) -> dict[str, Any]:
        # Half by account number, half by name; every one reaches its threshold.
        return {
            "usage": [
                item(f"BULK-{i:04d}" if i % 2 else f"bulk {i}", mau=100 + i) for i in range(count)
            ]
        }

    with statements_sent(db) as statements:
        small = await send(client, tenant.token, body(2))
        small_statements = list(statements)
        statements.clear()
        clock.advance(minutes=2)  # the token's last use is written again, as for the first
        big = await send(client, tenant.token, body(1000))
    assert small.status == big.status == 200, big.json
    assert (big.json["accepted"], big.json["created"], big.json["updated"]) == (1000, 998, 2)
    assert len(big.json["max_mau_reached"]) == 998
    assert statements == small_statements
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(CustomerUsage)) == 1000
        assert await session.scalar(select(func.sum(Customer.mau_this_month))) == sum(
            100 + i for i in range(1000)
        )


@pytest.mark.parametrize("home_stale", [False, True])
async def test_r20_two_reports_at_once_record_the_crossing_once(
    backend, client, db, clock, home_stale
):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 100, "Harbor Clinic": 100})
    if home_stale:  # the first write then changes no row: it must still serialise
        async with db.unit_of_work() as session:
            await session.execute(update(Msp).values(home_stale_since=clock()))
    body = {"usage": [item(account, mau=150) for account in tenant.accounts.values()]}
    answers = await asyncio.gather(*(send(client, tenant.token, body) for _ in range(4)))
    assert [answer.status for answer in answers] == [200] * 4, [a.json for a in answers]
    reached = [account for answer in answers for account in answer.json["max_mau_reached"]]
    assert sorted(reached) == sorted(tenant.accounts.values())
    assert sum(answer.json["created"] for answer in answers) == 2
    assert len(await _events(db, AuditAction.CUSTOMER_MAX_MAU_REACHED)) == 2
