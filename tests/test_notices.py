"""Scheduled notices with an injected clock: each on its day and not the
day before, where it goes (subscribers, else assigned staff or owners), the latest
relevant one after downtime, 09:00 local across DST, and exactly once when two
replicas sweep at the same moment or a sweep is interrupted and run again."""

from __future__ import annotations

import asyncio
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
    assert "Acme &lt;Dental&gt;" in texts[0] and "in 7 days" in texts[0]
    assert "in 3 days" in texts[1] and "tomorrow" in texts[2]


async def test_after_downtime_only_the_nearest_trial_notice_is_sent(db, clock, msp):
    await subscribe(db, msp, TRIALS, "trials")
    await seed_customer(db, name="Late", status="active_trial", trial_end=date(2026, 12, 10))
    at(clock, datetime(2026, 12, 8, 6, tzinfo=UTC))  # down from the 1st: 7 and 3 were missed
    assert await sweep(db, clock, "trial_expiry_notices") == 1
    (post,) = await posts(db)
    assert "in 2 days" in post["text"]
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
    assert "in 14 days" in (await posts(db))[0]["text"]


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
    assert "Active trial (1 day left)" in all_text(card.json["blocks"])
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
    assert post["to"] == "C0ALERTS" and "reached its max-MAU threshold" in post["text"]


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
    assert post["to"] == TRIALS and "in 7 days" in post["text"]  # the clock's 22 Nov
