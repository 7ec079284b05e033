"""Alerts grouped over time: a slow storm for one customer is one message in the
channel with every alert in its thread, the parent keeping a live count and the
worst severity; a quiet gap longer than the window, another customer, or (when a
subscription groups by kind) another kind starts a new message; `group=off` posts
each; two batches at once still open one group. Through the ingest API and the
delivery worker to the fake Slack."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import Bot
from bot.ids import ActionId
from bot.payloads import AlertListRef
from storage.models import Alert, AlertGroup, AlertSubscription
from tests.drive import all_text, button, post_json
from tests.fake_slack import FakeSlack
from tests.seed import Tenant, make_tenant
from tests.support import fast_bot
from tests.wait import settle

PATH = "/api/v1/alerts"
NOC = "C0NOC"


@pytest.fixture(autouse=True)
def _on_each_backend(backend: str) -> None:
    """SQLite always; PostgreSQL too when MSPBOT_TEST_DATABASE_URL names one."""


@pytest.fixture
async def bot(settings, db, clock) -> Bot:
    """Delivery without Slack's one message a second per channel: a storm's thread
    would otherwise take minutes to reach the fake."""
    return fast_bot(settings, db, clock)


async def tenant_with(db, clock, **grouping: Any) -> Tenant:
    tenant = await make_tenant(db, clock, names={"Acme Dental": None, "Globex": None})
    async with db.unit_of_work() as session:
        session.add(
            AlertSubscription(
                msp_id=tenant.msp_id,
                target=NOC,
                target_kind="channel",
                topics=["alerts"],
                created_by="U0001",
                created_at=clock(),
                **grouping,
            )
        )
    return tenant


def alert(customer: str, number: int, **fields: Any) -> dict[str, Any]:
    return {
        "customer": customer,
        "kind": "disk_full",
        "severity": "low",
        "title": f"Disk {number} is full",
        "dedup_key": f"disk-{number}",
        **fields,
    }


async def send(client, tenant: Tenant, *alerts: dict[str, Any]) -> None:
    answer = await post_json(client, PATH, tenant.token, {"alerts": list(alerts)})
    assert answer.status == 200, answer.json


def top_level(fake: FakeSlack, channel: str = NOC) -> list[dict[str, Any]]:
    return [
        message
        for (where, _ts), message in fake.messages.items()
        if where == channel and "thread_ts" not in message
    ]


def replies(fake: FakeSlack, parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in fake.messages.values() if m.get("thread_ts") == parent["ts"]]


def is_digest(message: dict[str, Any]) -> bool:
    return "while this channel was busy" in all_text(message["blocks"])


def in_thread(thread: list[dict[str, Any]]) -> set[int]:
    """The alerts a thread shows: its replies, and those its digests list, each once."""
    shown: list[int] = []
    for message in thread:
        if is_digest(message):
            value = button(message, ActionId.ALERT_LIST_ALL)["value"]
            shown += AlertListRef.decode(value).alert_ids
        else:
            shown.append(message["metadata"]["event_payload"]["alert_id"])
    assert len(shown) == len(set(shown)), "an alert shown twice"
    return set(shown)


async def test_a_slow_storm_is_one_message_with_every_alert_in_its_thread(
    bot: Bot, client, db, clock, fake_slack
):
    tenant = await tenant_with(db, clock)
    acme = tenant.accounts["Acme Dental"]
    for number in range(150):  # 1.5 s apart: far beyond a burst, inside the window
        severity = "critical" if number == 97 else "low"
        await send(client, tenant, alert(acme, number, severity=severity))
        clock.advance(seconds=1.5)
    await settle(bot)

    (parent,) = top_level(fake_slack)
    thread = replies(fake_slack, parent)
    assert not any(message.get("reply_broadcast") for message in thread)
    async with db.unit_of_work() as session:
        ids = set((await session.scalars(select(Alert.id))).all())
    # Nothing lost: each alert is the parent, a reply, or listed by a digest in the
    # thread (when replies queued up faster than Slack takes them).
    assert {parent["metadata"]["event_payload"]["alert_id"]} | in_thread(thread) == ids
    shown = all_text(parent["blocks"])
    assert "*150 alerts* for Acme Dental" in shown
    assert "worst :red_circle: critical" in shown and "<!date^" in shown
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 150


async def test_a_gap_longer_than_the_window_starts_a_new_message(
    bot: Bot, client, db, clock, fake_slack
):
    tenant = await tenant_with(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant, alert(acme, 1))
    clock.advance(minutes=4)
    await send(client, tenant, alert(acme, 2))  # 4 minutes after the latest: joins
    clock.advance(minutes=5, seconds=1)
    await send(client, tenant, alert(acme, 3))  # just over 5 minutes: a new one
    await settle(bot)
    first, second = top_level(fake_slack)
    assert len(replies(fake_slack, first)) == 1 and replies(fake_slack, second) == []
    assert "*2 alerts*" in all_text(first["blocks"])
    assert "alerts*" not in all_text(second["blocks"])  # alone: no group line


async def test_each_customer_is_a_group_of_its_own(bot: Bot, client, db, clock, fake_slack):
    tenant = await tenant_with(db, clock)
    acme, globex = tenant.accounts["Acme Dental"], tenant.accounts["Globex"]
    await send(client, tenant, alert(acme, 1), alert(globex, 2), alert(acme, 3), alert(globex, 4))
    await settle(bot)
    parents = top_level(fake_slack)
    assert [len(replies(fake_slack, parent)) for parent in parents] == [1, 1]
    assert "Acme Dental" in all_text(parents[0]["blocks"])
    assert "Globex" in all_text(parents[1]["blocks"])


async def test_grouping_by_kind_keeps_kinds_apart(bot: Bot, client, db, clock, fake_slack):
    tenant = await tenant_with(db, clock, group_by="kind", group_minutes=10)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant, alert(acme, 1), alert(acme, 2, kind="agent_offline"))
    clock.advance(minutes=8)  # inside this subscription's 10 minutes
    await send(client, tenant, alert(acme, 3))
    await settle(bot)
    disks, agents = top_level(fake_slack)
    assert len(replies(fake_slack, disks)) == 1 and replies(fake_slack, agents) == []
    assert "*2 `disk_full` alerts* for Acme Dental" in all_text(disks["blocks"])


async def test_group_off_posts_every_alert(bot: Bot, client, db, clock, fake_slack):
    tenant = await tenant_with(db, clock, group_by="off")
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant, alert(acme, 1), alert(acme, 2), alert(acme, 3))
    await settle(bot)
    assert len(top_level(fake_slack)) == 3


async def test_the_parent_keeps_its_count_when_its_own_alert_changes(
    bot: Bot, client, db, clock, fake_slack
):
    tenant = await tenant_with(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant, alert(acme, 1), alert(acme, 2, severity="high"))
    await settle(bot)
    clock.advance(minutes=30)
    await send(client, tenant, alert(acme, 1))  # the parent's own alert repeats
    await send(client, tenant, alert(acme, 1, status="resolved"))
    await settle(bot)
    (parent,) = top_level(fake_slack)
    shown = all_text(parent["blocks"])
    assert "~Disk 1 is full~" in shown and "seen 2 times" in shown
    assert "*2 alerts* for Acme Dental" in shown and "worst :large_orange_circle: high" in shown


async def test_two_batches_at_once_open_one_group(bot: Bot, client, db, clock, fake_slack):
    tenant = await tenant_with(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await asyncio.gather(*(send(client, tenant, alert(acme, number)) for number in range(8)))
    await settle(bot)
    (parent,) = top_level(fake_slack)
    assert len(replies(fake_slack, parent)) == 7
    assert "*8 alerts*" in all_text(parent["blocks"])
    async with db.unit_of_work() as session:
        (group,) = (await session.scalars(select(AlertGroup))).all()
        assert group.count == 8


async def test_a_burst_for_one_customer_is_a_digest_in_the_thread(
    bot: Bot, client, db, clock, fake_slack
):
    """Thirty at once: the parent, then the replies queued behind it merged into a
    digest posted in the parent's thread (Slack takes about one message a second
    per channel, threads included), every alert listed."""
    tenant = await tenant_with(db, clock)
    acme = tenant.accounts["Acme Dental"]
    await send(client, tenant, *(alert(acme, number) for number in range(30)))
    await settle(bot)
    (parent,) = top_level(fake_slack)
    thread = replies(fake_slack, parent)
    assert any(is_digest(m) for m in thread) and len(thread) < 29
    async with db.unit_of_work() as session:
        ids = set((await session.scalars(select(Alert.id))).all())
    parent_id = parent["metadata"]["event_payload"]["alert_id"]
    assert in_thread(thread) == ids - {parent_id}
    assert "*30 alerts*" in all_text(parent["blocks"])
