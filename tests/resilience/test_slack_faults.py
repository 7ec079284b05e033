"""The fake Slack failing 30% of posts and updates with 429/500/503 for a whole alert
storm (resilience): every alert reaches every subscribed channel exactly
once (its own message or a digest's List all), nothing is lost, nothing doubled,
nothing given up on. Figures: docs/RELIABILITY.md."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from sqlalchemy import select

from storage.models import Alert, OutboxItem
from tests.drive import post_json
from tests.seed import make_tenant
from tests.support import fast_bot
from tests.test_alert_routing import subscribe

pytestmark = pytest.mark.resilience
CHANNELS = ("C0R1", "C0R2", "C0R3")


@pytest.fixture
async def bot(settings, db, clock):
    return fast_bot(settings, db, clock)


def _alerts_shown(message: dict) -> list[int]:
    """The alert ids a message in Slack stands for: its own, or a digest's list."""
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") == "msp_alert":
        return [metadata["event_payload"]["alert_id"]]
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == "alert_list_all":
                return json.loads(element["value"])["alert_ids"]
    return []


async def test_an_alert_storm_through_30_percent_faults_arrives_once(
    client, bot, db, clock, fake_slack, backend
):
    tenant = await make_tenant(db, clock, names={f"Customer {n}": 100 for n in range(10)})
    for channel in CHANNELS:
        await subscribe(db, clock, tenant, channel)
    for method in ("chat.postMessage", "chat.update"):
        fake_slack.fault_rate(method, 0.3, seed=7)
    started = time.perf_counter()
    accounts = list(tenant.accounts.values())
    for batch in range(6):  # 300 new alerts, then 60 repeats of open ones
        alerts = [
            {
                "customer": accounts[n % 10],
                "kind": "disk",
                "severity": "high",
                "title": f"Disk {batch}-{n}",
                "dedup_key": f"disk:{batch % 5}:{n}",
            }
            for n in range(60)
        ]
        answer = await post_json(client, "/api/v1/alerts", tenant.token, {"alerts": alerts})
        assert answer.status == 200, answer.json
        bot.delivery.wake()
    await bot.delivery.drain(timeout=180)
    elapsed = time.perf_counter() - started

    async with db.unit_of_work() as session:
        alert_ids = set((await session.scalars(select(Alert.id))).all())
        statuses = Counter((await session.scalars(select(OutboxItem.status))).all())
    assert len(alert_ids) == 300
    assert set(statuses) <= {"sent", "coalesced"}, statuses  # nothing failed, nothing left
    for channel in CHANNELS:
        shown = Counter(
            alert_id
            for (where, _ts), message in fake_slack.messages.items()
            if where == channel
            for alert_id in _alerts_shown(message)
        )
        assert set(shown) == alert_ids, channel  # none lost
        assert max(shown.values()) == 1, channel  # none doubled
    calls = Counter(call.method for call in fake_slack.calls)
    print(
        f"\n300 alerts + 60 repeats to {len(CHANNELS)} channels through 30% faults in "
        f"{elapsed:.1f} s: outbox {dict(statuses)}, Slack calls {dict(calls)}, "
        f"retried {dict(bot.delivery.stats.retried)}, failed {dict(bot.delivery.stats.failed)}"
    )
    assert not bot.delivery.stats.failed
