"""Scheduled notices with an injected clock: each on its day and not the
day before, where it goes (subscribers, else assigned staff or owners), the latest
relevant one after downtime, 09:00 local across DST, and exactly once when two
replicas sweep at the same moment or a sweep is interrupted and run again."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Bot
from bot.domain.roles import Role
from bot.ids import ActionId
from bot.notify.notifiers import Notifiers, outbox_notifiers
from bot.payloads import RequestFormState
from scheduler.jobs.notices import run_sweep
from scheduler.jobs.requests import roll_renewals
from storage.engine import Database
from storage.models import Alert, AlertSubscription, AuditEvent, Customer, Notice, OutboxItem
from tests.drive import all_text, calls_to, messages_in, post, submit_add
from tests.drive import day as shown_day
from tests.rows import msp_id_of
from tests.seed import grant, paid, seed_customer, set_msp
from tests.support import FakeClock, fast_bot, migrated_database
from tests.wait import settle

TRIALS, MAU, DIGEST, REQUESTS = "C0TRIALS", "C0MAU", "C0DIGEST", "C0REQUESTS"
OWNER, MEMBER = "U0001", "U0004"


@pytest.fixture
async def bot(settings, db, clock) -> Bot:
    return fast_bot(settings, db, clock)


@pytest.fixture
async def msp(db: Database) -> int:
    await grant(db, OWNER, Role.OWNER)
    await grant(db, MEMBER, Role.MEMBER)
    return await msp_id_of(db)


async def subscribe(db: Database, msp_id: int, target: str, *topics: str) -> None:
    async with db.unit_of_work() as session:
        session.add(
            AlertSubscription(
                msp_id=msp_id,
                target=target,
                target_kind="person" if target.startswith("U") else "channel",
                topics=list(topics),
                created_by=OWNER,
                created_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
        )


def at(clock: FakeClock, moment: datetime) -> FakeClock:
    clock.set(moment)
    return clock


async def sweep(db: Database, clock, name: str, notifiers: Notifiers | None = None) -> int:
    notifiers = notifiers or outbox_notifiers()
    return await run_sweep(name, db=db, clock=clock, wake=lambda: None, notifiers=notifiers)


async def posts(db: Database) -> list[dict[str, Any]]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxItem).where(OutboxItem.kind == "post").order_by(OutboxItem.id)
        )
        return [
            {**row.payload, "to": row.lane, "text": all_text(row.payload.get("blocks") or [])}
            for row in rows.all()
        ]


# ---------------------------------------------------------------- trials


async def test_trial_notices_come_7_3_and_1_days_before_and_not_the_day_before(
    backend, db, clock, msp
):
    await subscribe(db, msp, TRIALS, "trials")
    await seed_customer(
        db, name="Acme <Dental>", status="active_trial", users=5, trial_end=date(2026, 12, 10)
    )
    sent_on = []
    for day in range(1, 11):  # 2026-12-01 .. 2026-12-10
        at(clock, datetime(2026, 12, day, 6, 0, tzinfo=UTC))
        for _ in range(2):  # a second sweep the same day sends nothing
            if await sweep(db, clock, "trial_expiry_notices"):
                sent_on.append(day)
    assert sent_on == [3, 7, 9]  # 7, 3 and 1 days before the 10th
    texts = [post["text"] for post in await posts(db)]
    assert all(post["to"] == TRIALS for post in await posts(db))
    # R4: the days left count today, so 7, 3 and 1 days before the last day say 8, 4, 2.
    assert "Acme &lt;Dental&gt;" in texts[0] and "has 8 days left" in texts[0]
    assert "has 4 days left" in texts[1] and "has 2 days left" in texts[2]


async def test_after_downtime_only_the_nearest_trial_notice_is_sent(db, clock, msp):
    await subscribe(db, msp, TRIALS, "trials")
    await seed_customer(db, name="Late", status="active_trial", trial_end=date(2026, 12, 10))
    at(clock, datetime(2026, 12, 8, 6, tzinfo=UTC))  # down from the 1st: 7 and 3 were missed
    assert await sweep(db, clock, "trial_expiry_notices") == 1
    (post,) = await posts(db)
    assert "has 3 days left" in post["text"]
    async with db.unit_of_work() as session:
        assert (await session.scalars(select(Notice.period))).all() == ["2026-12-10:3"]


async def test_without_trials_subscribers_the_assigned_staff_hear_of_it(db, clock, msp):
    await seed_customer(
        db, name="Mine", status="active_trial", trial_end=date(2026, 12, 8), assigned=[MEMBER]
    )
    await seed_customer(db, name="Nobody's", status="active_trial", trial_end=date(2026, 12, 8))
    at(clock, datetime(2026, 12, 1, 6, tzinfo=UTC))
    assert await sweep(db, clock, "trial_expiry_notices") == 2  # both recorded
    assert [post["to"] for post in await posts(db)] == [MEMBER]


async def test_each_msps_own_notice_days_and_its_own_today(db, clock, msp):
    await set_msp(db, trial_notice_days="14", timezone="Pacific/Auckland")
    await subscribe(db, msp, TRIALS, "trials")
    await seed_customer(db, name="Kiwi", status="active_trial", trial_end=date(2026, 12, 15))
    at(clock, datetime(2026, 11, 30, 10, 59, tzinfo=UTC))  # 23:59 on the 30th in Auckland
    assert await sweep(db, clock, "trial_expiry_notices") == 0
    at(clock, datetime(2026, 11, 30, 11, 0, tzinfo=UTC))  # midnight: the 1st there
    assert await sweep(db, clock, "trial_expiry_notices") == 1
    assert "has 15 days left" in (await posts(db))[0]["text"]


async def test_a_30_day_trial_added_on_the_22nd_is_active_30_days_then_expires(
    backend, client, slack, db, clock, msp, fake_slack
):
    """R4 end to end: added on 11-22 with 30 days, the 22nd is day 1, 12-21 the last
    active day (the card says so), and the sweep of 12-22 ends it."""
    at(clock, datetime(2026, 11, 22, 9, tzinfo=UTC))
    added = await submit_add(client, slack, name="Month Trial", email="m@example.com")
    assert "Active trial (30 days left)" in all_text(added.json["view"]["blocks"])
    async with db.unit_of_work() as session:
        customer = await session.scalar(select(Customer))
        assert customer is not None and customer.trial_end == date(2026, 12, 21)
    at(clock, datetime(2026, 12, 21, 23, 59, tzinfo=UTC))
    card = await post(client, slack.slash_command("customer Month Trial", user_id=OWNER))
    assert "Active trial (ends today)" in all_text(card.json["blocks"])
    assert await sweep(db, clock, "end_trials") == 0  # day 30
    at(clock, datetime(2026, 12, 22, 0, 0, tzinfo=UTC))
    assert await sweep(db, clock, "end_trials") == 1


async def test_a_trial_ends_the_day_after_its_last_day_once_and_audited(backend, db, clock, msp):
    await subscribe(db, msp, TRIALS, "trials")
    customer_id = await seed_customer(
        db, name="Ending", status="active_trial", users=5, trial_end=date(2026, 12, 1)
    )
    at(clock, datetime(2026, 12, 1, 23, 59, tzinfo=UTC))
    assert await sweep(db, clock, "end_trials") == 0  # its last day
    at(clock, datetime(2026, 12, 2, 0, 0, tzinfo=UTC))
    assert await sweep(db, clock, "end_trials") == 1
    assert await sweep(db, clock, "end_trials") == 0
    async with db.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert (customer.status, customer.plan) == ("expired_trial", "free")
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "customer"))
        ).all()
    assert [(e.before["status"], e.after["status"]) for e in events] == [
        ("active_trial", "expired_trial")
    ]
    assert [e.entity_id for e in events] == [customer.account_number]  # not the row id
    (post,) = await posts(db)
    assert "free plan" in post["text"] and "over the free plan's 3" in post["text"]


async def test_a_trial_that_ends_over_the_free_limits_is_flagged_by_an_alert_at_once(
    backend, db, clock, msp
):
    """R15: the expired trial's free plan allows 3 users; one ending with 5 gets the
    over-free-limits alert from the sweep that ends it, not at the next usage report."""
    await seed_customer(
        db, name="Crowded", status="active_trial", users=5, trial_end=date(2026, 12, 1)
    )
    await seed_customer(
        db, name="Small", status="active_trial", users=2, trial_end=date(2026, 12, 1)
    )
    at(clock, datetime(2026, 12, 2, 0, 0, tzinfo=UTC))
    assert await sweep(db, clock, "end_trials") == 2
    assert await sweep(db, clock, "end_trials") == 0
    async with db.unit_of_work() as session:
        raised = (
            await session.execute(select(Alert.kind, Alert.status, Customer.name).join(Customer))
        ).all()
    assert raised == [("over_free_limits", "firing", "Crowded")]


# ---------------------------------------------------------------- renewals and MAU


async def test_the_renewal_window_notice_comes_a_week_before_the_cut_off(db, clock, msp):
    await subscribe(db, msp, REQUESTS, "requests")
    await seed_customer(db, name="Renewing", renewal_date=date(2027, 3, 1))
    sent = {}
    for day in (date(2027, 1, 22), date(2027, 1, 23), date(2027, 1, 24), date(2027, 1, 30)):
        at(clock, datetime(day.year, day.month, day.day, 6, tzinfo=UTC))
        sent[day.isoformat()] = await sweep(db, clock, "renewal_window_notices")
    assert sent == {"2027-01-22": 0, "2027-01-23": 1, "2027-01-24": 0, "2027-01-30": 0}
    (post,) = await posts(db)
    assert "Last week to decrease licences, downgrade or cancel" in post["text"]
    assert "|1 Mar 2027>" in post["text"]  # a date token, with a readable fallback


async def test_the_renewal_window_notice_comes_again_in_the_following_term(
    client, bot, db, clock, msp, fake_slack
):
    """The renewal job rolls the term on, and the next term's window has its own
    notice (each is kept once per customer and renewal date), sent to Slack."""
    await subscribe(db, msp, REQUESTS, "requests")
    await paid(db, name="Renewing")  # annual, from 2026-03-01, renewing on 2027-03-01
    sent: dict[str, int] = {}
    for renewal in (date(2027, 3, 1), date(2028, 3, 1)):
        first_day = renewal - timedelta(days=37)  # a week before the 30-day cut-off
        for day in (first_day - timedelta(days=1), first_day, first_day + timedelta(days=1)):
            at(clock, datetime(day.year, day.month, day.day, 6, tzinfo=UTC))
            sent[day.isoformat()] = await sweep(db, clock, "renewal_window_notices")
        at(clock, datetime(renewal.year, renewal.month, renewal.day, 6, tzinfo=UTC))
        assert (
            await roll_renewals(db=db, clock=clock, wake=lambda: None, notifiers=bot.notifiers) == 1
        )
    assert sent == {
        "2027-01-22": 0,
        "2027-01-23": 1,
        "2027-01-24": 0,
        "2028-01-23": 0,
        "2028-01-24": 1,
        "2028-01-25": 0,
    }
    bot.delivery.wake()
    await settle(bot)
    shown = [all_text(message["blocks"]) for message in messages_in(fake_slack, REQUESTS)]
    assert len(shown) == 2
    assert "Last week to decrease licences, downgrade or cancel" in shown[0]
    assert "|1 Mar 2027>" in shown[0] and "|1 Mar 2028>" in shown[1]


async def test_mau_notices_at_80_and_100_percent_and_a_projected_overage(db, clock, msp):
    await set_msp(db, mau_allowance=1000)
    await subscribe(db, msp, MAU, "mau")
    customer = await seed_customer(db, name="Busy", mau=500, month=date(2026, 12, 1))
    at(clock, datetime(2026, 12, 10, 6, tzinfo=UTC))  # 500 in 10 of 31 days: ~1,550
    assert await sweep(db, clock, "mau_notices") == 1
    assert await sweep(db, clock, "mau_notices") == 0
    await _set_mau(db, customer, 850)
    assert await sweep(db, clock, "mau_notices") == 1  # 80%
    await _set_mau(db, customer, 1200)
    assert await sweep(db, clock, "mau_notices") == 1  # 100%
    assert await sweep(db, clock, "mau_notices") == 0
    texts = [post["text"] for post in await posts(db)]
    assert (
        "Estimate: at this month's pace so far (500 active users in 10 of 31 days), about "
        "1,550 by the end of the month, 550 over the allowance of 1,000."
    ) in texts[0]
    assert "80% of the allowance: 850 of 1,000" in texts[1]
    assert "100% of the allowance: 1,200 of 1,000" in texts[2]


async def test_after_downtime_only_the_100_percent_mau_notice_is_sent(db, clock, msp):
    await set_msp(db, mau_allowance=1000)
    await seed_customer(db, name="Busy", mau=1500, month=date(2026, 12, 1))
    at(clock, datetime(2026, 12, 20, 6, tzinfo=UTC))
    assert await sweep(db, clock, "mau_notices") == 1  # not 80% too; already over: no projection
    (post,) = await posts(db)
    assert post["to"] == OWNER and "100%" in post["text"]  # no mau subscribers: the owners


async def _set_mau(db: Database, customer_id: int, mau: int) -> None:
    from storage.models import CustomerUsage

    async with db.unit_of_work() as session:
        row = await session.scalar(
            select(CustomerUsage).where(CustomerUsage.customer_id == customer_id)
        )
        row.mau = mau


# ---------------------------------------------------------------- digests and DST


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [(date(2026, 10, 31), 13), (date(2026, 11, 1), 14), (date(2026, 11, 2), 14)],
)
async def test_the_daily_digest_is_at_nine_new_york_time_across_the_dst_change(
    db, clock, msp, day, utc_hour
):
    await set_msp(db, timezone="America/New_York")
    await subscribe(db, msp, DIGEST, "digest")
    await seed_customer(db, name="Someone", status="active_trial", trial_end=day + timedelta(3))
    nine = datetime(day.year, day.month, day.day, utc_hour, 0, tzinfo=UTC)
    at(clock, nine - timedelta(minutes=1))
    assert await sweep(db, clock, "digests") == 0
    at(clock, nine)
    sent = await sweep(db, clock, "digests")
    assert sent == (2 if day.weekday() == 0 else 1)  # Monday brings the weekly summary
    assert await sweep(db, clock, "digests") == 0
    texts = [post["text"] for post in await posts(db)]
    # The day as a date token (each reader's own way of writing it), never as text.
    assert texts[0].startswith(f"Daily digest\n{shown_day(day)} · the whole MSP"), texts[0]
    assert "Trials ending in the next 7 days" in texts[0]


async def test_the_weekly_summary_is_sent_once_a_week(db, clock, msp):
    await subscribe(db, msp, DIGEST, "digest")
    sent = []
    for offset in range(8):  # Monday 2026-11-30 to the next Monday
        at(clock, datetime(2026, 11, 30, 9, 30, tzinfo=UTC) + timedelta(days=offset))
        await sweep(db, clock, "digests")
        sent.append(sum("Weekly summary" in p["text"] for p in await posts(db)))
    assert sent == [1, 1, 1, 1, 1, 1, 1, 2]


# ---------------------------------------------------------------- requests


async def test_a_request_waiting_a_day_is_reminded_in_its_thread_once(
    client, slack, bot, db, clock, fake_slack
):
    from bot.ids import BlockId
    from tests.drive import open_form, submit
    from tests.seed import APPROVALS, grant_staff, paid

    await grant_staff(db)
    await paid(db, assigned=[MEMBER])
    view = await open_form(client, slack, fake_slack, "add-licences Northwind")
    await submit(client, slack, view, **{BlockId.REQUEST_LICENCES: "2"})
    await settle(bot)
    (_approval,) = [
        c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == APPROVALS
    ]
    clock.advance(hours=23, minutes=59)
    assert await sweep(db, clock, "request_reminders") == 0
    clock.advance(minutes=1)
    assert await sweep(db, clock, "request_reminders") == 1
    assert await sweep(db, clock, "request_reminders") == 0
    bot.delivery.wake()
    await settle(bot)
    reminder = fake_slack.calls_to("chat.postMessage")[-1].args
    approval_ts = next(
        ts
        for (channel, ts), m in fake_slack.messages.items()
        if channel == APPROVALS and "thread_ts" not in m
    )
    assert reminder["thread_ts"] == approval_ts and reminder["reply_broadcast"] is True
    assert "has waited over a day" in all_text(reminder["blocks"])
    # It decides as the approval message does; approving asks first, saying what.
    [actions] = [block for block in reminder["blocks"] if block["type"] == "actions"]
    approve, deny = actions["elements"]
    assert (approve["action_id"], deny["action_id"]) == (
        ActionId.REQUEST_APPROVE,
        ActionId.REQUEST_DENY,
    )
    assert approve["confirm"]["title"]["text"] == "Approve request #1?"
    assert "+2 licences" in approve["confirm"]["text"]["text"]
    assert "$" in approve["confirm"]["text"]["text"]


async def test_a_trial_notice_offers_the_next_steps_as_buttons(
    client, slack, bot, db, clock, fake_slack
):
    from tests.seed import grant_staff

    await grant_staff(db)
    msp = await msp_id_of(db)
    await subscribe(db, msp, TRIALS, "trials")
    customer_id = await seed_customer(
        db, name="Acme", status="active_trial", users=5, trial_end=date(2026, 12, 10)
    )
    at(clock, datetime(2026, 12, 3, 6, 0, tzinfo=UTC))
    assert await sweep(db, clock, "trial_expiry_notices") == 1
    [notice] = await posts(db)
    [actions] = [block for block in notice["blocks"] if block["type"] == "actions"]
    assert [b["text"]["text"] for b in actions["elements"]] == [
        "Extend trial",
        "Upgrade plan",
        "Open customer",
    ]
    assert "/msp request" not in notice["text"]  # no command to copy
    extend = actions["elements"][0]
    await post(
        client,
        slack.block_actions(action_id=extend["action_id"], value=extend["value"], user_id="U0002"),
    )
    [opened] = await calls_to(fake_slack, "views.open")
    # The button and the form it opens name the request the same way.
    assert opened.args["view"]["title"]["text"] == "Extend trial"
    assert RequestFormState.decode(opened.args["view"]["private_metadata"]).customer_id == (
        customer_id
    )


# ---------------------------------------------------------------- exactly once


async def test_two_replicas_sweeping_at_the_same_moment_send_each_notice_once(
    backend, database_url, db, clock, msp
):
    await subscribe(db, msp, TRIALS, "trials")
    for n in range(30):
        await seed_customer(
            db, name=f"Trial {n}", status="active_trial", trial_end=date(2026, 12, 1 + n % 8)
        )
    at(clock, datetime(2026, 12, 1, 6, tzinfo=UTC))
    other = await migrated_database(database_url)
    try:
        results = await asyncio.gather(
            *(
                sweep(replica, clock, name)
                for name in ("trial_expiry_notices", "end_trials")
                for replica in (db, other, db, other)
            ),
            return_exceptions=True,
        )
    finally:
        await other.dispose()
    failures = [r for r in results if isinstance(r, BaseException)]
    # A replica that lost a race may fail its transaction (SQLite: locked); it
    # never sends a duplicate, and running it again sends nothing new.
    assert all("lock" in str(f).lower() or "serializ" in str(f).lower() for f in failures), failures
    again = await sweep(db, clock, "trial_expiry_notices")
    sent = await posts(db)
    # Every trial ends within 7 days: each gets its nearest notice, once.
    assert len(sent) == 30 and again == 0
    async with db.unit_of_work() as session:
        keys = (await session.execute(select(Notice.subject_id, Notice.period))).all()
    assert len(keys) == len(set(keys)) == 30


async def test_a_sweep_interrupted_before_it_commits_is_run_again_without_duplicates(
    backend, db, clock, msp
):
    await subscribe(db, msp, TRIALS, "trials")
    for n in range(5):
        await seed_customer(db, name=f"T{n}", status="active_trial", trial_end=date(2026, 12, 4))
    at(clock, datetime(2026, 12, 1, 6, tzinfo=UTC))
    real = outbox_notifiers()

    class CrashAfterTwo:
        alerts = real.alerts

        async def post(self, session, *, notices):
            # The first two messages are enqueued, then the process dies.
            await real.notices.post(session, notices=notices[:2])
            raise RuntimeError("the process died here")

    with pytest.raises(RuntimeError):
        await sweep(db, clock, "trial_expiry_notices", replace(real, notices=CrashAfterTwo()))
    assert await posts(db) == []  # nothing half-written
    assert await sweep(db, clock, "trial_expiry_notices", real) == 5
    assert await sweep(db, clock, "trial_expiry_notices") == 0
    assert len(await posts(db)) == 5


async def test_a_customer_at_its_max_mau_threshold_gets_the_alert_once_a_month(
    backend, db, clock, msp
):
    from storage.models import Alert

    await subscribe(db, msp, "C0ALERTS", "alerts")
    await seed_customer(db, name="Capped", max_mau=100, mau=150, month=date(2026, 12, 1))
    await seed_customer(db, name="Under", max_mau=100, mau=99, month=date(2026, 12, 1))
    await seed_customer(db, name="Last month", max_mau=100, mau=500, month=date(2026, 11, 1))
    at(clock, datetime(2026, 12, 5, 6, tzinfo=UTC))
    assert await sweep(db, clock, "max_mau_alerts") == 1
    assert await sweep(db, clock, "max_mau_alerts") == 0
    async with db.unit_of_work() as session:
        (alert,) = (await session.scalars(select(Alert))).all()
    assert (alert.kind, alert.customer_name, alert.occurrences) == ("max_mau_reached", "Capped", 1)
    assert alert.dedup_key.endswith(":2026-12")  # the same key a usage report raises
    (post,) = await posts(db)
    assert post["to"] == "C0ALERTS" and "Max-MAU threshold reached" in post["text"]


async def test_the_trial_notice_days_are_set_in_slack_and_mistakes_explained(
    client, slack, db, msp, clock
):
    reply = await post(client, slack.slash_command("settings trial-notices 14,2", user_id=OWNER))
    assert "*Trial notices* 14, 2 days before a trial ends" in all_text(reply.json["blocks"])
    bad = await post(client, slack.slash_command("settings trial-notices soon", user_id=OWNER))
    assert "is not a number of days from 1 to 60" in bad.text and "7,3,1" in bad.text
    async with db.unit_of_work() as session:
        from storage.models import Msp

        assert (await session.get(Msp, msp)).trial_notice_days == "14,2"
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "settings.updated"))
        ).all()
    assert events[-1].after["trial_notice_days"] == "14,2"
    await seed_customer(db, name="Far", status="active_trial", trial_end=date(2026, 12, 15))
    await subscribe(db, msp, TRIALS, "trials")
    at(clock, datetime(2026, 12, 1, 6, tzinfo=UTC))
    assert await sweep(db, clock, "trial_expiry_notices") == 1


def test_scheduler_run_by_hand(cli_env):
    from tests.drive import invoke_cli

    listed = invoke_cli(["scheduler", "jobs"], cli_env)
    assert "trial_expiry_notices" in listed.output and "digests" in listed.output
    done = invoke_cli(["scheduler", "run", "end_trials", "--now", "2026-12-02T00:00Z"], cli_env)
    assert done.exit_code == 0, done.output
    assert "end_trials: 0 done at 2026-12-02T00:00:00+00:00" in done.output
    unknown = invoke_cli(["scheduler", "run", "nope"], cli_env)
    assert unknown.exit_code == 1 and "No job 'nope'" in unknown.output
    naive = invoke_cli(["scheduler", "run", "digests", "--now", "2026-12-02T09:00"], cli_env)
    assert naive.exit_code == 1 and "needs a time zone" in naive.output
    team = invoke_cli(["scheduler", "run", "digests", "--team", "T0NONE"], cli_env)
    assert team.exit_code == 1 and "No MSP for T0NONE" in team.output
    everyone = invoke_cli(["scheduler", "run", "wake_snoozed_alerts", "--team", "T0NONE"], cli_env)
    assert everyone.exit_code == 1


async def test_the_notice_sweeps_run_on_the_schedule(settings, db, clock, msp):
    """Registered with the configured cadence, and run by the running scheduler."""
    from aiohttp.test_utils import TestClient, TestServer
    from apscheduler.triggers.interval import IntervalTrigger

    from bot.services.notices import SWEEPS

    await subscribe(db, msp, TRIALS, "trials")
    await seed_customer(db, name="Soon", status="active_trial", trial_end=date(2026, 11, 29))
    quick = settings.model_copy(update={"mspbot_notice_sweep_seconds": 1.0})
    bot = fast_bot(quick, db, clock)
    for name in SWEEPS:
        job = bot.scheduler.get_job(name)
        assert job is not None and job.args == (name,), name
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval == timedelta(seconds=1)
    async with TestClient(TestServer(bot.web)):
        for _ in range(60):
            if await posts(db):
                break
            await asyncio.sleep(0.1)
    (post,) = await posts(db)
    assert post["to"] == TRIALS and "has 8 days left" in post["text"]  # the clock's 22 Nov


# ---------------------------------------------------------------- one way of saying it


async def _home_text(client, slack, fake_slack, user_id: str = OWNER) -> str:
    before = len(fake_slack.calls_to("views.publish"))
    await post(client, slack.app_home_opened(user_id=user_id))
    calls = await calls_to(fake_slack, "views.publish", before + 1)
    return all_text(calls[before].args["view"]["blocks"])


async def _outbox_payloads(db: Database) -> list[dict[str, Any]]:
    """What each queued post will say, its notification text as it is."""
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxItem).where(OutboxItem.kind == "post").order_by(OutboxItem.id)
        )
        return [row.payload for row in rows.all()]


async def test_a_trials_days_left_are_counted_alike_everywhere(
    client, slack, bot, db, clock, msp, fake_slack
):
    """R4: the last day is the trial's `trial_end` and the days left count today, in the
    notice, the daily digest, the card, the trials list and the Home tab alike."""
    await subscribe(db, msp, TRIALS, "trials")
    await subscribe(db, msp, DIGEST, "digest")
    await seed_customer(
        db, name="Soon", status="active_trial", users=4, trial_end=date(2026, 12, 10)
    )
    for today, left in ((date(2026, 12, 7), "4 days left"), (date(2026, 12, 10), "ends today")):
        at(clock, datetime(today.year, today.month, today.day, 9, 30, tzinfo=UTC))
        assert await sweep(db, clock, "trial_expiry_notices") == 1
        assert await sweep(db, clock, "digests") >= 1
        notice, digest = [
            post["text"]
            for post in (await posts(db))[-3:]
            if post["to"] in (TRIALS, DIGEST) and "Weekly summary" not in post["text"]
        ][-2:]
        card = await post(client, slack.slash_command("customer Soon", user_id=OWNER))
        listed = await post(client, slack.slash_command("customers trials", user_id=OWNER))
        home = await _home_text(client, slack, fake_slack)
        shown = {
            "notice": notice,
            "digest": digest,
            "card": all_text(card.json["blocks"]),
            "list": all_text(listed.json["blocks"]),
            "home": home,
        }
        assert {where: left in text for where, text in shown.items()} == dict.fromkeys(
            shown, True
        ), (today, shown)
        assert all("3 days" not in text and "1 day left" not in text for text in shown.values())
    assert (
        "has 4 days left: its last day is " + shown_day(date(2026, 12, 10))
        in ((await posts(db))[0]["text"])
    )


async def test_a_busy_channels_trial_notices_are_grouped_with_their_next_steps(
    client, slack, bot, db, clock, msp, fake_slack
):
    """A morning of trial notices for one channel leaves as one digest: one line per
    group in the notification, whole names only, no markup; each trial a row whose
    menu does what the notice's buttons did."""
    await subscribe(db, msp, TRIALS, "trials")
    names = [f"Customer With A Long Name {n:02d}" for n in range(12)]
    last_days = [date(2026, 12, 9)] + [date(2026, 12, 10)] * 11  # the soonest first
    ids = {
        name: await seed_customer(db, name=name, status="active_trial", users=3, trial_end=last_day)
        for name, last_day in zip(names, last_days, strict=True)
    }
    at(clock, datetime(2026, 12, 7, 9, 30, tzinfo=UTC))
    assert await sweep(db, clock, "trial_expiry_notices") == 12
    bot.delivery.wake()
    await settle(bot)
    [digest] = [
        c.args for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == TRIALS
    ]
    text = digest["text"]
    lead = "12 trials end soon: "
    assert text.startswith(lead), text
    listed, more = text.removeprefix(lead).rsplit(" and ", 1)
    shown = listed.split(", ")
    assert (
        shown
        == [  # whole names, soonest first, each with its days left
            f"{name} ({left} days left)" for name, left in zip(names, [3] + [4] * 11, strict=False)
        ][: len(shown)]
    )
    assert more == f"{12 - len(shown)} more"
    assert len(text) <= 300 and not re.search(r"[*`~]|:hourglass", text)
    blocks = digest["blocks"]
    assert "12 updates while this channel was busy" in all_text(blocks[:1])
    assert blocks[1]["text"]["text"] == ":hourglass_flowing_sand: *12 trials end soon*"
    rows = [block for block in blocks if (block.get("accessory") or {}).get("type") == "overflow"]
    assert [row["text"]["text"].split("*")[1] for row in rows] == names
    assert [row["text"]["text"].split(") · ", 1)[1] for row in rows[:2]] == [
        f"3 days left · last day {shown_day(date(2026, 12, 9))} · 3 users",
        f"4 days left · last day {shown_day(date(2026, 12, 10))} · 3 users",
    ]
    menu = rows[0]["accessory"]
    assert menu["action_id"] == ActionId.ROW_MENU
    assert [option["text"]["text"] for option in menu["options"]] == [
        "Extend trial",
        "Upgrade plan",
        "Open customer",
    ]
    extend, _upgrade, open_customer = menu["options"]
    overflow = {"type": "overflow"}
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.ROW_MENU,
            selected_option=extend,
            extra_action=overflow,
            user_id=OWNER,
            channel_id=TRIALS,
        ),
    )
    [opened] = await calls_to(fake_slack, "views.open")
    assert opened.args["view"]["title"]["text"] == "Extend trial"
    form = RequestFormState.decode(opened.args["view"]["private_metadata"])
    assert form.customer_id == ids[names[0]]
    await post(
        client,
        slack.block_actions(
            action_id=ActionId.ROW_MENU,
            selected_option=open_customer,
            extra_action=overflow,
            user_id=OWNER,
            channel_id=TRIALS,
        ),
    )
    [card] = await calls_to(fake_slack, "response_url")
    assert card.args["response_type"] == "ephemeral" and card.args["replace_original"] is False
    assert names[0] in all_text(card.args["blocks"])


