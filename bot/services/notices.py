"""Scheduled notices: what each sweep finds due, and sending each once.

Every sweep works the same way: a few set-based queries find what is due (per
group of MSPs that share a local date, so "today" is each MSP's own); each due
notice gets its natural key (bot/domain/notices.py); the keys are inserted in one
statement and only the notices whose keys this transaction inserted are enqueued,
in the same transaction. Two replicas sweeping at once, or a sweep run again after
a crash, find the keys taken and send nothing more.

The due rows are claimed and enqueued a chunk at a time (CHUNK), each chunk its own
transaction when the caller says how to end one (`end_chunk`, committing): SQLite
has one writer at a time, and a sweep in one transaction held its lock from its
first claim to its commit (0.6 s for 1,000 trials ended, longer on a busy morning),
so the bot's other writes waited. A crash between chunks leaves the rest due, for
the next sweep.

Nothing here talks to Slack: the messages go through the `NoticeNotifier`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import notices as notice_rules
from bot.domain.alerts import ReportedStatus
from bot.domain.customers import Plan, Status, trial_days_left
from bot.domain.mau import month_start, project_month_end
from bot.domain.notices import MSP_SUBJECT, NoticeKind
from bot.domain.requests import RequestStatus
from bot.domain.roles import Role
from bot.domain.subscriptions import Topic
from bot.results.notices import NoticeInfo
from bot.services import alerts, audience, audit
from bot.services.alert_routing import AlertNotifier
from bot.services.alerts import MatchedAlert
from bot.services.audience import Recipient
from bot.services.dashboard import dashboard
from bot.services.request_info import info_of
from bot.services.tenancy import Requester
from bot.services.usage_alerts import ReportedFigures, max_mau_reached, over_free_limits
from bot.services.weekly_summary import weekly_summary
from storage.models import ChangeRequest
from storage.repositories import msps as msp_repo
from storage.repositories import notices as notice_repo
from storage.repositories import outbox as outbox_repo
from storage.repositories import staff as staff_repo
from storage.repositories import subscriptions as subscription_repo
from storage.repositories import usage as usage_repo
from storage.repositories.notices import MspClock

# Due rows per transaction: about 0.1 s of SQLite's write lock for notices, 0.2 s
# for alerts (docs/performance/scheduler.md).
CHUNK = 200
SYSTEM_USER = "scheduler"


class NoticeNotifier(Protocol):
    # The alerts the schedule raises (max-MAU reached) go the alerts' way.
    alerts: AlertNotifier

    async def post(
        self,
        session: AsyncSession,
        *,
        notices: Sequence[tuple[int, NoticeInfo, Sequence[Recipient]]],
    ) -> None:
        """Enqueue each (MSP id, notice, recipients), all in one go."""
        ...


# Ends a chunk's transaction (the scheduler's job commits it and wakes delivery).
EndChunk = Callable[[], Awaitable[None]]


async def in_one_transaction() -> None:
    """No chunk of its own: the caller's one transaction takes everything."""


@dataclass(frozen=True)
class _Draft:
    msp_id: int
    subject_id: int
    period: str
    topic: Topic
    info: NoticeInfo
    fallback: tuple[Recipient, ...] = ()  # when no subscription matches
    always: tuple[Recipient, ...] = ()  # besides the subscribers (a reminder's threads)
    # For notices whose content costs queries (digests): built once claimed.
    render: Callable[[], Awaitable[NoticeInfo]] | None = None
    # A slow render (the weekly summary's scan of the audit log) runs before the
    # claim instead: until its first write (the claim), a SQLite transaction reads
    # without the one write lock, so the read holds up no one. Skipped when the key
    # is already taken, so a sweep repeated all Monday reads nothing more.
    read_ahead: bool = False

    @property
    def key(self) -> notice_repo.NoticeKey:
        return (self.msp_id, self.info.kind.value, self.subject_id, self.period)


@dataclass
class _Groups:
    """The MSPs by their local date (at most three at any moment on Earth)."""

    clocks: dict[int, MspClock]
    local_now: dict[int, datetime]
    by_day: dict[date, list[int]] = field(default_factory=dict)

    @classmethod
    async def of(
        cls, session: AsyncSession, *, now: datetime, only: Collection[int] | None
    ) -> _Groups:
        clocks = {clock.id: clock for clock in await notice_repo.msps(session, only=only)}
        local_now = {msp_id: now.astimezone(_zone(c.timezone)) for msp_id, c in clocks.items()}
        groups = cls(clocks, local_now)
        for msp_id, local in local_now.items():
            groups.by_day.setdefault(local.date(), []).append(msp_id)
        return groups


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


