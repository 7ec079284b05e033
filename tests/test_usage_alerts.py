"""The alerts the bot raises itself from usage reports (source "bot"): max-MAU
reached (R20), over the free limits (R15), agents not reporting; each resolved
when a later report is back within bounds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from bot.services.audit import AuditAction
from bot.services.usage_alerts import is_over_free_limits
from storage.models import Alert, AuditEvent, Customer
from tests.drive import all_text, lines, post_json
from tests.seed import make_tenant
from tests.test_alert_routing import subscribe
from tests.wait import settle_bot

PATH = "/api/v1/usage"
MONTH = "2026-11"  # tests.support.FakeClock's month


def figures(customer: str, month: str = MONTH, **changes: Any) -> dict[str, Any]:
    """Within every bound: no alert."""
    return {
        "customer": customer,
        "month": month,
        "mau": 10,
        "users": 2,
        "agents_total": 5,
        "agents_reporting": 5,
        "data_gb": 1.0,
        **changes,
    }


async def report(client, token: str, *items: dict[str, Any]) -> None:
    answer = await post_json(client, PATH, token, {"usage": list(items)})
    assert answer.status == 200, answer.json


async def on_the_free_plan(db) -> None:
    """New customers start on a trial; these ones have since gone free."""
    async with db.unit_of_work() as session:
        await session.execute(update(Customer).values(plan="free", status="free"))


async def alerts_of(db, kind: str) -> list[tuple[str, str, str, int]]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(Alert.dedup_key, Alert.status, Alert.severity, Alert.occurrences, Alert.source)
            .where(Alert.kind == kind)
            .order_by(Alert.id)
        )
        found = rows.all()
    assert all(source == "bot" for *_, source in found)
    return [(key, status, severity, occurrences) for key, status, severity, occurrences, _ in found]


@pytest.mark.parametrize(
    ("status", "users", "data_gb", "over"),
    [
        ("free", 3, 3.0, False),  # at the limits is within them
        ("free", 4, 1.0, True),
        ("free", 1, 3.01, True),
        ("paid", 40, 90.0, False),  # only the free plan has these limits
        ("active_trial", 40, 90.0, False),
        ("expired_trial", 4, 1.0, True),  # R4: an expired trial is on the free plan
        ("expired_trial", 1, 3.5, True),
        ("expired_trial", 3, 3.0, False),
    ],
)
def test_over_free_limits(status, users, data_gb, over):
    assert is_over_free_limits(status=status, users=users, data_gb=data_gb) is over


async def test_within_bounds_raises_nothing(client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 100})
    await on_the_free_plan(db)
    await report(client, tenant.token, figures(tenant.accounts["Acme Dental"]))
    async with db.unit_of_work() as session:
        assert (await session.scalars(select(Alert))).all() == []


async def test_max_mau_reached_raises_a_high_alert_for_the_month(backend, client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 100})
    acme = tenant.accounts["Acme Dental"]
    await report(client, tenant.token, figures(acme, mau=90))
    assert await alerts_of(db, "max_mau_reached") == []
    await report(client, tenant.token, figures(acme, mau=120))
    await report(client, tenant.token, figures(acme, mau=130))  # already reached: no repeat
    key = f"max_mau_reached:{acme}:{MONTH}"
    assert await alerts_of(db, "max_mau_reached") == [(key, "firing", "high", 1)]
    async with db.unit_of_work() as session:
        [alert] = (await session.scalars(select(Alert))).all()
        [created] = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == AuditAction.ALERT_CREATED)
            )
        ).all()
    # The month as people read it; the key keeps the month as senders write it.
    assert alert.title == (
        "Max-MAU threshold reached for Nov 2026: 120 MAU of 100; new end users are blocked"
    )
    assert created.actor == f"api:token:{tenant.token_id}"


async def test_the_alert_message_names_the_customer_once(backend, client, db, clock, fake_slack):
    """The title says what happened; the line under it and the notification name the
    customer, so the title does not name it again."""
    tenant = await make_tenant(db, clock, names={"Acme Dental": 100})
    await subscribe(db, clock, tenant, "C0NOC", group_by="off")  # a message for each
    acme = tenant.accounts["Acme Dental"]
    await report(client, tenant.token, figures(acme, mau=120, agents_reporting=4))
    await settle_bot(client)
    posted = [call.args for call in fake_slack.calls_to("chat.postMessage")]
    assert len(posted) == 2  # max-MAU reached, and an agent not reporting
    for message in posted:
        assert all_text(message["blocks"]).count("Acme Dental") == 1
        assert message["text"].count("Acme Dental") == 1
    (max_mau,) = [m for m in posted if "max_mau_reached" in all_text(m["blocks"])]
    assert lines(max_mau["blocks"])[:2] == [
        ":large_orange_circle: *Max-MAU threshold reached for Nov 2026: 120 MAU of 100; "
        "new end users are blocked*",
        "Acme Dental · `max_mau_reached` · high",
    ]
    assert "1 of 5 agents is not reporting" in str(posted)


async def test_a_threshold_of_1_500_000_is_taken_literally(backend, client, db, clock):
    """R20: a large threshold is a threshold; only "never block" (None) never fires."""
    tenant = await make_tenant(db, clock, names={"Big Co": 1_500_000, "Open Co": None})
    big, never = tenant.accounts["Big Co"], tenant.accounts["Open Co"]
    await report(client, tenant.token, figures(big, mau=1_499_999), figures(never, mau=9_000_000))
    assert await alerts_of(db, "max_mau_reached") == []
    await report(client, tenant.token, figures(big, mau=1_500_000))
    assert await alerts_of(db, "max_mau_reached") == [
        (f"max_mau_reached:{big}:{MONTH}", "firing", "high", 1)
    ]


async def test_an_old_month_raises_no_alerts(client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 100})
    await on_the_free_plan(db)
    old = figures(tenant.accounts["Acme Dental"], "2026-10", mau=500, users=9, agents_reporting=0)
    await report(client, tenant.token, old)
    async with db.unit_of_work() as session:
        assert (await session.scalars(select(Alert))).all() == []


async def test_over_free_limits_fires_repeats_and_resolves(backend, client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 1000})
    await on_the_free_plan(db)
    acme = tenant.accounts["Acme Dental"]
    key = f"over_free_limits:{acme}"
    await report(client, tenant.token, figures(acme, users=5))
    await report(client, tenant.token, figures(acme, data_gb=4.5))
    assert await alerts_of(db, "over_free_limits") == [(key, "firing", "medium", 2)]
    await report(client, tenant.token, figures(acme))
    assert await alerts_of(db, "over_free_limits") == [(key, "resolved", "medium", 2)]
    await report(client, tenant.token, figures(acme, users=4))
    assert [row[1] for row in await alerts_of(db, "over_free_limits")] == ["resolved", "firing"]


async def test_an_expired_trial_over_the_free_limits_raises_the_alert(backend, client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 1000})
    async with db.unit_of_work() as session:
        await session.execute(update(Customer).values(plan="free", status="expired_trial"))
    acme = tenant.accounts["Acme Dental"]
    await report(client, tenant.token, figures(acme, users=5))
    assert await alerts_of(db, "over_free_limits") == [
        (f"over_free_limits:{acme}", "firing", "medium", 1)
    ]


async def test_a_trial_is_never_over_the_free_limits(client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 1000})
    await report(client, tenant.token, figures(tenant.accounts["Acme Dental"], users=50))
    assert await alerts_of(db, "over_free_limits") == []


async def test_agents_not_reporting_fires_and_resolves(backend, client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 1000, "Harbor Clinic": 1000})
    acme, harbor = tenant.accounts["Acme Dental"], tenant.accounts["Harbor Clinic"]
    await report(
        client,
        tenant.token,
        figures(acme, agents_total=30, agents_reporting=28),
        figures(harbor),
    )
    assert await alerts_of(db, "agents_not_reporting") == [
        (f"agents_not_reporting:{acme}", "firing", "medium", 1)
    ]
    async with db.unit_of_work() as session:
        title = await session.scalar(select(Alert.title))
    assert title == "2 of 30 agents are not reporting"
    await report(client, tenant.token, figures(acme, agents_total=30, agents_reporting=30))
    assert await alerts_of(db, "agents_not_reporting") == [
        (f"agents_not_reporting:{acme}", "resolved", "medium", 1)
    ]


async def test_a_refused_report_raises_no_alerts(client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 100})
    body = {"usage": [figures(tenant.accounts["Acme Dental"], mau=500), figures("Nobody")]}
    answer = await post_json(client, PATH, tenant.token, body)
    assert answer.status == 422
    async with db.unit_of_work() as session:
        assert (await session.scalars(select(Alert))).all() == []