async def test_every_notices_notification_text_is_plain_words(
    client, slack, bot, db, clock, msp, fake_slack
):
    """A notification shows bold, italic, strike and code markup as the characters:
    every notice's and digest's `text`, and the settings and subscription answers, are
    plain words; mentions, channels and dates stay tokens, which notifications show."""
    await set_msp(db, mau_allowance=1000)
    for channel, topic in (
        (TRIALS, "trials"),
        (MAU, "mau"),
        (DIGEST, "digest"),
        (REQUESTS, "requests"),
    ):
        await subscribe(db, msp, channel, topic)
    await seed_customer(
        db, name="Bold *Co*", status="active_trial", users=5, trial_end=date(2026, 12, 10)
    )
    await seed_customer(
        db, name="Ended", status="active_trial", users=5, trial_end=date(2026, 12, 6)
    )
    await paid(db, name="Renewing", renewal_date=date(2027, 1, 12))
    await seed_customer(db, name="Busy", mau=850, month=date(2026, 12, 1))
    at(clock, datetime(2026, 12, 7, 9, 30, tzinfo=UTC))  # a Monday: the weekly summary too
    for name in (
        "trial_expiry_notices",
        "end_trials",
        "renewal_window_notices",
        "mau_notices",
        "digests",
    ):
        assert await sweep(db, clock, name) >= 1, name
    texts = [payload["text"] for payload in await _outbox_payloads(db)]
    assert len(texts) >= 6
    replies = [
        await post(client, slack.slash_command(command, user_id=OWNER))
        for command in (
            "settings",
            "settings trial-notices 7,3,1",
            "subscribe <#C0NEW|new> mau",
            "unsubscribe <#C0NEW|new> mau",
        )
    ]
    texts += [reply.json["text"] for reply in replies]
    markup = re.compile(r"(?<![\w])[*_~`]\S|\S[*_~`](?![\w])")
    # The customer's own asterisks are words of its name: Slack formats those as well.
    assert [text for text in texts if markup.search(text.replace("Bold *Co*", "Bold Co"))] == []
    assert replies[0].json["text"] == "Settings of your MSP"
    assert replies[2].json["text"].startswith(":bell: Subscribed. #")
    assert "<#C0NEW>" in replies[2].json["text"] and "<#C0NEW>" in replies[3].json["text"]
    assert any("<!date^" in text for text in texts)  # date tokens kept
    assert any("Weekly summary" in text for text in texts)


