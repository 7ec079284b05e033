"""The outbox and its worker against the fake Slack: nothing lost, nothing twice
(bar one documented case), per-channel order, Slack's limits respected."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.delivery import outbox
from bot.delivery.limits import DeliveryLimits, TierLimiter, gcra
from bot.delivery.sender import PERMANENT_ERRORS, Retry, Sender
from bot.delivery.worker import DeliveryWorker
from bot.domain.roles import Role
from bot.notify.digest import digest_payload
from bot.services.tenancy import ensure_msp
from storage.engine import Database, DatabaseUnavailable
from storage.models import OutboxItem
from tests.drive import post
from tests.fake_slack import FakeSlack
from tests.seed import grant

FAST = DeliveryLimits(
    channel_per_second=1000.0,
    channel_burst=100,
    channel_margin_seconds=0.0,
    lease_seconds=5.0,
    retry_base_seconds=0.01,
    retry_cap_seconds=0.05,
    max_attempts=50,
    request_timeout_seconds=2.0,
    poll_seconds=0.01,
    batch=50,
    concurrency=16,
)


@pytest.fixture
async def msp_id(db: Database, clock) -> int:
    async with db.unit_of_work() as session:
        return await ensure_msp(session, team_id="T0001", timezone="UTC", now=clock())


def make_worker(db: Database, fake: FakeSlack, limits: DeliveryLimits = FAST) -> DeliveryWorker:
    client = AsyncWebClient(
        token="xoxb-test", base_url=fake.base_url, timeout=limits.request_timeout_seconds
    )
    return DeliveryWorker(
        db=db, sender=Sender(client, TierLimiter({})), limits=limits, digest=digest_payload
    )


async def enqueue_posts(db: Database, msp_id: int, channel: str, texts: list[str], **kw) -> None:
    async with db.unit_of_work() as session:
        for text in texts:
            await outbox.post_message(
                session, msp_id=msp_id, key=f"k:{channel}:{text}", channel=channel, text=text, **kw
            )


async def items(db: Database) -> list[OutboxItem]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())


def posted(fake: FakeSlack, channel: str | None = None) -> list[str]:
    """Texts Slack accepted, in the order it accepted them."""
    return [m["text"] for (ch, _ts), m in fake.messages.items() if channel is None or ch == channel]


async def test_a_post_is_sent_and_its_ts_kept_for_later_updates(db, msp_id, fake_slack):
    await enqueue_posts(db, msp_id, "C1", ["approval pending"])
    worker = make_worker(db, fake_slack)
    await worker.drain()
    [item] = await items(db)
    assert (item.status, item.sent_channel) == ("sent", "C1") and item.ts
    async with db.unit_of_work() as session:
        await outbox.update_message(
            session,
            msp_id=msp_id,
            key="upd1",
            target_key="k:C1:approval pending",
            text="approved by <@U1>",
        )
    await worker.drain()
    [update] = fake_slack.calls_to("chat.update")
    assert (update.args["ts"], update.args["channel"]) == (item.ts, "C1")
    assert posted(fake_slack) == ["approved by <@U1>"]


async def test_an_update_before_the_post_left_changes_the_post(db, msp_id, fake_slack):
    await enqueue_posts(db, msp_id, "C1", ["v1"])
    async with db.unit_of_work() as session:
        await outbox.update_message(
            session, msp_id=msp_id, key="upd", target_key="k:C1:v1", text="v2"
        )
    await make_worker(db, fake_slack).drain()
    assert posted(fake_slack) == ["v2"] and fake_slack.calls_to("chat.update") == []


async def test_the_same_key_is_queued_once(db, msp_id, fake_slack):
    await enqueue_posts(db, msp_id, "C1", ["once"])
    await enqueue_posts(db, msp_id, "C1", ["once"])
    await make_worker(db, fake_slack).drain()
    assert posted(fake_slack) == ["once"]


async def test_a_rolled_back_transaction_queues_nothing(db, msp_id, fake_slack):
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as session:
            await outbox.post_message(session, msp_id=msp_id, key="x", channel="C1", text="never")
            raise RuntimeError("the change failed")
    assert await items(db) == []


async def test_429_retry_after_is_honoured(db, msp_id, fake_slack):
    fake_slack.fail("chat.postMessage", status=429, retry_after=1)
    await enqueue_posts(db, msp_id, "C1", ["patient"])
    await make_worker(db, fake_slack).drain()
    first, second = fake_slack.calls_to("chat.postMessage")
    assert second.at - first.at >= 1.0  # the wait is measured
    assert posted(fake_slack) == ["patient"]


async def test_a_burst_of_500s_backs_off_and_delivers(db, msp_id, fake_slack):
    fake_slack.fail("chat.postMessage", status=500, times=5)
    await enqueue_posts(db, msp_id, "C1", ["sturdy"])
    worker = make_worker(db, fake_slack)
    await worker.drain()
    calls = fake_slack.calls_to("chat.postMessage")
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert len(calls) == 6 and posted(fake_slack) == ["sturdy"]
    assert gaps[-1] > gaps[0] * 0.9  # backing off, not hammering
    [item] = await items(db)
    assert item.attempts == 6 and worker.stats.retried["http_500"] == 5


async def test_a_slow_answer_within_the_timeout_is_just_slow(db, msp_id, fake_slack):
    fake_slack.fail("chat.postMessage", delay=0.3)
    await enqueue_posts(db, msp_id, "C1", ["slow"])
    await make_worker(db, fake_slack).drain()
    assert posted(fake_slack) == ["slow"] and len(fake_slack.calls_to("chat.postMessage")) == 1


async def test_an_answer_slower_than_the_timeout_is_retried_at_most_one_duplicate(
    db, msp_id, fake_slack
):
    """Slack may have posted a message whose answer we never got: we retry, so it can
    appear twice (documented), never three times and never zero."""
    fake_slack.fail("chat.postMessage", delay=1.0)
    await enqueue_posts(db, msp_id, "C1", ["timed out"])
    await make_worker(db, fake_slack, replace(FAST, request_timeout_seconds=0.3)).drain()
    await asyncio.sleep(1.0)  # let the slow first answer land
    assert 1 <= posted(fake_slack).count("timed out") <= 2
    [item] = await items(db)
    assert item.status == "sent"


@pytest.mark.parametrize(
    "error",
    [
        "channel_not_found",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "msg_too_long",
    ],
)
async def test_permanent_errors_stop_at_once_and_say_why(db, msp_id, fake_slack, error):
    assert error in PERMANENT_ERRORS
    fake_slack.fail("chat.postMessage", error=error)
    await enqueue_posts(db, msp_id, "C1", ["doomed", "next"])
    worker = make_worker(db, fake_slack)
    await worker.drain()
    doomed, following = await items(db)
    assert (doomed.status, doomed.last_error, doomed.attempts) == ("failed", error, 1)
    assert following.status == "sent"  # a dead item does not block its channel
    assert worker.stats.failed[error] == 1


async def test_not_in_a_public_channel_joins_once_then_posts(db, msp_id, fake_slack):
    fake_slack.add_channel("C9", name="alerts", is_member=False)
    await enqueue_posts(db, msp_id, "C9", ["hello"])
    await make_worker(db, fake_slack).drain()
    assert [c.args["channel"] for c in fake_slack.calls_to("conversations.join")] == ["C9"]
    assert posted(fake_slack, "C9") == ["hello"]


async def test_not_in_a_private_channel_fails_with_the_reason(db, msp_id, fake_slack):
    fake_slack.add_channel("G9", name="secret", is_private=True, is_member=False)
    await enqueue_posts(db, msp_id, "G9", ["hello"])
    await make_worker(db, fake_slack).drain()
    [item] = await items(db)
    assert (item.status, item.last_error) == ("failed", "not_in_channel")
    assert fake_slack.calls_to("conversations.join") == []


async def test_items_survive_a_restart_and_go_out(db, database_url, msp_id, fake_slack, backend):
    await enqueue_posts(db, msp_id, "C1", [f"m{n}" for n in range(5)])
    await db.dispose()  # the process that queued them is gone
    fresh = Database(database_url)
    try:
        await make_worker(fresh, fake_slack).drain()
    finally:
        await fresh.dispose()
    assert posted(fake_slack) == [f"m{n}" for n in range(5)]


async def test_a_crash_between_sending_and_recording_causes_one_duplicate(
    db, msp_id, fake_slack, monkeypatch
):
    await enqueue_posts(db, msp_id, "C1", ["crash"])
    crashed = make_worker(db, fake_slack, replace(FAST, lease_seconds=0.3))

    async def die(*_args, **_kwargs):
        raise asyncio.CancelledError  # the process died right after Slack answered

    monkeypatch.setattr(crashed, "_record", die)
    await crashed.run_once()
    await asyncio.gather(*crashed._in_flight, return_exceptions=True)
    assert posted(fake_slack) == ["crash"]
    [item] = await items(db)
    assert item.status == "sending"  # claimed, never recorded
    await asyncio.sleep(0.35)  # the lease runs out
    await make_worker(db, fake_slack).drain()
    assert posted(fake_slack) == ["crash", "crash"]  # one duplicate, no more
    [item] = await items(db)
    assert item.status == "sent"


async def test_an_outcome_the_database_could_not_take_is_recorded_not_sent_again(
    db, msp_id, fake_slack, monkeypatch, backend
):
    """The database went away right after Slack accepted a post (a restart) and
    stayed away past the lease: the same process records the post when the database
    answers again, instead of claiming it again and showing it twice."""
    await enqueue_posts(db, msp_id, "C1", ["once", "next"])
    worker = make_worker(db, fake_slack, replace(FAST, lease_seconds=0.3, concurrency=1))
    write_outcome = worker._write_outcome
    away = True

    async def database_away(*args, **kwargs):
        if away:
            raise DatabaseUnavailable("cannot connect to the database (restarting)")
        return await write_outcome(*args, **kwargs)

    monkeypatch.setattr(worker, "_write_outcome", database_away)
    await worker.run_once()
    await asyncio.gather(*worker._in_flight)
    assert posted(fake_slack) == ["once"]
    await asyncio.sleep(0.35)  # the lease runs out while the database is still away
    away = False
    await worker.drain()

    assert posted(fake_slack) == ["once", "next"]  # not "once" twice
    assert [(item.status, item.attempts) for item in await items(db)] == [("sent", 1), ("sent", 1)]


async def test_a_late_outcome_does_not_overwrite_a_later_claims(db, msp_id, fake_slack):
    """A replica whose lease ran out before it could record must not overwrite the
    item another replica claimed (and sent) since."""
    await enqueue_posts(db, msp_id, "C1", ["late"])
    first = make_worker(db, fake_slack, replace(FAST, lease_seconds=0.3))
    [claimed] = await first._claim(1)
    await asyncio.sleep(0.35)
    second = make_worker(db, fake_slack)
    await second.drain()
    await first._write_outcome(claimed.id, claimed.attempts, Retry(reason="timeout"))

    [item] = await items(db)
    assert (item.status, item.attempts) == ("sent", 2)


async def test_per_channel_order_holds_through_faults(db, msp_id, fake_slack, backend):
    fake_slack.fault_rate("chat.postMessage", 0.3, seed=7)
    for channel in ("C1", "C2", "C3"):
        await enqueue_posts(db, msp_id, channel, [f"{channel}-{n:02d}" for n in range(30)])
    await make_worker(db, fake_slack).drain(timeout=60)
    for channel in ("C1", "C2", "C3"):
        assert posted(fake_slack, channel) == [f"{channel}-{n:02d}" for n in range(30)]


async def test_a_thousand_messages_with_30_percent_faults_all_arrive_once(
    db, msp_id, fake_slack, backend
):
    fake_slack.fault_rate("chat.postMessage", 0.3, seed=42)
    channels = [f"C{n}" for n in range(10)]
    for channel in channels:
        await enqueue_posts(db, msp_id, channel, [f"{channel}/{n:03d}" for n in range(100)])
    worker = make_worker(db, fake_slack)
    await worker.drain(timeout=120)
    texts = posted(fake_slack)
    assert len(texts) == 1000 and len(set(texts)) == 1000
    failures = [c for c in fake_slack.calls_to("chat.postMessage")]
    assert len(failures) > 1200  # the faults really happened
    assert {item.status for item in await items(db)} == {"sent"}


async def test_a_busy_channel_gets_a_digest_and_nothing_is_lost(db, msp_id, fake_slack):
    await enqueue_posts(db, msp_id, "C1", ["approval"])
    await enqueue_posts(db, msp_id, "C1", [f"alert {n}" for n in range(15)], coalescible=True)
    await enqueue_posts(db, msp_id, "C1", ["after"])
    await make_worker(db, fake_slack, replace(FAST, coalesce_threshold=10)).drain()
    texts = posted(fake_slack, "C1")
    assert texts[0] == "approval" and texts[-1] == "after" and len(texts) == 3
    digest_message = list(fake_slack.messages.values())[1]
    shown = " ".join(b.get("text", {}).get("text", "") for b in digest_message["blocks"])
    assert all(f"alert {n}" in shown for n in range(15))
    stored = await items(db)
    assert sum(item.status == "coalesced" for item in stored) == 14
    assert all(
        item.payload["text"].startswith("alert") for item in stored if item.status == "coalesced"
    )


async def _rounds(worker: DeliveryWorker, count: int = 10) -> None:
    """Delivery rounds for what is due now (drain() would wait for held items)."""
    for _ in range(count):
        await worker.run_once()
        await asyncio.sleep(0.02)


async def test_posts_held_for_later_are_not_merged_into_a_digest_now(db, msp_id, fake_slack):
    await enqueue_posts(db, msp_id, "U1", [f"now {n}" for n in range(10)], coalescible=True)
    await enqueue_posts(
        db,
        msp_id,
        "U1",
        [f"later {n}" for n in range(10)],
        coalescible=True,
        hold=timedelta(hours=8),
    )
    await _rounds(make_worker(db, fake_slack, replace(FAST, coalesce_threshold=10)))
    (digest,) = posted(fake_slack, "D1")
    assert "now 9" in digest and "later" not in digest
    held = [item for item in await items(db) if item.payload["text"].startswith("later")]
    assert {item.status for item in held} == {"pending"}


async def test_a_reply_goes_into_the_thread_of_the_message_it_names(db, msp_id, fake_slack):
    await enqueue_posts(db, msp_id, "C1", ["parent"])
    async with db.unit_of_work() as session:
        await outbox.post_message(
            session,
            msp_id=msp_id,
            key="reply",
            channel="C1",
            text="reply",
            thread_key="k:C1:parent",
        )
        await outbox.post_message(
            session, msp_id=msp_id, key="orphan", channel="C1", text="orphan", thread_key="nope"
        )
    await make_worker(db, fake_slack).drain()
    _parent, reply, orphan = fake_slack.calls_to("chat.postMessage")
    assert "thread_key" not in reply.args and "thread_key" not in orphan.args
    parent_ts = next(ts for (_c, ts), m in fake_slack.messages.items() if m["text"] == "parent")
    assert reply.args["thread_ts"] == parent_ts and reply.args["reply_broadcast"] is True
    assert "thread_ts" not in orphan.args  # no such parent: a plain post, not lost


async def test_an_update_of_a_message_sent_as_a_digest_does_not_overwrite_the_digest(
    db, msp_id, fake_slack
):
    await enqueue_posts(db, msp_id, "C1", [f"alert {n}" for n in range(12)], coalescible=True)
    await make_worker(db, fake_slack, replace(FAST, coalesce_threshold=10)).drain()
    async with db.unit_of_work() as session:
        for key in ("k:C1:alert 0", "k:C1:alert 5"):  # the digest's head, and a merged one
            skipped = await outbox.update_message(
                session,
                msp_id=msp_id,
                key=f"u:{key}",
                target_key=key,
                text="quiet",
                skip_if_merged=True,
            )
            assert skipped is None
        await outbox.update_message(
            session, msp_id=msp_id, key="u:loud", target_key="k:C1:alert 0", text="loud"
        )
    await make_worker(db, fake_slack).drain()
    assert fake_slack.calls_to("chat.update") == []
    assert posted(fake_slack, "C1")[-1] == "loud"  # posted anew, the digest left as it was
    (digest,) = [m for m in fake_slack.messages.values() if "updates" in m["text"]]
    assert "alert 0" in digest["text"]


async def test_a_digest_that_is_retried_stays_the_same_digest(db, msp_id, fake_slack):
    """Found by bench/alerts.py: a retry of a digest merged it again, into a generic
    digest of the digest, and its alerts lost "List all"."""
    async with db.unit_of_work() as session:
        for n in range(40):
            metadata = {
                "event_type": "msp_alert",
                "event_payload": {
                    "alert_id": n + 1,
                    "severity": "high",
                    "customer": "A",
                    "title": f"t{n}",
                },
            }
            await outbox.post_message(
                session,
                msp_id=msp_id,
                key=f"a{n}",
                channel="C1",
                text=f"alert {n}",
                metadata=metadata,
                coalescible=True,
            )
    fake_slack.fail("chat.postMessage", status=500)
    limits = replace(FAST, coalesce_threshold=10, coalesce_max=20, retry_base_seconds=0.01)
    await make_worker(db, fake_slack, limits).drain()
    shown = [m for (ch, _ts), m in fake_slack.messages.items() if ch == "C1"]
    assert [m["text"].split(":")[0] for m in shown] == ["20 alerts", "20 alerts"]
    stored = {item.key: item for item in await items(db)}
    assert stored["a0"].original_payload["text"] == "alert 0"  # not the first digest
    assert sum(item.coalesced_into == stored["a0"].id for item in stored.values()) == 19


async def test_the_channel_limit_is_kept_without_provoking_429s(db, msp_id, fake_slack):
    # Slack tolerates a little jitter; the fake allows one early arrival, we send none.
    fake_slack.limit_rate("chat.postMessage", per_second=10, burst=2)
    await enqueue_posts(db, msp_id, "C1", [f"p{n}" for n in range(6)])
    started = time.monotonic()
    await make_worker(db, fake_slack, replace(FAST, channel_per_second=10, channel_burst=1)).drain()
    assert time.monotonic() - started >= 0.45
    assert fake_slack.rate_limited == 0 and len(posted(fake_slack)) == 6


def test_gcra_allows_a_burst_then_the_rate():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, tzinfo=UTC)
    tat = now
    allowed = []
    for _ in range(5):
        ok, tat, _at = gcra(tat=tat, now=now, per_second=1, burst=3)
        allowed.append(ok)
    assert allowed == [True, True, True, False, False]
    ok, _tat, at = gcra(tat=tat, now=now, per_second=1, burst=3)
    assert not ok and at == now + timedelta(seconds=1)


async def test_a_method_tier_lets_a_burst_go_then_one_a_tick_on_its_clock():
    """The tier bucket reads and sleeps on the clock it is given: 60 a minute is a
    burst of 10, then one a second, a 429's Retry-After holding every send."""
    elapsed = 0.0

    async def sleep(seconds: float) -> None:
        nonlocal elapsed
        elapsed += seconds

    tiers = TierLimiter({"chat.postMessage": 60}, monotonic=lambda: elapsed, sleep=sleep)
    for _ in range(10):
        await tiers.acquire("chat.postMessage")
    assert elapsed == 0 and tiers.waits["chat.postMessage"] == 0
    await tiers.acquire("chat.postMessage")
    assert elapsed == pytest.approx(1.0) and tiers.waits["chat.postMessage"] == 1
    tiers.pause("chat.postMessage", 30)
    await tiers.acquire("chat.postMessage")
    assert elapsed >= 31.0
    await tiers.acquire("views.open")  # a method without a tier never waits


