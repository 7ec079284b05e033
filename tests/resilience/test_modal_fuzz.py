"""Hypothesis values for every modal's fields (resilience).

Every modal the app registers a submission listener for is opened the way a person
opens it (a command or a button, for a fresh MSP each example), and submitted signed
through the real HTTP app with hypothesis-drawn values in Slack's state shape: valid
values, boundaries and hostile ones (blank, whitespace, huge, control characters,
unicode, mrkdwn and mentions, numbers out of range, bad dates, options not offered,
missing blocks, wrong types). An independent predicate, written here from
DOMAIN.md and the forms' stated limits, says which fields are invalid:

- no answer is a 5xx, an unexpected error ("Something went wrong") or a traceback;
- a valid submission is accepted, and the database holds the normalised value;
- an invalid one gets `response_action: errors`, keyed by blocks of that view and
  only by fields the predicate blames;
- nothing the person typed reaches Slack's mrkdwn unescaped (no `<!channel>`).

Marked `resilience`: `.ci/run` runs it after the default suite. Figures:
docs/RELIABILITY.md. `MSPBOT_FUZZ_SCALE=0.2` runs a fifth of the examples.
"""

from __future__ import annotations

import calendar
import itertools
import json
import logging
import os
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, find, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import String, delete, select
from sqlalchemy.orm import selectinload

from bot.app import build_app
from bot.config import Settings
from bot.domain.alert_groups import Grouping, parse_grouping
from bot.domain.requests import RequestType
from bot.domain.roles import Role
from bot.errors import InvalidInput
from bot.ids import ActionId, BlockId, CallbackId
from bot.ids import CustomerField as F
from bot.payloads import CustomerRef, RequestRef
from bot.views.subscriptions import GROUPING_CHOICES
from storage.models import (
    AlertSubscription,
    AuditEvent,
    ChangeRequest,
    Customer,
    CustomerAssignment,
    CustomerContact,
    CustomerLocation,
    Msp,
    StaffMember,
)
from tests.drive import Reply, calls_to, post
from tests.seed import ADMIN, APPROVALS, APPROVER, MEMBER, OWNER, PAID_COLUMNS
from tests.slack_requests import FORM_CONTENT_TYPE, SignedRequest, SlackRequests, sign
from tests.support import FAST_DELIVERY, SIGNING_SECRET, distribution_settings
from tests.test_oauth import install

pytestmark = pytest.mark.resilience

SCALE = float(os.environ.get("MSPBOT_FUZZ_SCALE", "1"))
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # the FakeClock's
TODAY = NOW.date()  # in the MSP's time zone (UTC)
RENEWAL = date(2027, 3, 1)
TALLY: dict[str, Counter[str]] = {}
SECONDS: Counter[str] = Counter()
BLAMED: defaultdict[str, Counter[str]] = defaultdict(Counter)  # invalid fields, per modal
LISTED: defaultdict[str, Counter[str]] = defaultdict(Counter)  # the listed cases' answers

# ---------------------------------------------------------------- the rules, written here
# From DOMAIN.md and the limits the forms state (their hints, errors and max lengths).
# Deliberately not imported from bot/: a changed limit has to change here too.

NAME_MAX, EMAIL_MAX, LOCATION_MAX, LOCATIONS_MAX = 80, 254, 100, 50
CONTACT_MAX, NOTES_MAX, REASON_MAX, ASSIGNED_MAX = 100, 2000, 500, 20
LICENCES_MAX, THRESHOLD_MAX, PRICE_MAX = 100_000, 1_000_000_000, Decimal(100_000)
DEFAULT_PRICE_CENTS, TRIAL_DAYS = 7_500, 30  # R18, R4
NEVER = "never"  # the Add and Edit forms' "Never block" box (R20)
EXTENSION_DEFAULT, EXTENSION_MAX = 14, 90  # R7
ORDER_MAX, ALLOWANCE_MAX = 10_000_000, 2_000_000_000  # R19
RENEWAL_AHEAD_MAX = timedelta(days=366 * 5)  # "at most five years ahead"
CONTRACT_AGE_MAX_YEARS = 30  # a contract start "at most 30 years ago", never in the future
TERM_MONTHS = {"monthly": 1, "annual": 12}
NEW_PLANS = ("trial", "essentials", "professional", "enterprise")
F_ADD = CallbackId.ADD_CUSTOMER
PAID_RANK = {"essentials": 1, "professional": 2, "enterprise": 3}
ADD_ONS = {"activconnect": "ActivConnect", "screen_details": "Screen Details"}
TOPICS = ("alerts", "trials", "mau", "requests", "digest")
SEVERITIES = ("critical", "high", "medium", "low", "info")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{1,31}")
_KIND = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,39}")
_QUIET = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "").strip()


def name_key(name: str) -> str:
    """R2: names compare case-insensitively, Unicode normalised."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def name_ok(text: str | None) -> bool:
    name = nfc(text)
    invisible = any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name)
    return bool(name) and len(name) <= NAME_MAX and not invisible


def email_ok(text: str | None) -> bool:
    """One @, a dotted domain with a 2+ letter top level, no spaces, controls or <>."""
    email = (text or "").strip()
    if not email or len(email) > EMAIL_MAX:
        return False
    if any(ch.isspace() or ch in "<>" or unicodedata.category(ch) in ("Cc", "Cf") for ch in email):
        return False
    local, _, domain = email.partition("@")
    host, dot, top = domain.rpartition(".")
    return bool(local and host and dot) and "@" not in domain and len(top) >= 2


def is_text(value: Any) -> bool:
    """Valid Unicode: no lone surrogates (a JSON escape can carry one; UTF-8 cannot)."""
    if isinstance(value, list):
        return all(is_text(item) for item in value)
    return not isinstance(value, str) or not re.search("[\ud800-\udfff]", value)


def storable(text: str | None) -> bool:
    """Free text: anything a database text column holds (PostgreSQL refuses NUL)."""
    return "\x00" not in (text or "")


def whole(text: str | None, lowest: int, highest: int) -> int | None:
    """A whole number in range, or None. Commas only between thousands; underscores,
    as in 1_000, are ignored."""
    cleaned = (text or "").strip().replace("_", "")
    if "," in cleaned:
        if not re.fullmatch(r"-?\d{1,3}(,\d{3})+", cleaned):
            return None
        cleaned = cleaned.replace(",", "")
    if not re.fullmatch(r"-?\d+", cleaned) or len(cleaned.lstrip("-").lstrip("0")) > 30:
        return None  # past every range here (and past what int() reads, at 4,300 digits)
    sign, digits = (-1 if cleaned.startswith("-") else 1), cleaned.lstrip("-").lstrip("0")
    number = sign * int(digits or "0")
    return number if lowest <= number <= highest else None


def blank(text: str | None) -> bool:
    return not (text or "").strip()


def price_cents(text: str | None) -> int | None:
    """A monthly price in cents: $0 to $100,000 with at most two decimals; None if not."""
    cleaned = (text or "").strip().lstrip("$").strip()
    if "," in cleaned:
        if not re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d*)?", cleaned):
            return None
        cleaned = cleaned.replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not amount.is_finite() or not 0 <= amount <= PRICE_MAX:
        return None
    if amount != amount.quantize(Decimal("0.01")):
        return None
    return int(amount * 100)


def contract_start_ok(text: str | None) -> bool:
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        return False
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return False
    oldest = TODAY.replace(year=TODAY.year - CONTRACT_AGE_MAX_YEARS)
    return oldest <= day <= TODAY


def term_of(value: Any) -> str | None:
    """A term picked (a forged one is compared as the bot does: trimmed, any case)."""
    cleaned = value.strip().casefold() if isinstance(value, str) else None
    return cleaned if cleaned in TERM_MONTHS else None


def months_later(day: date, months: int) -> date:
    """The same day of the month `months` later (the month's last day when shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def renewal_after(start: date, term: str, today: date) -> date:
    """The contract's first renewal after today: whole terms from its start, on its
    day of the month."""
    n = 1
    while (renewal := months_later(start, n * TERM_MONTHS[term])) <= today:
        n += 1
    return renewal


def ticked(options: list[str] | None, value: str) -> bool:
    """A checkbox ticked: its own option's value among those sent (others are forged)."""
    return isinstance(options, list) and value in options


def locations_of(text: str | None) -> list[str] | None:
    """One per line, blank lines and repeats (any case) dropped; None if invalid."""
    kept: list[str] = []
    for line in (text or "").splitlines():
        place = line.strip()
        if not place or place.casefold() in {seen.casefold() for seen in kept}:
            continue
        if len(place) > LOCATION_MAX or not storable(place):
            return None
        kept.append(place)
    return kept if len(kept) <= LOCATIONS_MAX else None


def assigned_ok(users: list[str] | None) -> bool:
    users = users or []
    return len(users) <= ASSIGNED_MAX and all(_USER_ID.fullmatch(user) for user in users)


def short_text_ok(text: str | None, maximum: int) -> bool:
    return len((text or "").strip()) <= maximum and storable(text)


# ---------------------------------------------------------------- values, valid and hostile

MARKERS = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@UEVIL1>",
    "<#CEVIL1>",
    "<!subteam^SEVIL1>",
    "<https://evil.example|click here>",
)
FORMATTING = (
    "*bold*",
    "_italic_",
    "~strike~",
    "`code`",
    "```block```",
    "> quote",
    "&amp;",
    "&lt;!channel&gt;",
)
SPACES = ("", " ", "   ", "\t", "\n", " \n\t ", "\u00a0", "\u2003", "\u3000", "\u200b", "\ufeff")
CONTROLS = (
    "\x00",
    "a\x00b",
    "\x07",
    "\x1b[31mred",
    "\x7f",
    "\u202eevil",
    "a\u200db",
    "\r\n",
    "\x0b",
)
UNICODE = (
    "Café Noir",
    "Cafe\u0301 Noir",  # the same name, decomposed (NFD)
    "日本語の会社",
    "שלום בע״מ",
    "شركة مرحبا",
    "😀 Emoji Co",
    "👩‍💻 Devs",  # a ZWJ sequence
    "\u0130stanbul T\u0131p",
    "Straße",
    "ﷺ",
    "\U0001d400\U0001d401 Math",
    "Ǆemal",
    "\ud800 lone surrogate",
)
HOSTILE_STRINGS = MARKERS + FORMATTING + SPACES + CONTROLS + UNICODE
LENGTHS = (79, 80, 81, 99, 100, 101, 253, 254, 255, 499, 500, 501, 1999, 2000, 2001, 4000)


@cache
def sized(lengths: tuple[int, ...] = LENGTHS) -> st.SearchStrategy[str]:
    return st.builds(
        lambda n, ch: (ch * n)[:n], st.sampled_from(lengths), st.sampled_from(["x", "é", "😀", " "])
    )


@cache
def hostile_text() -> st.SearchStrategy[str]:
    """Each kind of trouble about as often as the others."""
    return st.one_of(
        st.sampled_from(MARKERS),
        st.sampled_from(FORMATTING),
        st.sampled_from(SPACES),
        st.sampled_from(CONTROLS),
        st.sampled_from(UNICODE),
        st.text(max_size=30),
        st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), min_size=1, max_size=6),
        sized(),
    )


FRAGMENTS = ("\x00", "\x07", "\n", "\u202e", "\u200b", "\ud800", *MARKERS, "*", "&", "<", ">")


