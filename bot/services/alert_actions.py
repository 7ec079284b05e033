"""Acting on alerts from Slack: acknowledge, resolve, snooze; the
sweep that wakes snoozed alerts; and `/msp alerts`, the listing.

Every action is a conditional update on the alert's status, so of two people
clicking at once one wins and the other is told who did what. The winner's change
updates every message of the alert in every conversation (through the notifier)
and is audited. Viewers cannot act; members only on their assigned customers'.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.alerts import (
    ACTION_FROM,
    ACTION_TO,
    BULK_ACTIONS,
    BULK_LIMIT,
    SNOOZE_HOURS,
    AlertAction,
    AlertStatus,
)
from bot.domain.roles import Role, can_act_on_alerts
from bot.errors import BotError, InvalidInput, NotAllowed, NotFound
from bot.payloads import AlertQuery
from bot.results.alerts import AlertInfo, AlertListing, BulkOutcome
from bot.sentences import Person, Sentence, sentence
from bot.services import alert_routing, audit
from bot.services.alert_routing import AlertNotifier, info_of
from bot.services.alerts import SEVERITY_RANKS
from bot.services.tenancy import Requester
from storage.models import Alert
from storage.repositories import alerts as alert_repo
from storage.repositories import audit as audit_repo
from storage.repositories import customers as customer_repo
from storage.repositories import msps as msp_repo
from storage.repositories import usage as usage_repo

LISTING_LIMIT = 10  # rows of a `/msp alerts` page: two blocks each, well below 50
# Snoozes woken per transaction: the job runs batches until none is left, and each
# holds SQLite's one write lock only briefly, so other writers get through between.
WAKE_BATCH = 200

AUDITED = {
    AlertAction.ACKNOWLEDGE: audit.AuditAction.ALERT_ACKNOWLEDGED,
    AlertAction.RESOLVE: audit.AuditAction.ALERT_RESOLVED,
    AlertAction.SNOOZE: audit.AuditAction.ALERT_SNOOZED,
}


class AlreadyHandled(BotError):
    """Someone else changed the alert first; `info` is the alert as it now is."""

    def __init__(self, message: Sentence, *, info: AlertInfo) -> None:
        super().__init__(message)
        self.info = info


async def act(
    session: AsyncSession,
    *,
    requester: Requester,
    alert_id: int,
    action: AlertAction,
    hours: int | None,
    now: datetime,
    notifier: AlertNotifier,
) -> AlertInfo:
    """Do `action` to the alert once; raises AlreadyHandled when it was done (or the
    alert resolved) by someone else first."""
    if not can_act_on_alerts(requester.role):
        raise NotAllowed("Viewers can see alerts but not acknowledge, resolve or snooze them.")
    alert = await _alert_of(session, requester, alert_id)
    await _check_may_act(session, requester, alert)
    values = _values(action, hours=hours, user_id=requester.user_id, now=now)
    before = {"status": alert.status}
    won = await alert_repo.move(
        session,
        msp_id=requester.msp_id,
        alert_id=alert.id,
        from_statuses=[status.value for status in ACTION_FROM[action]],
        values=values,
    )
    alert = await _alert_of(session, requester, alert_id)
    if not won:
        raise AlreadyHandled(already_handled_text(alert, action), info=info_of(alert))
    await audit_repo.append(
        session,
        msp_id=requester.msp_id,
        actor=requester.user_id,
        action=AUDITED[action],
        entity_type="alert",
        entity_id=str(alert.id),
        before=before,
        after=_audited(alert),
        at=now,
    )
    await alert_routing.update_messages(
        session, msp_id=requester.msp_id, alerts=[alert], notifier=notifier
    )
    await msp_repo.mark_home_stale(session, msp_id=requester.msp_id, now=now)
    return info_of(alert)


def _values(
    action: AlertAction, *, hours: int | None, user_id: str, now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {"status": ACTION_TO[action].value, "updated_at": now}
    match action:
        case AlertAction.ACKNOWLEDGE:
            values |= {"acknowledged_by": user_id, "acknowledged_at": now, "snoozed_until": None}
        case AlertAction.RESOLVE:
            values |= {"resolved_by": user_id, "resolved_at": now, "snoozed_until": None}
        case AlertAction.SNOOZE:
            if hours not in SNOOZE_HOURS:
                choices = ", ".join(f"{h} h" for h in SNOOZE_HOURS)
                raise InvalidInput(f"Snooze for one of: {choices}.")
            values |= {"snoozed_by": user_id, "snoozed_until": now + timedelta(hours=hours)}
    return values


def already_handled_text(alert: Alert, action: AlertAction) -> Sentence:
    """Why an action did nothing: what happened to the alert, and who did it (a
    person as a value: a mention in mrkdwn, plain words in plain text)."""
    status = AlertStatus(alert.status)
    if status is AlertStatus.RESOLVED:
        who = _by(alert.resolved_by, otherwise=" by its sender")
        return sentence("This alert was already resolved{who}. Nothing was changed.", who=who)
    if status is AlertStatus.ACKNOWLEDGED and action is AlertAction.ACKNOWLEDGE:
        who = _by(alert.acknowledged_by)
        return sentence("This alert was already acknowledged{who}. Nothing was changed.", who=who)
    return Sentence.literal(f"This alert is {status.value} now. Nothing was changed.")


def _by(user_id: str | None, *, otherwise: str = "") -> Sentence:
    return sentence(" by {who}", who=Person(user_id)) if user_id else Sentence.literal(otherwise)


async def _alert_of(session: AsyncSession, requester: Requester, alert_id: int) -> Alert:
    alert = await alert_repo.get(session, msp_id=requester.msp_id, alert_id=alert_id)
    if alert is None:
        raise NotFound("That alert does not exist in this MSP.")
    return alert


async def _check_may_act(session: AsyncSession, requester: Requester, alert: Alert) -> None:
    if requester.role is not Role.MEMBER:
        return
    assigned = (
        alert.customer_id is not None
        and await customer_repo.get(
            session,
            msp_id=requester.msp_id,
            customer_id=alert.customer_id,
            assigned_to=requester.user_id,
        )
        is not None
    )
    if not assigned:
        raise NotAllowed("Members can act only on alerts of the customers assigned to them.")


def _audited(alert: Alert) -> dict[str, Any]:
    return {
        "status": alert.status,
        "dedup_key": alert.dedup_key,
        "snoozed_until": alert.snoozed_until.isoformat() if alert.snoozed_until else None,
    }


# ---------------------------------------------------------------- the snooze sweep


async def wake_snoozed(session: AsyncSession, *, now: datetime, notifier: AlertNotifier) -> int:
    """Snoozes that are over: the alert fires again, its messages say so. Returns
    how many woke: at most WAKE_BATCH (the job runs it again while a batch is full)."""
    woken = await alert_repo.wake_snoozed(session, now=now, limit=WAKE_BATCH)
    by_msp: dict[int, set[int]] = {}
    for msp_id, alert_id in woken:
        by_msp.setdefault(msp_id, set()).add(alert_id)
    events = [
        {
            "msp_id": msp_id,
            "actor": audit.job_actor("wake_snoozed_alerts"),
            "action": audit.AuditAction.ALERT_WOKEN.value,
            "entity_type": "alert",
            "entity_id": str(alert_id),
            "after": {"status": AlertStatus.FIRING.value},
            "created_at": now,
        }
        for msp_id, alert_id in woken
    ]
    await usage_repo.append_audit_events(session, events)
    for msp_id, ids in by_msp.items():
        alerts = await alert_repo.by_ids(session, msp_id=msp_id, ids=ids)
        await alert_routing.update_messages(
            session, msp_id=msp_id, alerts=alerts, notifier=notifier
        )
        await msp_repo.mark_home_stale(session, msp_id=msp_id, now=now)
    return len(woken)


# ---------------------------------------------------------------- `/msp alerts`


async def list_alerts(
    session: AsyncSession,
    *,
    requester: Requester,
    query: AlertQuery,
    customer_name: str | None = None,
    limit: int = LISTING_LIMIT,
) -> AlertListing:
    """A page of the alerts a person may see (members: their assigned customers'),
    open, worst and newest first, and how many match."""
    rows, counts = await alert_repo.listing(
        session,
        msp_id=requester.msp_id,
        where=_filter(requester, query),
        ranks=SEVERITY_RANKS,
        limit=limit,
        offset=query.offset,
    )
    return AlertListing(
        alerts=[info_of(row) for row in rows],
        counts=counts,
        query=query,
        customer_name=customer_name,
        page_size=limit,
        can_act=can_act_on_alerts(requester.role),
    )


def _filter(requester: Requester, query: AlertQuery) -> alert_repo.AlertFilter:
    statuses = query.status.statuses
    return alert_repo.AlertFilter(
        statuses=None if statuses is None else [status.value for status in statuses],
        min_rank=query.severity.rank if query.severity is not None else None,
        customer_id=query.customer_id,
        assigned_to=requester.user_id if requester.role is Role.MEMBER else None,
    )


async def act_on_all(
    session: AsyncSession,
    *,
    requester: Requester,
    query: AlertQuery,
    action: AlertAction,
    now: datetime,
    notifier: AlertNotifier,
) -> BulkOutcome:
    """Acknowledge or resolve every alert the listing's filter matches (up to
    BULK_LIMIT a click) that is still in a status the action moves from: those
    changed by someone else meanwhile are left as they are. Each is audited and its
    messages everywhere updated, as a click on it would."""
    if not can_act_on_alerts(requester.role):
        raise NotAllowed("Viewers can see alerts but not acknowledge, resolve or snooze them.")
    if action not in BULK_ACTIONS:
        raise InvalidInput("Only Acknowledge all and Resolve all act on a whole list.")
    changed = await alert_repo.move_many(
        session,
        msp_id=requester.msp_id,
        where=_filter(requester, query),
        ranks=SEVERITY_RANKS,
        from_statuses=[status.value for status in ACTION_FROM[action]],
        values=_values(action, hours=None, user_id=requester.user_id, now=now),
        limit=BULK_LIMIT,
    )
    if not changed:
        return BulkOutcome(action=action, changed=0)
    alerts = await alert_repo.by_ids(session, msp_id=requester.msp_id, ids=changed)
    await usage_repo.append_audit_events(
        session,
        [
            {
                "msp_id": requester.msp_id,
                "actor": requester.user_id,
                "action": AUDITED[action].value,
                "entity_type": "alert",
                "entity_id": str(alert.id),
                "after": {**_audited(alert), "bulk": True},
                "created_at": now,
            }
            for alert in alerts
        ],
    )
    await alert_routing.update_messages(
        session, msp_id=requester.msp_id, alerts=alerts, notifier=notifier
    )
    await msp_repo.mark_home_stale(session, msp_id=requester.msp_id, now=now)
    return BulkOutcome(action=action, changed=len(changed))


async def alerts_by_ids(
    session: AsyncSession, *, requester: Requester, alert_ids: list[int]
) -> list[AlertInfo]:
    """The alerts of a digest, as they are now (members: their assigned customers')."""
    rows = await alert_repo.by_ids(session, msp_id=requester.msp_id, ids=alert_ids)
    if requester.role is Role.MEMBER:
        visible = await customer_repo.assigned_among(
            session,
            msp_id=requester.msp_id,
            customer_ids={row.customer_id for row in rows if row.customer_id is not None},
            user_id=requester.user_id,
        )
        rows = [row for row in rows if row.customer_id in visible]
    ranked = sorted(rows, key=lambda row: (-SEVERITY_RANKS.get(row.severity, 0), row.id))
    return [info_of(row) for row in ranked]
