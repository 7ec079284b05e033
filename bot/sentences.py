"""Sentences that carry their dates, times and people as values.

A refusal or an explanation is our wording around values each reader should see in
their own way: a date in their own format and time zone, a person as a mention.
The rules that write these sentences are pure and know nothing of Slack, so the
values stay values here. The views turn them into date tokens and mentions where
Slack formats text (mrkdwn); everywhere else (plain_text, a modal's field errors,
logs, the command line, the API) a sentence reads in its plain form, with dates
as "5 Jan 2027" rather than ISO, which people misread across locales."""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def readable_day(day: date) -> str:
    """`5 Jan 2027`: the same in every locale (no month-first or day-first guess)."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def readable_time(moment: datetime) -> str:
    """`5 Jan 2027 09:30 UTC`: a time in plain text names its zone."""
    utc = moment.astimezone(UTC)
    return f"{readable_day(utc.date())} {utc:%H:%M} UTC"


@dataclass(frozen=True, slots=True)
class Day:
    """A calendar day (a renewal, a trial's end): the same day for every reader."""

    day: date

    def plain(self) -> str:
        return readable_day(self.day)


@dataclass(frozen=True, slots=True)
class Moment:
    """An instant (when a request was decided): each reader's own time zone."""

    at: datetime

    def plain(self) -> str:
        return readable_time(self.at)


@dataclass(frozen=True, slots=True)
class Person:
    """Someone on Slack, by user id. Plain text cannot mention, and a user id means
    nothing to a reader, so the plain form is `plain` ("someone")."""

    user_id: str
    plain_words: str = "someone"

    def plain(self) -> str:
        return self.plain_words


Value = Day | Moment | Person
Part = str | Value


@dataclass(frozen=True, slots=True)
class Sentence:
    """Text as parts: our wording and outside values as `str` (shown as typed, never
    formatted), dates, times and people as values."""

    parts: tuple[Part, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", _merged(self.parts))

    @classmethod
    def literal(cls, text: str) -> Sentence:
        """Text with no values in it, taken as it is (braces and all)."""
        return cls((text,))

    def plain(self) -> str:
        return "".join(part if isinstance(part, str) else part.plain() for part in self.parts)

    def __str__(self) -> str:
        return self.plain()

    def __bool__(self) -> bool:
        return bool(self.parts)

    @property
    def values(self) -> tuple[Value, ...]:
        return tuple(part for part in self.parts if not isinstance(part, str))

    def to_json(self) -> list[str | dict[str, str]]:
        """A form a JSON column can hold, so a stored explanation keeps its dates."""
        return [_part_to_json(part) for part in self.parts]

    @classmethod
    def from_json(cls, data: object) -> Sentence | None:
        """What `to_json` wrote, or None for anything else (a row written before)."""
        if not isinstance(data, list):
            return None
        parts = [_part_from_json(item) for item in data]
        if any(part is None for part in parts):
            return None
        return cls(tuple(part for part in parts if part is not None))


def sentence(template: str, /, **values: object) -> Sentence:
    """Our wording with `{name}` (or `{name:spec}`) fields: a date becomes a `Day`, a
    datetime a `Moment`, a `Day`, `Moment`, `Person` or `Sentence` stays what it is,
    and anything else is formatted into the text (`{count:,}`)."""
    parts: list[Part] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if conversion or (name is not None and not name.isidentifier()):
            raise ValueError(f"only plain {{name}} or {{name:spec}} fields: {template!r}")
        parts.append(literal)
        if name is not None:
            parts.extend(_as_parts(values[name], spec or ""))
    return Sentence(tuple(parts))


def joined(separator: str, pieces: Iterable[Sentence | str]) -> Sentence:
    """The non-empty pieces, `separator` between them."""
    parts: list[Part] = []
    for piece in pieces:
        if not piece:
            continue
        if parts:
            parts.append(separator)
        parts.extend(piece.parts if isinstance(piece, Sentence) else (piece,))
    return Sentence(tuple(parts))


def _as_parts(value: object, spec: str) -> tuple[Part, ...]:
    if isinstance(value, Day | Moment | Person):
        return (value,)
    if isinstance(value, Sentence):
        return value.parts
    if isinstance(value, datetime):
        return (Moment(value),)
    if isinstance(value, date):
        return (Day(value),)
    return (format(value, spec),)


def _merged(parts: Iterable[Part]) -> tuple[Part, ...]:
    """Adjacent text as one part and no empty text, so equal sentences compare equal."""
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, str):
            if not part:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] += part
                continue
        merged.append(part)
    return tuple(merged)


def _part_to_json(part: Part) -> str | dict[str, str]:
    match part:
        case str():
            return part
        case Day(day=day):
            return {"day": day.isoformat()}
        case Moment(at=at):
            return {"time": at.isoformat()}
        case Person(user_id=user_id, plain_words=words):
            return {"person": user_id, "plain": words}
    raise TypeError(f"not a part of a sentence: {part!r}")


def _part_from_json(item: Any) -> Part | None:
    try:
        if isinstance(item, str):
            return item
        if isinstance(item, dict) and isinstance(item.get("day"), str):
            return Day(date.fromisoformat(item["day"]))
        if isinstance(item, dict) and isinstance(item.get("time"), str):
            at = datetime.fromisoformat(item["time"])
            return Moment(at if at.tzinfo else at.replace(tzinfo=UTC))
        if isinstance(item, dict) and isinstance(item.get("person"), str):
            return Person(item["person"], str(item.get("plain") or "someone"))
    except ValueError:
        return None
    return None
