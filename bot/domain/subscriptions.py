"""Subscriptions: who is told about what. The grammar of
`/msp subscribe` and `/msp unsubscribe`, whether a subscription wants a notice
(`matches`), and whether a person's quiet hours are on (`in_quiet_hours`).

Pure: the customer names typed here are resolved to ids by the service.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from bot.domain.alert_groups import DEFAULT_GROUPING, Grouping, parse_grouping
from bot.domain.typos import closest
from bot.errors import InvalidInput

EXAMPLE = "Try: /msp subscribe #noc alerts severity>=high not customer=Acme"
HERE = "here"  # the conversation the command was typed in
ME = "me"  # the person typing, by DM
MAX_NAMES = 50
MAX_NAME_LENGTH = 100
MAX_KINDS = 20
MAX_TEXT_LENGTH = 2000
_CHANNEL_ID = r"[CG][A-Z0-9]{1,31}"
_CHANNEL = re.compile(rf"^<#({_CHANNEL_ID})(?:\|[^>]*)?>$")
_KIND = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,39}$")
# ASCII digits: \d also matches other scripts' digits, which time.fromisoformat()
# refuses when quiet hours are read (found by tests/resilience/test_modal_fuzz.py).
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
# Slack sends typed quotes as typed: straight, or a phone's curly ones.
_QUOTES = {'"': '"', "“": "”", "”": "”", "„": "“"}


class Topic(StrEnum):
    ALERTS = "alerts"
    TRIALS = "trials"
    MAU = "mau"
    REQUESTS = "requests"
    DIGEST = "digest"


# The alert severities, most severe first (DOMAIN.md, "Alerts"). Kept here as words
# so subscriptions need nothing from alert ingest, which names the same five.
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")


def severity_rank(severity: str | None) -> int | None:
    """Higher is more severe (critical 5 .. info 1); None for anything else."""
    if severity not in SEVERITIES:
        return None
    return len(SEVERITIES) - SEVERITIES.index(severity)


DEFAULT_TOPICS = (Topic.ALERTS,)
_TOPIC_WORDS = frozenset(topic.value for topic in Topic)


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """What `/msp subscribe` asked for. `target` is HERE, ME or a channel id;
    customers are the names (or account numbers) as typed."""

    target: str = HERE
    topics: tuple[Topic, ...] = DEFAULT_TOPICS
    min_severity: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    quiet_start: str | None = None
    quiet_end: str | None = None
    grouping: Grouping = DEFAULT_GROUPING


class Filters(Protocol):
    """What `matches` reads: a stored subscription has these columns."""

    @property
    def topics(self) -> Sequence[str]: ...
    @property
    def min_severity(self) -> str | None: ...
    @property
    def customers_included(self) -> Sequence[int]: ...
    @property
    def customers_excluded(self) -> Sequence[int]: ...
    @property
    def kinds(self) -> Sequence[str]: ...


def invalid(reason: str, *, field: str | None = None) -> InvalidInput:
    """Every grammar error ends with the same example, so people see a right one."""
    return InvalidInput(f"{reason} {EXAMPLE}", field=field)


# ---------------------------------------------------------------- the words


def tokenize(text: str) -> list[str]:
    """Words split on spaces outside quotes; quotes are kept (straightened) so a
    list like `customer="Acme Corp",Globex` can be split on its commas after."""
    words: list[str] = []
    current: list[str] = []
    closing: str | None = None
    for character in text:
        if closing is not None:
            if character == closing or (closing == "”" and character == '"'):
                current.append('"')
                closing = None
            else:
                current.append(character)
        elif character in _QUOTES:
            current.append('"')
            closing = _QUOTES[character]
        elif character.isspace():
            if current:
                words.append("".join(current))
            current = []
        else:
            current.append(character)
    if closing is not None:
        raise invalid("A quote is not closed.")
    if current:
        words.append("".join(current))
    return words


def split_list(value: str, *, what: str) -> list[str]:
    """`"Acme Corp",Globex` -> ["Acme Corp", "Globex"]: commas inside quotes stay."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for character in value:
        if character == '"':
            quoted = not quoted
        elif character == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(character)
    items.append("".join(current).strip())
    if any(not item for item in items):
        raise invalid(f"Give at least one {what} after the =, separated by commas.")
    return items


def unescape(text: str) -> str:
    """Slack escapes &, < and > in what people type (`severity&gt;=high`)."""
    return text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")


# ---------------------------------------------------------------- the grammar