# ---------------------------------------------------------------- sending once


async def _send(
    session: AsyncSession,
    drafts: Sequence[_Draft],
    *,
    groups: _Groups,
    now: datetime,
    notifier: NoticeNotifier,
    end_chunk: EndChunk,
) -> int:
    """Claim the drafts' keys; enqueue the claimed ones; a CHUNK at a time, each
    ended by `end_chunk`. Returns how many were sent (claimed), whether or not
    anyone was subscribed to hear of them."""
    if not drafts:
        return 0
    subscriptions = {
        msp_id: await subscription_repo.listing(session, msp_id=msp_id)
        for msp_id in sorted({draft.msp_id for draft in drafts})
    }
    planned: list[tuple[_Draft, list[Recipient]]] = []
    for draft in drafts:
        to = audience.recipients(
            subscriptions[draft.msp_id],
            topic=draft.topic,
            customer_id=draft.info.customer_id,
            kind=draft.info.kind.value,
            local_now=groups.local_now[draft.msp_id],
        )
        planned.append((draft, _merged(draft.always, to or list(draft.fallback))))
    sent = 0
    for start in range(0, len(planned), CHUNK):
        chunk = planned[start : start + CHUNK]
        read = await _read_ahead(session, chunk)
        claimed = await notice_repo.claim(session, [_row(d, len(to), now) for d, to in chunk])
        ready: list[tuple[int, NoticeInfo, Sequence[Recipient]]] = []
        for draft, to in chunk:
            if draft.key not in claimed or not to:
                continue
            info = read.get(draft.key) or (
                await draft.render() if draft.render is not None else draft.info
            )
            ready.append((draft.msp_id, info, to))
        await notifier.post(session, notices=ready)
        await end_chunk()
        sent += len(claimed)
    return sent


async def _read_ahead(
    session: AsyncSession, planned: Sequence[tuple[_Draft, Sequence[Recipient]]]
) -> dict[notice_repo.NoticeKey, NoticeInfo]:
    """The slow renders, done before the claim for the drafts someone will hear of
    whose keys are still free (another replica may take one meanwhile: then what
    was read is dropped)."""
    wanted = [draft for draft, to in planned if draft.read_ahead and draft.render and to]
    if not wanted:
        return {}
    taken = await notice_repo.taken(session, [draft.key for draft in wanted])
    return {
        draft.key: await draft.render()
        for draft in wanted
        if draft.render is not None and draft.key not in taken
    }


def _merged(first: Sequence[Recipient], then: Sequence[Recipient]) -> list[Recipient]:
    """Each conversation once; `first` wins (a thread reply over a plain post)."""
    seen = {recipient.channel for recipient in first}
    return [*first, *(recipient for recipient in then if recipient.channel not in seen)]


def _row(draft: _Draft, recipients: int, now: datetime) -> dict[str, Any]:
    msp_id, kind, subject_id, period = draft.key
    return {
        "msp_id": msp_id,
        "kind": kind,
        "subject_id": subject_id,
        "period": period,
        "recipients": recipients,
        "created_at": now,
    }


async def _assigned(
    session: AsyncSession, customer_ids: Collection[int]
) -> dict[int, tuple[Recipient, ...]]:
    staff = await notice_repo.assigned_staff(session, customer_ids=customer_ids)
    return {cid: tuple(Recipient(user) for user in users) for cid, users in staff.items()}


async def _owners(session: AsyncSession, msp_id: int) -> tuple[Recipient, ...]:
    owners = await staff_repo.user_ids_with_role(session, msp_id=msp_id, role=Role.OWNER.value)
    return tuple(Recipient(user) for user in owners)


# ---------------------------------------------------------------- trials


