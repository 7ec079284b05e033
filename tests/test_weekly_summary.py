"""The weekly summary says what changed over the week just ended against the week
before, end to end on the injected clock: customers added through the Add form,
trials converted by approved upgrades and lost to R4, alerts opened and resolved
through the API, requests approved, denied and left waiting through Slack, usage
reported through the API; then the digests job on Monday at 09:00 in the MSP's zone,
and the message as the fake Slack received it."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event

from bot.app import Bot
from bot.domain.notices import summary_weeks
from bot.ids import ActionId, BlockId, CallbackId
from bot.notify.notifiers import outbox_notifiers
from scheduler.jobs.notices import run_sweep
from storage.engine import Database
from tests.drive import (
    Asked,
    add_customer,
    all_text,
    approve,
    ask,
    messages_in,
    post,
    post_json,
    request_ref,
)
from tests.forms import selected, typed
from tests.seed import (
    ADMIN,
    APPROVER,
    Tenant,
    grant_staff,
    make_tenant,
    paid,
    seed_customer,
    set_msp,
)
from tests.support import FakeClock, fast_bot
from tests.test_alert_routing import subscribe
from tests.wait import settle

DIGEST = "C0DIGEST"
ZONE = "America/New_York"  # UTC-5 in December: local midnight is 05:00 UTC
# Monday 14 December 2026, 09:00 in New York: the summary of 7-13 December, against
# 30 November - 6 December.
SUMMARY_AT = datetime(2026, 12, 14, 14, 0, tzinfo=UTC)


@pytest.fixture
async def bot(settings, db, clock) -> Bot:
    return fast_bot(settings, db, clock)


@pytest.fixture
async def tenant(db: Database, clock: FakeClock) -> Tenant:
    """An MSP in New York with an API token and two customers (for alerts and usage,
    added outside the weeks compared), its staff, and a channel subscribed to the
    digests. Requests are asked by the admin and decided by the approver."""
    clock.set(datetime(2026, 11, 20, 15, 0, tzinfo=UTC))  # their trials end after it all
    tenant = await make_tenant(
        db, clock, names={"Acme Dental": None, "Globex": None}, timezone=ZONE
    )
    await grant_staff(db)
    await set_msp(db, timezone=ZONE)
    await subscribe(db, clock, tenant, DIGEST, topics=["digest"])
    return tenant


def at(clock: FakeClock, *moment: int) -> None:
    """Move the clock to a UTC moment: (year, month, day, hour[, minute])."""
    clock.set(datetime(*moment, tzinfo=UTC))


def token(day: date) -> str:
    """A day as a plain date token (noon UTC), its fallback text left out (see `bare`)."""
    stamp = calendar.timegm((day.year, day.month, day.day, 12, 0, 0))
    return f"<!date^{stamp}^{{date_short}}>"


def bare(text: str) -> str:
    """`text` with its date tokens' fallbacks left out: what is checked is that the
    dates are tokens, each reader's own format, not how a client without them reads."""
    return re.sub(r"(<!date\^[^|>]+)\|[^>]*>", r"\1>", text)


async def weekly_summary(
    bot: Bot, db: Database, clock: FakeClock, fake_slack, moment: datetime = SUMMARY_AT
) -> dict[str, Any]:
    """Run the digests job at `moment` (a Monday, 09:00 in New York); the weekly
    summary as posted."""
    clock.set(moment)
    await run_sweep(
        "digests", db=db, clock=clock, wake=bot.delivery.wake, notifiers=outbox_notifiers()
    )
    await settle(bot)
    [summary] = [
        message
        for message in messages_in(fake_slack, DIGEST)
        if message["blocks"][0]["text"]["text"] == "Weekly summary"
    ]
    return summary


# ---------------------------------------------------------------- driving the weeks


async def report_alert(client, tenant: Tenant, customer: str, key: str, **fields: Any) -> None:
    alert = {
        "customer": tenant.accounts[customer],
        "kind": "backup_failed",
        "severity": "high",
        "title": f"Backup failed at {customer}",
        "dedup_key": key,
        **fields,
    }
    answer = await post_json(client, "/api/v1/alerts", tenant.token, {"alerts": [alert]})
    assert answer.status == 200, answer.json