async def test_home_publishes_keep_only_the_newest_view(db, msp_id, fake_slack):
    async with db.unit_of_work() as session:
        for version in range(3):
            await outbox.publish_home(
                session,
                msp_id=msp_id,
                user_id="U1",
                view={"type": "home", "blocks": [], "private_metadata": str(version)},
            )
    await make_worker(db, fake_slack).drain()
    [call] = fake_slack.calls_to("views.publish")
    assert call.args["view"]["private_metadata"] == "2"


async def test_msp_delivery_shows_admins_what_failed_and_why(client, slack, db, fake_slack, bot):
    await grant(db, "U0001", Role.ADMIN)
    await grant(db, "U0002", Role.MEMBER)
    fake_slack.fail("chat.postMessage", error="is_archived")
    async with db.unit_of_work() as session:
        from storage.repositories import msps

        msp = await msps.get_by_team(session, "T0001")
        await outbox.post_message(
            session, msp_id=msp.id, key="a", channel="C0042", text="to archive"
        )
    await bot.delivery.drain()
    reply = await post(client, slack.slash_command("delivery", user_id="U0001"))
    shown = " ".join(b.get("text", {}).get("text", "") for b in reply.json["blocks"] if "text" in b)
    assert "`is_archived`: 1: the channel is archived" in shown
    assert "<#C0042>" in shown
    refused = await post(client, slack.slash_command("delivery", user_id="U0002"))
    assert "cannot use /msp delivery" in refused.json["text"]