async def test_mau_notices_offer_the_order_form_and_the_licence(
    client, slack, bot, db, clock, msp, fake_slack
):
    """R19: the next steps are buttons, not a command to copy: Order MAU allowance opens
    the order form for an owner (anyone else is told who may), Open licence shows the
    licence below the notice."""
    await set_msp(db, mau_allowance=1000)
    await subscribe(db, msp, MAU, "mau")
    await seed_customer(db, name="Busy", mau=850, month=date(2026, 12, 1))
    at(clock, datetime(2026, 12, 7, 9, 30, tzinfo=UTC))
    assert await sweep(db, clock, "mau_notices") == 1
    [notice] = await _outbox_payloads(db)
    assert "/msp" not in all_text(notice["blocks"])
    [actions] = [block for block in notice["blocks"] if block["type"] == "actions"]
    order, licence = actions["elements"]
    assert (order["text"]["text"], licence["text"]["text"]) == (
        "Order MAU allowance",
        "Open licence",
    )

    async def click(element: dict[str, Any], user_id: str) -> None:
        await post(
            client,
            slack.block_actions(
                action_id=element["action_id"],
                value=element.get("value"),
                user_id=user_id,
                channel_id=MAU,
            ),
        )

    await click(order, OWNER)
    [opened] = await calls_to(fake_slack, "views.open")
    assert opened.args["view"]["title"]["text"] == "Order MAU allowance"
    await click(order, MEMBER)
    [refused] = await calls_to(fake_slack, "response_url")
    assert "Only an owner can order more MAU" in refused.args["text"]
    await click(licence, OWNER)
    answers = await calls_to(fake_slack, "response_url", 2)
    shown = answers[1].args
    assert shown["response_type"] == "ephemeral" and shown["replace_original"] is False
    assert "850" in all_text(shown["blocks"]) and "1,000" in all_text(shown["blocks"])
    await click(licence, MEMBER)
    answers = await calls_to(fake_slack, "response_url", 3)
    assert "Only owners and admins can see the licence view" in answers[2].args["text"]
    await settle(bot)
    assert len(fake_slack.calls_to("views.open")) == 1