@dataclass
class _Draft:
    target: str | None = None
    topics: list[Topic] | None = None
    min_severity: str | None = None
    include: list[str] | None = None
    exclude: list[str] | None = None
    kinds: list[str] | None = None
    quiet: tuple[str, str] | None = None
    grouping: Grouping | None = None


def parse_subscription(text: str) -> SubscriptionSpec:
    """The words after `/msp subscribe` (or `unsubscribe`), in any order."""
    if len(text) > MAX_TEXT_LENGTH:
        raise invalid("That is too long for a subscription.")
    draft = _Draft()
    words = tokenize(unescape(text))
    index = 0
    while index < len(words):
        word = words[index]
        if word.lower() == "not":
            if index + 1 >= len(words) or not _is_customer_key(words[index + 1]):
                raise invalid("`not` goes before customer=NAME.")
            _set_once(draft, "exclude", _names(words[index + 1]), "not customer=")
            index += 2
            continue
        _read_word(draft, word)
        index += 1
    return _spec(draft)


def _read_word(draft: _Draft, word: str) -> None:
    lowered = word.lower()
    if lowered in (ME, HERE) or _CHANNEL.match(word):
        _set_once(draft, "target", _target(word), "a channel or me")
    elif lowered in _TOPIC_WORDS:
        draft.topics = [*(draft.topics or []), Topic(lowered)]
    elif lowered.startswith("severity"):
        _set_once(draft, "min_severity", parse_severity_word(word), "severity")
    elif _is_customer_key(word):
        _set_once(draft, "include", _names(word), "customer=")
    elif lowered.startswith("kind=") or lowered.startswith("kinds="):
        _set_once(draft, "kinds", parse_kinds(word.split("=", 1)[1]), "kind=")
    elif lowered.startswith("quiet="):
        _set_once(draft, "quiet", parse_quiet_hours(word.split("=", 1)[1]), "quiet=")
    elif lowered.startswith("group="):
        _set_once(draft, "grouping", _grouping(word.split("=", 1)[1]), "group=")
    elif word.startswith("#") or word.startswith("<#"):
        raise invalid(
            f"I can't tell which channel “{word[:40]}” is: pick it from the list as you type #."
        )
    else:
        raise invalid(f"I don't understand “{word[:40]}”.{_did_you_mean(word)}")


# What a word may start with: compared with the part before "=" of a mistyped one.
_KEYS = ("customer=", "kind=", "quiet=", "severity>=", "group=")


def _did_you_mean(word: str) -> str:
    key, equals, _value = word.partition("=")
    if equals:
        guess = closest(key + equals, _KEYS)
        return f" Did you mean {guess}?" if guess else ""
    guess = closest(word, [ME, HERE, "not", *sorted(_TOPIC_WORDS)])
    return f" Did you mean {guess}?" if guess else ""


def _grouping(value: str) -> Grouping:
    try:
        return parse_grouping(value)
    except InvalidInput as error:
        raise invalid(error.message) from None


def _set_once(draft: _Draft, name: str, value: object, label: str) -> None:
    if getattr(draft, name) is not None:
        raise invalid(f"Give {label} only once.")
    setattr(draft, name, value)


def is_channel_id(text: str) -> bool:
    """A public or private channel's id (what a channel target may be)."""
    return re.fullmatch(_CHANNEL_ID, text) is not None


def _target(word: str) -> str:
    match = _CHANNEL.match(word)
    return match[1] if match else word.lower()


def _is_customer_key(word: str) -> bool:
    return word.lower().startswith(("customer=", "customers="))


def _names(word: str) -> list[str]:
    names = split_list(word.split("=", 1)[1], what="customer")
    if len(names) > MAX_NAMES:
        raise invalid(f"Name at most {MAX_NAMES} customers.")
    too_long = next((name for name in names if len(name) > MAX_NAME_LENGTH), None)
    if too_long is not None:
        raise invalid(f"“{too_long[:40]}…” is too long for a customer name.")
    return list(dict.fromkeys(names))


def parse_severity_word(word: str) -> str:
    """`severity>=high` (or `severity=high`: the same, at least high)."""
    match = re.fullmatch(r"severity(>=|=)(.*)", word, flags=re.IGNORECASE)
    if match is None:
        raise invalid(f"Write the lowest severity as severity>=LEVEL, not “{word[:40]}”.")
    return parse_severity(match[2])


def parse_severity(value: str, *, field: str | None = None) -> str:
    level = value.strip().lower()
    if level not in SEVERITIES:
        levels = ", ".join(SEVERITIES)
        raise invalid(f"“{value[:40]}” is not a severity; use one of {levels}.", field=field)
    return level