async def report_mau(client, tenant: Tenant, month: str = "2026-12", **mau: int) -> None:
    """Usage for `month` (`Acme Dental` as acme=...)."""
    names = {"acme": "Acme Dental", "globex": "Globex"}
    usage = [
        {"customer": tenant.accounts[names[who]], "month": month, "mau": count}
        for who, count in mau.items()
    ]
    answer = await post_json(client, "/api/v1/usage", tenant.token, {"usage": usage})
    assert answer.status == 200, answer.json


async def end_trials(db: Database, clock: FakeClock) -> None:
    await run_sweep(
        "end_trials", db=db, clock=clock, wake=lambda: None, notifiers=outbox_notifiers()
    )


async def ask_licences(client, slack, fake_slack, customer: str) -> Asked:
    return await ask(
        client,
        slack,
        fake_slack,
        f"add-licences {customer}",
        user_id=ADMIN,
        **{BlockId.REQUEST_LICENCES: "2"},
    )


async def upgrade(bot, client, slack, fake_slack, customer: str) -> None:
    """An upgrade to Professional, asked and approved: the trial becomes paid (R6)."""
    fields = {BlockId.REQUEST_PLAN: selected("professional"), BlockId.REQUEST_LICENCES: "5"}
    asked = await ask(client, slack, fake_slack, f"upgrade {customer}", user_id=ADMIN, **fields)
    await approve(bot, client, slack, fake_slack, asked)


async def deny(bot, client, slack, request_id: int) -> None:
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.DENY_REQUEST,
            private_metadata=request_ref(request_id),
            values={BlockId.REQUEST_DENY_NOTE: {ActionId.FIELD: typed("No budget this year")}},
            user_id=APPROVER,
        ),
    )
    assert reply.status == 200, reply.text
    await settle(bot)


# ---------------------------------------------------------------- the weeks compared


async def test_the_weekly_summary_says_what_changed_against_the_week_before(
    backend, client, slack, bot, db, clock, fake_slack, tenant
):
    await paid(db, "Northwind")
    await paid(db, "Deny Co")
    for name in ("Lapsed A", "Lapsed B"):
        await seed_customer(db, name=name, status="active_trial", trial_end=date(2026, 11, 30))
    for name, last_day in (("Trial Win", date(2026, 12, 25)), ("Late Win", date(2026, 12, 7))):
        await seed_customer(db, name=name, status="active_trial", trial_end=last_day)
    await seed_customer(db, name="Lost Co", status="active_trial", trial_end=date(2026, 12, 7))

    # The week before, 30 November to 6 December (New York).
    at(clock, 2026, 12, 2, 15)
    await add_customer(client, slack, name="Early Co", email="admin@early.example")
    await end_trials(db, clock)  # Lapsed A and B: two trials lost
    at(clock, 2026, 12, 3, 15)
    await report_alert(client, tenant, "Acme Dental", "backup:acme")
    await report_mau(client, tenant, acme=600, globex=400)
    at(clock, 2026, 12, 4, 15)
    await approve(
        bot, client, slack, fake_slack, await ask_licences(client, slack, fake_slack, "Northwind")
    )
    at(clock, 2026, 12, 5, 15)
    to_deny = await ask_licences(client, slack, fake_slack, "Deny Co")  # waits over the weekend

    # The week just ended, 7 to 13 December.
    at(clock, 2026, 12, 8, 15)
    await add_customer(client, slack, name="New A", email="admin@new-a.example")
    await end_trials(db, clock)  # Late Win (converted on Thursday after all) and Lost Co
    await report_alert(client, tenant, "Globex", "disk:globex")
    await report_alert(client, tenant, "Acme Dental", "av:acme")
    await deny(bot, client, slack, to_deny.request_id)
    at(clock, 2026, 12, 9, 15)
    await add_customer(client, slack, name="New B", email="admin@new-b.example")
    await upgrade(bot, client, slack, fake_slack, "Trial Win")
    await report_alert(client, tenant, "Acme Dental", "backup:acme", status="resolved")
    at(clock, 2026, 12, 10, 15)
    await upgrade(bot, client, slack, fake_slack, "Late Win")
    await report_alert(client, tenant, "Globex", "patch:globex")
    await report_mau(client, tenant, acme=900, globex=600)
    at(clock, 2026, 12, 11, 15)
    await report_alert(client, tenant, "Acme Dental", "av:acme", status="resolved")
    at(clock, 2026, 12, 12, 15)
    await ask_licences(client, slack, fake_slack, "Northwind")
    await ask_licences(client, slack, fake_slack, "Deny Co")
    at(clock, 2026, 12, 14, 4, 30)  # Sunday 23:30 in New York: still the week just ended
    await add_customer(client, slack, name="Late Sunday", email="admin@late-sunday.example")

    # Monday before the summary: next week's, not this one's.
    at(clock, 2026, 12, 14, 5, 30)  # 00:30 in New York
    await add_customer(client, slack, name="Monday Early", email="admin@monday.example")
    at(clock, 2026, 12, 14, 6)
    await report_mau(client, tenant, acme=1200)

    summary = await weekly_summary(bot, db, clock, fake_slack)
    shown = bare(all_text(summary["blocks"]))
    assert shown.splitlines() == [
        "Weekly summary",
        f"{token(date(2026, 12, 7))} to {token(date(2026, 12, 13))}"
        " · the whole MSP · each figure against the week before",
        "*Customers*",
        "*3* new · ↑ from 1",
        "*2* trials converted · ↑ from 0",
        "*1* trial lost · ↓ from 2",
        "*Monthly active users*",
        "*1,500* so far in December · ↑ 500 from 1,000 a week ago",
        "*Alerts*",
        "*3* opened · ↑ from 1",
        "*2* resolved · ↑ from 0",
        "*Requests*",
        "*2* approved · ↑ from 1",
        "*1* denied · ↑ from 0",
        "*2* still waiting · ↑ from 1",
    ]
    # The notification says the week's news in one line, its dates tokens too.
    assert bare(summary["text"]) == (
        f"Weekly summary, {token(date(2026, 12, 7))} to {token(date(2026, 12, 13))}"
        ": 3 new customers, 2 trials converted, 1 trial lost, 3 alerts opened, "
        "2 alerts resolved, 2 requests approved, 1 request denied, "
        "MAU up 500 to 1,500."
    )
    # Once a week: running the job again that Monday sends nothing more.
    sent = await run_sweep(
        "digests", db=db, clock=clock, wake=bot.delivery.wake, notifiers=outbox_notifiers()
    )
    assert sent == 0


