"""Alerts: severities and their order, statuses, the kinds the bot raises itself,
and the limits of what a sender may put in one (docs/API.md, "Alerts")."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.text import first_not_text, not_text_message

MAX_TITLE = 200
MAX_DETAILS = 4000
MAX_DEDUP_KEY = 200
MAX_KIND = 40
MAX_LINKS = 10
MAX_LINK_URL = 2000
MAX_LINK_LABEL = 100


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical 5 down to info 1 (subscriptions filter on it)."""
        return _RANKS[self]

    def at_least(self, other: Severity) -> bool:
        """Whether this severity is `other` or worse."""
        return self.rank >= other.rank


_RANKS = {
    Severity.CRITICAL: 5,
    Severity.HIGH: 4,
    Severity.MEDIUM: 3,
    Severity.LOW: 2,
    Severity.INFO: 1,
}


def worst(first: Severity, second: Severity) -> Severity:
    """The worse of two severities: a repeat keeps the worst one seen."""
    return first if first.rank >= second.rank else second


class AlertStatus(StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"

    @property
    def is_open(self) -> bool:
        return self is not AlertStatus.RESOLVED


class AlertAction(StrEnum):
    """What staff may do to an alert from Slack (its buttons, `/msp alerts` rows)."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    SNOOZE = "snooze"


# Snooze lengths the buttons offer, in hours.
SNOOZE_HOURS = (1, 4, 24)

# The statuses each action may move an alert from. Acknowledging twice, or
# resolving a resolved alert, is refused with who did it first.
ACTION_FROM: dict[AlertAction, frozenset[AlertStatus]] = {
    AlertAction.ACKNOWLEDGE: frozenset({AlertStatus.FIRING, AlertStatus.SNOOZED}),
    AlertAction.RESOLVE: frozenset(
        {AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED, AlertStatus.SNOOZED}
    ),
    AlertAction.SNOOZE: frozenset(
        {AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED, AlertStatus.SNOOZED}
    ),
}
ACTION_TO: dict[AlertAction, AlertStatus] = {
    AlertAction.ACKNOWLEDGE: AlertStatus.ACKNOWLEDGED,
    AlertAction.RESOLVE: AlertStatus.RESOLVED,
    AlertAction.SNOOZE: AlertStatus.SNOOZED,
}


class ShownStatus(StrEnum):
    """Which alerts `/msp alerts` lists, by status."""

    OPEN = "open"  # anything not resolved
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    ALL = "all"

    @property
    def statuses(self) -> frozenset[AlertStatus] | None:
        """The statuses listed; None for every one."""
        if self is ShownStatus.ALL:
            return None
        if self is ShownStatus.OPEN:
            return frozenset(AlertStatus) - {AlertStatus.RESOLVED}
        return frozenset({AlertStatus(self.value)})


# What "Acknowledge all" and "Resolve all" may do to a listing's alerts at once.
BULK_ACTIONS = (AlertAction.ACKNOWLEDGE, AlertAction.RESOLVE)
BULK_LIMIT = 500  # alerts changed by one click; the rest stay for the next


def actions_for(status: AlertStatus) -> list[AlertAction]:
    """What an alert in this status offers (a resolved alert offers nothing)."""
    return [action for action in AlertAction if status in ACTION_FROM[action]]


class ReportedStatus(StrEnum):
    """What a sender may report: an alert fires, or it is over."""

    FIRING = "firing"
    RESOLVED = "resolved"


# The kinds the bot raises itself from usage reports.
KIND_MAX_MAU_REACHED = "max_mau_reached"
KIND_OVER_FREE_LIMITS = "over_free_limits"
KIND_AGENTS_NOT_REPORTING = "agents_not_reporting"
BUILT_IN_KINDS = frozenset({KIND_MAX_MAU_REACHED, KIND_OVER_FREE_LIMITS, KIND_AGENTS_NOT_REPORTING})

LINK_SCHEMES = ("https://", "http://")


@dataclass(frozen=True, slots=True)
class AlertLink:
    url: str
    label: str


def default_dedup_key(kind: str, account_number: str) -> str:
    """Without a dedup key, one open alert per kind and customer."""
    return f"{kind}:{account_number}"


def is_link_url(url: str) -> bool:
    """Only web links: a `javascript:` or `slack:` link in a posted alert is a trap."""
    lowered = url.lower()
    return any(lowered.startswith(scheme) and len(url) > len(scheme) for scheme in LINK_SCHEMES)


def text_problems(*, kind: str, title: str, details: str, dedup_key: str | None) -> list[str]:
    """What is wrong with an alert's text, for senders the API's validation does not
    see (the command line)."""
    problems = [
        f"{name} can be at most {limit} characters ({len(value)} given)."
        for name, value, limit in (
            ("kind", kind, MAX_KIND),
            ("title", title, MAX_TITLE),
            ("details", details, MAX_DETAILS),
            ("dedup key", dedup_key or "", MAX_DEDUP_KEY),
        )
        if len(value) > limit
    ]
    problems += [
        f"Give the {name}."
        for name, value in (("kind", kind), ("title", title))
        if not value.strip()
    ]
    for name, value, free_text in (
        ("kind", kind, False),
        ("title", title, False),
        ("details", details, True),
        ("dedup key", dedup_key or "", False),
    ):
        found = first_not_text(value, free_text=free_text)
        if found is not None:
            problems.append(f"The {name}: {not_text_message(found, free_text=free_text)}")
    return problems