async def test_the_daily_digest_says_a_customer_at_its_max_mau_threshold_once(db, clock, msp):
    """The max-MAU alert among the open alerts says what the threshold list would:
    that customer is not listed again; one without an open alert still is."""
    await subscribe(db, msp, DIGEST, "digest")
    await seed_customer(db, name="Alerted", max_mau=100, mau=150, month=date(2026, 12, 1))
    at(clock, datetime(2026, 12, 7, 9, 30, tzinfo=UTC))
    assert await sweep(db, clock, "max_mau_alerts") == 1
    await seed_customer(db, name="Quiet Over", max_mau=100, mau=120, month=date(2026, 12, 1))
    assert await sweep(db, clock, "digests") >= 1
    [digest] = [p for p in await posts(db) if p["text"].startswith("Daily digest")]
    alerts, listed = digest["text"].split(":no_entry:")
    assert "Alerted" in alerts and "max_mau_reached" in alerts
    assert listed.startswith(
        " *At their max-MAU threshold*: 1 more customer, besides the 1 in the open alerts "
        "above: new end users are blocked"
    )
    assert "Quiet Over" in listed and "Alerted" not in listed


def test_what_every_merged_trial_shares_is_said_once_above_them():
    from bot.domain.notices import NoticeKind
    from bot.results.notices import CustomerNotice
    from bot.views.digests import Merged, updates_digest_message
    from bot.views.mrkdwn import Mrkdwn

    last_day = date(2027, 1, 1)
    merged = [
        Merged(
            text=Mrkdwn(f"The trial of {name} has 4 days left"),
            notice=CustomerNotice(
                kind=NoticeKind.TRIAL_EXPIRING,
                customer_id=n + 1,
                customer_name=name,
                account_number=f"TR0{n}-ABCD",
                day=last_day,
                days_left=4,
                users=3,
            ),
        )
        for n, name in enumerate(["Adatum Corp", "Coho Winery", "Alpine Ski House"])
    ]
    message = updates_digest_message([*merged, Merged(text=Mrkdwn("*Another* update."))])
    assert message.text == (
        "4 updates: 3 trials end soon (4 days left each): Adatum Corp, Alpine Ski House, "
        "Coho Winery; Another update"
    )
    title, *rows, other = message.blocks[1:]
    assert title["text"]["text"] == (
        ":hourglass_flowing_sand: *3 trials end soon* · 4 days left · last day "
        + shown_day(last_day)
    )
    assert [row["text"]["text"] for row in rows] == [
        "*Adatum Corp* (`TR00-ABCD`) · 3 users",
        "*Alpine Ski House* (`TR02-ABCD`) · 3 users",
        "*Coho Winery* (`TR01-ABCD`) · 3 users",
    ]
    assert other["text"]["text"] == "*Another* update."