async def trial_expiry_notices(
    session: AsyncSession,
    *,
    now: datetime,
    notifier: NoticeNotifier,
    only: Collection[int] | None = None,
    end_chunk: EndChunk = in_one_transaction,
) -> int:
    """7, 3 and 1 days before a trial ends (each MSP's own days): to the trials
    subscribers, or the customer's assigned staff. After downtime, only the
    nearest threshold still ahead is sent."""
    groups = await _Groups.of(session, now=now, only=only)
    drafts: list[_Draft] = []
    for today, msp_ids in groups.by_day.items():
        thresholds = {
            msp_id: _thresholds(groups.clocks[msp_id].trial_notice_days) for msp_id in msp_ids
        }
        widest = max((max(days) for days in thresholds.values()), default=0)
        due = await notice_repo.trials_ending(
            session,
            msp_ids=msp_ids,
            status=Status.ACTIVE_TRIAL.value,
            first=today,
            last=today + timedelta(days=widest),
        )
        for customer in due:
            # R4: the thresholds count to the last day; what the notice says is the
            # days left (today included), as the card, the lists and the Home tab do.
            before_last_day = (customer.day - today).days
            threshold = notice_rules.trial_threshold(before_last_day, thresholds[customer.msp_id])
            if threshold is None:
                continue
            drafts.append(
                _about(
                    customer,
                    NoticeKind.TRIAL_EXPIRING,
                    Topic.TRIALS,
                    period=f"{customer.day.isoformat()}:{threshold}",
                    days_left=trial_days_left(customer.day, today=today),
                    users=customer.users,
                )
            )
    return await _send(
        session,
        await _with_assigned(session, drafts),
        groups=groups,
        now=now,
        notifier=notifier,
        end_chunk=end_chunk,
    )


def _about(
    customer: notice_repo.DueCustomer,
    kind: NoticeKind,
    topic: Topic,
    *,
    period: str,
    days_left: int | None = None,
    users: int | None = None,
) -> _Draft:
    """A notice about one customer, keyed by the customer and `period`."""
    info = NoticeInfo(
        kind=kind,
        customer_id=customer.id,
        customer_name=customer.name,
        account_number=customer.account_number,
        day=customer.day,
        days_left=days_left,
        users=users,
    )
    return _Draft(
        msp_id=customer.msp_id, subject_id=customer.id, period=period, topic=topic, info=info
    )


def _thresholds(text: str) -> tuple[int, ...]:
    try:
        return notice_rules.parse_trial_notice_days(text)
    except ValueError:
        return notice_rules.DEFAULT_TRIAL_NOTICE_DAYS


async def _with_assigned(session: AsyncSession, drafts: list[_Draft]) -> list[_Draft]:
    staff = await _assigned(
        session, {d.info.customer_id for d in drafts if d.info.customer_id is not None}
    )
    return [replace(draft, fallback=staff.get(draft.info.customer_id or 0, ())) for draft in drafts]


async def end_trials(
    session: AsyncSession,
    *,
    now: datetime,
    notifier: NoticeNotifier,
    only: Collection[int] | None = None,
    end_chunk: EndChunk = in_one_transaction,
) -> int:
    """R4: a trial whose last day has passed becomes an expired trial on the free
    plan (at most 3 users); audited, and a notice to the trials subscribers or the
    customer's assigned staff. A conditional UPDATE per local date and CHUNK of
    trials, each chunk with its audit events, alerts and notices in its transaction."""
    groups = await _Groups.of(session, now=now, only=only)
    sent = 0
    for today, msp_ids in groups.by_day.items():
        while True:
            ended = await notice_repo.end_trials(
                session,
                msp_ids=msp_ids,
                before=today,
                from_status=Status.ACTIVE_TRIAL.value,
                values={
                    "status": Status.EXPIRED_TRIAL.value,
                    "plan": Plan.FREE.value,
                    "updated_at": now,
                },
                limit=CHUNK,
            )
            sent += await _trials_ended(
                session, ended, groups=groups, now=now, notifier=notifier, end_chunk=end_chunk
            )
            if len(ended) < CHUNK:
                break
    return sent


async def _trials_ended(
    session: AsyncSession,
    ended: Sequence[notice_repo.DueCustomer],
    *,
    groups: _Groups,
    now: datetime,
    notifier: NoticeNotifier,
    end_chunk: EndChunk,
) -> int:
    """What follows a chunk of trials ended: audit events, Home tabs to redraw, the
    free plan's alerts and the notices; the chunk's transaction ends with them."""
    drafts: list[_Draft] = []
    events: list[dict[str, Any]] = []
    for customer in ended:
        events.append(_trial_ended_event(customer, now))
        drafts.append(
            _about(
                customer,
                NoticeKind.TRIAL_ENDED,
                Topic.TRIALS,
                period=customer.day.isoformat(),
                users=customer.users,
            )
        )
    await usage_repo.append_audit_events(session, events)
    for msp_id in {draft.msp_id for draft in drafts}:
        await msp_repo.mark_home_stale(session, msp_id=msp_id, now=now)
    await _free_limit_alerts(
        session, customer_ids=[draft.subject_id for draft in drafts], now=now, notifier=notifier
    )
    return await _send(
        session,
        await _with_assigned(session, drafts),
        groups=groups,
        now=now,
        notifier=notifier,
        end_chunk=end_chunk,
    )


