"""Bad input to the ingest API is a 422 naming the field, never a 500, on SQLite
and on PostgreSQL (which refuses NUL in text outright): control characters in any
string field (tabs and line breaks only in an alert's details), lone surrogates,
and times out of range (year 1, year 9999, before 1970, more than a day ahead).
Nothing is written."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.models import Alert, AuditEvent, CustomerUsage
from tests.drive import Answer, field_errors, post_json
from tests.seed import make_tenant

ALERTS, USAGE = "/api/v1/alerts", "/api/v1/usage"
# NUL, BEL, ESC, CR, DEL and two of the C1 range: never text.
CONTROL = ("\x00", "\x07", "\x1b", "\r", "\x7f", "\x85", "\x9f")
LINE_BREAKS = ("\t", "\n")  # text only in free text


def _alert(account: str, **fields: Any) -> dict[str, Any]:
    return {
        "customer": account,
        "kind": "backup_failed",
        "severity": "high",
        "title": "Nightly backup failed",
        **fields,
    }


def _usage(account: str, **fields: Any) -> dict[str, Any]:
    return {
        "customer": account,
        "month": "2026-11",
        "mau": 40,
        "users": 25,
        "agents_total": 30,
        "agents_reporting": 28,
        "data_gb": 2.5,
        **fields,
    }


def _spoilt(value: str, character: str) -> str:
    """`value` with `character` in its middle (at an end, whitespace is trimmed)."""
    middle = len(value) // 2
    return value[:middle] + character + value[middle:]


async def _nothing_written(db) -> None:
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 0
        assert await session.scalar(select(func.count()).select_from(CustomerUsage)) == 0
        by_api = select(func.count()).where(AuditEvent.actor.like("api:%"))
        assert await session.scalar(by_api) == 0


def _refused_fields(answer: Answer) -> dict[str, str]:
    errors = field_errors(answer)
    for message in errors.values():
        assert "control character" in message or "surrogate" in message, message
    return errors


# ---------------------------------------------------------------- control characters


ALERT_FIELDS: dict[str, Any] = {
    "customer": None,  # the account number, filled in
    "kind": "backup_failed",
    "title": "Nightly backup failed",
    "details": "Job 7 exited with code 3.",
    "dedup_key": "backup:fs01",
    "links.url": "https://rmm.example.com/jobs/7",
    "links.label": "Job 7",
}


@pytest.mark.parametrize("field", list(ALERT_FIELDS))
async def test_a_control_character_in_any_alert_field_is_refused_on_that_field(
    backend, client, db, clock, field
):
    tenant = await make_tenant(db, clock)
    account = tenant.accounts["Acme Dental"]
    allowed_here = field == "details"
    characters = CONTROL if allowed_here else CONTROL + LINE_BREAKS
    alerts = []
    for character in characters:
        value = _spoilt(ALERT_FIELDS[field] or account, character)
        if field.startswith("links."):
            link = {"url": ALERT_FIELDS["links.url"], "label": ALERT_FIELDS["links.label"]}
            link[field.removeprefix("links.")] = value
            alerts.append(_alert(account, links=[link]))
        else:
            alerts.append(_alert(account, **{field: value}))
    answer = await post_json(client, ALERTS, tenant.token, {"alerts": alerts})
    where = field.replace("links.", "links[0].")
    assert set(_refused_fields(answer)) == {f"alerts[{n}].{where}" for n in range(len(alerts))}
    await _nothing_written(db)


async def test_tabs_and_line_breaks_are_text_in_an_alerts_details_only(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    account = tenant.accounts["Acme Dental"]
    details = "Job 7:\n\texit code 3\n\tno space left"
    answer = await post_json(
        client, ALERTS, tenant.token, {"alerts": [_alert(account, details=details)]}
    )
    assert answer.status == 200, answer.json
    async with db.unit_of_work() as session:
        assert await session.scalar(select(Alert.details)) == details


@pytest.mark.parametrize("field", ["customer", "month"])
async def test_a_control_character_in_a_usage_field_is_refused_on_that_field(
    backend, client, db, clock, field
):
    tenant = await make_tenant(db, clock)
    account = tenant.accounts["Acme Dental"]
    reports = [
        _usage(account, **{field: _spoilt(_usage(account)[field], character)})
        for character in CONTROL + LINE_BREAKS
    ]
    answer = await post_json(client, USAGE, tenant.token, {"usage": reports})
    errors = field_errors(answer)
    assert set(errors) == {f"usage[{n}].{field}" for n in range(len(reports))}
    await _nothing_written(db)


async def test_a_name_with_a_nul_is_refused_not_looked_up(backend, client, db, clock):
    """PostgreSQL refused the lookup of such a name itself: a 500 before."""
    tenant = await make_tenant(db, clock)
    answer = await post_json(client, USAGE, tenant.token, {"usage": [_usage("Acme\x00 Dental")]})
    assert set(_refused_fields(answer)) == {"usage[0].customer"}
    await _nothing_written(db)


@pytest.mark.parametrize("path", [ALERTS, USAGE])
async def test_a_lone_surrogate_is_refused_on_its_field(backend, client, db, clock, path):
    """`"\\ud800"` is valid JSON but no character: named like any other bad field
    (not "invalid JSON" for the whole body)."""
    tenant = await make_tenant(db, clock)
    account = tenant.accounts["Acme Dental"]
    if path == ALERTS:
        body = {"alerts": [_alert(account), _alert(account, title="Disk \udc00 full")]}
        expected = {"alerts[1].title"}
    else:
        body = {"usage": [_usage(f"{account}\ud800")]}
        expected = {"usage[0].customer"}
    raw = json.dumps(body).encode()  # json escapes a lone surrogate as \ud800
    answer = await post_json(client, path, tenant.token, data=raw)
    assert set(_refused_fields(answer)) == expected
    await _nothing_written(db)


async def test_a_valid_surrogate_pair_is_a_character(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    account = tenant.accounts["Acme Dental"]
    raw = json.dumps({"alerts": [_alert(account, title="Disk full \U0001f525")]}).encode()
    assert b"\\ud83d\\udd25" in raw
    answer = await post_json(client, ALERTS, tenant.token, data=raw)
    assert answer.status == 200, answer.json


# ---------------------------------------------------------------- times


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00+01:00",  # converted to UTC, it is before year 1
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59-01:00",  # converted to UTC, it is after year 9999
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "2026-11-24T09:00:01Z",  # a day and a second after the clock (2026-11-22 09:00)
    ],
)
async def test_a_time_out_of_range_is_refused_on_its_field(backend, client, db, clock, occurred_at):
    tenant = await make_tenant(db, clock)
    account = tenant.accounts["Acme Dental"]
    answer = await post_json(
        client, ALERTS, tenant.token, {"alerts": [_alert(account, occurred_at=occurred_at)]}
    )
    errors = field_errors(answer)
    assert set(errors) == {"alerts[0].occurred_at"}
    assert "1970-01-01T00:00:00Z" in errors["alerts[0].occurred_at"]
    await _nothing_written(db)


async def test_times_at_the_bounds_are_accepted(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    account = tenant.accounts["Acme Dental"]
    latest = (clock() + timedelta(days=1)).isoformat()
    alerts = [
        _alert(account, dedup_key="oldest", occurred_at="1970-01-01T00:00:00Z"),
        _alert(account, dedup_key="latest", occurred_at=latest),
    ]
    answer = await post_json(client, ALERTS, tenant.token, {"alerts": alerts})
    assert answer.status == 200, answer.json


@pytest.mark.parametrize("month", ["0001-01", "1999-12", "9999-12", "2026-13"])
async def test_a_usage_month_out_of_range_is_refused_on_its_field(
    backend, client, db, clock, month
):
    tenant = await make_tenant(db, clock)
    account = tenant.accounts["Acme Dental"]
    answer = await post_json(client, USAGE, tenant.token, {"usage": [_usage(account, month=month)]})
    assert set(field_errors(answer)) == {"usage[0].month"}
    await _nothing_written(db)