# ---------------------------------------------------------------- a chunk at a time


async def test_a_big_sweep_commits_a_chunk_at_a_time_so_other_writers_get_through(
    backend, db, clock, msp, monkeypatch
):
    """Each chunk of due rows is its own transaction: a writer waiting while a chunk
    holds SQLite's write lock goes before the next chunk, not after the sweep."""
    from sqlalchemy import update

    from storage.models import Msp

    monkeypatch.setattr("bot.services.notices.CHUNK", 2)
    await subscribe(db, msp, TRIALS, "trials")
    for n in range(7):
        await seed_customer(db, name=f"T{n}", status="active_trial", trial_end=date(2026, 12, 4))
    at(clock, datetime(2026, 12, 1, 6, tzinfo=UTC))
    order: list[str] = []
    done = asyncio.Event()

    async def another_writer() -> None:
        while not done.is_set():
            async with db.unit_of_work() as session:
                await session.execute(
                    update(Msp).where(Msp.id == msp).values(home_stale_since=clock())
                )
            order.append("writer")
            await asyncio.sleep(0)

    writer = asyncio.create_task(another_writer())
    try:
        sent = await run_sweep(
            "trial_expiry_notices",
            db=db,
            clock=clock,
            wake=lambda: order.append("chunk"),
            notifiers=outbox_notifiers(),
        )
    finally:
        done.set()
        await writer
    assert sent == 7 and len(await posts(db)) == 7
    chunks = [n for n, what in enumerate(order) if what == "chunk"]
    assert len(chunks) == 5  # 2 + 2 + 2 + 1, then the sweep's own end
    assert "writer" in order[chunks[0] : chunks[-2]]  # between the sweep's chunks