@pytest.mark.parametrize(
    ("installed", "against"),
    [
        ((2026, 12, 9, 15), "msp-bot's first week: nothing to compare with yet"),
        (
            (2026, 12, 5, 15),
            f"msp-bot arrived on {token(date(2026, 12, 5))}, so the week before is not compared",
        ),
    ],
)
async def test_a_week_the_bot_did_not_see_is_not_compared_with(
    client, slack, bot, db, clock, fake_slack, installed, against
):
    """The bot's first summary has no week before to compare with: the figures stand
    alone, never "↑ from 0" for a week it was not there for (or only at its end,
    with nothing recorded)."""
    at(clock, *installed)
    tenant = await make_tenant(db, clock, names={}, timezone=ZONE)
    await grant_staff(db)
    await subscribe(db, clock, tenant, DIGEST, topics=["digest"])
    at(clock, 2026, 12, 10, 15)
    tenant.accounts["Acme Dental"] = await add_customer(
        client, slack, name="Acme Dental", email="admin@acme.example"
    )
    await report_alert(client, tenant, "Acme Dental", "backup:acme")
    await report_mau(client, tenant, acme=900)
    summary = await weekly_summary(bot, db, clock, fake_slack)
    shown = bare(all_text(summary["blocks"]))
    assert shown.splitlines() == [
        "Weekly summary",
        f"{token(date(2026, 12, 7))} to {token(date(2026, 12, 13))} · the whole MSP · {against}",
        "*Customers*",
        "*1* new",
        "*Monthly active users*",
        "*900* so far in December",
        "*Alerts*",
        "*1* opened",
        "Nothing this week for requests.",
    ]
    assert "↑" not in shown and "from 0" not in shown
    assert bare(summary["text"]) == (
        f"Weekly summary, {token(date(2026, 12, 7))} to {token(date(2026, 12, 13))}: "
        "1 new customer, 1 alert opened, 900 MAU so far in December."
    )


async def test_a_quiet_week_says_so_in_one_line(client, slack, bot, db, clock, fake_slack, tenant):
    at(clock, 2026, 12, 2, 15)  # the week before had news; the week just ended none
    await add_customer(client, slack, name="Early Co", email="admin@early.example")
    summary = await weekly_summary(bot, db, clock, fake_slack)
    blocks = summary["blocks"]
    assert [block["type"] for block in blocks] == ["header", "context", "section"]
    assert blocks[2]["text"]["text"].startswith(":zzz: A quiet week: no new customers")
    assert "*0*" not in all_text(blocks)
    assert bare(summary["text"]) == (
        f"Weekly summary, {token(date(2026, 12, 7))} to {token(date(2026, 12, 13))}: a quiet week."
    )


