"""Routing alerts to their subscribers: a new (or reopened) alert is
posted once to every conversation whose `alerts` subscription matches it; a repeat,
a resolution or a change of state updates every message of that alert in place.

Set-based: one query for the MSP's subscriptions, matched here in Python (an MSP has
few), one for the alerts as they now are, one for their messages. Nothing here
talks to Slack: the messages go through the `AlertNotifier` the caller hands in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.alert_groups import MAX_WINDOW_MINUTES, group_key, kind_of_key, still_open
from bot.domain.alerts import AlertLink, AlertStatus, Severity
from bot.domain.subscriptions import Topic
from bot.results.alerts import AlertGroupSummary, AlertInfo
from bot.services import audience
from bot.services.audience import Recipient
from storage.models import Alert, AlertGroup, AlertMessage, AlertSubscription, Msp
from storage.repositories import alert_groups as group_repo
from storage.repositories import alerts as alert_repo
from storage.repositories import msps as msp_repo
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
        self, session: AsyncSession, *, msp_id: int, updates: Sequence[AlertUpdate]
    ) -> None:
        """Update the messages enqueued under each update's keys in place, all in
        one go."""
        ...


@dataclass(frozen=True, slots=True)
class AlertUpdate:
    """An alert's messages to redraw; `group`: they are the parent of that group of
    alerts threaded under them, and say so."""

    alert: AlertInfo
    keys: Sequence[str]
    group: AlertGroupSummary | None = None


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
    parents = await group_repo.by_parent_keys(
        session, msp_id=msp_id, keys=[message.outbox_key for message in messages]
    )
    updates: list[AlertUpdate] = []
    for alert in alerts:
        if alert.id not in keys:
            continue
        info = info_of(alert)
        plain = [key for key in keys[alert.id] if key not in parents]
        if plain:
            updates.append(AlertUpdate(info, plain))
        # A group's parent keeps saying what is in its thread.
        updates += [
            AlertUpdate(info, [key], summary_of(parents[key]))
            for key in keys[alert.id]
            if key in parents
        ]
    await notifier.changed(session, msp_id=msp_id, updates=updates)


def summary_of(group: AlertGroup) -> AlertGroupSummary:
    return _Group.of(group).summary()


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
    planned: list[tuple[Alert, list[Recipient]]] = []
    for alert in alerts:
        to = recipients(subscriptions, alert, local_now=local)
        if not to:
            continue
        if alert.reopened:
            threads = await alert_repo.earlier_messages(
                session, msp_id=msp_id, dedup_key=alert.dedup_key, before_id=alert.id
            )
            to = [replace(r, thread_of=threads.get(r.channel)) for r in to]
        planned.append((alert, to))
    if not planned:
        return
    await msp_repo.lock(session, msp_id=msp_id)  # usually held already: see record_alerts
    grouping = _Grouping(
        now=now,
        open=await group_repo.latest_since(
            session,
            msp_id=msp_id,
            keys={
                (r.channel, key)
                for alert, to in planned
                for r in to
                if (key := _group_key_of(alert, r)) is not None
            },
            since=now - timedelta(minutes=MAX_WINDOW_MINUTES),
        ),
    )
    first, second = grouping.place(planned)
    posted = await notifier.posted(session, msp_id=msp_id, posts=first)
    for group in grouping.opened:
        group.parent_key = posted[(group.parent_alert_id, group.channel)]
    if second:
        posted |= await notifier.posted(
            session, msp_id=msp_id, posts=grouping.under_new_parents(second)
        )
    rows = [
        {"alert_id": alert_id, "channel": channel, "outbox_key": key, "created_at": now}
        for (alert_id, channel), key in posted.items()
    ]
    await alert_repo.add_messages(session, rows)
    await group_repo.open_many(session, [group.row(msp_id) for group in grouping.opened])
    await group_repo.grow_many(session, [group.growth() for group in grouping.grown])
    await _redraw_parents(session, msp_id=msp_id, groups=grouping.changed, notifier=notifier)


async def _redraw_parents(
    session: AsyncSession,
    *,
    msp_id: int,
    groups: Sequence[_Group],
    notifier: AlertNotifier,
) -> None:
    """Each group that took alerts: its parent message with the new count."""
    if not groups:
        return
    parents = {
        alert.id: alert
        for alert in await alert_repo.by_ids(
            session, msp_id=msp_id, ids={group.parent_alert_id for group in groups}
        )
    }
    await notifier.changed(
        session,
        msp_id=msp_id,
        updates=[
            AlertUpdate(info_of(parent), [group.parent_key], group.summary())
            for group in groups
            if (parent := parents.get(group.parent_alert_id)) is not None
            and group.parent_key is not None
        ],
    )


@dataclass
class _Group:
    """A group as this batch sees it: read open, or opened by this batch."""

    channel: str
    key: str
    parent_alert_id: int
    parent_key: str | None  # None until this batch's parent message has its key
    count: int
    worst: Severity
    first_at: datetime
    last_at: datetime
    id: int | None = None  # None: opened by this batch

    def take(self, alert: Alert, now: datetime) -> None:
        self.count += 1
        severity = Severity(alert.severity)
        if severity.rank > self.worst.rank:
            self.worst = severity
        self.last_at = now

    @classmethod
    def of(cls, stored: AlertGroup) -> _Group:
        return cls(
            channel=stored.channel,
            key=stored.group_key,
            parent_alert_id=stored.parent_alert_id,
            parent_key=stored.parent_key,
            count=stored.count,
            worst=Severity(stored.worst_severity),
            first_at=stored.first_at,
            last_at=stored.last_at,
            id=stored.id,
        )

    def summary(self) -> AlertGroupSummary:
        return AlertGroupSummary(
            count=self.count, worst=self.worst, last_at=self.last_at, kind=kind_of_key(self.key)
        )

    def row(self, msp_id: int) -> dict[str, Any]:
        return {
            "msp_id": msp_id,
            "channel": self.channel,
            "group_key": self.key,
            "parent_alert_id": self.parent_alert_id,
            "parent_key": self.parent_key,
            "count": self.count,
            "worst_severity": self.worst.value,
            "first_at": self.first_at,
            "last_at": self.last_at,
        }

    def growth(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "count": self.count,
            "worst_severity": self.worst.value,
            "last_at": self.last_at,
        }


_Posts = tuple[AlertInfo, Sequence[Recipient]]


@dataclass
class _Grouping:
    """Places a batch's alerts: each conversation's alert opens a group or goes
    into the thread of the one open for its customer (and kind)."""

    now: datetime
    open: dict[tuple[str, str], AlertGroup]
    groups: dict[tuple[str, str], _Group] = field(default_factory=dict)
    opened: list[_Group] = field(default_factory=list)

    @property
    def grown(self) -> list[_Group]:
        return [group for group in self.groups.values() if group.id is not None]

    @property
    def changed(self) -> list[_Group]:
        return [group for group in self.groups.values() if group.count > 1]

    def place(
        self, planned: Sequence[tuple[Alert, list[Recipient]]]
    ) -> tuple[list[_Posts], list[tuple[AlertInfo, Recipient, _Group]]]:
        """The posts whose thread is known now, and the replies to parents this
        batch posts (their keys come from posting them)."""
        now_posts: list[_Posts] = []
        later: list[tuple[AlertInfo, Recipient, _Group]] = []
        for alert, to in planned:
            info = info_of(alert)
            here: list[Recipient] = []
            for recipient in to:
                group = self._group_of(alert, recipient)
                if group is None:
                    here.append(recipient)
                elif group.parent_key is not None:
                    here.append(replace(recipient, thread_of=group.parent_key, thread_only=True))
                else:
                    later.append((info, recipient, group))
            if here:
                now_posts.append((info, here))
        return now_posts, later

    def under_new_parents(
        self, later: Sequence[tuple[AlertInfo, Recipient, _Group]]
    ) -> list[_Posts]:
        return [
            (info, [replace(recipient, thread_of=group.parent_key, thread_only=True)])
            for info, recipient, group in later
        ]

    def _group_of(self, alert: Alert, recipient: Recipient) -> _Group | None:
        """The group this alert joins in that conversation; None when it opens one
        (or is not grouped: a reopened alert replies to its earlier message)."""
        key = _group_key_of(alert, recipient)
        if key is None:
            return None
        found = self.groups.get((recipient.channel, key)) or self._read(recipient.channel, key)
        if found is not None and still_open(found.last_at, self.now, recipient.grouping):
            found.take(alert, self.now)
            self.groups[(recipient.channel, key)] = found
            return found
        opened = _Group(
            channel=recipient.channel,
            key=key,
            parent_alert_id=alert.id,
            parent_key=None,
            count=1,
            worst=Severity(alert.severity),
            first_at=self.now,
            last_at=self.now,
        )
        self.groups[(recipient.channel, key)] = opened
        self.opened.append(opened)
        return None

    def _read(self, channel: str, key: str) -> _Group | None:
        stored = self.open.get((channel, key))
        return None if stored is None else _Group.of(stored)


def _group_key_of(alert: Alert, recipient: Recipient) -> str | None:
    """The group an alert may join in a conversation; None when it is not grouped
    there (the subscription does not group, or it replies to its earlier message)."""
    if recipient.thread_of is not None or recipient.grouping is None:
        return None
    return group_key(recipient.grouping, customer_id=alert.customer_id, kind=alert.kind)


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
