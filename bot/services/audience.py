"""Who hears of something: the conversations whose subscriptions match it (alerts
and scheduled notices alike), each once, with when (a person's quiet hours) and,
for a reply, the thread it goes in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.alert_groups import DEFAULT_WINDOW_MINUTES, GroupBy, Grouping
from bot.domain.subscriptions import Topic, matches, quiet_hours_end
from bot.services.subscriptions import PERSON
from storage.models import AlertSubscription


@dataclass(frozen=True, slots=True)
class Recipient:
    """One conversation a message goes to: when (a person in quiet hours gets it when
    they end), and the earlier message it replies to there, if any."""

    channel: str
    # How long to hold it: business time runs on the injected clock, delivery on
    # real time, so the outbox is told a delay rather than a moment.
    hold: timedelta | None = None
    thread_of: str | None = None  # the outbox key of the earlier message
    # Alerts: how this conversation's subscription threads them together.
    grouping: Grouping | None = None
    thread_only: bool = False  # a reply kept in its thread (a grouped alert)


def recipients(
    subscriptions: Sequence[AlertSubscription],
    *,
    topic: Topic,
    severity: str | None = None,
    customer_id: int | None = None,
    kind: str | None = None,
    local_now: datetime,
) -> list[Recipient]:
    """The conversations subscribed to this, each once, in subscription order; a
    person in quiet hours gets it when they end (the earliest end, if two of their
    subscriptions match). Quiet hours are read in the person's own time zone, kept
    with the subscription, or in the MSP's (`local_now`'s) when it has none."""
    conversations: dict[str, datetime | None] = {}
    groupings: dict[str, Grouping] = {}
    for subscription in subscriptions:
        if not matches(
            subscription,
            topic=topic.value,
            severity=severity,
            customer_id=customer_id,
            kind=kind,
        ):
            continue
        later = None
        if subscription.target_kind == PERSON:
            their_now = (
                local_now.astimezone(ZoneInfo(subscription.quiet_timezone))
                if subscription.quiet_timezone
                else local_now
            )
            later = quiet_hours_end(subscription.quiet_start, subscription.quiet_end, their_now)
        target = subscription.target
        if target in conversations:
            earlier = conversations[target]
            later = None if earlier is None or later is None else min(earlier, later)
        conversations[target] = later
        # Two subscriptions of one conversation that group differently: the older's way.
        groupings.setdefault(target, grouping_of(subscription))
    return [
        Recipient(
            channel,
            hold=deliver_at - local_now if deliver_at else None,
            grouping=groupings[channel],
        )
        for channel, deliver_at in conversations.items()
    ]


def grouping_of(subscription: AlertSubscription) -> Grouping:
    try:
        return Grouping(
            GroupBy(subscription.group_by), subscription.group_minutes or DEFAULT_WINDOW_MINUTES
        )
    except ValueError:  # a value this version does not know: the default
        return Grouping()