async def test_two_replicas_share_the_work_without_sending_twice(
    db, database_url, msp_id, fake_slack, backend
):
    """Each replica claims lane heads with SKIP LOCKED (PostgreSQL) or behind SQLite's
    single writer: every message goes once, each channel in order."""
    fake_slack.fault_rate("chat.postMessage", 0.2, seed=3)
    channels = [f"C{n}" for n in range(6)]
    for channel in channels:
        await enqueue_posts(db, msp_id, channel, [f"{channel}:{n:02d}" for n in range(25)])
    other = Database(database_url)
    try:
        await asyncio.gather(
            make_worker(db, fake_slack).drain(timeout=90),
            make_worker(other, fake_slack).drain(timeout=90),
        )
    finally:
        await other.dispose()
    texts = posted(fake_slack)
    assert len(texts) == 150 and len(set(texts)) == 150
    for channel in channels:
        assert posted(fake_slack, channel) == [f"{channel}:{n:02d}" for n in range(25)]


async def test_finished_items_are_pruned_and_waiting_ones_kept(db, msp_id, fake_slack, bot):
    from datetime import UTC, datetime, timedelta

    from scheduler.jobs.outbox_retention import prune_outbox

    await enqueue_posts(db, msp_id, "C1", ["old"])
    await make_worker(db, fake_slack).drain()
    await enqueue_posts(db, msp_id, "C2", ["waiting"])
    assert await prune_outbox(db=db, now=datetime.now(UTC) + timedelta(days=13)) == 0
    assert await prune_outbox(db=db, now=datetime.now(UTC) + timedelta(days=15)) == 1
    assert [item.payload["text"] for item in await items(db)] == ["waiting"]
    assert bot.scheduler.get_job("prune_outbox") is not None