async def test_a_sweep_that_fails_midway_keeps_its_chunks_and_sends_the_rest_once(
    backend, db, clock, msp, monkeypatch
):
    monkeypatch.setattr("bot.services.notices.CHUNK", 2)
    await subscribe(db, msp, TRIALS, "trials")
    for n in range(5):
        await seed_customer(db, name=f"T{n}", status="active_trial", trial_end=date(2026, 12, 4))
    at(clock, datetime(2026, 12, 1, 6, tzinfo=UTC))
    real = outbox_notifiers()
    calls = 0

    class DiesInTheSecondChunk:
        alerts = real.alerts

        async def post(self, session, *, notices):
            nonlocal calls
            calls += 1
            await real.notices.post(session, notices=notices)
            if calls == 2:
                raise RuntimeError("the process died here")

    dies = replace(real, notices=DiesInTheSecondChunk())
    with pytest.raises(RuntimeError):
        await sweep(db, clock, "trial_expiry_notices", dies)
    assert len(await posts(db)) == 2  # the first chunk, committed; the second rolled back
    assert await sweep(db, clock, "trial_expiry_notices", real) == 3
    assert await sweep(db, clock, "trial_expiry_notices") == 0
    texts = [post["text"] for post in await posts(db)]
    assert len(texts) == len(set(texts)) == 5


async def test_trials_end_a_chunk_at_a_time_each_once(backend, db, clock, msp, monkeypatch):
    monkeypatch.setattr("bot.services.notices.CHUNK", 2)
    await subscribe(db, msp, TRIALS, "trials")
    for n in range(5):
        await seed_customer(db, name=f"E{n}", status="active_trial", trial_end=date(2026, 12, 1))
    at(clock, datetime(2026, 12, 3, 6, tzinfo=UTC))
    assert await sweep(db, clock, "end_trials") == 5
    assert await sweep(db, clock, "end_trials") == 0
    async with db.unit_of_work() as session:
        statuses = (await session.scalars(select(Customer.status))).all()
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "customer"))
        ).all()
    assert sorted(statuses) == ["expired_trial"] * 5
    assert len(events) == len({e.entity_id for e in events}) == 5
    assert len(await posts(db)) == 5
