"""POST /api/v1/alerts through the real aiohttp app: bearer tokens, validation
named by field, dedup and occurrences, resolving and reopening, all or nothing,
tenant scoping, concurrency and statements that do not grow with the batch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.domain.alerts import Severity
from bot.notify.notifiers import outbox_notifiers
from bot.services import alerts
from bot.services.audit import AuditAction
from storage.models import Alert, AuditEvent, Msp
from storage.repositories import alerts as alert_repo
from storage.repositories import usage as usage_repo
from tests.drive import Answer, field_errors, post_chunked_spaces, post_json
from tests.rows import home_stale_since, statements_sent
from tests.seed import insert_bulk_customers, make_tenant

PATH = "/api/v1/alerts"


def alert(customer: str, **fields: Any) -> dict[str, Any]:
    return {
        "customer": customer,
        "kind": "backup_failed",
        "severity": "high",
        "title": "Nightly backup failed",
        **fields,
    }


async def send(client, token: str | None, body: Any = None, **options: Any) -> Answer:
    return await post_json(client, PATH, token, body, **options)


async def _alerts(db) -> list[Alert]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(Alert).order_by(Alert.id))).all())


async def _events(db, action: str) -> list[AuditEvent]:
    async with db.unit_of_work() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list((await session.scalars(query)).all())


def _counts(answer: Answer) -> tuple[int, int, int, int, int, int]:
    assert answer.status == 200, answer.json
    body = answer.json
    return (
        body["accepted"],
        body["created"],
        body["updated"],
        body["resolved"],
        body["reopened"],
        body["ignored"],
    )


# ---------------------------------------------------------------- recording


async def test_an_alert_is_recorded(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    answer = await send(
        client,
        tenant.token,
        {
            "alerts": [
                alert(
                    acme.replace("-", "").lower(),
                    details="Job 7 exited with code 3",
                    occurred_at="2026-11-22T08:30:00+01:00",
                    links=[{"url": "https://rmm.example/jobs/7", "label": "Job 7"}],
                )
            ]
        },
    )
    assert _counts(answer) == (1, 1, 0, 0, 0, 0)
    [recorded] = await _alerts(db)
    assert answer.json["ids"] == [recorded.id]
    assert (recorded.kind, recorded.severity, recorded.status, recorded.source) == (
        "backup_failed",
        "high",
        "firing",
        "api",
    )
    assert recorded.customer_name == "Acme Dental"
    assert recorded.dedup_key == f"backup_failed:{acme}"
    assert recorded.details == "Job 7 exited with code 3"
    assert recorded.links == [{"url": "https://rmm.example/jobs/7", "label": "Job 7"}]
    assert recorded.occurred_at.replace(tzinfo=None).isoformat() == "2026-11-22T07:30:00"
    assert recorded.first_seen_at.replace(tzinfo=None) == clock().replace(tzinfo=None)
    assert recorded.occurrences == 1 and recorded.reopened == 0
    [created] = await _events(db, AuditAction.ALERT_CREATED)
    assert created.actor == f"api:token:{tenant.token_id}"
    assert (created.entity_type, created.entity_id) == ("alert", str(recorded.id))
    assert created.after["dedup_key"] == recorded.dedup_key
    assert await home_stale_since(db, tenant.msp_id) is not None


async def test_a_repeat_counts_an_occurrence_and_keeps_the_worst_severity(
    backend, client, db, clock
):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    first = await send(client, tenant.token, {"alerts": [alert(acme, severity="medium")]})
    clock.advance(minutes=5)
    second = await send(
        client,
        tenant.token,
        {
            "alerts": [
                alert(acme, severity="critical", title="Backup failed twice"),
                alert("acme dental", severity="low", title="Backup failed again"),
            ]
        },
    )
    assert _counts(first) == (1, 1, 0, 0, 0, 0)
    assert _counts(second) == (2, 0, 2, 0, 0, 0)
    assert second.json["ids"] == first.json["ids"]
    [recorded] = await _alerts(db)
    assert recorded.occurrences == 3
    assert recorded.severity == "critical"
    assert recorded.title == "Backup failed again"
    assert recorded.last_seen_at.replace(tzinfo=None) == clock().replace(tzinfo=None)
    assert len(await _events(db, AuditAction.ALERT_CREATED)) == 1


async def test_a_dedup_key_given_groups_across_kinds(client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    body = {
        "alerts": [
            alert(acme, dedup_key="ticket-42"),
            alert(acme, kind="disk_full", dedup_key="ticket-42"),
            alert(acme, kind="disk_full"),
        ]
    }
    assert _counts(await send(client, tenant.token, body)) == (3, 2, 1, 0, 0, 0)
    keys = sorted((a.dedup_key, a.occurrences) for a in await _alerts(db))
    assert keys == [(f"disk_full:{acme}", 1), ("ticket-42", 2)]


async def test_resolve_then_fire_again_makes_a_new_alert(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    fired = await send(client, tenant.token, {"alerts": [alert(acme)]})
    clock.advance(minutes=1)
    resolved = await send(client, tenant.token, {"alerts": [alert(acme, status="resolved")]})
    assert _counts(resolved) == (1, 0, 0, 1, 0, 0)
    assert resolved.json["ids"] == fired.json["ids"]
    [first] = await _alerts(db)
    assert first.status == "resolved" and first.resolved_at is not None
    clock.advance(minutes=1)
    again = await send(client, tenant.token, {"alerts": [alert(acme)]})
    assert _counts(again) == (1, 1, 0, 0, 1, 0)
    assert again.json["ids"] != fired.json["ids"]
    old, new = await _alerts(db)
    assert (old.status, new.status, new.reopened, new.occurrences) == ("resolved", "firing", 1, 1)
    assert [e.entity_id for e in await _events(db, AuditAction.ALERT_RESOLVED)] == [str(old.id)]


async def test_a_resolution_for_no_open_alert_is_ignored(client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    answer = await send(client, tenant.token, {"alerts": [alert(acme, status="resolved")]})
    assert _counts(answer) == (1, 0, 0, 0, 0, 1)
    assert answer.json["ids"] == []
    assert await _alerts(db) == []


async def test_one_batch_fires_resolves_and_fires_again(client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    body = {
        "alerts": [
            alert(acme),
            alert(acme, severity="critical"),
            alert(acme, status="resolved"),
            alert(acme, status="resolved"),
            alert(acme, severity="low"),
        ]
    }
    assert _counts(await send(client, tenant.token, body)) == (5, 2, 1, 1, 1, 1)
    old, new = await _alerts(db)
    assert (old.status, old.occurrences, old.severity) == ("resolved", 2, "critical")
    assert (new.status, new.occurrences, new.severity, new.reopened) == ("firing", 1, "low", 1)
    assert len(await _events(db, AuditAction.ALERT_CREATED)) == 2
    assert len(await _events(db, AuditAction.ALERT_RESOLVED)) == 1


async def test_repeats_then_a_resolution_of_an_open_alert(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant.token, {"alerts": [alert(acme, severity="low")]})
    body = {
        "alerts": [alert(acme, severity="critical"), alert(acme, status="resolved"), alert(acme)]
    }
    assert _counts(await send(client, tenant.token, body)) == (3, 1, 1, 1, 1, 0)
    old, new = await _alerts(db)
    assert (old.status, old.occurrences, old.severity) == ("resolved", 2, "critical")
    assert (new.status, new.reopened) == ("firing", 1)


async def test_an_acknowledged_alert_stays_acknowledged_on_a_repeat(client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant.token, {"alerts": [alert(acme)]})
    async with db.unit_of_work() as session:
        [recorded] = (await session.scalars(select(Alert))).all()
        recorded.status = "acknowledged"
    assert _counts(await send(client, tenant.token, {"alerts": [alert(acme)]}))[2] == 1
    [recorded] = await _alerts(db)
    assert (recorded.status, recorded.occurrences) == ("acknowledged", 2)


# ---------------------------------------------------------------- all or nothing, tenancy


async def test_an_unknown_customer_refuses_the_whole_batch(backend, client, db, clock):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    body = {"alerts": [alert(acme), alert(acme), alert(acme), alert("Nobody Inc")]}
    answer = await send(client, tenant.token, body)
    assert answer.status == 422
    assert answer.json["errors"] == [
        {"field": "alerts[3].customer", "message": "No customer Nobody Inc in this MSP."}
    ]
    assert await _alerts(db) == []
    assert await _events(db, AuditAction.ALERT_CREATED) == []
    assert await home_stale_since(db, tenant.msp_id) is None


async def test_another_msps_customer_is_unknown(backend, client, db, clock):
    mine = await make_tenant(db, clock, team_id="T0001", names={"Acme Dental": 100})
    theirs = await make_tenant(db, clock, team_id="T0002", names={"Harbor Clinic": 100})
    harbor = theirs.accounts["Harbor Clinic"]
    for name_or_number in (harbor, "Harbor Clinic"):
        answer = await send(client, mine.token, {"alerts": [alert(name_or_number)]})
        assert answer.status == 422
        assert answer.json["errors"] == [
            {"field": "alerts[0].customer", "message": f"No customer {name_or_number} in this MSP."}
        ]
    assert await _alerts(db) == []


# ---------------------------------------------------------------- authentication


async def test_only_a_valid_token_is_let_in(client, db, clock):
    tenant = await make_tenant(db, clock)
    body = {"alerts": [alert(tenant.accounts["Acme Dental"])]}
    missing = await send(client, None, body)
    assert (missing.status, missing.json["error"]) == (401, "invalid_token")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    for authorization in ("Bearer nope", "Basic abc", "Bearer "):
        wrong = await send(client, None, body, headers={"Authorization": authorization})
        assert (wrong.status, wrong.json["error"]) == (401, "invalid_token"), authorization
    assert await _alerts(db) == []


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"customer": ""}, "customer", "at least 1 character"),
        ({"customer": 12}, "customer", "valid string"),
        ({"kind": ""}, "kind", "at least 1 character"),
        ({"kind": "k" * 41}, "kind", "at most 40 characters"),
        ({"severity": "HIGH"}, "severity", "'critical', 'high', 'medium', 'low' or 'info'"),
        ({"severity": 3}, "severity", "'critical'"),
        ({"title": ""}, "title", "at least 1 character"),
        ({"title": "t" * 201}, "title", "at most 200 characters"),
        ({"details": "d" * 4001}, "details", "at most 4000 characters"),
        ({"dedup_key": "k" * 201}, "dedup_key", "at most 200 characters"),
        ({"dedup_key": ""}, "dedup_key", "at least 1 character"),
        ({"status": "acknowledged"}, "status", "'firing' or 'resolved'"),
        ({"occurred_at": "2026-11-22T08:30:00"}, "occurred_at", "timezone"),
        ({"occurred_at": "yesterday"}, "occurred_at", "valid datetime"),
        ({"links": [{"url": "javascript:alert(1)", "label": "x"}]}, "links[0].url", "https://"),
        ({"links": [{"url": "https://x.example"}]}, "links[0].label", "required"),
        ({"links": [{"url": "https://x.example", "label": ""}]}, "links[0].label", "at least 1"),
        ({"links": [{"url": "https://x.example", "label": "x"}] * 11}, "links", "at most 10"),
        ({"colour": "blue"}, "colour", "Unknown field."),
    ],
)
async def test_each_bad_field_is_named(client, db, clock, changes, field, says):
    tenant = await make_tenant(db, clock)
    good = alert(tenant.accounts["Acme Dental"])
    body = {"alerts": [good, good, good, {**good, **changes}]}
    errors = field_errors(await send(client, tenant.token, body))
    assert list(errors) == [f"alerts[3].{field}"], errors
    assert says in errors[f"alerts[3].{field}"], errors
    assert await _alerts(db) == []


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"alerts": []}, "alerts", "at least 1 item"),
        ({}, "alerts", "This field is required."),
        ({"alerts": {}}, "alerts", "valid array"),
        ({"alerts": [alert("X")], "extra": 1}, "extra", "Unknown field."),
        ([alert("X")], "body", "Input should be an object"),
    ],
)
async def test_the_body_must_be_a_list_of_alerts(client, db, clock, body, field, says):
    tenant = await make_tenant(db, clock)
    errors = field_errors(await send(client, tenant.token, body))
    assert field in errors and says in errors[field], errors


async def test_at_most_500_alerts(client, db, clock):
    tenant = await make_tenant(db, clock)
    body = {"alerts": [{"customer": "X", "kind": "k", "severity": "low", "title": "t"}] * 501}
    errors = field_errors(await send(client, tenant.token, body))
    assert errors == {"alerts": "List should have at most 500 items after validation, not 501"}


async def test_not_json_is_a_400(client, db, clock):
    tenant = await make_tenant(db, clock)
    answer = await send(client, tenant.token, data=b"{not json")
    assert answer.status == 400 and answer.json["error"] == "invalid_json"


async def test_the_body_must_be_sent_as_json(client, db, clock):
    tenant = await make_tenant(db, clock)
    answer = await send(client, tenant.token, data=b"{}", headers={"Content-Type": "text/plain"})
    assert answer.status == 415 and answer.json["error"] == "unsupported_media_type"


async def test_a_body_over_256_kb_is_refused_by_length_or_by_what_was_read(client, db, clock):
    tenant = await make_tenant(db, clock)
    spaces = b" " * (256 * 1024)
    by_length = await send(client, tenant.token, data=b'{"alerts": [' + spaces + b"]}")
    chunked = await post_chunked_spaces(client, PATH, tenant.token, collection="alerts", kb=320)
    assert (by_length.status, by_length.json["error"], chunked) == (413, "too_large", 413)
    assert by_length.json["message"] == (
        "The body can be at most 256 KB (262,144 bytes): send fewer items per request."
    )


async def test_only_post_is_served(client):
    assert (await client.get(PATH)).status == 405


# ---------------------------------------------------------------- 500 alerts, concurrency


async def test_500_alerts_take_the_same_statements_as_two(backend, client, db, clock):
    """No per-item queries: the statements sent do not grow with the batch's size."""
    tenant = await make_tenant(db, clock, names={})
    await insert_bulk_customers(db, msp_id=tenant.msp_id, now=clock(), count=500)

    def body(count: int) -> dict[str, Any]:
        # Half by account number, half by name; the first two fire again (repeats),
        # and one in a hundred resolves an alert the small batch raised or none.
        return {
            "alerts": [
                {
                    "customer": f"BULK-{i:04d}" if i % 2 else f"bulk {i}",
                    "kind": "disk_full",
                    "severity": "medium",
                    "title": f"Disk full on server {i}",
                    "status": "resolved" if i % 100 == 99 else "firing",
                }
                for i in range(count)
            ]
        }

    first = {"alerts": [*body(2)["alerts"], {**body(2)["alerts"][1], "status": "resolved"}]}
    with statements_sent(db) as statements:
        small = await send(client, tenant.token, first)
        small_statements = list(statements)
        statements.clear()
        clock.advance(minutes=2)  # the token's last use is written again, as for the first
        big = await send(client, tenant.token, body(500))
    assert _counts(small) == (3, 2, 0, 1, 0, 0)
    assert _counts(big) == (500, 494, 1, 0, 1, 5)
    assert statements == small_statements
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 496


