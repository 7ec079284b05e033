"""Putting text into Slack's mrkdwn safely.

`Mrkdwn` marks text that is safe to hand Slack wherever it formats: our own wording,
with every outside value (names, titles, details, anything a person or a sender
typed) escaped. Only this module makes one, and a `Message`'s notification text
must be one, so raw text cannot reach the `text` Slack notifies and pings from."""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TypeVar, cast

from bot.sentences import Day, Moment, Person, Sentence, readable_day, readable_time

_SLACK_ID = re.compile(r"^[UWBCGD][A-Z0-9]{1,31}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{1,31}$")
_ENTITY = re.compile(r"&[a-z]{0,4}$")


class Mrkdwn(str):
    """Text Slack may format in which nothing from outside can format, mention or
    link: our own wording, with every outside value escaped."""

    __slots__ = ()


def escape(text: str) -> Mrkdwn:
    """Escape the three characters Slack treats as control characters.

    Without this a customer named `<!channel>` would ping a whole channel.
    """
    return Mrkdwn(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _filled(value: object, format_spec: str) -> str:
    if isinstance(value, Sentence):
        if format_spec:
            raise ValueError("a sentence is not reformatted: it could be cut inside a token")
        return said(value)
    if isinstance(value, Mrkdwn):
        if format_spec:
            raise ValueError("mrkdwn is not reformatted: it could be cut inside a token")
        return value
    return escape(format(value, format_spec))


@functools.lru_cache(maxsize=1024)
def _parsed(template: str) -> tuple[tuple[str, str | None, str], ...]:
    """A template's literal text and `{name:spec}` fields, parsed once (alert storms
    render thousands of messages from a handful of templates)."""
    parts = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if conversion or (name is not None and not name.isidentifier()):
            raise ValueError(f"only plain {{name}} or {{name:spec}} fields: {template!r}")
        parts.append((literal, name, spec or ""))
    return tuple(parts)


def mrkdwn(template: str, /, **values: object) -> Mrkdwn:
    """The one way to build mrkdwn from outside values: `template` is the view's own
    wording (a literal; it may use *bold*, `code`, :emoji: and line breaks), and each
    `{name}` (format specs allowed: `{count:,}`) is filled with its value escaped,
    unless the value is already `Mrkdwn` (a mention, a date, a line built here); a
    `Sentence` is filled with its dates as tokens and its people as mentions."""
    pieces = []
    for literal, name, spec in _parsed(template):
        pieces.append(literal)
        if name is not None:
            pieces.append(_filled(values[name], spec))
    return Mrkdwn("".join(pieces))


def already_mrkdwn(text: str) -> Mrkdwn:
    """Text that was `Mrkdwn` before it was stored, read back: a queued message's
    text (a `Message` takes nothing else). Never for anything from outside."""
    return Mrkdwn(text)


def join(separator: str, parts: Iterable[object]) -> Mrkdwn:
    """`separator.join(parts)`, each part escaped unless it is already `Mrkdwn`."""
    return Mrkdwn(escape(separator).join(_filled(part, "") for part in parts))


def clip(text: Mrkdwn, limit: int) -> Mrkdwn:
    """At most `limit` characters, ending in "…" when cut; cut between words where
    there is a space in the second half, and never inside an escape (`&amp;`), a
    `<...>` token or an `:emoji:`, which would leave half a mention, link or emoji
    showing."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    if cut and not cut[-1].isspace() and not text[len(cut)].isspace():
        cut = _at_a_space(cut)
    entity = _ENTITY.search(cut)
    if entity:
        cut = cut[: entity.start()]
    emoji = _HALF_EMOJI.search(cut)
    if emoji:
        cut = cut[: emoji.start()]
    return Mrkdwn(cut + "…")


_HALF_EMOJI = re.compile(r":[a-z0-9_+'-]+$")


def _at_a_space(cut: str) -> str:
    """`cut` up to its last space outside a `<...>` token, if that leaves at least
    half of it; else `cut` (one long word: the escape and emoji checks follow)."""
    for space in reversed([m.start() for m in re.finditer(r"\s", cut)]):
        if space < len(cut) // 2:
            break
        if cut.rfind("<", 0, space) <= cut.rfind(">", 0, space):
            return cut[: space + 1]
    return cut


_TOKEN = re.compile(r"<[^<>\n]*>")
_FENCED = re.compile(r"```\n?(.*?)\n?```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
# Slack's bold, italic and strike: a marker after a space or punctuation, words not
# starting or ending with a space, the same marker before a space or punctuation.
_EMPHASIS = re.compile(r"(?<![\w*_~])([*_~])(?=\S)([^\n]*?[^\s])\1(?![\w*_~])")
_KEPT = re.compile("\ue000(\\d+)\ue001")
_MARKERS = re.compile(r"[*_~`]")


def notification(text: Mrkdwn) -> Mrkdwn:
    """A message's notification text as plain words: a notification and the
    conversation list show bold, italic, strike and code markup as the literal
    characters, so they are dropped (their words kept); mentions, channel links, date
    tokens, emoji and escapes stay, as Slack renders those there."""
    if not _MARKERS.search(text) or "\ue000" in text or "\ue001" in text:
        return text  # no markup, or our placeholders' characters: left as it is
    kept: list[str] = []

    def keep(value: str) -> str:
        kept.append(value)
        return f"\ue000{len(kept) - 1}\ue001"

    plain = _TOKEN.sub(lambda m: keep(m.group()), text)
    plain = _FENCED.sub(lambda m: keep(m.group(1)), plain)
    plain = _CODE.sub(lambda m: keep(m.group(1)), plain)
    for _ in range(3):  # nested: *_both_*
        stripped = _EMPHASIS.sub(r"\2", plain)
        if stripped == plain:
            break
        plain = stripped
    while _KEPT.search(plain):
        plain = _KEPT.sub(lambda m: kept[int(m.group(1))], plain)
    return Mrkdwn(plain)


# What ends a sentence already, and what may close around its end: a quote, a
# bracket, mrkdwn's bold, italic or strike ("(talk to them first.)", "*Done.*").
_SENTENCE_ENDS = (".", "!", "?", "…")
_CLOSING = "\"'\u201d\u2019)]*_~"  # with the curly closing quotes
_Text = TypeVar("_Text", bound=str)


def full_stop(text: _Text) -> _Text:
    """`text` as the end of a sentence: a full stop after it, unless it ends a
    sentence already. A line that ends with someone's words ("Denied by Ann: talk to
    them first.") is not given a second one. Mrkdwn stays mrkdwn, plain text plain."""
    ended = text.rstrip()
    if not ended or ended.rstrip(_CLOSING).endswith(_SENTENCE_ENDS):
        return text
    return cast(_Text, type(text)(ended + "."))


def mention(user_id: str) -> Mrkdwn:
    """`<@U123>` for a well-formed user id; anything else is shown as escaped text."""
    return Mrkdwn(f"<@{user_id}>") if _SLACK_ID.match(user_id) else escape(user_id)


def channel_link(channel_id: str) -> Mrkdwn:
    """`<#C123>` for a well-formed conversation id; anything else as escaped text."""
    return Mrkdwn(f"<#{channel_id}>") if _CHANNEL_ID.match(channel_id) else escape(channel_id)


def slack_date(day: date, *, pretty: bool = True) -> Mrkdwn:
    """A date each reader sees in their own locale; noon UTC keeps the same calendar
    day for readers from UTC-11 to UTC+11. The fallback (notifications, clients that
    cannot format it) is the same readable form plain text uses: "5 Jan 2027".
    `pretty` says "today" or "yesterday" when it is: not for the ends of a range,
    where "Nov 30 to yesterday" reads oddly."""
    stamp = int(datetime.combine(day, time(12), tzinfo=UTC).timestamp())
    style = "date_short_pretty" if pretty else "date_short"
    return Mrkdwn(f"<!date^{stamp}^{{{style}}}|{readable_day(day)}>")


def slack_time(moment: datetime) -> Mrkdwn:
    """A time each reader sees in their own time zone."""
    fallback = readable_time(moment)
    return Mrkdwn(f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>")


def said(text: Sentence | str) -> Mrkdwn:
    """A sentence where Slack formats text: its words escaped, its dates as date
    tokens, its people as mentions. A `str` is escaped whole."""
    if isinstance(text, str):
        return escape(text)
    return Mrkdwn("".join(_said_part(part) for part in text.parts))


def _said_part(part: str | Day | Moment | Person) -> Mrkdwn:
    match part:
        case str():
            return escape(part)
        case Day(day=day):
            return slack_date(day)
        case Moment(at=at):
            return slack_time(at)
        case Person(user_id=user_id):
            return mention(user_id)


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def plain_text(text: Sentence | str) -> str:
    """A sentence where Slack formats nothing (plain_text objects, a modal's field
    errors, a confirm dialog): dates readable, people by their plain words, and a
    command quoted as `code` shown bare, since the backticks would show."""
    shown = text if isinstance(text, str) else text.plain()
    return _CODE_SPAN.sub(r"\1", shown)


def money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def number(value: int) -> str:
    return f"{value:,}"