def parse_kinds(value: str, *, field: str | None = None) -> list[str]:
    """Alert kinds as the sending systems name them (`agent_offline,max_mau`)."""
    kinds = [kind.lower() for kind in split_list(value, what="kind")]
    if len(kinds) > MAX_KINDS:
        raise invalid(f"Name at most {MAX_KINDS} kinds.", field=field)
    bad = next((kind for kind in kinds if not _KIND.match(kind)), None)
    if bad is not None:
        raise invalid(
            f"“{bad[:40]}” is not a kind: letters, digits, _ . : and -, up to 40.", field=field
        )
    return list(dict.fromkeys(kinds))


def parse_quiet_hours(value: str, *, field: str | None = None) -> tuple[str, str]:
    """`22:00-07:00`: from the first time to the second, in the person's time zone;
    the range may cross midnight."""
    start, separator, end = value.strip().partition("-")
    if not separator or not _CLOCK.match(start) or not _CLOCK.match(end):
        raise invalid(
            f"Quiet hours are HH:MM-HH:MM on a 24-hour clock, like quiet=22:00-07:00, "
            f"not “{value[:40]}”.",
            field=field,
        )
    if start == end:
        raise invalid("Quiet hours need to start and end at different times.", field=field)
    return start, end


def _spec(draft: _Draft) -> SubscriptionSpec:
    target = draft.target or HERE
    include, exclude = draft.include or [], draft.exclude or []
    both = {name.casefold() for name in include} & {name.casefold() for name in exclude}
    if both:
        raise invalid(f"“{sorted(both)[0][:40]}” is both included and excluded.")
    if draft.quiet is not None and target != ME:
        raise invalid("Quiet hours are for people: subscribe me to use quiet=.")
    quiet_start, quiet_end = draft.quiet or (None, None)
    topics = tuple(dict.fromkeys(draft.topics or DEFAULT_TOPICS))
    if draft.grouping is not None and Topic.ALERTS not in topics:
        raise invalid("group= is for alerts: add the topic alerts.")
    return SubscriptionSpec(
        target=target,
        topics=topics,
        min_severity=draft.min_severity,
        include=tuple(include),
        exclude=tuple(exclude),
        kinds=tuple(draft.kinds or ()),
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        grouping=draft.grouping or Grouping(),
    )


# ---------------------------------------------------------------- who wants what


def matches(
    subscription: Filters,
    *,
    topic: str,
    severity: str | None = None,
    customer_id: int | None = None,
    kind: str | None = None,
) -> bool:
    """Whether a notice goes to this subscription. Excluded customers win over
    included ones; no included customers means all of them. A notice about no one
    customer (the MSP's MAU, say) reaches only subscriptions to all customers.
    A filter on severity or kind lets through only notices that have one."""
    if topic not in subscription.topics:
        return False
    if subscription.min_severity is not None and not _severe_enough(
        severity, subscription.min_severity
    ):
        return False
    if subscription.kinds and (kind is None or kind.lower() not in subscription.kinds):
        return False
    return _wants_customer(subscription, customer_id)


def _severe_enough(severity: str | None, minimum: str) -> bool:
    rank, lowest = severity_rank(severity), severity_rank(minimum)
    return rank is not None and lowest is not None and rank >= lowest


def _wants_customer(subscription: Filters, customer_id: int | None) -> bool:
    if customer_id is None:
        return not subscription.customers_included
    if customer_id in subscription.customers_excluded:
        return False
    return not subscription.customers_included or customer_id in subscription.customers_included


def in_quiet_hours(start: str | None, end: str | None, local_time: time) -> bool:
    """Whether `local_time` (the person's own) falls in [start, end); a range whose
    end is earlier than its start crosses midnight. No hours, never quiet."""
    if start is None or end is None or start == end:
        return False
    begins, ends = time.fromisoformat(start), time.fromisoformat(end)
    moment = local_time.replace(tzinfo=None)
    if begins < ends:
        return begins <= moment < ends
    return moment >= begins or moment < ends


def quiet_hours_end(start: str | None, end: str | None, local_now: datetime) -> datetime | None:
    """When quiet hours that hold at `local_now` (aware, in the person's zone) end;
    None when they do not hold. What arrives meanwhile is delivered then."""
    if not in_quiet_hours(start, end, local_now.timetz()):
        return None
    assert end is not None
    ends = time.fromisoformat(end)
    # Wall-clock arithmetic in the zone, so the end stays at its hour across DST.
    candidate = local_now.replace(hour=ends.hour, minute=ends.minute, second=0, microsecond=0)
    if candidate <= local_now:
        candidate += timedelta(days=1)
    return candidate