async def test_ephemeral_messages_go_through_the_outbox_too(db, msp_id, fake_slack):
    async with db.unit_of_work() as session:
        await outbox.post_ephemeral(
            session, msp_id=msp_id, key="eph", channel="C1", user="U7", text="only you"
        )
    await make_worker(db, fake_slack).drain()
    [call] = fake_slack.calls_to("chat.postEphemeral")
    assert (call.args["channel"], call.args["user"], call.args["text"]) == ("C1", "U7", "only you")
    [item] = await items(db)
    assert item.status == "sent"


async def test_the_method_tier_cap_holds_sends_back():
    limiter = TierLimiter({"chat.update": 60})  # one a second, ten in a burst
    started = time.monotonic()
    for _ in range(11):
        await limiter.acquire("chat.update")
    assert time.monotonic() - started >= 0.9  # the eleventh waited for a token
    limiter.pause("chat.update", 0.3)  # after a 429 on the method
    paused = time.monotonic()
    await limiter.acquire("chat.update")
    assert time.monotonic() - paused >= 0.3
    await limiter.acquire("not.capped")  # methods without a cap never wait


async def test_items_waiting_for_a_send_slot_are_not_claimed_twice(db, msp_id, fake_slack):
    """Found by tests/resilience/test_kill_restart.py's author: the worker used to
    claim a whole batch of lanes however few send slots were free, so an item
    waiting for a slot longer than its lease was claimed again and sent twice."""
    for n in range(12):
        await enqueue_posts(db, msp_id, f"C{n:02d}", [f"only once {n}"])
    fake_slack.fail("chat.postMessage", delay=0.1, times=12)
    worker = make_worker(db, fake_slack, replace(FAST, concurrency=1, lease_seconds=0.25))
    await worker.drain(timeout=20)
    assert sorted(posted(fake_slack)) == sorted(f"only once {n}" for n in range(12))