async def _free_limit_alerts(
    session: AsyncSession, *, customer_ids: list[int], now: datetime, notifier: NoticeNotifier
) -> None:
    """R15: a trial that ends with more users or data than the free plan allows is
    flagged by the same alert a usage report raises, now rather than at the next
    report."""
    by_msp: dict[int, list[MatchedAlert]] = {}
    for msp_id, customer, users, data_gb in await notice_repo.free_limit_figures(
        session, customer_ids=customer_ids
    ):
        alert = over_free_limits(ReportedFigures(customer, 0, users, 0, 0, data_gb))
        if alert.report.status == ReportedStatus.FIRING:
            by_msp.setdefault(msp_id, []).append(alert)
    await _raise_bot_alerts(session, by_msp, job="end_trials", now=now, notifier=notifier)


async def _raise_bot_alerts(
    session: AsyncSession,
    by_msp: dict[int, list[MatchedAlert]],
    *,
    job: str,
    now: datetime,
    notifier: NoticeNotifier,
) -> None:
    """The bot's own alerts (source "bot") a job raises, each MSP's in one batch."""
    for msp_id, matched in by_msp.items():
        await alerts.record_matched(
            session,
            msp_id=msp_id,
            matched=matched,
            source=alerts.BOT_SOURCE,
            actor=audit.job_actor(job),
            now=now,
            notifier=notifier.alerts,
        )


def _trial_ended_event(customer: notice_repo.DueCustomer, now: datetime) -> dict[str, Any]:
    return {
        "msp_id": customer.msp_id,
        "actor": audit.job_actor("end_trials"),
        "action": audit.AuditAction.CUSTOMER_UPDATED.value,
        "entity_type": "customer",
        # Customers are audited by account number, the id people can look up.
        "entity_id": customer.account_number,
        "before": {"status": Status.ACTIVE_TRIAL.value, "plan": Plan.TRIAL.value},
        "after": {"status": Status.EXPIRED_TRIAL.value, "plan": Plan.FREE.value},
        "note": f"R4: the trial's last day was {customer.day.isoformat()}",
        "created_at": now,
    }


# ---------------------------------------------------------------- renewals


async def renewal_window_notices(
    session: AsyncSession,
    *,
    now: datetime,
    notifier: NoticeNotifier,
    only: Collection[int] | None = None,
    end_chunk: EndChunk = in_one_transaction,
) -> int:
    """A week before the 30-day cut-off: the last week to decrease licences,
    downgrade or cancel before the renewal. Once per customer and renewal date."""
    groups = await _Groups.of(session, now=now, only=only)
    drafts: list[_Draft] = []
    for today, msp_ids in groups.by_day.items():
        first, last = notice_rules.renewal_window_range(today)
        due = await notice_repo.renewals_between(
            session, msp_ids=msp_ids, statuses=[Status.PAID.value], first=first, last=last
        )
        drafts += [
            _about(
                customer,
                NoticeKind.RENEWAL_WINDOW,
                Topic.REQUESTS,
                period=customer.day.isoformat(),
            )
            for customer in due
            if notice_rules.renewal_window_due(today, customer.day)
        ]
    return await _send(
        session,
        await _with_assigned(session, drafts),
        groups=groups,
        now=now,
        notifier=notifier,
        end_chunk=end_chunk,
    )


# ---------------------------------------------------------------- MAU


