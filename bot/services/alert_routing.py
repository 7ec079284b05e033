"""Routing alerts to their subscribers: a new (or reopened) alert is
posted once to every conversation whose `alerts` subscription matches it; a repeat,
a resolution or a change of state updates every message of that alert in place.

Set-based: one query for the MSP's subscriptions, matched here in Python (an MSP has
few), one for the alerts as they now are, one for their messages. Nothing here
talks to Slack: the messages go through the `AlertNotifier` the caller hands in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.alerts import AlertLink, AlertStatus, Severity
from bot.domain.subscriptions import Topic
from bot.results.alerts import AlertInfo
from bot.services import audience
from bot.services.audience import Recipient
from storage.models import Alert, AlertMessage, AlertSubscription, Msp
from storage.repositories import alerts as alert_repo
from storage.repositories import subscriptions as subscription_repo


class AlertNotifier(Protocol):
    """How alerts reach Slack; bot.notify.alert_messages has the outbox one."""

    async def posted(
        self,
        session: AsyncSession,
        *,
        msp_id: int,
        posts: Sequence[tuple[AlertInfo, Sequence[Recipient]]],
    ) -> dict[tuple[int, str], str]:
        """Post each alert to its conversations, all in one go; the outbox key of
        each message by (alert id, conversation)."""
        ...

    async def changed(
        self, session: AsyncSession, *, msp_id: int, alert: AlertInfo, keys: Sequence[str]
    ) -> None:
        """Update the messages enqueued under these keys in place."""
        ...


def info_of(alert: Alert) -> AlertInfo:
    return AlertInfo(
        id=alert.id,
        customer_id=alert.customer_id,
        customer_name=alert.customer_name,
        kind=alert.kind,
        severity=Severity(alert.severity),
        title=alert.title,
        details=alert.details,
        status=AlertStatus(alert.status),
        occurrences=alert.occurrences,
        last_seen_at=alert.last_seen_at,
        links=tuple(AlertLink(link["url"], link["label"]) for link in alert.links),
        acknowledged_by=alert.acknowledged_by,
        snoozed_until=alert.snoozed_until,
        snoozed_by=alert.snoozed_by,
        resolved_by=alert.resolved_by,
        reopened=alert.reopened,
    )


async def route(
    session: AsyncSession,
    *,
    msp_id: int,
    new_ids: Collection[int],
    changed_ids: Collection[int],
    notifier: AlertNotifier,
    now: datetime,
) -> None:
    """Post the new alerts to their subscribers and update the changed ones'
    messages, in the caller's transaction."""
    if not new_ids and not changed_ids:
        return
    alerts = await alert_repo.by_ids(session, msp_id=msp_id, ids={*new_ids, *changed_ids})
    # Read for the new alerts too (they have none yet), so the statements sent do
    # not depend on what a batch holds.
    messages = await alert_repo.messages_of(session, alert_ids={alert.id for alert in alerts})
    fresh = [alert for alert in alerts if alert.id in new_ids]
    if fresh:
        await _post(session, msp_id=msp_id, alerts=fresh, notifier=notifier, now=now)
    changed = [alert for alert in alerts if alert.id not in new_ids]
    await _update(session, msp_id=msp_id, alerts=changed, messages=messages, notifier=notifier)


async def update_messages(
    session: AsyncSession, *, msp_id: int, alerts: Sequence[Alert], notifier: AlertNotifier
) -> None:
    """Every message of these alerts, in every conversation, shows them as they are."""
    if not alerts:
        return
    messages = await alert_repo.messages_of(session, alert_ids={alert.id for alert in alerts})
    await _update(session, msp_id=msp_id, alerts=alerts, messages=messages, notifier=notifier)


async def _update(
    session: AsyncSession,
    *,
    msp_id: int,
    alerts: Sequence[Alert],
    messages: Sequence[AlertMessage],
    notifier: AlertNotifier,
) -> None:
    keys: dict[int, list[str]] = {}
    for message in messages:
        keys.setdefault(message.alert_id, []).append(message.outbox_key)
    for alert in alerts:
        if alert.id in keys:
            info = info_of(alert)
            await notifier.changed(session, msp_id=msp_id, alert=info, keys=keys[alert.id])


async def _post(
    session: AsyncSession,
    *,
    msp_id: int,
    alerts: Sequence[Alert],
    notifier: AlertNotifier,
    now: datetime,
) -> None:
    subscriptions = await subscription_repo.listing(session, msp_id=msp_id)
    if not subscriptions:
        return
    msp = await session.get(Msp, msp_id)
    local = now.astimezone(ZoneInfo(msp.timezone if msp is not None else "UTC"))
    planned: list[tuple[AlertInfo, Sequence[Recipient]]] = []
    for alert in alerts:
        to = recipients(subscriptions, alert, local_now=local)
        if not to:
            continue
        if alert.reopened:
            threads = await alert_repo.earlier_messages(
                session, msp_id=msp_id, dedup_key=alert.dedup_key, before_id=alert.id
            )
            to = [replace(r, thread_of=threads.get(r.channel)) for r in to]
        planned.append((info_of(alert), to))
    posted = await notifier.posted(session, msp_id=msp_id, posts=planned)
    rows = [
        {"alert_id": alert_id, "channel": channel, "outbox_key": key, "created_at": now}
        for (alert_id, channel), key in posted.items()
    ]
    await alert_repo.add_messages(session, rows)


def recipients(
    subscriptions: Sequence[AlertSubscription], alert: Alert, *, local_now: datetime
) -> list[Recipient]:
    """The conversations an alert goes to (bot.services.audience)."""
    return audience.recipients(
        subscriptions,
        topic=Topic.ALERTS,
        severity=alert.severity,
        customer_id=alert.customer_id,
        kind=alert.kind,
        local_now=local_now,
    )