@pytest.mark.parametrize("home_stale", [False, True])
async def test_one_new_key_sent_at_once_makes_one_open_alert(
    backend, client, db, clock, home_stale
):
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    if home_stale:
        async with db.unit_of_work() as session:
            await session.execute(update(Msp).values(home_stale_since=clock()))
    body = {"alerts": [alert(acme)]}
    answers = await asyncio.gather(*(send(client, tenant.token, body) for _ in range(6)))
    assert [a.status for a in answers] == [200] * 6, [a.json for a in answers]
    [recorded] = await _alerts(db)
    assert recorded.occurrences == 6
    assert sum(a.json["created"] for a in answers) == 1
    assert sum(a.json["updated"] for a in answers) == 5
    assert len(await _events(db, AuditAction.ALERT_CREATED)) == 1


async def test_the_partial_index_folds_a_racing_insert_into_the_open_alert(
    backend, db, clock, monkeypatch
):
    """Even when the read missed the open alert (another transaction committed in
    between), the upsert lands on it instead of failing or making a second one."""
    tenant = await make_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    async with db.unit_of_work() as session:
        [customer] = await usage_repo.customers_named(
            session, msp_id=tenant.msp_id, account_numbers={acme}, name_keys=set()
        )

    async def record(severity: Severity, title: str) -> alerts.AlertResult:
        report = alerts.AlertReport(
            customer=acme, kind="k", severity=severity, title=title, dedup_key="race"
        )
        async with db.unit_of_work() as session:
            return await alerts.record_matched(
                session,
                msp_id=tenant.msp_id,
                matched=[alerts.MatchedAlert(report, customer)],
                source="api",
                actor="test",
                now=clock(),
                notifier=outbox_notifiers().alerts,
            )

    first = await record(Severity.LOW, "t")

    async def saw_nothing(*_args, **_kwargs) -> dict[str, alert_repo.OpenAlert]:
        return {}

    monkeypatch.setattr(alert_repo, "open_alerts", saw_nothing)
    raced = await record(Severity.CRITICAL, "t2")
    assert raced.ids == first.ids
    [recorded] = await _alerts(db)
    assert (recorded.occurrences, recorded.severity, recorded.title) == (2, "critical", "t2")
    assert recorded.status == "firing"