async def mau_notices(
    session: AsyncSession,
    *,
    now: datetime,
    notifier: NoticeNotifier,
    only: Collection[int] | None = None,
    end_chunk: EndChunk = in_one_transaction,
) -> int:
    """The MSP's MAU at 80% and at 100% of its allowance (the highest reached, once
    a month each), and the month-end estimate over the allowance (once a month, not
    before the estimate's day: bot.domain.mau.ESTIMATE_FROM_DAY). To the mau
    subscribers, or the owners."""
    groups = await _Groups.of(session, now=now, only=only)
    months = {
        msp_id: month_start(local.date())
        for msp_id, local in groups.local_now.items()
        if groups.clocks[msp_id].mau_allowance > 0
    }
    totals = await notice_repo.mau_by_msp(session, months=months)
    drafts: list[_Draft] = []
    for msp_id, month in months.items():
        allowance, mau = groups.clocks[msp_id].mau_allowance, totals.get(msp_id, 0)
        today = groups.local_now[msp_id].date()
        base = NoticeInfo(kind=NoticeKind.MAU_ALLOWANCE, mau=mau, allowance=allowance)
        owners: tuple[Recipient, ...] | None = None
        percent = notice_rules.mau_threshold_reached(mau, allowance)
        projection = project_month_end(mau, today=today, allowance=allowance)
        wanted: list[tuple[str, NoticeInfo]] = []
        if percent is not None:
            wanted.append((f"{month:%Y-%m}:{percent}", replace(base, percent=percent)))
        # The licence view warns on the same rule (Projection.warns); already over,
        # the 100% notice has said so.
        if projection.warns and mau < allowance:
            info = replace(base, kind=NoticeKind.MAU_PROJECTED, projection=projection)
            wanted.append((f"{month:%Y-%m}", info))
        for period, info in wanted:
            owners = owners if owners is not None else await _owners(session, msp_id)
            drafts.append(
                _Draft(
                    msp_id=msp_id,
                    subject_id=MSP_SUBJECT,
                    period=period,
                    topic=Topic.MAU,
                    info=replace(info, period=period),
                    fallback=owners,
                )
            )
    return await _send(
        session, drafts, groups=groups, now=now, notifier=notifier, end_chunk=end_chunk
    )


async def max_mau_alerts(
    session: AsyncSession,
    *,
    now: datetime,
    notifier: NoticeNotifier,
    only: Collection[int] | None = None,
    end_chunk: EndChunk = in_one_transaction,
) -> int:
    """R20 from the schedule: a customer whose month's MAU is at its max-MAU
    threshold gets the built-in alert (the one a usage report raises), once a
    month, even when no report crossed it (the threshold was lowered, say)."""
    groups = await _Groups.of(session, now=now, only=only)
    months = {msp_id: month_start(local.date()) for msp_id, local in groups.local_now.items()}
    reached = await notice_repo.at_max_mau(session, months=months)
    sent = 0
    for start in range(0, len(reached), CHUNK):
        chunk = reached[start : start + CHUNK]
        rows = [
            {
                "msp_id": msp_id,
                "kind": NoticeKind.MAX_MAU_ALERT.value,
                "subject_id": customer.id,
                "period": f"{months[msp_id]:%Y-%m}",
                "recipients": 0,
                "created_at": now,
            }
            for msp_id, customer, _mau in chunk
        ]
        claimed = await notice_repo.claim(session, rows)
        by_msp: dict[int, list[MatchedAlert]] = {}
        for msp_id, customer, mau in chunk:
            month = f"{months[msp_id]:%Y-%m}"
            if (msp_id, NoticeKind.MAX_MAU_ALERT.value, customer.id, month) in claimed:
                figures = ReportedFigures(customer, mau, 0, 0, 0, 0.0)
                by_msp.setdefault(msp_id, []).append(max_mau_reached(figures, months[msp_id]))
        await _raise_bot_alerts(session, by_msp, job="max_mau_alerts", now=now, notifier=notifier)
        await end_chunk()
        sent += len(claimed)
    return sent


# ---------------------------------------------------------------- requests


async def request_reminders(
    session: AsyncSession,
    *,
    now: datetime,
    notifier: NoticeNotifier,
    only: Collection[int] | None = None,
    end_chunk: EndChunk = in_one_transaction,
) -> int:
    """A request still waiting for a decision a day after it was asked: one reminder,
    in the thread of each approval message (shown in the conversation too)."""
    groups = await _Groups.of(session, now=now, only=only)
    waiting = await notice_repo.requests_waiting(
        session,
        status=RequestStatus.PENDING.value,
        asked_before=now - notice_rules.REQUEST_REMINDER_AFTER,
        msp_ids=list(groups.clocks),
    )
    lanes = await _message_lanes(session, waiting)
    drafts: list[_Draft] = []
    for request in waiting:
        threads = [
            Recipient(lanes[(request.msp_id, key)], thread_of=key)
            for key in request.message_keys
            if (request.msp_id, key) in lanes
        ]
        drafts.append(
            _Draft(
                msp_id=request.msp_id,
                subject_id=request.id,
                period="24h",
                topic=Topic.REQUESTS,
                info=NoticeInfo(
                    kind=NoticeKind.REQUEST_WAITING,
                    customer_id=request.customer_id,
                    customer_name=request.customer_name,
                    request=info_of(request),
                ),
                always=tuple(threads),
            )
        )
    return await _send(
        session, drafts, groups=groups, now=now, notifier=notifier, end_chunk=end_chunk
    )