async def test_the_claimable_heads_are_each_lanes_first_waiting_item_when_due(db, backend):
    """The heads come from walking the waiting items lane by lane: over MSPs sharing
    lane names, lanes whose head is not due, leases running or run out and finished
    items in between, they are exactly the first active item of each lane that is
    due, oldest due first, as a reading of every row says."""
    import random
    from datetime import UTC, datetime

    from storage.repositories import outbox as outbox_repo

    rng = random.Random(7)
    now = datetime.now(UTC)
    async with db.unit_of_work() as session:
        msps = [
            await ensure_msp(session, team_id=f"T{n}", timezone="UTC", now=now) for n in range(3)
        ]
    rows = []
    for n in range(400):
        status = rng.choice(["pending"] * 5 + ["sending", "sent", "failed", "coalesced"])
        rows.append(
            {
                "msp_id": rng.choice(msps),
                "key": f"k{n}",
                "kind": "post",
                "lane": rng.choice(["C1", "C2", "C10", "D1", "home:U1"]),
                "payload": {"channel": "C1", "text": str(n)},
                "status": status,
                "attempts": 1,
                "next_attempt_at": now + timedelta(seconds=rng.choice([-60, -1, 30])),
                "lease_until": now + timedelta(seconds=rng.choice([-5, 5]))
                if status == "sending"
                else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    async with db.unit_of_work() as session:
        await outbox_repo.insert_many(session, rows)
    every = await items(db)
    first: dict[tuple[int, str], OutboxItem] = {}
    for item in every:  # in id order
        if item.status in ("pending", "sending"):
            first.setdefault((item.msp_id, item.lane), item)
    due = sorted(
        (
            item
            for item in first.values()
            if (item.status == "pending" and item.next_attempt_at <= now)
            or (item.status == "sending" and item.lease_until < now)
        ),
        key=lambda item: (item.next_attempt_at, item.id),
    )
    assert len(first) > 10 and 0 < len(due) < len(first)  # the data says something
    for limit in (len(due) + 5, 4):
        async with db.unit_of_work() as session:
            heads = await outbox_repo.claimable_heads(session, now=now, limit=limit)
        assert [item.id for item in heads] == [item.id for item in due[:limit]]
    async with db.unit_of_work() as session:  # nothing waiting: no head, and no error
        await session.execute(OutboxItem.__table__.update().values(status="sent", lease_until=None))
    async with db.unit_of_work() as session:
        assert await outbox_repo.claimable_heads(session, now=now, limit=20) == []
