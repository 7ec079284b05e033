"""Alerts routed to their subscribers, through the ingest API: one
post per matching conversation, repeats and resolutions updating every message in
place, quiet hours, reopening, and one MSP's alerts never reaching another's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from storage.models import AlertMessage, AlertSubscription, Customer, OutboxItem
from tests.drive import all_text, post_json
from tests.seed import Tenant, make_tenant

PATH = "/api/v1/alerts"
NOC, SUPPORT, CRITICAL_ONLY, NOT_ACME = "C0NOC", "C0SUPPORT", "C0CRIT", "C0NOTACME"


def alert(customer: str, **fields: Any) -> dict[str, Any]:
    return {
        "customer": customer,
        "kind": "backup_failed",
        "severity": "high",
        "title": "Nightly <!channel> backup failed",
        "details": "Job 7 & <@U1> exited",
        "links": [{"url": "https://rmm.example/jobs/7?a=1&b=2", "label": "Job <7>"}],
        **fields,
    }


async def subscribe(db, clock, tenant: Tenant, target: str, **filters: Any) -> None:
    async with db.unit_of_work() as session:
        session.add(
            AlertSubscription(
                msp_id=tenant.msp_id,
                target=target,
                target_kind="person" if target.startswith("U") else "channel",
                topics=filters.pop("topics", ["alerts"]),
                created_by="U0001",
                created_at=clock(),
                **filters,
            )
        )


async def acme_tenant(db, clock) -> Tenant:
    tenant = await make_tenant(db, clock, names={"Acme Dental": 100, "Globex": 100})
    acme_id = await _customer_id(db, tenant, "Acme Dental")
    await subscribe(db, clock, tenant, NOC)
    await subscribe(db, clock, tenant, SUPPORT, min_severity="medium")
    await subscribe(db, clock, tenant, CRITICAL_ONLY, min_severity="critical")
    await subscribe(db, clock, tenant, NOT_ACME, customers_excluded=[acme_id])
    await subscribe(db, clock, tenant, "C0TRIALS", topics=["trials"])
    return tenant


async def _customer_id(db, tenant: Tenant, name: str) -> int:
    async with db.unit_of_work() as session:
        return await session.scalar(
            select(Customer.id).where(Customer.msp_id == tenant.msp_id, Customer.name == name)
        )


async def send(client, tenant: Tenant, *alerts: dict[str, Any]) -> dict[str, Any]:
    answer = await post_json(client, PATH, tenant.token, {"alerts": list(alerts)})
    assert answer.status == 200, answer.json
    return answer.json


async def outbox(db, kind: str) -> list[OutboxItem]:
    async with db.unit_of_work() as session:
        statement = select(OutboxItem).where(OutboxItem.kind == kind).order_by(OutboxItem.id)
        return list((await session.scalars(statement)).all())


async def messages(db) -> list[AlertMessage]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(AlertMessage).order_by(AlertMessage.id))).all())


async def delivered(db) -> None:
    """As if the delivery worker had sent every pending post."""
    async with db.unit_of_work() as session:
        await session.execute(update(OutboxItem).values(status="sent"))


def shown(item: OutboxItem) -> str:
    return all_text(item.payload["blocks"])


async def test_an_alert_reaches_each_matching_channel_once(backend, client, db, clock):
    tenant = await acme_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant, alert(acme))
    posts = await outbox(db, "post")
    assert sorted(post.payload["channel"] for post in posts) == [NOC, SUPPORT]
    assert {(m.channel, m.outbox_key) for m in await messages(db)} == {
        (post.payload["channel"], post.key) for post in posts
    }
    text = shown(posts[0])
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "Job 7 &amp; &lt;@U1&gt; exited" in text
    assert "<https://rmm.example/jobs/7?a=1&amp;b=2|Job &lt;7&gt;>" in text
    assert "Acme Dental" in text and "`backup_failed`" in text and "once" in text


async def test_another_customer_reaches_the_channel_that_excludes_acme(client, db, clock):
    tenant = await acme_tenant(db, clock)
    await send(client, tenant, alert(tenant.accounts["Globex"], severity="low"))
    posts = await outbox(db, "post")
    assert sorted(post.payload["channel"] for post in posts) == [NOC, NOT_ACME]


async def test_a_repeat_updates_every_message_and_posts_nothing(backend, client, db, clock):
    tenant = await acme_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant, alert(acme))
    await delivered(db)
    clock.advance(minutes=5)
    await send(client, tenant, alert(acme))
    assert len(await outbox(db, "post")) == 2
    updates = await outbox(db, "update")
    keys = {message.outbox_key for message in await messages(db)}
    assert {item.payload["target_key"] for item in updates} == keys and len(updates) == 2
    assert all("2 times" in shown(item) for item in updates)


async def test_a_repeat_before_delivery_changes_the_pending_post(client, db, clock):
    tenant = await acme_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant, alert(acme))
    await send(client, tenant, alert(acme))
    posts = await outbox(db, "post")
    assert len(posts) == 2 and await outbox(db, "update") == []
    assert all("2 times" in shown(post) for post in posts)


async def test_a_resolution_updates_both_and_a_reopening_posts_anew(backend, client, db, clock):
    tenant = await acme_tenant(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant, alert(acme))
    await delivered(db)
    await send(client, tenant, alert(acme, status="resolved"))
    updates = await outbox(db, "update")
    assert len(updates) == 2 and all("Resolved" in shown(item) for item in updates)
    await delivered(db)
    await send(client, tenant, alert(acme))
    assert len(await outbox(db, "post")) == 4
    assert len({message.alert_id for message in await messages(db)}) == 2


async def test_a_person_in_quiet_hours_gets_it_when_they_end(client, db, clock):
    tenant = await make_tenant(db, clock)
    hour = clock().hour
    await subscribe(
        db,
        clock,
        tenant,
        "U0QUIET",
        quiet_start=f"{hour:02d}:00",
        quiet_end=f"{(hour + 1) % 24:02d}:00",
    )
    await subscribe(db, clock, tenant, "U0AWAKE")
    before = datetime.now(UTC)
    await send(client, tenant, alert(tenant.accounts["Acme Dental"]))
    posts = {post.payload["channel"]: post for post in await outbox(db, "post")}
    assert set(posts) == {"U0QUIET", "U0AWAKE"}
    # Held for the hour's rest: the clock is at hh:00, so quiet ends in an hour.
    held = posts["U0QUIET"].next_attempt_at.replace(tzinfo=UTC) - before
    assert timedelta(minutes=59) < held <= timedelta(hours=1, seconds=5)
    awake = posts["U0AWAKE"].next_attempt_at.replace(tzinfo=UTC) - before
    assert awake < timedelta(seconds=5)


async def test_another_msps_subscriptions_hear_nothing(backend, client, db, clock):
    tenant = await acme_tenant(db, clock)
    other = await make_tenant(db, clock, team_id="T0OTHER", names={"Acme Dental": 100})
    await subscribe(db, clock, other, "C0OTHER")
    await send(client, tenant, alert(tenant.accounts["Acme Dental"]))
    channels = {post.payload["channel"] for post in await outbox(db, "post")}
    assert channels == {NOC, SUPPORT}
    await send(client, other, alert(other.accounts["Acme Dental"]))
    posts = await outbox(db, "post")
    assert [post.payload["channel"] for post in posts if post.msp_id == other.msp_id] == ["C0OTHER"]


async def test_quiet_hours_are_read_in_the_persons_own_time_zone(client, db, clock):
    """Their quiet hour is this hour in Tokyo: held there; the same hours read in
    the MSP's zone (UTC here) are not now, so the other person gets it at once."""
    tenant = await make_tenant(db, clock)
    tokyo_hour = (clock().hour + 9) % 24  # Asia/Tokyo: UTC+9, no daylight saving
    quiet = {"quiet_start": f"{tokyo_hour:02d}:00", "quiet_end": f"{(tokyo_hour + 1) % 24:02d}:00"}
    await subscribe(db, clock, tenant, "U0TOKYO", quiet_timezone="Asia/Tokyo", **quiet)
    await subscribe(db, clock, tenant, "U0MSPZONE", **quiet)
    before = datetime.now(UTC)
    await send(client, tenant, alert(tenant.accounts["Acme Dental"]))
    posts = {post.payload["channel"]: post for post in await outbox(db, "post")}
    held = posts["U0TOKYO"].next_attempt_at.replace(tzinfo=UTC) - before
    assert timedelta(minutes=59) < held <= timedelta(hours=1, seconds=5)
    at_once = posts["U0MSPZONE"].next_attempt_at.replace(tzinfo=UTC) - before
    assert at_once < timedelta(seconds=5)