async def _message_lanes(
    session: AsyncSession, requests: Sequence[ChangeRequest]
) -> dict[tuple[int, str], str]:
    """The conversation of each request's approval messages, by (MSP id, outbox key):
    a query per MSP and CHUNK of keys, not one per message."""
    keys: dict[int, set[str]] = {}
    for request in requests:
        keys.setdefault(request.msp_id, set()).update(request.message_keys)
    lanes: dict[tuple[int, str], str] = {}
    for msp_id, wanted in keys.items():
        ordered = sorted(wanted)
        for start in range(0, len(ordered), CHUNK):
            for message in await outbox_repo.by_keys(
                session, msp_id=msp_id, keys=ordered[start : start + CHUNK]
            ):
                lanes[(msp_id, message.key)] = message.lane
    return lanes


# ---------------------------------------------------------------- digests


async def digests(
    session: AsyncSession,
    *,
    now: datetime,
    notifier: NoticeNotifier,
    only: Collection[int] | None = None,
    end_chunk: EndChunk = in_one_transaction,
) -> int:
    """The daily digest from 09:00 in each MSP's zone (the Command Center's figures),
    and on Mondays the weekly summary (what changed over the week just ended), to
    the digest subscribers."""
    groups = await _Groups.of(session, now=now, only=only)
    drafts: list[_Draft] = []
    for msp_id, local in groups.local_now.items():
        clock = groups.clocks[msp_id]
        day, week = notice_rules.digest_day(local), notice_rules.weekly_period(local)
        if day is not None:
            info = NoticeInfo(kind=NoticeKind.DAILY_DIGEST, day=day, period=day.isoformat())
            drafts.append(_digest(session, clock, info, now))
        if week is not None:
            info = NoticeInfo(kind=NoticeKind.WEEKLY_SUMMARY, day=local.date(), period=week)
            drafts.append(_weekly(session, clock, info, local))
    return await _send(
        session, drafts, groups=groups, now=now, notifier=notifier, end_chunk=end_chunk
    )


def _digest(session: AsyncSession, clock: MspClock, info: NoticeInfo, now: datetime) -> _Draft:
    """A daily digest draft; the figures (the dashboard's queries) are read only once
    its key is claimed and someone subscribed to it."""

    async def render() -> NoticeInfo:
        requester = Requester(
            msp_id=clock.id, team_id=clock.team_id, user_id=SYSTEM_USER, role=Role.OWNER
        )
        return replace(info, board=await dashboard(session, requester=requester, now=now))

    return _msp_draft(clock, info, render)


def _weekly(
    session: AsyncSession, clock: MspClock, info: NoticeInfo, local_now: datetime
) -> _Draft:
    """A weekly summary draft; the week's figures are read only while its key is
    free and someone subscribed to it, before the claim (`_Draft.read_ahead`)."""

    async def render() -> NoticeInfo:
        week = await weekly_summary(session, msp_id=clock.id, local_now=local_now)
        return replace(info, week=week)

    return replace(_msp_draft(clock, info, render), read_ahead=True)


def _msp_draft(
    clock: MspClock, info: NoticeInfo, render: Callable[[], Awaitable[NoticeInfo]]
) -> _Draft:
    return _Draft(
        msp_id=clock.id,
        subject_id=MSP_SUBJECT,
        period=info.period,
        topic=Topic.DIGEST,
        info=info,
        render=render,
    )


# ---------------------------------------------------------------- every sweep

Sweep = Callable[..., Awaitable[int]]
SWEEPS: dict[str, Sweep] = {
    "trial_expiry_notices": trial_expiry_notices,
    "end_trials": end_trials,
    "renewal_window_notices": renewal_window_notices,
    "mau_notices": mau_notices,
    "request_reminders": request_reminders,
    "max_mau_alerts": max_mau_alerts,
    "digests": digests,
}