async def test_a_month_begun_during_the_week_is_not_compared_with_the_month_before(
    client, slack, bot, db, clock, fake_slack, tenant
):
    """Month-to-date MAU starts again on the 1st: a week across it says what the new
    month has so far and what the old one reached, with no arrow between the two."""
    at(clock, 2026, 11, 25, 15)
    await report_mau(client, tenant, "2026-11", acme=9_000, globex=6_000)
    at(clock, 2026, 12, 1, 15)
    await report_mau(client, tenant, "2026-11", acme=9_310)  # a late report for November
    at(clock, 2026, 12, 3, 15)
    await report_mau(client, tenant, acme=2_200, globex=2_000)
    summary = await weekly_summary(
        bot, db, clock, fake_slack, datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    )
    assert bare(all_text(summary["blocks"])).splitlines()[2:] == [
        "*Monthly active users*",
        "*4,200* so far in December · the month began this week; November reached 15,310",
        "Nothing in either week for customers, alerts or requests.",
    ]


async def test_the_weeks_run_midnight_to_midnight_in_the_msps_zone_across_dst(
    client, slack, bot, db, clock, fake_slack, tenant
):
    """New York leaves daylight saving time on 1 November 2026: that week is 169 hours
    long, from 04:00 UTC on Monday to 05:00 UTC the next."""
    for moment, name in (
        ((2026, 10, 26, 3, 30), "Sunday Before"),  # 25 Oct 23:30 EDT: the week before
        ((2026, 10, 26, 4, 30), "Monday First"),  # 26 Oct 00:30 EDT
        ((2026, 11, 2, 4, 30), "Sunday Last"),  # 1 Nov 23:30 EST
        ((2026, 11, 2, 5, 30), "Monday After"),  # 2 Nov 00:30 EST: next week's
    ):
        at(clock, *moment)
        email = f"admin@{name.replace(' ', '-').lower()}.example"
        await add_customer(client, slack, name=name, email=email)
    summary = await weekly_summary(
        bot, db, clock, fake_slack, datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    )
    lines = bare(all_text(summary["blocks"])).splitlines()
    assert lines[1].startswith(f"{token(date(2026, 10, 26))} to {token(date(2026, 11, 1))}")
    assert lines[2:4] == ["*Customers*", "*2* new · ↑ from 1"]


async def test_the_week_is_read_before_its_key_is_claimed_and_not_again(
    client, slack, bot, db, clock, fake_slack, tenant
):
    """A SQLite transaction reads without the one write lock until its first write:
    the summary's scan of the audit log comes before the notice's key is claimed, so
    a long one holds up no Slack request; once the key is taken, it is not read."""
    at(clock, 2026, 12, 8, 15)
    await add_customer(client, slack, name="New A", email="admin@new-a.example")
    with audit_reads(db) as first:
        await weekly_summary(bot, db, clock, fake_slack)
    claim = first.index("claim")
    assert "audit" in first[:claim] and "audit" not in first[claim:]
    with audit_reads(db) as again:
        clock.advance(hours=3)
        await run_sweep(
            "digests", db=db, clock=clock, wake=bot.delivery.wake, notifiers=outbox_notifiers()
        )
    assert "audit" not in again


@contextmanager
def audit_reads(db: Database) -> Iterator[list[str]]:
    """In order: "audit" for each statement reading the audit log, "claim" for each
    insert of notice keys."""
    seen: list[str] = []

    def note(_conn, clause, *_rest) -> None:
        statement = str(clause)
        if statement.startswith("INSERT INTO notices"):
            seen.append("claim")
        elif statement.startswith("SELECT") and "audit_events" in statement:
            seen.append("audit")

    event.listen(db.engine.sync_engine, "before_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_execute", note)


def test_a_summary_is_about_the_last_whole_week_before_it_and_the_week_before_that():
    ended, before = summary_weeks(date(2026, 12, 14))  # a Monday
    assert (ended.first, ended.last, ended.end) == (
        date(2026, 12, 7),
        date(2026, 12, 13),
        date(2026, 12, 14),
    )
    assert (before.first, before.last) == (date(2026, 11, 30), date(2026, 12, 6))
    # Run by hand later in the week, it is still about the last whole week.
    assert summary_weeks(date(2026, 12, 17)) == (ended, before)