def injected(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A valid text with trouble put into it somewhere: `Acme\x00 Dental`."""

    def put(value: Any, fragment: str, where: float) -> Any:
        if not isinstance(value, str):
            return fragment
        at = int(len(value) * where)
        return value[:at] + fragment + value[at:]

    return st.builds(put, valid, st.sampled_from(FRAGMENTS), st.floats(0, 1))


NAME_CHARACTERS = st.characters(categories=["L", "N", "P", "S", "Zs"])
PLAIN_NAMES = (
    "Acme Dental",
    "O'Brien & Sons <3",
    "<!channel> Corp",
    "*Bold* Ltd",
    " Padded Co ",
    "x" * 80,
    "Café Noir",
    "日本語の会社",
    "Straße",
    "😀 Emoji Co",
    "ß" * 45,  # 90 letters once compared (R2 folds it to "ss")
    "\ufdfa" * 4,  # 18 letters each once NFKC-normalised
)


@cache
def valid_names() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(PLAIN_NAMES),
        st.text(NAME_CHARACTERS, min_size=1, max_size=40).filter(lambda s: name_ok(s)),
        st.builds(
            lambda m, s: f"{m} {s}".strip(),
            st.sampled_from(MARKERS),
            st.text(NAME_CHARACTERS, max_size=10),
        ).filter(name_ok),
    )


@cache
def any_names() -> st.SearchStrategy[str]:
    return st.one_of(valid_names(), hostile_text())


LOCAL = st.text("abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=20)
HOST = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=15)
TOP = st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6)


@cache
def valid_emails() -> st.SearchStrategy[str]:
    built = st.builds(lambda a, b, c: f"{a}@{b}.{c}", LOCAL, HOST, TOP)
    return st.one_of(
        built,
        built.map(str.upper),
        built.map(lambda e: f"  {e} "),
        st.sampled_from(
            ["dana@acme-dental.com", "ü@exämple.de", "a+b@x.io", ("a" * 230) + "@x.com"]
        ),
    )


BAD_EMAILS = (
    "no-at-sign",
    "a@b",
    "a@b.c",
    "@x.com",
    "a@@x.com",
    "a b@x.com",
    "<!channel>@x.com",
    "a@x.com<@UEVIL1>",
    "a\x00@x.com",
    "a@x.com\x07",
    "a\u200b@x.com",
    ("a" * 250) + "@x.com",
    "a@x.",
    "a@.com",
)


@cache
def any_emails() -> st.SearchStrategy[str]:
    return st.one_of(valid_emails(), st.sampled_from(BAD_EMAILS), hostile_text())


NUMBER_FORMS = (
    "",
    " ",
    "0",
    "-1",
    "-0",
    "+5",
    " 7 ",
    "1,000",
    "1,00",
    "10,0000",
    "12.0",
    "1e3",
    "0x1F",
    "NaN",
    "Infinity",
    "∞",
    "\u0661\u0662",
    "\uff11\uff12",
    "1_000",
    "9" * 25,
    "9" * 4301,
    "-" + "9" * 40,
    "12abc",
    "<!channel>",
)


@cache
def numbers(lowest: int, highest: int) -> st.SearchStrategy[str]:
    """Valid whole numbers as typed (sometimes with thousands commas)."""
    plain = st.integers(lowest, highest)
    return st.one_of(
        plain.map(str),
        plain.map(lambda n: f"{n:,}"),
        st.sampled_from([str(lowest), str(highest)]),
    )


@cache
def any_numbers(lowest: int, highest: int) -> st.SearchStrategy[str]:
    edges = [lowest - 1, lowest, highest, highest + 1, 0, -1, 10**30, -(10**30)]
    return st.one_of(
        numbers(lowest, highest),
        st.sampled_from([str(n) for n in edges]),
        st.sampled_from(NUMBER_FORMS),
        st.integers().map(str),
        hostile_text(),
    )


@cache
def prices() -> st.SearchStrategy[str]:
    cents = st.integers(0, 10_000_000)
    return st.one_of(
        cents.map(lambda c: f"{c / 100:.2f}"),
        cents.map(lambda c: f"${c / 100:,.2f}"),
        st.sampled_from(["0", "75", "75.5", "100000", "100,000.00"]),
    )


@cache
def any_prices() -> st.SearchStrategy[str]:
    odd = (
        "75.505",
        "-1",
        "-0.01",
        "100000.01",
        "1,000.50",
        "75,50",
        "$$75",
        "1e3",
        "1e-2",
        "NaN",
        "Infinity",
        "-Infinity",
        "sNaN",
        "1" * 40,
        "1e999999",
    )
    return st.one_of(
        prices(), st.sampled_from(odd), st.decimals(allow_nan=True).map(str), hostile_text()
    )


@cache
def renewal_dates() -> st.SearchStrategy[str]:
    return st.integers(1, RENEWAL_AHEAD_MAX.days).map(
        lambda d: (TODAY + timedelta(days=d)).isoformat()
    )


@cache
def contract_starts() -> st.SearchStrategy[str]:
    return st.integers(0, 3653).map(lambda d: (TODAY - timedelta(days=d)).isoformat())


@cache
def any_terms() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["weekly", "MONTHLY", " annual ", "yearly", "", "<!channel>"]),
        st.text(max_size=12),
    )


@cache
def any_dates() -> st.SearchStrategy[str]:
    edges = [
        TODAY + timedelta(days=d)
        for d in (-365, -1, 0, 1, RENEWAL_AHEAD_MAX.days, RENEWAL_AHEAD_MAX.days + 1)
    ]
    odd = (
        "2027-02-30",
        "2027-13-01",
        "2027-00-10",
        "0001-01-01",
        "9999-12-31",
        "not a date",
        "2027-3-1",
        "",
        " ",
        "2027-03-01T10:00:00",
        "<!channel>",
    )
    return st.one_of(
        renewal_dates(),
        st.sampled_from([d.isoformat() for d in edges]),
        st.sampled_from(odd),
        st.dates().map(date.isoformat),
    )


def line_lists(line: st.SearchStrategy[str], max_lines: int = 8) -> st.SearchStrategy[str]:
    return st.builds(
        lambda lines, sep: sep.join(lines),
        st.lists(line, max_size=max_lines),
        st.sampled_from(["\n", "\r\n"]),
    )


@cache
def valid_locations() -> st.SearchStrategy[str]:
    place = st.one_of(
        st.sampled_from(["HQ", "Lab", "hq", " Site 2 ", "<!here> office", "東京"]),
        st.text(NAME_CHARACTERS, min_size=1, max_size=30),
    )
    return line_lists(place)


@cache
def any_locations() -> st.SearchStrategy[str]:
    return st.one_of(
        valid_locations(),
        line_lists(
            st.one_of(st.text(max_size=20), sized((99, 100, 101, 150)), st.sampled_from(CONTROLS))
        ),
        st.integers(48, 53).map(lambda n: "\n".join(f"Site {i}" for i in range(n))),
        hostile_text(),
    )


@cache
def user_ids() -> st.SearchStrategy[str]:
    return st.builds(
        lambda p, rest: p + rest,
        st.sampled_from("UW"),
        st.text("ABCDEFGHJKLMNPQRSTVWXYZ0123456789", min_size=2, max_size=10),
    )


@cache
def any_user_lists() -> st.SearchStrategy[list[str]]:
    odd = st.sampled_from(
        ["<!channel>", "", "u123lower", "U" + "A" * 40, "C0CHANNEL", "<@U0001>", "U0001\x00"]
    )
    return st.one_of(
        st.lists(user_ids(), max_size=5),
        st.lists(user_ids(), min_size=19, max_size=23, unique=True),
        st.lists(st.one_of(user_ids(), odd), min_size=1, max_size=4),
    )


@cache
def reasons() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=60).filter(storable),
        st.sampled_from(MARKERS + FORMATTING),
        sized((499, 500)),
    )


@cache
def any_reasons() -> st.SearchStrategy[str]:
    return st.one_of(reasons(), hostile_text(), sized((501, 600, 2000)))


@cache
def forged_options(value: str) -> st.SearchStrategy[list[str]]:
    """A checkbox's options as no modal offers them: other values, other cases, repeats."""
    odd = [[value.upper()], [f" {value}"], [""], [value, value], [value, "x"], ["<!channel>"]]
    return st.one_of(st.sampled_from(odd), st.lists(st.text(max_size=10), max_size=3))


def tagged(emails: st.SearchStrategy[str], tag: str) -> st.SearchStrategy[str]:
    """Emails made unique to one MSP (R1 holds across all of them), by the domain."""

    def tag_domain(email: str) -> str:
        at = email.rfind(".")
        return email if at < 0 else f"{email[:at]}-{tag}{email[at:]}"

    return emails.map(tag_domain)


@cache
def optional(valid: st.SearchStrategy[Any], *blank: str) -> st.SearchStrategy[Any]:
    """Nothing (an optional field left empty), or a valid value."""
    return st.one_of(st.none(), *map(st.just, blank), valid)


def sometimes(
    usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """`rare` about one time in eight (R1/R2 collisions, say)."""
    return st.integers(0, 7).flatmap(lambda n: rare if n == 7 else usual)


# ---------------------------------------------------------------- Slack's state shape

ABSENT = object()  # the block is not in state.values at all


def option(value: Any) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": str(value)[:75], "emoji": True}, "value": value}


def grouping_of(chosen: Any) -> Grouping | None:
    """What a Group alerts choice means; None when it is not one (the default when
    nothing is chosen)."""
    if chosen is None or chosen is ABSENT:
        return Grouping()
    try:
        return parse_grouping(str(chosen))
    except InvalidInput:
        return None


def element_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """What Slack sends for an element holding `value` (None: nothing chosen)."""
    kind = element["type"]
    state: dict[str, Any] = {"type": kind}
    if kind in ("plain_text_input", "number_input"):
        state["value"] = value
    elif kind in ("static_select", "external_select"):
        state["selected_option"] = None if value is None else option(value)
    elif kind == "datepicker":
        state["selected_date"] = value
    elif kind in ("checkboxes", "multi_static_select", "multi_external_select"):
        state["selected_options"] = [option(v) for v in value or []]
    elif kind == "multi_users_select":
        state["selected_users"] = list(value or [])
    elif kind == "conversations_select":
        state["selected_conversation"] = value
    else:
        raise AssertionError(f"no Slack state shape for a {kind} element: add it here")
    return state


VALUE_KEYS = {
    "plain_text_input": "value",
    "number_input": "value",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "datepicker": "selected_date",
    "checkboxes": "selected_options",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
}
JUNK_VALUES = (12, 1.5, True, ["a"], {"value": 5}, "U0JUNK", [5, None], [{"value": 5}], {"U1": 1})


def junk_states(element: dict[str, Any]) -> st.SearchStrategy[Any]:
    return _junk_states(element["type"])


@cache
def _junk_states(kind: str) -> st.SearchStrategy[Any]:
    """A block Slack would never send: left out, null, or the wrong type in it."""
    key = VALUE_KEYS[kind]
    wrong = [
        v
        for v in JUNK_VALUES
        if not (isinstance(v, str) and key in ("value", "selected_conversation"))
    ]
    return st.one_of(
        st.sampled_from([ABSENT, None, "x", 5, [], {}]),
        st.sampled_from(wrong).map(lambda v: {"type": kind, key: v}),
    )


@dataclass(frozen=True)
class Field:
    """How one field is drawn: `valid` values (the predicate still judges them) and
    `hostile` ones, as logical values (text, an option value, a list)."""

    valid: st.SearchStrategy[Any]
    hostile: st.SearchStrategy[Any]


@dataclass
class Drawn:
    states: dict[str, Any]  # block id -> element state (ABSENT: left out)
    values: dict[str, Any]  # block id -> what it means: the value, or None when junk
    junk: set[str] = field(default_factory=set)  # blocks as Slack never sends them

    def wire(self) -> dict[str, dict[str, Any]]:
        return {
            block_id: {ActionId.FIELD: state}
            for block_id, state in self.states.items()
            if state is not ABSENT
        }


def input_blocks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        block["block_id"]: block["element"] for block in view["blocks"] if block["type"] == "input"
    }


def draw_fields(data: st.DataObject, view: dict[str, Any], fields: dict[str, Field]) -> Drawn:
    """Up to three fields get hostile values or junk; the rest valid ones."""
    inputs = input_blocks(view)
    assert set(inputs) == set(fields), (
        f"{view.get('callback_id')}: the modal's fields {sorted(inputs)} are not the "
        f"fuzzed ones {sorted(fields)}: give every field a strategy"
    )
    most = min(3, len(inputs))
    spoiled = data.draw(_spoiled_count(most), label="spoiled fields")
    chosen = set(data.draw(_spoiled_fields(tuple(sorted(inputs)), spoiled), label="spoiled"))
    drawn = Drawn({}, {})
    for block_id, element in inputs.items():
        assert element.get("action_id") in READ_AS_FIELDS, element
        spec = fields[block_id]
        if block_id not in chosen:
            value = data.draw(spec.valid, label=block_id)
        else:
            how = data.draw(_spoil(element["type"]), label=f"{block_id} spoiled by")
            if not isinstance(data, Listed):
                SPOILED[how] += 1
            if how == "junk":
                drawn.states[block_id] = data.draw(junk_states(element), label=block_id)
                drawn.values[block_id] = None
                drawn.junk.add(block_id)
                continue
            strategy = {
                "own": spec.hostile,
                "generic": hostile_text(),
                "injected": injected(spec.valid),
            }[how]
            value = data.draw(strategy, label=block_id)
        drawn.states[block_id] = element_state(element, value)
        drawn.values[block_id] = value
    return drawn


# The action ids of the inputs a submission is read from: a field's, a type-ahead's, and
# those of the inputs that redraw their form as they change (read as fields all the same).
READ_AS_FIELDS = (
    ActionId.FIELD,
    ActionId.CUSTOMER_SEARCH,
    ActionId.ADD_CUSTOMER_PLAN,
    ActionId.REQUEST_FORM_INPUT,
)


# How a spoiled field is spoiled: its own bad values, the common troubles, trouble put
# into a valid value (typed elements only), or a block Slack would never send.
TYPED = ("own", "own", "generic", "injected", "junk")
SPOILS = {
    "plain_text_input": TYPED,
    "number_input": TYPED,
    **{
        kind: ("own", "own", "junk")
        for kind in VALUE_KEYS
        if kind not in ("plain_text_input", "number_input")
    },
}
SPOILED: Counter[str] = Counter()


@cache
def _spoiled_count(most: int) -> st.SearchStrategy[int]:
    """How many fields to spoil: none most often, one often (it alone decides)."""
    return st.sampled_from([0, 0, 0, 1, 1, 2, 3]).map(lambda n: min(n, most))


@cache
def _spoiled_fields(block_ids: tuple[str, ...], count: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(block_ids), min_size=count, max_size=count, unique=True)


@cache
def _spoil(kind: str) -> st.SearchStrategy[str]:
    return st.sampled_from(SPOILS[kind])


# ---------------------------------------------------------------- the harness

_teams = itertools.count(1)
INSTALLER = "UFZINSTALL"  # installs each example's workspace, then leaves its staff
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # account numbers' (no 0, 1, I, L, O, U)


def account_number(n: int) -> str:
    digits = ""
    for _ in range(6):
        n, digit = divmod(n, len(_ALPHABET))
        digits = _ALPHABET[digit] + digits
    return f"FZ{digits[:2]}-{digits[2:]}"


_accounts = itertools.count(1)


@dataclass
class Tenant:
    team_id: str
    msp_id: int
    slack: SlackRequests


class Harness:
    """The app under test, its database and the fake Slack (a plain class, so that a
    failing example prints it short)."""

    def __init__(self, client: Any, db: Any, fake_slack: Any, bot: Any, errors: list) -> None:
        self.client, self.db, self.fake_slack, self.bot = client, db, fake_slack, bot
        self.errors: list[logging.LogRecord] = errors
        self.foreign: dict[str, int] = {}

    def __repr__(self) -> str:
        return "Harness(...)"

    async def tenant(self, roles: dict[str, Role], **msp: Any) -> Tenant:
        """A new MSP (a workspace of its own, which installs the app) with these staff,
        written directly."""
        team_id = f"TF{next(_teams):06d}"
        values = {"approvals_channel": APPROVALS, "timezone": "UTC", **msp}
        async with self.db.unit_of_work() as session:
            row = Msp(team_id=team_id, name=team_id, created_at=NOW, updated_at=NOW, **values)
            row.staff = [
                StaffMember(slack_user_id=user, role=role.value, created_at=NOW, updated_at=NOW)
                for user, role in roles.items()
            ]
            session.add(row)
            await session.flush()
            msp_id = row.id
        installed = await install(self.client, self.fake_slack, team_id=team_id, user_id=INSTALLER)
        assert installed.status == 200, await installed.text()
        async with self.db.unit_of_work() as session:
            await session.execute(
                delete(StaffMember).where(
                    StaffMember.msp_id == msp_id, StaffMember.slack_user_id == INSTALLER
                )
            )
        slack = SlackRequests(
            signing_secret=SIGNING_SECRET,
            team_id=team_id,
            hooks_base_url=self.fake_slack.hooks_base_url,
        )
        return Tenant(team_id, msp_id, slack)

    async def customer(
        self, tenant: Tenant, *, name: str, status: str = "active_trial", **columns: Any
    ) -> int:
        number = next(_accounts)
        plan = {"active_trial": "trial", "expired_trial": "free", "free": "free"}.get(
            status, "essentials"
        )
        values: dict[str, Any] = {
            "msp_id": tenant.msp_id,
            "account_number": account_number(number),
            "name": name,
            "name_key": name_key(name),
            "admin_email": f"seeded{number}@fuzz.example",
            "admin_email_key": f"seeded{number}@fuzz.example",
            "plan": plan,
            "status": status,
            "created_by": OWNER,
            "created_at": NOW,
            "updated_at": NOW,
            "version": 1,
            "add_ons": [],
        }
        if status == "active_trial":
            values.update(
                trial_start=TODAY - timedelta(days=20), trial_end=TODAY + timedelta(days=10)
            )
        assigned = columns.pop("assigned", [])
        locations = columns.pop("locations", [])
        contact = columns.pop("contact", None)
        values.update(columns)
        async with self.db.unit_of_work() as session:
            customer = Customer(**values)
            customer.assignments = [CustomerAssignment(slack_user_id=u) for u in assigned]
            customer.locations = [
                CustomerLocation(position=i, name=n) for i, n in enumerate(locations)
            ]
            if contact:
                customer.contacts = [
                    CustomerContact(name=contact[0], email=contact[1], is_primary=True)
                ]
            session.add(customer)
            await session.flush()
            return customer.id

    async def request(
        self, tenant: Tenant, customer_id: int, kind: RequestType, **columns: Any
    ) -> int:
        async with self.db.unit_of_work() as session:
            customer = await session.get(Customer, customer_id)
            row = ChangeRequest(
                msp_id=tenant.msp_id,
                customer_id=customer_id,
                customer_name=customer.name,
                account_number=customer.account_number,
                kind=kind.value,
                status="pending",
                requested_by=MEMBER,
                reason="",
                details={
                    "summary": kind.label,
                    "explanation": "",
                    "warnings": [],
                    "quote_needed": False,
                },
                requested_at=NOW,
                expires_at=NOW + timedelta(days=7),
                message_keys=[],
                **columns,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def foreign_customer(self) -> int:
        """A customer of another MSP, the same for the whole test."""
        if "id" not in self.foreign:
            other = await self.tenant({OWNER: Role.OWNER})
            self.foreign["id"] = await self.customer(other, name="Foreign Co")
        return self.foreign["id"]

    async def plan_chosen(self, tenant: Tenant, user_id: str, plan: str) -> dict[str, Any]:
        """The open Add customer form redrawn for `plan`, as Slack asks when it is
        chosen (block_actions of the plan's dispatch_action)."""
        held = [v for v in self.fake_slack.views.values() if v["callback_id"] == F_ADD][-1]
        chosen = {"type": "static_select", "selected_option": {"value": plan}}
        state = {F.PLAN: {ActionId.ADD_CUSTOMER_PLAN: chosen}}
        before = len(self.fake_slack.calls_to("views.update"))
        reply = await post(
            self.client,
            tenant.slack.block_actions(
                action_id=ActionId.ADD_CUSTOMER_PLAN,
                block_id=F.PLAN,
                selected_option={"value": plan},
                user_id=user_id,
                channel_id=None,
                # As the tenant's workspace holds it (the fake Slack has one of its own).
                view={
                    **held,
                    "team_id": tenant.team_id,
                    "app_installed_team_id": tenant.team_id,
                    "state": {"values": state},
                },
            ),
        )
        assert reply.status == 200, reply.text
        calls = await calls_to(self.fake_slack, "views.update", before + 1)
        assert len(calls) > before, "the Add form was not redrawn for the plan chosen"
        return calls[-1].args["view"]

    async def opened(self, request: SignedRequest) -> dict[str, Any]:
        """Send what opens a modal (a command, a button); the modal the bot opened."""
        before = len(self.fake_slack.calls_to("views.open"))
        reply = await post(self.client, request)
        assert reply.status == 200, reply.text
        calls = await calls_to(self.fake_slack, "views.open", before + 1)
        assert len(calls) > before, f"no modal opened: {reply.text[:500]}"
        return calls[before].args["view"]


def signed_submission(
    tenant: Tenant, view: dict[str, Any], user_id: str, drawn: Drawn
) -> SignedRequest:
    """The view_submission Slack sends for `view`, with the drawn state."""
    payload = tenant.slack.view_submission(
        callback_id=view["callback_id"],
        values={},
        private_metadata=view.get("private_metadata") or "",
        user_id=user_id,
        blocks=view["blocks"],
    ).payload
    payload["view"]["title"] = view.get("title")
    payload["view"]["state"] = {"values": drawn.wire()}
    body = "payload=" + quote(json.dumps(payload, separators=(",", ":")), safe="")
    stamp = int(time.time())
    headers = {
        "Content-Type": FORM_CONTENT_TYPE,
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": sign(body, secret=SIGNING_SECRET, timestamp=stamp),
    }
    return SignedRequest(body=body, headers=headers, payload=payload)


# ---------------------------------------------------------------- the oracle

INJECTED = ("<!channel", "<!here", "<!everyone", "<@UEVIL", "<#CEVIL", "<!subteam", "<https://evil")
TRACEBACK = ("Traceback (most recent call last)", 'File "/')


def has_traceback(text: str) -> bool:
    return any(sign in text for sign in TRACEBACK)


def mrkdwn_texts(value: Any) -> Iterator[str]:
    """Every string Slack reads as mrkdwn in a message, view or ack body."""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for inner in value.values():
            yield from mrkdwn_texts(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from mrkdwn_texts(inner)


def check_sent_safely(where: str, value: Any, *, fallback: str | None = None) -> None:
    texts = list(mrkdwn_texts(value)) + ([fallback] if isinstance(fallback, str) else [])
    for text in texts:
        for marker in INJECTED:
            assert marker not in text, (
                f"{where}: unescaped {marker!r} reached Slack in {text[:300]!r}"
            )
    assert not has_traceback(json.dumps(value)), f"{where}: a traceback reached Slack"


@dataclass
class Answer:
    accepted: bool
    errors: dict[str, str]
    body: dict[str, Any]


def read_answer(reply: Reply, view: dict[str, Any]) -> Answer:
    assert reply.status < 500, f"HTTP {reply.status}: {reply.text[:500]}"
    assert reply.status == 200, f"HTTP {reply.status}: {reply.text[:500]}"
    assert not has_traceback(reply.text), reply.text[:2000]
    if not reply.text:
        return Answer(True, {}, {})
    body = reply.json
    check_sent_safely("the ack", body)
    action = body.get("response_action")
    if action == "errors":
        errors = body["errors"]
        assert errors and isinstance(errors, dict), body
        assert set(errors) <= set(input_blocks(view)), (
            f"errors on blocks the view does not have: {sorted(errors)}"
        )
        for message in errors.values():
            assert isinstance(message, str) and 0 < len(message) <= 2000, message
        return Answer(False, errors, body)
    assert action in ("update", "push", "clear"), body
    title = ((body.get("view") or {}).get("title") or {}).get("text", "")
    assert title != "Something went wrong", (
        f"an error instead of an answer: {json.dumps(body)[:800]}"
    )
    return Answer(True, {}, body)


def column_overflows(row: Any) -> list[str]:
    """Strings longer than their column (PostgreSQL refuses them; SQLite does not)."""
    problems = []
    for column in type(row).__table__.columns:
        value = getattr(row, column.key, None)
        if isinstance(column.type, String) and isinstance(value, str):
            if column.type.length and len(value) > column.type.length:
                problems.append(
                    f"{type(row).__name__}.{column.key}: {len(value)} > {column.type.length}"
                )
            if "\x00" in value:
                problems.append(f"{type(row).__name__}.{column.key}: NUL")
    return problems


def assert_storable(*rows: Any) -> None:
    problems = [p for row in rows for p in column_overflows(row)]
    assert not problems, problems


# ---------------------------------------------------------------- one modal


@dataclass
class Scene:
    tenant: Tenant
    user_id: str
    view: dict[str, Any]
    fields: dict[str, Field]
    facts: dict[str, Any] = field(default_factory=dict)


class Fuzzer:
    """One modal: how to open it, its fields' strategies, the predicate (the blocks it
    blames, empty when the submission is valid; None: either answer is right) and
    what an accepted submission stored."""

    callback_id: str
    examples: int = 100

    async def scene(self, h: Harness, data: st.DataObject) -> Scene:
        raise NotImplementedError

    async def blame(self, h: Harness, scene: Scene, v: dict[str, Any]) -> set[str] | None:
        raise NotImplementedError

    async def stored(self, h: Harness, scene: Scene, v: dict[str, Any], answer: Answer) -> None:
        raise NotImplementedError

    async def unchanged(self, h: Harness, scene: Scene) -> None:
        """After a refusal: nothing was written."""


async def run_example(h: Harness, fuzzer: Fuzzer, data: st.DataObject) -> None:
    started = time.perf_counter()
    calls_before = len(h.fake_slack.calls)  # the modal as opened is checked too
    scene = await fuzzer.scene(h, data)
    assert scene.view.get("callback_id") == fuzzer.callback_id, scene.view.get("callback_id")
    if isinstance(data, Listed):
        data.scene = scene
    drawn = draw_fields(data, scene.view, scene.fields)
    scene.facts["junk"] = drawn.junk
    blamed = await fuzzer.blame(h, scene, drawn.values)
    if blamed is not None:  # every field: what Slack sends is text (UTF-8)
        blamed |= {block_id for block_id, v in drawn.values.items() if not is_text(v)}
    errors_before = len(h.errors)
    shown = {k: (v if not isinstance(v, str) else v[:120]) for k, v in drawn.values.items()}
    reply = await post(h.client, signed_submission(scene.tenant, scene.view, scene.user_id, drawn))
    try:
        answer = read_answer(reply, scene.view)
    except AssertionError as error:
        raise AssertionError(f"{error}\nfor {shown}") from None
    if blamed is not None and blamed:
        assert not answer.accepted, f"accepted although {sorted(blamed)} invalid: {shown}"
        assert set(answer.errors) <= blamed, (
            f"errors on {sorted(answer.errors)}, but only {sorted(blamed)} are invalid: "
            f"{answer.errors} for {shown}"
        )
    elif blamed is not None:
        assert answer.accepted, f"refused valid values: {answer.errors} for {shown}"
    if answer.accepted:
        await fuzzer.stored(h, scene, drawn.values, answer)
    else:
        await fuzzer.unchanged(h, scene)
    await h.bot.in_flight.drain(10.0)
    if answer.accepted:  # a refusal writes nothing, to the outbox neither
        await h.bot.delivery.drain()
    for call in h.fake_slack.calls[calls_before:]:
        check_sent_safely(call.method, call.args, fallback=call.args.get("text"))
    assert len(h.errors) == errors_before, [r.getMessage() for r in h.errors[errors_before:]]
    if isinstance(data, Listed):
        LISTED[fuzzer.callback_id]["accepted" if answer.accepted else "rejected"] += 1
        return
    tally = TALLY.setdefault(fuzzer.callback_id, Counter())
    tally["accepted" if answer.accepted else "rejected"] += 1
    for block_id in blamed or ():
        BLAMED[fuzzer.callback_id][str(block_id)] += 1
    SECONDS[fuzzer.callback_id] += time.perf_counter() - started


# ---------------------------------------------------------------- the customer modals


def customer_fields(
    *, add: bool, plans: list[str] | None = None, initial: dict[str, Any] | None = None
) -> dict[str, Field]:
    initial = initial or {}

    def keep(block_id: str, valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        """Edit: the value the modal opened with, or a new one."""
        if block_id in initial:
            return st.one_of(st.just(initial[block_id]), valid)
        return valid

    fields = {
        F.NAME: Field(keep(F.NAME, valid_names()), any_names()),
        F.ADMIN_EMAIL: Field(keep(F.ADMIN_EMAIL, valid_emails()), any_emails()),
        F.CONTACT_NAME: Field(keep(F.CONTACT_NAME, optional(valid_names(), "")), any_names()),
        F.CONTACT_EMAIL: Field(keep(F.CONTACT_EMAIL, optional(valid_emails())), any_emails()),
        F.LOCATIONS: Field(keep(F.LOCATIONS, optional(valid_locations())), any_locations()),
        # R20: a number, or "Never block" ticked with the number left empty.
        F.THRESHOLD: Field(
            keep(F.THRESHOLD, sometimes(numbers(1, THRESHOLD_MAX), st.sampled_from([None, ""]))),
            any_numbers(1, THRESHOLD_MAX),
        ),
        F.NEVER_BLOCK: Field(
            keep(F.NEVER_BLOCK, sometimes(st.just([]), st.just([NEVER]))), forged_options(NEVER)
        ),
        F.PRICE: Field(keep(F.PRICE, prices()), any_prices()),
        F.ASSIGNED: Field(keep(F.ASSIGNED, st.lists(user_ids(), max_size=4)), any_user_lists()),
    }
    if add:
        offered = plans or list(NEW_PLANS)
        fields[F.PLAN] = Field(
            st.sampled_from(offered),
            st.one_of(
                st.sampled_from(["free", "FREE", "Trial", "enterprise ", "none", "<!channel>", ""]),
                st.text(max_size=12),
            ),
        )
        fields[F.LICENCES] = Field(numbers(1, LICENCES_MAX), any_numbers(1, LICENCES_MAX))
        fields[F.TERM] = Field(st.sampled_from(list(TERM_MONTHS)), any_terms())
        fields[F.CONTRACT_START] = Field(contract_starts(), any_dates())
    else:
        fields[F.NOTES] = Field(
            keep(F.NOTES, optional(reasons())),
            st.one_of(any_reasons(), sized((1999, 2000, 2001, 3000))),
        )
    return fields


async def existing_keys(h: Harness, tenant: Tenant, except_id: int | None = None) -> set[str]:
    async with h.db.unit_of_work() as session:
        rows = await session.execute(
            select(Customer.id, Customer.name).where(Customer.msp_id == tenant.msp_id)
        )
        return {name_key(name) for cid, name in rows if cid != except_id}


async def email_taken(h: Harness, email: str, except_id: int | None = None) -> bool:
    """R1: across all accounts of all MSPs, trimmed, case-insensitive."""
    key = email.strip().casefold()
    async with h.db.unit_of_work() as session:
        rows = await session.execute(select(Customer.id, Customer.admin_email))
        return any(e.strip().casefold() == key for cid, e in rows if cid != except_id)


async def shared_blame(
    h: Harness, scene: Scene, v: dict[str, Any], *, except_id: int | None
) -> set[str]:
    bad: set[str] = set()
    if not name_ok(v[F.NAME]):
        bad.add(F.NAME)
    elif name_key(nfc(v[F.NAME])) in await existing_keys(h, scene.tenant, except_id):
        bad.add(F.NAME)  # R2
    if not email_ok(v[F.ADMIN_EMAIL]) or await email_taken(h, v[F.ADMIN_EMAIL], except_id):
        bad.add(F.ADMIN_EMAIL)  # R1
    if not short_text_ok(v[F.CONTACT_NAME], CONTACT_MAX):
        bad.add(F.CONTACT_NAME)
    if not blank(v[F.CONTACT_EMAIL]) and not email_ok(v[F.CONTACT_EMAIL]):
        bad.add(F.CONTACT_EMAIL)
    if locations_of(v[F.LOCATIONS]) is None:
        bad.add(F.LOCATIONS)
    if ticked(v[F.NEVER_BLOCK], NEVER):
        if not blank(v[F.THRESHOLD]):
            bad.add(F.THRESHOLD)  # one or the other
    elif whole(v[F.THRESHOLD], 1, THRESHOLD_MAX) is None:
        bad.add(F.THRESHOLD)  # required unless never blocking
    if not assigned_ok(v[F.ASSIGNED]):
        bad.add(F.ASSIGNED)
    return bad


async def customer_by_key(h: Harness, tenant: Tenant, key: str) -> Customer | None:
    related = (Customer.locations, Customer.contacts, Customer.assignments)
    async with h.db.unit_of_work() as session:
        query = select(Customer).where(Customer.msp_id == tenant.msp_id)
        rows = (await session.scalars(query.options(*map(selectinload, related)))).all()
        found = [row for row in rows if name_key(row.name) == key]
        assert len(found) <= 1, "two customers with one name (R2)"
        for row in found:
            session.expunge(row)
        return found[0] if found else None


def check_shared_stored(customer: Customer, v: dict[str, Any], *, assigned: set[str]) -> None:
    name, email = nfc(v[F.NAME]), v[F.ADMIN_EMAIL].strip()
    assert customer.name == name
    assert name_key(name).startswith(customer.name_key)  # cut to its column, if longer
    assert customer.admin_email == email and customer.admin_email_key == email.casefold()
    expected_threshold = (
        None if ticked(v[F.NEVER_BLOCK], NEVER) else whole(v[F.THRESHOLD], 1, THRESHOLD_MAX)
    )
    assert customer.max_mau_threshold == expected_threshold
    places = sorted(customer.locations, key=lambda place: place.position)
    assert [place.name for place in places] == locations_of(v[F.LOCATIONS])
    contact_name = (v[F.CONTACT_NAME] or "").strip() or None
    contact_email = None if blank(v[F.CONTACT_EMAIL]) else v[F.CONTACT_EMAIL].strip()
    primary = [c for c in customer.contacts if c.is_primary]
    if contact_name or contact_email:
        [contact] = primary
        assert contact.email == contact_email
        # Known by email only, the contact is named by it (within the name's column).
        assert contact.name == (contact_name or contact_email)[:CONTACT_MAX]
    else:
        assert primary == []
    assert {a.slack_user_id for a in customer.assignments} == assigned
    assert_storable(customer, *customer.locations, *customer.contacts, *customer.assignments)


class AddCustomer(Fuzzer):
    callback_id = CallbackId.ADD_CUSTOMER
    examples = 130

    async def scene(self, h: Harness, data: st.DataObject) -> Scene:
        tenant = await h.tenant({ADMIN: Role.ADMIN})
        existing = await h.customer(tenant, name="Existing Dental")
        async with h.db.unit_of_work() as session:
            taken = (await session.get(Customer, existing)).admin_email
        view = await h.opened(tenant.slack.slash_command("add", user_id=ADMIN))
        # The form as it opens (a trial), or redrawn for the paid plan chosen in it.
        form_plan = data.draw(st.sampled_from(NEW_PLANS), label="form")
        if form_plan != "trial":
            view = await h.plan_chosen(tenant, ADMIN, form_plan)
        # Sent for the plan the form shows; or, on a paid plan's form, as a trial
        # chosen again just before Add (the contract's fields are then ignored).
        plans = ["trial"] if form_plan == "trial" else [form_plan, "trial"]
        shown = input_blocks(view)
        fields = {
            block_id: spec
            for block_id, spec in customer_fields(add=True, plans=plans).items()
            if block_id in shown
        }
        collide = st.sampled_from(["Existing Dental", "EXISTING dental", " existing DENTAL "])
        fields[F.NAME] = Field(sometimes(valid_names(), collide), fields[F.NAME].hostile)
        fields[F.ADMIN_EMAIL] = Field(
            sometimes(
                tagged(valid_emails(), tenant.team_id),
                st.sampled_from([taken, taken.upper(), f" {taken} "]),
            ),
            fields[F.ADMIN_EMAIL].hostile,
        )
        return Scene(tenant, ADMIN, view, fields)

    async def blame(self, h: Harness, scene: Scene, v: dict[str, Any]) -> set[str] | None:
        bad = await shared_blame(h, scene, v, except_id=None)
        plan = v[F.PLAN] or "trial"  # the plan the modal opens with
        if plan not in NEW_PLANS:
            bad.add(F.PLAN)
        elif plan != "trial" and F.LICENCES not in v:
            return None  # the form comes back with the paid plan's contract to fill in
        elif plan != "trial":
            if whole(v[F.LICENCES], 1, LICENCES_MAX) is None:
                bad.add(F.LICENCES)
            if term_of(v[F.TERM]) is None:
                bad.add(F.TERM)
            if not contract_start_ok(v[F.CONTRACT_START]):
                bad.add(F.CONTRACT_START)
        if not blank(v.get(F.PRICE)) and price_cents(v[F.PRICE]) is None:
            bad.add(F.PRICE)
        return bad

    async def stored(self, h: Harness, scene: Scene, v: dict[str, Any], answer: Answer) -> None:
        plan = v[F.PLAN] or "trial"
        if (answer.body.get("view") or {}).get("callback_id") == F_ADD:
            # A paid plan sent from a form without its contract: the form again, with it.
            assert plan in NEW_PLANS and plan != "trial" and F.LICENCES not in v, v
            assert F.LICENCES in input_blocks(answer.body["view"])
            await self.unchanged(h, scene)
            return
        customer = await customer_by_key(h, scene.tenant, name_key(nfc(v[F.NAME])))
        assert customer is not None, "accepted, but no customer was stored"
        check_shared_stored(customer, v, assigned=set(v[F.ASSIGNED] or []))
        assert customer.plan == plan
        if plan == "trial":
            assert customer.status == "active_trial" and customer.licences == 0
            # R4: active for TRIAL_DAYS days counting today; trial_end is the last one.
            assert customer.trial_end == TODAY + timedelta(days=TRIAL_DAYS - 1)
        else:
            assert customer.status == "paid"
            assert customer.licences == whole(v[F.LICENCES], 1, LICENCES_MAX)
            term, start = term_of(v[F.TERM]), date.fromisoformat(v[F.CONTRACT_START])
            assert (customer.term, customer.contract_start) == (term, start)
            assert customer.renewal_date == renewal_after(start, term, TODAY)
        # R18: the price typed is a licence's, a month (a trial's form asks for none).
        cents = DEFAULT_PRICE_CENTS if blank(v.get(F.PRICE)) else price_cents(v[F.PRICE])
        assert customer.unit_price_cents == cents

    async def unchanged(self, h: Harness, scene: Scene) -> None:
        async with h.db.unit_of_work() as session:
            names = (
                await session.scalars(
                    select(Customer.name).where(Customer.msp_id == scene.tenant.msp_id)
                )
            ).all()
        assert names == ["Existing Dental"]


class EditCustomer(Fuzzer):
    callback_id = CallbackId.EDIT_CUSTOMER
    examples = 100

    async def scene(self, h: Harness, data: st.DataObject) -> Scene:
        tenant = await h.tenant({ADMIN: Role.ADMIN})
        name = nfc(data.draw(valid_names(), label="seeded name"))
        await h.customer(tenant, name="Other Co")
        customer_id = await h.customer(
            tenant,
            name=name,
            status="paid",
            plan="essentials",
            licences=10,
            renewal_date=RENEWAL,
            unit_price_cents=7_500,  # 10 licences: $750 a month
            notes="<!here> call first",
            locations=["HQ", "Lab"],
            contact=("Dana", "dana@acme.example"),
            assigned=[MEMBER],
            max_mau_threshold=data.draw(st.sampled_from([500_000, None]), label="threshold"),
        )
        click = tenant.slack.block_actions(
            action_id=ActionId.EDIT_CUSTOMER,
            value=CustomerRef(customer_id=customer_id).encode(),
            user_id=ADMIN,
        )
        view = await h.opened(click)
        initial = {}
        for block_id, element in input_blocks(view).items():
            if "initial_value" in element:
                initial[block_id] = element["initial_value"]
            if "initial_users" in element:
                initial[block_id] = element["initial_users"]
            if "initial_options" in element:
                initial[block_id] = [o["value"] for o in element["initial_options"]]
        async with h.db.unit_of_work() as session:
            other_email = (
                await session.scalars(
                    select(Customer.admin_email).where(
                        Customer.name == "Other Co", Customer.msp_id == tenant.msp_id
                    )
                )
            ).one()
        fields = customer_fields(add=False, initial=initial)
        fields[F.NAME] = Field(
            sometimes(fields[F.NAME].valid, st.just("other co")), fields[F.NAME].hostile
        )
        fields[F.ADMIN_EMAIL] = Field(
            sometimes(
                st.one_of(st.just(initial[F.ADMIN_EMAIL]), tagged(valid_emails(), tenant.team_id)),
                st.just(other_email.upper()),
            ),
            fields[F.ADMIN_EMAIL].hostile,
        )
        return Scene(tenant, ADMIN, view, fields, {"id": customer_id})

    async def blame(self, h: Harness, scene: Scene, v: dict[str, Any]) -> set[str] | None:
        bad = await shared_blame(h, scene, v, except_id=scene.facts["id"])
        if price_cents(v[F.PRICE]) is None:  # required here: blank is no price
            bad.add(F.PRICE)
        if not short_text_ok(v[F.NOTES], NOTES_MAX):
            bad.add(F.NOTES)
        return bad

    async def stored(self, h: Harness, scene: Scene, v: dict[str, Any], answer: Answer) -> None:
        customer = await customer_by_key(h, scene.tenant, name_key(nfc(v[F.NAME])))
        assert customer is not None and customer.id == scene.facts["id"]
        check_shared_stored(customer, v, assigned=set(v[F.ASSIGNED] or []))
        assert customer.unit_price_cents == price_cents(v[F.PRICE])
        assert customer.notes == (v[F.NOTES] or "").strip()
        assert customer.version == 2

    async def unchanged(self, h: Harness, scene: Scene) -> None:
        async with h.db.unit_of_work() as session:
            customer = await session.get(Customer, scene.facts["id"])
            assert customer.version == 1 and customer.notes == "<!here> call first"


class DeleteCustomer(Fuzzer):
    callback_id = CallbackId.DELETE_CUSTOMER
    examples = 60

    async def scene(self, h: Harness, data: st.DataObject) -> Scene:
        tenant = await h.tenant({ADMIN: Role.ADMIN})
        name = nfc(data.draw(valid_names(), label="seeded name"))
        customer_id = await h.customer(tenant, name=name, status="active_trial", locations=["HQ"])
        click = tenant.slack.block_actions(
            action_id=ActionId.DELETE_CUSTOMER,
            value=CustomerRef(customer_id=customer_id).encode(),
            user_id=ADMIN,
        )
        view = await h.opened(click)
        typed = typed_names(name)
        return Scene(
            tenant,
            ADMIN,
            view,
            {F.CONFIRM_NAME: Field(typed, st.one_of(typed, any_names()))},
            {"id": customer_id, "name": name},
        )

    async def blame(self, h: Harness, scene: Scene, v: dict[str, Any]) -> set[str] | None:
        # R21: permanent, so the name exactly as shown (spaces around it aside).
        return set() if nfc(v[F.CONFIRM_NAME]) == scene.facts["name"] else {F.CONFIRM_NAME}

    async def stored(self, h: Harness, scene: Scene, v: dict[str, Any], answer: Answer) -> None:
        async with h.db.unit_of_work() as session:
            assert await session.get(Customer, scene.facts["id"]) is None
            left = (
                await session.scalars(
                    select(CustomerLocation).where(
                        CustomerLocation.customer_id == scene.facts["id"]
                    )
                )
            ).all()
            assert left == []

    async def unchanged(self, h: Harness, scene: Scene) -> None:
        async with h.db.unit_of_work() as session:
            assert await session.get(Customer, scene.facts["id"]) is not None


def ref_of(customer_id: int) -> str:
    """A customer option's value, as the bot encodes it, for any number."""
    return json.dumps({"customer_id": customer_id}, separators=(",", ":"))


def typed_names(name: str) -> st.SearchStrategy[str]:
    """What a person types to confirm: the name, and near misses."""
    return st.sampled_from(
        [
            name,
            f"  {name} ",
            unicodedata.normalize("NFD", name),
            name.upper(),
            name.lower(),
            name[:-1],
            name + "x",
            "",
        ]
    )


class FindCustomer(Fuzzer):
    callback_id = CallbackId.FIND_CUSTOMER
    examples = 50

    async def scene(self, h: Harness, data: st.DataObject) -> Scene:
        tenant = await h.tenant({MEMBER: Role.MEMBER})
        mine = [await h.customer(tenant, name=f"Mine {n}", assigned=[MEMBER]) for n in range(3)]
        theirs = await h.customer(tenant, name="Theirs Co")
        foreign = await h.foreign_customer()
        view = await h.opened(tenant.slack.slash_command("customer", user_id=MEMBER))
        valid = st.builds(
            lambda i, spaced: json.dumps({"customer_id": i}) if spaced else ref_of(i),
            st.sampled_from(mine),
            st.booleans(),
        )
        refs = [ref_of(i) for i in (theirs, foreign, 999_999, 2**31, 2**63, 10**30)]
        lenient = [f'{{"customer_id": "{mine[0]}"}}', f'{{"customer_id": {mine[0]}.0}}']
        odd = [
            f'{{"customer_id": {mine[0]}, "x": 1}}',
            '{"customer_id": 0}',
            '{"customer_id": -1}',
            "{",
            "null",
            "[]",
            '{"customer_id": 1e100}',
        ]
        hostile = st.one_of(st.sampled_from(refs + lenient + odd), hostile_text())
        facts = {"mine": set(mine), "lenient": set(lenient)}
        return Scene(tenant, MEMBER, view, {BlockId.CUSTOMER_FIND: Field(valid, hostile)}, facts)

    def chosen(self, value: Any) -> int | None:
        try:
            decoded = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            return None
        if isinstance(decoded, dict) and set(decoded) == {"customer_id"}:
            return decoded["customer_id"]
        return None

    async def blame(self, h: Harness, scene: Scene, v: dict[str, Any]) -> set[str] | None:
        value = v[BlockId.CUSTOMER_FIND]
        if value in scene.facts["lenient"]:
            return None  # one of mine, loosely typed: either answer is right
        if self.chosen(value) in scene.facts["mine"]:
            return set()
        return {BlockId.CUSTOMER_FIND}  # not a customer this member may see

    async def stored(self, h: Harness, scene: Scene, v: dict[str, Any], answer: Answer) -> None:
        shown = self.chosen(v[BlockId.CUSTOMER_FIND])
        async with h.db.unit_of_work() as session:
            customer = await session.get(Customer, int(shown))
        assert answer.body["response_action"] == "update"
        assert customer.account_number in json.dumps(answer.body["view"])


# ---------------------------------------------------------------- requests and decisions


async def rows_of(h: Harness, model: type, scene: Scene) -> list[Any]:
    """Every row of `model` of the scene's MSP."""
    async with h.db.unit_of_work() as session:
        statement = select(model).where(model.msp_id == scene.tenant.msp_id)  # type: ignore[attr-defined]
        return list((await session.scalars(statement)).all())


PAID = PAID_COLUMNS
# For each request type, accounts whose rules allow asking it now (R6-R17, R19).
REQUEST_ACCOUNTS: dict[RequestType, list[dict[str, Any]]] = {
    RequestType.TRIAL_EXTENSION: [
        {"status": "active_trial"},
        {"status": "expired_trial", "trial_end": TODAY - timedelta(days=5)},
    ],
    RequestType.UPGRADE: [
        {"status": "active_trial"},
        {"status": "free"},
        PAID,
        {**PAID, "plan": "professional"},
    ],
    RequestType.ADD_LICENCES: [PAID, {**PAID, "licences": 99_990}],
    RequestType.DECREASE_LICENCES: [PAID],
    RequestType.DOWNGRADE: [{**PAID, "plan": "professional"}, {**PAID, "plan": "enterprise"}],
    RequestType.ADD_ADDON: [PAID, {**PAID, "add_ons": ["activconnect"]}],
    RequestType.REMOVE_ADDON: [
        {**PAID, "add_ons": ["activconnect"]},
        {**PAID, "add_ons": list(ADD_ONS)},
    ],
    RequestType.CANCEL: [PAID],
    RequestType.REACTIVATE: [{"status": "free"}, {**PAID, "status": "pending_cancellation"}],
    RequestType.DELETE_ACCOUNT: [{"status": "free"}, {"status": "active_trial"}],
    RequestType.REMOVE_EXPIRED_TRIAL: [
        {"status": "expired_trial", "trial_end": TODAY - timedelta(days=5)}
    ],
    RequestType.MAU_ALLOWANCE_ORDER: [
        {"mau_allowance": 0},
        {"mau_allowance": ALLOWANCE_MAX - 5_000},
    ],
}


def offered_values(view: dict[str, Any], block_id: str) -> list[str]:
    element = input_blocks(view).get(block_id) or {}
    return [o["value"] for o in element.get("options", [])]


def request_fields(
    view: dict[str, Any], kind: RequestType, account: dict[str, Any]
) -> dict[str, Field]:
    inputs = input_blocks(view)
    fields: dict[str, Field] = {BlockId.REQUEST_REASON: Field(optional(reasons()), any_reasons())}
    bogus = st.one_of(
        st.sampled_from(
            ["free", "trial", "FREE", "none", "essentials", "enterprise", "<!channel>", ""]
        ),
        st.text(max_size=10),
    )
    if BlockId.REQUEST_DAYS in inputs:
        fields[BlockId.REQUEST_DAYS] = Field(
            optional(numbers(1, EXTENSION_MAX)), any_numbers(1, EXTENSION_MAX)
        )
    if BlockId.REQUEST_PLAN in inputs:
        fields[BlockId.REQUEST_PLAN] = Field(
            st.sampled_from(offered_values(view, BlockId.REQUEST_PLAN)), bogus
        )
    if BlockId.REQUEST_LICENCES in inputs:
        top = {
            RequestType.DECREASE_LICENCES: account.get("licences", 0) - 1,
            RequestType.ADD_LICENCES: LICENCES_MAX - account.get("licences", 0),
        }.get(kind, LICENCES_MAX)
        fields[BlockId.REQUEST_LICENCES] = Field(
            optional(numbers(1, top)), any_numbers(1, LICENCES_MAX)
        )
    if BlockId.REQUEST_ADD_ON in inputs:
        labels = [ADD_ONS.get(v, v) for v in offered_values(view, BlockId.REQUEST_ADD_ON)]
        fields[BlockId.REQUEST_ADD_ON] = Field(
            st.sampled_from(offered_values(view, BlockId.REQUEST_ADD_ON)),
            st.one_of(
                st.sampled_from(
                    [*ADD_ONS, *(label.upper() for label in labels), "none", "", "<!here>"]
                ),
                st.text(max_size=10),
            ),
        )
    if BlockId.REQUEST_QUANTITY in inputs:
        fields[BlockId.REQUEST_QUANTITY] = Field(numbers(1, ORDER_MAX), any_numbers(1, ORDER_MAX))
    return fields


def add_on_of(value: str | None) -> str | None:
    wanted = (value or "").strip().casefold()
    return next((key for key, label in ADD_ONS.items() if wanted in (key, label.casefold())), None)


def request_problems(kind: RequestType, account: dict[str, Any], v: dict[str, Any]) -> set[str]:
    """The fields the rules refuse, for an account that may ask `kind` now."""
    bad: set[str] = set()
    if not short_text_ok(v.get(BlockId.REQUEST_REASON), REASON_MAX):
        bad.add(BlockId.REQUEST_REASON)
    status = account.get("status")
    rank = (
        PAID_RANK.get(account.get("plan", ""), 0)
        if status in ("paid", "pending_cancellation")
        else 0
    )
    if kind == RequestType.TRIAL_EXTENSION:
        days = v.get(BlockId.REQUEST_DAYS)
        if not blank(days) and whole(days, 1, EXTENSION_MAX) is None:
            bad.add(BlockId.REQUEST_DAYS)
    if (
        kind in (RequestType.UPGRADE, RequestType.REACTIVATE, RequestType.DOWNGRADE)
        and BlockId.REQUEST_PLAN in v
    ):
        plan = v[BlockId.REQUEST_PLAN]
        if kind == RequestType.DOWNGRADE:
            allowed = [p for p, r in PAID_RANK.items() if r < rank]
        else:
            allowed = [p for p, r in PAID_RANK.items() if r > rank]
        seats = v.get(BlockId.REQUEST_LICENCES)
        if not blank(seats) and whole(seats, 1, LICENCES_MAX) is None:
            bad.add(BlockId.REQUEST_LICENCES)
        if plan not in allowed:
            bad.add(BlockId.REQUEST_PLAN)
        elif plan == "enterprise" and blank(seats):  # R11: a quote for a number of seats
            bad |= {BlockId.REQUEST_PLAN, BlockId.REQUEST_LICENCES}
    if kind == RequestType.ADD_LICENCES:
        room = LICENCES_MAX - account.get("licences", 0)
        if whole(v.get(BlockId.REQUEST_LICENCES), 1, room) is None:
            bad.add(BlockId.REQUEST_LICENCES)
    decrease = kind == RequestType.DECREASE_LICENCES  # R10: a new total below the current
    if decrease and whole(v.get(BlockId.REQUEST_LICENCES), 1, account["licences"] - 1) is None:
        bad.add(BlockId.REQUEST_LICENCES)
    if kind in (RequestType.ADD_ADDON, RequestType.REMOVE_ADDON):
        key = add_on_of(v.get(BlockId.REQUEST_ADD_ON))
        present = set(account.get("add_ons", []))
        if key is None or (key in present) != (kind == RequestType.REMOVE_ADDON):
            bad.add(BlockId.REQUEST_ADD_ON)
    if kind == RequestType.MAU_ALLOWANCE_ORDER:
        quantity = whole(v.get(BlockId.REQUEST_QUANTITY), 1, ORDER_MAX)
        if quantity is None or account["mau_allowance"] + quantity > ALLOWANCE_MAX:
            bad.add(BlockId.REQUEST_QUANTITY)
    return bad


class RequestForm(Fuzzer):
    callback_id = CallbackId.REQUEST_FORM
    examples = 240

    async def scene(self, h: Harness, data: st.DataObject) -> Scene:
        kind = data.draw(st.sampled_from(list(RequestType)), label="request type")
        account = data.draw(st.sampled_from(REQUEST_ACCOUNTS[kind]), label="account")
        if kind == RequestType.MAU_ALLOWANCE_ORDER:
            tenant = await h.tenant({OWNER: Role.OWNER}, **account)
            user, text, customer_id = OWNER, "request mau", None
        else:
            tenant = await h.tenant({ADMIN: Role.ADMIN})
            name = nfc(data.draw(valid_names(), label="customer name"))
            customer_id = await h.customer(tenant, name=name, **account)
            async with h.db.unit_of_work() as session:
                number = (await session.get(Customer, customer_id)).account_number
            user, text = ADMIN, f"request {kind.value.replace('_', '-')} {number}"
        view = await h.opened(tenant.slack.slash_command(text, user_id=user))
        if "enterprise" in offered_values(view, BlockId.REQUEST_PLAN):
            assert BlockId.REQUEST_LICENCES in input_blocks(view), (
                f"{kind}: Enterprise is offered, but there is no field for its seats (R11)"
            )
        facts = {"kind": kind, "account": account, "customer_id": customer_id}
        return Scene(tenant, user, view, request_fields(view, kind, account), facts)

    async def blame(self, h: Harness, scene: Scene, v: dict[str, Any]) -> set[str] | None:
        return request_problems(scene.facts["kind"], scene.facts["account"], v)

    async def stored(self, h: Harness, scene: Scene, v: dict[str, Any], answer: Answer) -> None:
        kind = scene.facts["kind"]
        async with h.db.unit_of_work() as session:
            [row] = (
                await session.scalars(
                    select(ChangeRequest).where(ChangeRequest.msp_id == scene.tenant.msp_id)
                )
            ).all()
        assert row.kind == kind.value and row.status == "pending"
        assert row.customer_id == scene.facts["customer_id"]
        assert row.reason == (v.get(BlockId.REQUEST_REASON) or "").strip()
        details = row.details
        if kind == RequestType.TRIAL_EXTENSION:
            days = v.get(BlockId.REQUEST_DAYS)
            assert details["extension_days"] == (
                EXTENSION_DEFAULT if blank(days) else whole(days, 1, EXTENSION_MAX)
            )
        if BlockId.REQUEST_PLAN in v:
            assert details.get("target_plan") == v[BlockId.REQUEST_PLAN]
        if kind in (RequestType.ADD_LICENCES, RequestType.DECREASE_LICENCES) or not blank(
            v.get(BlockId.REQUEST_LICENCES)
        ):
            assert details["licence_count"] == whole(v[BlockId.REQUEST_LICENCES], 1, LICENCES_MAX)
        if kind in (RequestType.ADD_ADDON, RequestType.REMOVE_ADDON):
            assert details["add_on"] == add_on_of(v[BlockId.REQUEST_ADD_ON])
        if kind == RequestType.MAU_ALLOWANCE_ORDER:
            assert details["mau_quantity"] == whole(v[BlockId.REQUEST_QUANTITY], 1, ORDER_MAX)
        assert_storable(row)

    async def unchanged(self, h: Harness, scene: Scene) -> None:
        assert await rows_of(h, ChangeRequest, scene) == []


class DenyRequest(Fuzzer):
    callback_id = CallbackId.DENY_REQUEST
    examples = 60

    async def scene(self, h: Harness, data: st.DataObject) -> Scene:
        tenant = await h.tenant({APPROVER: Role.APPROVER, MEMBER: Role.MEMBER})
        customer_id = await h.customer(
            tenant, name=nfc(data.draw(valid_names(), label="customer name"))
        )
        request_id = await h.request(tenant, customer_id, RequestType.TRIAL_EXTENSION)
        click = tenant.slack.block_actions(
            action_id=ActionId.REQUEST_DENY,
            value=RequestRef(request_id=request_id).encode(),
            user_id=APPROVER,
            channel_id=APPROVALS,
        )
        view = await h.opened(click)
        note = Field(reasons().filter(lambda r: not blank(r)), any_reasons())
        return Scene(tenant, APPROVER, view, {BlockId.REQUEST_DENY_NOTE: note}, {"id": request_id})

    async def blame(self, h: Harness, scene: Scene, v: dict[str, Any]) -> set[str] | None:
        note = v[BlockId.REQUEST_DENY_NOTE]
        return (
            set()
            if not blank(note) and short_text_ok(note, REASON_MAX)
            else {BlockId.REQUEST_DENY_NOTE}
        )

    async def stored(self, h: Harness, scene: Scene, v: dict[str, Any], answer: Answer) -> None:
        async with h.db.unit_of_work() as session:
            row = await session.get(ChangeRequest, scene.facts["id"])
        assert row.status == "denied" and row.decided_by == APPROVER
        assert row.decision_note == v[BlockId.REQUEST_DENY_NOTE].strip()
        assert_storable(row)

    async def unchanged(self, h: Harness, scene: Scene) -> None:
        async with h.db.unit_of_work() as session:
            assert (await session.get(ChangeRequest, scene.facts["id"])).status == "pending"


class ConfirmDeletion(Fuzzer):
    callback_id = CallbackId.CONFIRM_DELETION
    examples = 60

    async def scene(self, h: Harness, data: st.DataObject) -> Scene:
        tenant = await h.tenant({APPROVER: Role.APPROVER, MEMBER: Role.MEMBER})
        name = nfc(data.draw(valid_names(), label="customer name"))
        customer_id = await h.customer(tenant, name=name, status="free")
        request_id = await h.request(
            tenant, customer_id, RequestType.DELETE_ACCOUNT, effective_on=TODAY + timedelta(days=30)
        )
        click = tenant.slack.block_actions(
            action_id=ActionId.REQUEST_APPROVE,
            value=RequestRef(request_id=request_id).encode(),
            user_id=APPROVER,
            channel_id=APPROVALS,
        )
        view = await h.opened(click)
        typed = typed_names(name)
        fields = {BlockId.REQUEST_CONFIRM_NAME: Field(typed, st.one_of(typed, any_names()))}
        return Scene(
            tenant,
            APPROVER,
            view,
            fields,
            {"id": request_id, "customer_id": customer_id, "name": name},
        )

    async def blame(self, h: Harness, scene: Scene, v: dict[str, Any]) -> set[str] | None:
        # R16: reversible for 30 days, so the name as R2 compares names will do.
        typed = v[BlockId.REQUEST_CONFIRM_NAME]
        return (
            set()
            if name_key(typed or "") == name_key(scene.facts["name"])
            else {BlockId.REQUEST_CONFIRM_NAME}
        )

    async def stored(self, h: Harness, scene: Scene, v: dict[str, Any], answer: Answer) -> None:
        async with h.db.unit_of_work() as session:
            request = await session.get(ChangeRequest, scene.facts["id"])
            customer = await session.get(Customer, scene.facts["customer_id"])
        assert request.status == "scheduled" and request.decided_by == APPROVER
        assert customer.status == "scheduled_deletion"

    async def unchanged(self, h: Harness, scene: Scene) -> None:
        async with h.db.unit_of_work() as session:
            assert (await session.get(ChangeRequest, scene.facts["id"])).status == "pending"
            assert (await session.get(Customer, scene.facts["customer_id"])).status == "free"


# ---------------------------------------------------------------- subscriptions


def split_items(text: str) -> list[str]:
    """Commas separate; commas inside double quotes do not; quotes are dropped."""
    items, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return items


def kinds_of(text: str | None) -> list[str] | None:
    if blank(text):
        return []
    items = [item.lower() for item in split_items(text.strip())]
    if len(items) > 20 or not all(_KIND.fullmatch(item) for item in items):
        return None
    return sorted(set(items))


class SubscriptionForm(Fuzzer):
    callback_id = CallbackId.SUBSCRIPTION_FORM
    examples = 110

    async def scene(self, h: Harness, data: st.DataObject) -> Scene:
        tenant = await h.tenant({ADMIN: Role.ADMIN})
        ids = [await h.customer(tenant, name=n) for n in ("Acme Corp", "Globex")]
        foreign = await h.foreign_customer()
        click = tenant.slack.block_actions(
            action_id=ActionId.SUBSCRIPTION_NEW, user_id=ADMIN, channel_id="C0LIST"
        )
        view = await h.opened(click)
        refs = [CustomerRef(customer_id=i).encode() for i in ids]
        bad_refs = [ref_of(i) for i in (foreign, 999_999, 2**31, 2**63, 10**30)]
        bad_refs += ["{", "null", '{"customer_id": 0}', '{"customer_id": "x"}', "<!channel>"]
        channel = st.sampled_from(["C0LIST", "C0NOC", "G0PRIVATE1"])
        good_kinds = st.lists(
            st.sampled_from(
                ["agents_not_reporting", "max_mau_reached", "rmm.alarm", "psa:ticket", "AV-Threat"]
            ),
            min_size=1,
            max_size=4,
        ).map(", ".join)
        fields = {
            BlockId.SUBSCRIPTION_TARGET: Field(
                st.one_of(st.none(), channel),
                st.sampled_from(
                    [
                        "D0DIRECT",
                        "U0001",
                        "c0lower",
                        "<#C0NOC>",
                        "",
                        "C",
                        "C" + "A" * 40,
                        "CÉ1",
                        "<!channel>",
                    ]
                ),
            ),
            BlockId.SUBSCRIPTION_TOPICS: Field(
                st.lists(st.sampled_from(TOPICS), min_size=1, max_size=5, unique=True),
                st.lists(st.sampled_from([*TOPICS, "bogus", "ALERTS", "", "<!here>"]), max_size=4),
            ),
            BlockId.SUBSCRIPTION_SEVERITY: Field(
                st.sampled_from(["any", *SEVERITIES]),
                st.one_of(
                    st.sampled_from(["urgent", "", "HIGH", " low ", "none", "<!channel>"]),
                    st.text(max_size=8),
                ),
            ),
            BlockId.SUBSCRIPTION_CUSTOMERS: Field(
                st.lists(st.sampled_from(refs), max_size=2, unique=True),
                st.lists(st.sampled_from(refs + bad_refs), min_size=1, max_size=3),
            ),
            BlockId.SUBSCRIPTION_EXCLUDED: Field(
                st.just([]), st.lists(st.sampled_from(refs + bad_refs), min_size=1, max_size=3)
            ),
            BlockId.SUBSCRIPTION_KINDS: Field(
                st.one_of(st.none(), good_kinds),
                st.one_of(
                    st.sampled_from(
                        [
                            "Bad Kind!",
                            ",,",
                            "a" * 41,
                            ",".join(f"k{i}" for i in range(21)),
                            '"a,b"',
                            '"quoted"',
                            "<!channel>",
                            "ok, ",
                        ]
                    ),
                    hostile_text(),
                ),
            ),
            BlockId.SUBSCRIPTION_QUIET: Field(
                st.one_of(
                    st.none(), st.sampled_from(["22:00-07:00", "07:30-08:15", "23:59-00:00"])
                ),
                st.sampled_from(
                    [
                        "1\u0662:00-07:00",  # an Arabic-Indic digit: \d matches it, time() does not
                        "\uff12\uff12:\uff10\uff10-\uff10\uff17:\uff10\uff10",
                        "25:00-07:00",
                        "22:00-22:00",
                        "22:00\u201307:00",
                        "22:00 - 07:00",
                        "22-07",
                        " ",
                        "<!here>",
                    ]
                ),
            ),
            BlockId.SUBSCRIPTION_GROUPING: Field(
                st.one_of(st.none(), st.sampled_from([value for value, _ in GROUPING_CHOICES])),
                st.sampled_from(["kind,900", "banana", "off,10", "", "<!channel>", "kind,kind"]),
            ),
        }
        return Scene(tenant, ADMIN, view, fields, {"ids": set(ids)})

    def refs_of(self, values: list[str] | None, visible: set[int]) -> list[int] | None:
        found = []
        for value in values or []:
            try:
                decoded = json.loads(value)
            except (TypeError, ValueError):
                return None
            if (
                not isinstance(decoded, dict)
                or set(decoded) != {"customer_id"}
                or decoded["customer_id"] not in visible
            ):
                return None
            found.append(decoded["customer_id"])
        return found

    async def blame(self, h: Harness, scene: Scene, v: dict[str, Any]) -> set[str] | None:
        bad: set[str] = set()
        target = v[BlockId.SUBSCRIPTION_TARGET]
        if target and not _CHANNEL_ID.fullmatch(target):  # "" is no choice, like null
            bad.add(BlockId.SUBSCRIPTION_TARGET)
        topics = v[BlockId.SUBSCRIPTION_TOPICS] or []
        if not topics or not set(topics) <= set(TOPICS):
            bad.add(BlockId.SUBSCRIPTION_TOPICS)
        severity = v[BlockId.SUBSCRIPTION_SEVERITY]
        if severity not in (None, "any") and severity.strip().lower() not in SEVERITIES:
            bad.add(BlockId.SUBSCRIPTION_SEVERITY)
        pickers = (BlockId.SUBSCRIPTION_CUSTOMERS, BlockId.SUBSCRIPTION_EXCLUDED)
        included, excluded = (self.refs_of(v[b], scene.facts["ids"]) for b in pickers)
        if included is None or excluded is None or set(included) & set(excluded):
            bad |= set(pickers)  # the refusal may name either picker
        if kinds_of(v[BlockId.SUBSCRIPTION_KINDS]) is None:
            bad.add(BlockId.SUBSCRIPTION_KINDS)
        quiet = (v[BlockId.SUBSCRIPTION_QUIET] or "").strip()
        if quiet and (bool(target) or not _QUIET.fullmatch(quiet) or quiet[:5] == quiet[6:]):
            bad.add(BlockId.SUBSCRIPTION_QUIET)
        if grouping_of(v.get(BlockId.SUBSCRIPTION_GROUPING)) is None:
            bad.add(BlockId.SUBSCRIPTION_GROUPING)
        return bad

    async def stored(self, h: Harness, scene: Scene, v: dict[str, Any], answer: Answer) -> None:
        async with h.db.unit_of_work() as session:
            [row] = (
                await session.scalars(
                    select(AlertSubscription).where(AlertSubscription.msp_id == scene.tenant.msp_id)
                )
            ).all()
        target = v[BlockId.SUBSCRIPTION_TARGET]
        assert (row.target, row.target_kind) == (
            (target, "channel") if target else (ADMIN, "person")
        )
        assert sorted(row.topics) == sorted(set(v[BlockId.SUBSCRIPTION_TOPICS]))
        severity = v[BlockId.SUBSCRIPTION_SEVERITY]
        assert row.min_severity == (None if severity in (None, "any") else severity.strip().lower())
        assert sorted(row.customers_included) == sorted(
            set(self.refs_of(v[BlockId.SUBSCRIPTION_CUSTOMERS], scene.facts["ids"]))
        )
        assert sorted(row.kinds) == kinds_of(v[BlockId.SUBSCRIPTION_KINDS])
        quiet = (v[BlockId.SUBSCRIPTION_QUIET] or "").strip()
        assert (row.quiet_start, row.quiet_end) == (
            (quiet[:5], quiet[6:]) if quiet else (None, None)
        )
        grouping = grouping_of(v.get(BlockId.SUBSCRIPTION_GROUPING))
        assert (row.group_by, row.group_minutes) == (grouping.by.value, grouping.minutes)
        assert_storable(row)

    async def unchanged(self, h: Harness, scene: Scene) -> None:
        assert await rows_of(h, AlertSubscription, scene) == []


# ---------------------------------------------------------------- an owner's billing correction

PLANS = ("trial", "free", *PAID_RANK)
# The plans an account of each status is on: a move to another status is a request.
PLANS_OF_STATUS = {
    "active_trial": {"trial"},
    "expired_trial": {"free"},
    "free": {"free"},
    "paid": set(PAID_RANK),
}
PAID_TERM = ("licences", "term", "contract_start", "renewal_date")  # figures of a paid plan
SEEDED_FIGURES = {
    "paid": {
        "plan": "essentials",
        "licences": 10,
        "term": "annual",
        "contract_start": date(2026, 3, 1),
        "renewal_date": RENEWAL,
        "unit_price_cents": 7_500,
        "past_due": False,
    },
    "active_trial": {
        "plan": "trial",
        "licences": 0,
        "term": None,
        "contract_start": None,
        "renewal_date": None,
        "unit_price_cents": 7_500,
        "past_due": False,
    },
}
SEEDED_FIGURES["free"] = {**SEEDED_FIGURES["active_trial"], "plan": "free"}


INVALID = object()  # a figure as no form sends it


def picked_day(value: Any) -> Any:
    """A datepicker's day; None when none is picked, INVALID when it is not a date."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return INVALID


def or_invalid(value: Any) -> Any:
    return INVALID if value is None else value


def billing_problems(status: str, after: dict[str, Any], changed: set[str]) -> set[str]:
    """The changed figures that cannot be, the figures as they would stand after."""
    bad: set[str] = set()
    start, renewal, term = after["contract_start"], after["renewal_date"], after["term"]
    within_term = not (term and renewal) or renewal <= months_later(TODAY, TERM_MONTHS[term])
    after_start = not (start and renewal) or renewal > start
    for name in changed:
        if name in PAID_TERM and after["plan"] not in PAID_RANK:
            bad.add(name)  # only a paid plan has them
        elif name == "plan" and after["plan"] not in PLANS_OF_STATUS[status]:
            bad.add(name)
        elif name == "term" and not within_term:
            bad.add(name)  # a term renews at least once a term
        elif name == "contract_start":
            oldest = months_later(TODAY, -12 * CONTRACT_AGE_MAX_YEARS)
            if not oldest <= start <= TODAY or not after_start:
                bad.add(name)
        elif name == "renewal_date" and not (renewal > TODAY and within_term and after_start):
            bad.add(name)
    return bad


def block_of(figure: str) -> str:
    """The form's block for a stored figure (the price is typed in dollars)."""
    return "unit_price" if figure == "unit_price_cents" else figure


class CorrectBilling(Fuzzer):
    """An owner corrects the figures the billing system owns, saying why (R22). A
    figure left empty, or as it was, is no change."""

    callback_id = CallbackId.CORRECT_BILLING
    examples = 100

    async def scene(self, h: Harness, data: st.DataObject) -> Scene:
        tenant = await h.tenant({OWNER: Role.OWNER})
        status = data.draw(st.sampled_from(["paid", "paid", "active_trial", "free"]), "account")
        figures = SEEDED_FIGURES[status]
        customer_id = await h.customer(tenant, name="Acme Dental", status=status, **figures)
        click = tenant.slack.block_actions(
            action_id=ActionId.CORRECT_BILLING,
            value=CustomerRef(customer_id=customer_id).encode(),
            user_id=OWNER,
        )
        view = await h.opened(click)
        inputs = input_blocks(view)
        plans = [o["value"] for o in inputs["plan"]["options"]]
        initial = {
            block_id: next(
                (
                    value
                    for key in ("initial_value", "initial_date")
                    if (value := element.get(key)) is not None
                ),
                (element.get("initial_option") or {}).get("value"),
            )
            for block_id, element in inputs.items()
        }

        def keep(block_id: str, valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
            """Mostly the figure the form opened with (a correction changes one or two)."""
            return sometimes(st.just(initial[block_id]), valid)

        days = st.one_of(contract_starts(), renewal_dates(), st.just(RENEWAL.isoformat()))
        fields = {
            "plan": Field(
                keep("plan", st.sampled_from(plans)),
                st.one_of(
                    st.sampled_from(["Essentials", "paid", " trial", "<!channel>", ""]),
                    st.text(max_size=12),
                ),
            ),
            "licences": Field(
                keep("licences", optional(numbers(1, LICENCES_MAX), "")),
                any_numbers(1, LICENCES_MAX),
            ),
            "term": Field(keep("term", optional(st.sampled_from(list(TERM_MONTHS)))), any_terms()),
            "contract_start": Field(keep("contract_start", optional(days)), any_dates()),
            "renewal_date": Field(keep("renewal_date", optional(days)), any_dates()),
            "unit_price": Field(keep("unit_price", prices()), any_prices()),
            "past_due": Field(st.sampled_from([[], ["past_due"]]), forged_options("past_due")),
            BlockId.BILLING_REASON: Field(reasons().filter(lambda r: not blank(r)), any_reasons()),
        }
        return Scene(tenant, OWNER, view, fields, {"id": customer_id, "status": status})

    async def blame(self, h: Harness, scene: Scene, v: dict[str, Any]) -> set[str] | None:
        bad: set[str] = set()
        given: dict[str, Any] = {"past_due": ticked(v["past_due"], "past_due")}
        for name, choices in (("plan", PLANS), ("term", tuple(TERM_MONTHS))):
            if v[name] is not None:  # a forged option, blank included, is refused
                if v[name] in choices:
                    given[name] = v[name]
                else:
                    bad.add(name)
        if not blank(v["licences"]):
            given["licences"] = or_invalid(whole(v["licences"], 1, LICENCES_MAX))
        if not blank(v["unit_price"]):
            given["unit_price_cents"] = or_invalid(price_cents(v["unit_price"]))
        for name in ("contract_start", "renewal_date"):
            if (day := picked_day(v[name])) is not None:
                given[name] = day
        bad |= {block_of(name) for name, value in given.items() if value is INVALID}
        reason = v[BlockId.BILLING_REASON]
        if blank(reason) or not short_text_ok(reason, REASON_MAX):
            bad.add(BlockId.BILLING_REASON)
        before = SEEDED_FIGURES[scene.facts["status"]]
        changed = {
            name for name, value in given.items() if value is not INVALID and value != before[name]
        }
        after = {**before, **{name: given[name] for name in changed}}
        scene.facts["after"], scene.facts["changed"] = after, changed
        status = scene.facts["status"]
        bad |= {block_of(name) for name in billing_problems(status, after, changed)}
        junk_days = scene.facts["junk"] & {"contract_start", "renewal_date"}
        if junk_days:  # a wrong type in a datepicker: refused, or taken as no day
            return (bad | junk_days) if bad else None
        return bad

    async def stored(self, h: Harness, scene: Scene, v: dict[str, Any], answer: Answer) -> None:
        async with h.db.unit_of_work() as session:
            row = await session.get(Customer, scene.facts["id"])
            stored = {name: getattr(row, name) for name in SEEDED_FIGURES["paid"]}
            notes = (
                await session.scalars(
                    select(AuditEvent.note).where(
                        AuditEvent.msp_id == scene.tenant.msp_id,
                        AuditEvent.action == "customer.billing_corrected",
                    )
                )
            ).all()
        if "after" not in scene.facts:  # either answer was right: nothing to compare
            return
        assert stored == scene.facts["after"], (stored, scene.facts["after"])
        if scene.facts["changed"]:
            assert row.version == 2
            assert notes == [v[BlockId.BILLING_REASON].strip()]
        else:
            assert row.version == 1 and notes == []
        assert_storable(row)

    async def unchanged(self, h: Harness, scene: Scene) -> None:
        async with h.db.unit_of_work() as session:
            row = await session.get(Customer, scene.facts["id"])
            stored = {name: getattr(row, name) for name in SEEDED_FIGURES["paid"]}
        assert stored == SEEDED_FIGURES[scene.facts["status"]] and row.version == 1


FUZZERS: dict[str, Fuzzer] = {
    fuzzer.callback_id: fuzzer
    for fuzzer in (
        AddCustomer(),
        EditCustomer(),
        DeleteCustomer(),
        FindCustomer(),
        RequestForm(),
        DenyRequest(),
        ConfirmDeletion(),
        SubscriptionForm(),
        CorrectBilling(),
    )
}


# ---------------------------------------------------------------- listed cases
# Hypothesis draws the combinations; these cases make sure each boundary and each
# kind of trouble is sent to each field at least once, whatever it draws.


class Junk:
    """A block as Slack never sends it (ABSENT: left out)."""

    def __init__(self, state: Any) -> None:
        self.state = state


_SIMPLEST: dict[int, tuple[st.SearchStrategy[Any], Any]] = {}


class Listed:
    """Stands in for hypothesis' `data`: the draws a case names (by label) are its
    values, any other draw the strategy's simplest value (hypothesis.find), so each
    case changes only what it names. A callable value is given the scene."""

    SIMPLEST = hypothesis_settings(
        database=None, derandomize=True, max_examples=5, phases=[Phase.generate, Phase.shrink]
    )

    def __init__(self, scene_draws: dict[str, Any], fields: dict[str, Any]) -> None:
        self.given = dict(scene_draws)
        self.scene: Scene | None = None
        if fields:
            self.given["spoiled fields"] = len(fields)
            self.given["spoiled"] = list(fields)
        for block_id, value in fields.items():
            self.given[f"{block_id} spoiled by"] = "junk" if isinstance(value, Junk) else "own"
            self.given[block_id] = value.state if isinstance(value, Junk) else value

    def draw(self, strategy: st.SearchStrategy[Any], label: str | None = None) -> Any:
        if label in self.given:
            value = self.given[label]
            return value(self.scene) if callable(value) else value
        known = _SIMPLEST.get(id(strategy))
        if known is None or known[0] is not strategy:
            known = _SIMPLEST[id(strategy)] = (
                strategy,
                find(strategy, lambda _: True, settings=self.SIMPLEST),
            )
        return known[1]


def case(fields: dict[str, Any] | None = None, **scene_draws: Any) -> tuple[dict, dict]:
    return scene_draws, fields or {}


PAID_ADD = {
    F.PLAN: "essentials",
    F.LICENCES: "10",
    F.TERM: "annual",
    F.CONTRACT_START: "2026-03-01",
}
OLDEST_START = TODAY.replace(year=TODAY.year - CONTRACT_AGE_MAX_YEARS)
TROUBLE = ("", " \u3000 ", "\x00", "a\x00b", "\u202eevil", "\ud800", "<!channel>", "x" * 5000)
TEXT_TROUBLE = tuple({F.NAME: t} for t in TROUBLE) + tuple({F.CONTACT_NAME: t} for t in TROUBLE)
LISTED_CASES: dict[str, list[tuple[dict, dict]]] = {
    CallbackId.ADD_CUSTOMER: [
        case(),
        *(case(fields) for fields in TEXT_TROUBLE),
        *(case({F.NAME: n}) for n in ("x" * 80, "x" * 81, "Cafe\u0301 Noir", "ß" * 45, "ﷺ" * 5)),
        *(
            case({F.ADMIN_EMAIL: e})
            for e in (
                "a\x00@x.com",
                "a\u200b@x.com",
                "\ud800@x.com",
                "a" * 248 + "@x.com",
                "a" * 249 + "@x.com",
                "<!channel>@x.com",
                "a@b..com",
            )
        ),
        case({F.CONTACT_EMAIL: "a" * 240 + "@x.com"}),
        case({F.CONTACT_NAME: "x" * 101}),
        *(
            case({F.LOCATIONS: text})
            for text in (
                "HQ\n\x00Lab",
                "\n".join(f"Site {i}" for i in range(51)),
                "x" * 101,
                "HQ\r\nhq\n  \n<!here> Lab",
            )
        ),
        *(
            case({F.THRESHOLD: n})
            for n in (
                "9" * 4301,
                "\u0661\u0662",
                "0",
                "1000000000",
                "1000000001",
                "1_000",
                "1,00",
                " ",
            )
        ),
        *(
            case({F.NEVER_BLOCK: ticks, F.THRESHOLD: n})
            for ticks, n in (
                ([NEVER], ""),  # never block: accepted, stored as no threshold
                ([NEVER], None),
                ([NEVER], "500"),  # one or the other
                (["NEVER"], ""),  # not the form's option: no tick, so a number is needed
                (["x", NEVER], " "),
                ([], ""),
            )
        ),
        case({F.NEVER_BLOCK: Junk({"type": "checkboxes", "selected_options": [{"value": 5}]})}),
        *(
            case({F.PRICE: p}, form="essentials")
            for p in ("1e3", "NaN", "1e999999", "75,50", "100000.01", "$$75", "-0")
        ),
        *(
            case({F.ASSIGNED: users})
            for users in (["<!channel>"], ["U" + "A" * 40], [f"U{n:04d}" for n in range(21)])
        ),
        case({F.PLAN: "free"}),
        case({F.PLAN: "<!channel>"}),
        case({**PAID_ADD}, form="essentials"),
        case({**PAID_ADD, F.CONTRACT_START: "2026-02-30"}, form="essentials"),
        case({**PAID_ADD, F.CONTRACT_START: TODAY.isoformat()}, form="essentials"),
        case(
            {**PAID_ADD, F.CONTRACT_START: (TODAY + timedelta(days=1)).isoformat()},
            form="essentials",
        ),
        case({**PAID_ADD, F.CONTRACT_START: OLDEST_START.isoformat()}, form="essentials"),
        case(
            {**PAID_ADD, F.CONTRACT_START: (OLDEST_START - timedelta(days=1)).isoformat()},
            form="essentials",
        ),
        case({**PAID_ADD, F.CONTRACT_START: "2024-01-31", F.TERM: "monthly"}, form="essentials"),
        case({**PAID_ADD, F.TERM: "weekly"}, form="essentials"),
        case({**PAID_ADD, F.TERM: Junk(ABSENT)}, form="essentials"),
        case({**PAID_ADD, F.LICENCES: "100001"}, form="essentials"),
        case({**PAID_ADD, F.LICENCES: Junk(ABSENT)}, form="essentials"),
        case({F.NAME: Junk(None)}),
        case({F.PLAN: Junk(ABSENT)}),
        case(
            {**PAID_ADD, F.CONTRACT_START: Junk({"type": "datepicker", "selected_date": 20260301})},
            form="essentials",
        ),
        case({F.PLAN: "essentials"}),  # chosen, and Add clicked before the form was redrawn
        case({F.PLAN: "trial"}, form="professional"),  # a trial again, just before Add
        case({F.ASSIGNED: Junk({"type": "multi_users_select", "selected_users": True})}),
    ],
    CallbackId.EDIT_CUSTOMER: [
        case(),
        *(case({F.NOTES: t}) for t in ("\x00", "x" * 2000, "x" * 2001, "<!channel> *all*")),
        case({F.PRICE: ""}),
        case({F.PRICE: "0"}),
        case({F.NAME: "other co"}),
        case({F.THRESHOLD: ""}),
        case({F.ASSIGNED: ["UEVIL1\x00"]}),
        case({F.LOCATIONS: "\x00"}),
        case({F.CONTACT_EMAIL: "a" * 240 + "@x.com", F.CONTACT_NAME: ""}),
    ],
    CallbackId.DELETE_CUSTOMER: [
        case({F.CONFIRM_NAME: typed})
        for typed in (
            lambda sc: sc.facts["name"],
            lambda sc: unicodedata.normalize("NFD", f"  {sc.facts['name']} "),
            lambda sc: sc.facts["name"].upper(),
            lambda sc: sc.facts["name"] + "\x00",
            "\ud800",
            "",
        )
    ],
    CallbackId.FIND_CUSTOMER: [
        case({BlockId.CUSTOMER_FIND: value})
        for value in (
            lambda sc: ref_of(min(sc.facts["mine"])),
            ref_of(2**31),
            ref_of(2**63),
            ref_of(10**30),
            ref_of(0),
            "{",
            "<!channel>",
            Junk(ABSENT),
        )
    ],
    CallbackId.REQUEST_FORM: [
        *(
            case(
                {BlockId.REQUEST_REASON: t}, **{"request type": RequestType.CANCEL, "account": PAID}
            )
            for t in (*TROUBLE, "x" * 500, "x" * 501)
        ),
        *(
            case({BlockId.REQUEST_DAYS: d}, **{"request type": RequestType.TRIAL_EXTENSION})
            for d in ("", "0", "90", "91", "\u0661\u0662", "9" * 4301)
        ),
        *(
            case(fields, **{"request type": kind, "account": account})
            for kind, account, fields in (
                (RequestType.UPGRADE, PAID, {BlockId.REQUEST_PLAN: "essentials"}),
                (RequestType.UPGRADE, PAID, {BlockId.REQUEST_PLAN: "free"}),
                (RequestType.UPGRADE, PAID, {BlockId.REQUEST_PLAN: "enterprise"}),
                (
                    RequestType.UPGRADE,
                    PAID,
                    {BlockId.REQUEST_PLAN: "enterprise", BlockId.REQUEST_LICENCES: "25"},
                ),
                (
                    RequestType.UPGRADE,
                    PAID,
                    {BlockId.REQUEST_PLAN: "professional", BlockId.REQUEST_LICENCES: "\xa0"},
                ),
                (
                    RequestType.REACTIVATE,
                    {"status": "free"},
                    {BlockId.REQUEST_PLAN: "enterprise", BlockId.REQUEST_LICENCES: "5"},
                ),
                (RequestType.REACTIVATE, {"status": "free"}, {BlockId.REQUEST_PLAN: "enterprise"}),
                (RequestType.DECREASE_LICENCES, PAID, {BlockId.REQUEST_LICENCES: "10"}),
                (RequestType.DECREASE_LICENCES, PAID, {BlockId.REQUEST_LICENCES: "9"}),
                (
                    RequestType.ADD_LICENCES,
                    {**PAID, "licences": 99_990},
                    {BlockId.REQUEST_LICENCES: "10"},
                ),
                (
                    RequestType.ADD_LICENCES,
                    {**PAID, "licences": 99_990},
                    {BlockId.REQUEST_LICENCES: "11"},
                ),
                (RequestType.ADD_ADDON, PAID, {BlockId.REQUEST_ADD_ON: "Screen Details"}),
                (
                    RequestType.ADD_ADDON,
                    {**PAID, "add_ons": ["activconnect"]},
                    {BlockId.REQUEST_ADD_ON: "activconnect"},
                ),
                (
                    RequestType.REMOVE_ADDON,
                    {**PAID, "add_ons": ["activconnect"]},
                    {BlockId.REQUEST_ADD_ON: "screen_details"},
                ),
            )
        ),
        *(
            case(
                {BlockId.REQUEST_QUANTITY: q},
                **{
                    "request type": RequestType.MAU_ALLOWANCE_ORDER,
                    "account": {"mau_allowance": ALLOWANCE_MAX - 5_000},
                },
            )
            for q in ("5000", "5001", "10000001", "0")
        ),
    ],
    CallbackId.DENY_REQUEST: [
        case({BlockId.REQUEST_DENY_NOTE: t})
        for t in (*TROUBLE, "x" * 500, "x" * 501, "*no* <@UEVIL1>")
    ],
    CallbackId.CONFIRM_DELETION: [
        case({BlockId.REQUEST_CONFIRM_NAME: typed})
        for typed in (
            lambda sc: sc.facts["name"].upper(),
            lambda sc: unicodedata.normalize("NFD", sc.facts["name"]),
            lambda sc: sc.facts["name"] + "\x00",
            "\ud800",
            Junk(None),
        )
    ],
    CallbackId.CORRECT_BILLING: [
        case(),
        *(case({"plan": p}) for p in ("professional", "trial", "free", "Enterprise")),
        *(case({"plan": p}, account="active_trial") for p in ("essentials", "free")),
        *(case({"licences": n}, account="active_trial") for n in ("5", "")),
        *(case({"licences": n}) for n in ("1", "0", "100000", "100001", "1,00", "-3")),
        *(
            case({"renewal_date": day.isoformat()})
            for day in (
                TODAY,
                TODAY + timedelta(days=1),
                months_later(TODAY, 12),
                months_later(TODAY, 12) + timedelta(days=1),
            )
        ),
        case({"term": "monthly"}),  # the renewal is more than a month away
        case({"term": "monthly", "renewal_date": (TODAY + timedelta(days=20)).isoformat()}),
        *(
            case({"contract_start": day})
            for day in ("2026-11-23", RENEWAL.isoformat(), "1990-01-01", "2026-11-22")
        ),
        *(case({"unit_price": p}) for p in ("0", "75.505", "-1", "100000.01", "1e3", "$80")),
        *(case({"past_due": p}) for p in (["past_due"], ["PAST_DUE"], ["x", "past_due"])),
        *(case({BlockId.BILLING_REASON: r}) for r in (*TROUBLE, "x" * 500, "x" * 501)),
        *(
            case({"renewal_date": Junk(state)})
            for state in (None, {"type": "datepicker", "selected_date": "U0JUNK"})
        ),
        case({"plan": Junk({"type": "static_select", "selected_option": {"value": 5}})}),
    ],
    CallbackId.SUBSCRIPTION_FORM: [
        case(),
        *(
            case({BlockId.SUBSCRIPTION_QUIET: q})
            for q in ("1\u0662:00-07:00", "22:00-07:00", "22:00-22:00")
        ),
        case({BlockId.SUBSCRIPTION_QUIET: "22:00-07:00", BlockId.SUBSCRIPTION_TARGET: "C0NOC"}),
        *(
            case({BlockId.SUBSCRIPTION_TARGET: t})
            for t in ("D0DIRECT", "U0001", "", "C" + "A" * 40)
        ),
        *(
            case({BlockId.SUBSCRIPTION_TOPICS: t})
            for t in ([], ["bogus"], ["alerts", "bogus"], ["alerts", "alerts"])
        ),
        case({BlockId.SUBSCRIPTION_SEVERITY: "HIGH"}),
        case({BlockId.SUBSCRIPTION_SEVERITY: "urgent"}),
        *(
            case({BlockId.SUBSCRIPTION_CUSTOMERS: refs})
            for refs in ([ref_of(2**63)], ["{"], ["<!channel>"])
        ),
        case(
            {
                BlockId.SUBSCRIPTION_CUSTOMERS: lambda sc: [ref_of(min(sc.facts["ids"]))],
                BlockId.SUBSCRIPTION_EXCLUDED: lambda sc: [ref_of(min(sc.facts["ids"]))],
            }
        ),
        *(
            case({BlockId.SUBSCRIPTION_KINDS: k})
            for k in (",".join(f"k{i}" for i in range(21)), '"a,b"', "a" * 41, "\x00")
        ),
    ],
}


# ---------------------------------------------------------------- the tests


@pytest.fixture
def settings(fake_slack, database_url) -> Settings:
    """Distribution mode: each example's MSP is a workspace of its own that installed
    the app, as on an MSP platform (a one-workspace bot serves its token's only)."""
    return distribution_settings(fake_slack, database_url)


@pytest.fixture
async def bot(settings, db, clock):
    """Slack's pacing lifted (every MSP posts to the same approvals channel id); each
    example drains the outbox itself, so the worker need not poll often."""
    return build_app(
        settings, clock=clock, db=db, delivery_limits=replace(FAST_DELIVERY, poll_seconds=1.0)
    )


class _Errors(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
async def harness(client, db, fake_slack, bot) -> Iterator[Harness]:
    records: list[logging.LogRecord] = []
    handler = _Errors(records)
    logging.getLogger().addHandler(handler)
    try:
        yield Harness(client, db, fake_slack, bot, records)
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.fixture(scope="module", autouse=True)
def _figures() -> Iterator[None]:
    yield
    if not TALLY:
        return
    print("\nmodal fuzz: examples per modal (accepted / rejected), mean time per example")
    for callback_id, tally in sorted(TALLY.items()):
        total = sum(tally.values())
        each = SECONDS[callback_id] / total * 1000
        accepted, rejected = tally["accepted"], tally["rejected"]
        print(
            f"  {callback_id:<26} {total:>4}: {accepted:>4} accepted, {rejected:>4} rejected "
            f"({each:.0f} ms each)"
        )
        listed = LISTED[callback_id]
        print(f"{'':31}listed cases: {listed['accepted']} accepted, {listed['rejected']} rejected")
        counts = sorted(BLAMED[callback_id].items(), key=lambda item: (-item[1], item[0]))
        blamed = ", ".join(f"{field} {n}" for field, n in counts)
        print(f"{'':31}invalid fields drawn: {blamed or 'none'}")
    print(f"  spoiled fields, by how: {dict(SPOILED)}")


async def test_every_registered_modal_has_a_fuzzer(bot):
    """A modal added later without a strategy here fails this test."""
    assert bot.listeners.names("view") == set(FUZZERS) == set(LISTED_CASES)
    assert set(REQUEST_ACCOUNTS) == set(RequestType)


async def test_listed_cases_of_every_modal(harness: Harness) -> None:
    """Each listed boundary and trouble, on its field, through the same checks."""
    for callback_id, cases in LISTED_CASES.items():
        for scene_draws, fields in cases:
            try:
                await run_example(harness, FUZZERS[callback_id], Listed(scene_draws, fields))
            except AssertionError as error:
                shown = {k: repr(v)[:100] for k, v in fields.items()}
                raise AssertionError(f"{callback_id}, listed case {shown}: {error}") from None


def fuzz(callback_id: str) -> Callable[..., Awaitable[None]]:
    fuzzer = FUZZERS[callback_id]

    @hypothesis_settings(
        max_examples=max(1, int(fuzzer.examples * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        # No shrinking: an example takes tens of milliseconds, and shrinking a failure
        # could take many minutes. The assertion says which fields and values failed.
        phases=(Phase.explicit, Phase.generate),
        report_multiple_bugs=False,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )
    @given(data=st.data())
    async def test(harness: Harness, data: st.DataObject) -> None:
        await run_example(harness, fuzzer, data)

    test.__name__ = f"test_{callback_id}"
    test.__doc__ = f"Hypothesis values for the fields of {callback_id}."
    return test


test_add_customer_modal = fuzz(CallbackId.ADD_CUSTOMER)
test_edit_customer_modal = fuzz(CallbackId.EDIT_CUSTOMER)
test_delete_customer_modal = fuzz(CallbackId.DELETE_CUSTOMER)
test_find_customer_modal = fuzz(CallbackId.FIND_CUSTOMER)
test_request_modal = fuzz(CallbackId.REQUEST_FORM)
test_deny_request_modal = fuzz(CallbackId.DENY_REQUEST)
test_confirm_deletion_modal = fuzz(CallbackId.CONFIRM_DELETION)
test_subscription_modal = fuzz(CallbackId.SUBSCRIPTION_FORM)
test_correct_billing_modal = fuzz(CallbackId.CORRECT_BILLING)
