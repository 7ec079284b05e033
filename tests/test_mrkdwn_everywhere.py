"""Every message, modal, Home tab and notice the bot can build, fed plain data whose
every string is hostile mrkdwn, shows it as the literal characters: no mrkdwn text
and no notification `text` carries a raw `<!channel>`, `<!here>`, `<@U1>`, link,
`&` or `>` (plain_text is left out: Slack does not format it).

The builders are discovered, not listed: every public function of `bot.views`, fed
data made from its type hints, each in several variants so that statuses, optional
parts and flags take their different branches. Then end to end: an alert and a storm
of them in through the API, out to the fake Slack with everything escaped."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import json
import pkgutil
import re
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pydantic
import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import update

from bot import notify as notify_package
from bot import views as views_package
from bot.app import Bot
from bot.config import Settings
from bot.domain.alerts import Severity
from bot.notify.digest import digest_payload
from bot.results.notices import NoticeInfo
from bot.views.alerts import ALERT_EVENT
from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, clip, escape, join, mention, mrkdwn, slack_date
from storage.engine import Database
from storage.models import AlertSubscription
from tests.drive import post_json
from tests.seed import Tenant, make_tenant
from tests.support import FakeClock, fast_bot
from tests.test_alert_routing import subscribe
from tests.wait import settle

# Each hostile form between markers, so that a raw `<`, `>` or `&` shows next to one.
HOSTILE = "[Q<!channel>Q<!here>Q<@U1>Q<https://x|y>Q&Q>Q]"
RAW_FORMS = ("<!channel>", "<!here>", "<@U1>", "<https://x|y>", "Q<", ">Q", "Q&Q", "Q>")
STRAY_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")
DOUBLE_ESCAPED = re.compile(r"&amp;(amp|lt|gt);")
VARIANTS = 6
# Not builders of text Slack formats: the helpers the builders use, and the chart image.
NOT_BUILDERS = {"bot.views.mrkdwn", "bot.views.limits", "bot.views.message", "bot.views.modal"}
NOT_BUILDERS_BY_NAME = {"mau_chart_png"}
NUMBERS = (0, 1, 7, 12_345)
# Services never hand these over with parts missing: a notice has what its kind needs,
# a MAU series has its months.
WHOLE = {NoticeInfo}
ALWAYS_LISTED = {"months", "mau"}
# Conversation ids from Slack's own payloads, which views check (into a button's value)
# before use; hostile ones are refused there, and `channel_link` shows them escaped.
CONVERSATION_IDS = {"channel_id", "share_in"}


def view_modules() -> list[types.ModuleType]:
    return [
        importlib.import_module(f"bot.views.{info.name}")
        for info in pkgutil.iter_modules(views_package.__path__)
        if f"bot.views.{info.name}" not in NOT_BUILDERS
    ]


def builders() -> list[Callable[..., Any]]:
    found = []
    for module in view_modules():
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue
            if name not in NOT_BUILDERS_BY_NAME:
                found.append(function)
    return found


# ---------------------------------------------------------------- plain data


def make(hint: Any, variant: int, name: str = "", *, whole: bool = False) -> Any:
    """A value of type `hint`, every string in it hostile; `variant` picks enum members,
    flags, numbers and whether optional parts and lists are there (`whole`: always)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        present = [arg for arg in args if arg is not type(None)]
        if type(None) in args and variant % 3 == 2 and not whole:
            return None
        return make(present[variant % len(present)], variant, name)
    if origin is tuple and args and args[-1] is not Ellipsis:
        return tuple(make(arg, variant + n, name) for n, arg in enumerate(args))
    if origin in (list, Sequence, tuple, frozenset, set):
        item = args[0]
        empty = variant % 5 == 4 and not whole and name not in ALWAYS_LISTED
        items = [] if empty else [make(item, variant + 1, name), make(item, variant, name)]
        return origin(items) if origin in (tuple, frozenset, set) else items
    if origin is dict:
        key, value = args
        if key is str and value is int:
            return {HOSTILE: 2, **{severity.value: 1 for severity in Severity}}
        return {make(key, variant): make(value, variant)}
    if name in CONVERSATION_IDS:
        return "C0123ABCD"
    if hint is Any or hint is str:
        return HOSTILE
    if hint is Mrkdwn:
        return escape(HOSTILE)
    if hint is bool:
        return variant % 2 == 0
    if hint is int:
        if name in ("id", "version") or name.endswith(("_id", "_ids")):
            return 1 + variant  # record ids and versions are positive
        return NUMBERS[variant % len(NUMBERS)]
    if hint is float:
        return 3.5
    if hint is Decimal:
        return Decimal("1234.5")
    if hint is datetime:
        return datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    if hint is date:
        return date(2026, 11, 22)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        members = list(hint)
        return members[variant % len(members)]
    if dataclasses.is_dataclass(hint):
        fields = typing.get_type_hints(hint)
        whole = hint in WHOLE
        return hint(**{f: make(kind, variant, f, whole=whole) for f, kind in fields.items()})
    if isinstance(hint, type) and issubclass(hint, pydantic.BaseModel):
        fields = typing.get_type_hints(hint)
        values = {field: make(kind, variant, field) for field, kind in fields.items()}
        return hint.model_construct(**values)
    raise TypeError(f"no plain data for {hint!r} ({name})")


def arguments(function: Callable[..., Any], variant: int) -> dict[str, Any]:
    hints = typing.get_type_hints(function)
    hints.pop("return", None)
    if function.__name__ == "digest_message":
        return {"entries": alert_entries(variant)}
    return {
        name: make(hint, variant + index, name) for index, (name, hint) in enumerate(hints.items())
    }


def alert_entries(variant: int) -> list[dict[str, Any]]:
    """A storm digest's input: each merged alert post's metadata payload."""
    severities = [*list(Severity), HOSTILE]
    return [
        {
            "alert_id": n + 1,
            "severity": str(severities[(variant + n) % len(severities)]),
            "customer": HOSTILE if n % 3 else "",
            "title": HOSTILE,
        }
        for n in range(7)
    ]


# ---------------------------------------------------------------- what Slack formats


def formatted_texts(rendered: Any) -> Iterator[tuple[str, str]]:
    """(where, text) for every string Slack formats as mrkdwn: a Message's `text`, and
    every mrkdwn text object anywhere in blocks, fields, context elements and views."""
    if isinstance(rendered, Message):
        yield "text", rendered.text
        yield from formatted_texts(rendered.blocks)
    elif isinstance(rendered, Block):
        yield from formatted_texts(rendered.to_dict())
    elif isinstance(rendered, dict):
        if rendered.get("type") == "mrkdwn":
            yield "mrkdwn", rendered.get("text", "")
        if "channel" in rendered and isinstance(rendered.get("text"), str):
            yield "text", rendered["text"]  # a chat.postMessage payload
        for value in rendered.values():
            if isinstance(value, dict | list):
                yield from formatted_texts(value)
    elif isinstance(rendered, list):
        for item in rendered:
            yield from formatted_texts(item)
    elif isinstance(rendered, Mrkdwn):
        yield "mrkdwn", rendered


def leaks(text: str) -> list[str]:
    found = [form for form in RAW_FORMS if form in text or form.lower() in text]
    if STRAY_AMPERSAND.search(text):
        found.append("a raw &")
    if DOUBLE_ESCAPED.search(text):
        found.append("escaped twice")
    return found


def assert_escaped(rendered: Any, label: str) -> int:
    checked = 0
    for where, text in formatted_texts(rendered):
        assert not leaks(text), f"{label}: {where} shows {leaks(text)} raw: {text!r}"
        checked += 1
    return checked


# ---------------------------------------------------------------- the walk


@pytest.mark.parametrize("builder", builders(), ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_builder_escapes_every_outside_string(builder: Callable[..., Any]) -> None:
    checked = 0
    for variant in range(VARIANTS):
        rendered = builder(**arguments(builder, variant))
        checked += assert_escaped(rendered, f"{builder.__name__} (variant {variant})")
    if isinstance(rendered, Message):
        assert checked, f"{builder.__name__} built a message with nothing to check"


def test_the_walk_finds_the_builders_of_every_kind() -> None:
    """Messages, modals, the Home tab, notices and digests are all in the walk."""
    names = {function.__name__ for function in builders()}
    assert {
        "alert_message",
        "digest_message",
        "approval_message",
        "requester_notice",
        "notice_message",
        "home_view",
        "alert_list_modal",
        "request_modal",
        "refusal_message",
        "updates_digest_message",
    } <= names
    assert len(names) > 60


def test_every_view_the_delivery_side_sends_is_in_the_walk() -> None:
    """What bot.notify posts (alerts, notices, requests, digests, Home tabs) is built by
    public view functions, all of them walked above."""
    walked = set(builders())
    walked_modules = {module.__name__ for module in view_modules()}
    used = []
    for info in pkgutil.iter_modules(notify_package.__path__):
        module = importlib.import_module(f"bot.notify.{info.name}")
        for value in vars(module).values():
            if inspect.isfunction(value) and value.__module__ in walked_modules:
                used.append(value)
    assert used
    unwalked = [f"{f.__module__}.{f.__name__}" for f in used if f not in walked]
    assert unwalked == []


@pytest.mark.parametrize("variant", range(VARIANTS))
def test_a_storm_digest_and_a_busy_channel_digest_escape_everything(variant: int) -> None:
    alert_posts = [
        {"channel": "C1", "text": "x", "metadata": {"event_type": ALERT_EVENT, "event_payload": e}}
        for e in alert_entries(variant)
    ]
    assert_escaped(digest_payload("C1", alert_posts), "alert digest")
    queued = [{"channel": "C1", "text": escape(HOSTILE)} for _ in range(12)]
    assert_escaped(digest_payload("C1", queued), "updates digest")


def test_mrkdwn_escapes_values_and_keeps_what_is_already_mrkdwn() -> None:
    built = mrkdwn(
        "*{name}* by {who} on {day}: {count:,}",
        name="<!channel> & Co",
        who=mention("U0123ABC"),
        day=slack_date(date(2026, 11, 22)),
        count=12345,
    )
    assert built == (
        "*&lt;!channel&gt; &amp; Co* by <@U0123ABC> on "
        "<!date^1795348800^{date_short_pretty}|22 Nov 2026>: 12,345"
    )
    assert join(" · ", ["a<b", mention("<@U1>")]) == "a&lt;b · &lt;@U1&gt;"


def test_clipping_never_leaves_half_an_escape_or_half_a_token() -> None:
    assert clip(mrkdwn("{x}", x="abc&"), 6) == "abc…"  # not "abc&a…"
    assert clip(mrkdwn("ab {who} cd", who=mention("U0123ABC")), 8) == "ab …"
    assert clip(mrkdwn("short"), 8) == "short"


def test_clipping_ends_on_a_whole_word_and_never_inside_an_emoji() -> None:
    text = mrkdwn(":hourglass_flowing_sand: The trial of {name} ends", name="Adatum Corp")
    assert clip(text, 44) == ":hourglass_flowing_sand: The trial of …"
    assert clip(mrkdwn(":hourglass_flowing_sand:x"), 20) == "…"  # not ":hourglass_flowin…"
    link = mrkdwn("see {who} and more words", who=Mrkdwn("<https://x.example|a b c d>"))
    assert clip(link, 30) == "see …"  # not a cut at the space inside the link


def test_a_messages_notification_text_is_plain_words() -> None:
    """Bold, italic, strike and code show as the characters in a notification; mentions,
    channels, dates, emoji and escapes are kept, and so are the words inside markup."""
    text = mrkdwn(
        ":bell: *Subscribed* `#2` {channel} by {who} on {day}: _all_ ~none~ {name}",
        channel=Mrkdwn("<#C0ACCOUNTS>"),
        who=mention("U0123ABC"),
        day=slack_date(date(2026, 11, 22)),
        name="a_b*c & max_mau_reached",
    )
    assert Message.of(text, []).text == (
        ":bell: Subscribed #2 <#C0ACCOUNTS> by <@U0123ABC> on "
        "<!date^1795348800^{date_short_pretty}|22 Nov 2026>: all none "
        "a_b*c &amp; max_mau_reached"
    )
    assert Message.of(mrkdwn("*<@U0123ABC>* `a*b*c`"), []).text == "<@U0123ABC> a*b*c"


def test_a_message_takes_no_text_that_was_not_built_as_mrkdwn() -> None:
    with pytest.raises(TypeError):
        Message.of(HOSTILE, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Message(text=HOSTILE)  # type: ignore[arg-type]


# ---------------------------------------------------------------- end to end

NOC = "C0NOC"
CUSTOMER = "<!channel> & Co"
TITLE = "Disk full <!here>"


@pytest.fixture
def bot(settings: Settings, db: Database, clock: FakeClock) -> Bot:
    return fast_bot(settings, db, clock)


@pytest.fixture
async def tenant(db: Database, clock: FakeClock) -> Tenant:
    tenant = await make_tenant(db, clock, names={CUSTOMER: 100})
    await subscribe(db, clock, tenant, NOC)
    return tenant


async def ingest(client, bot: Bot, tenant: Tenant, alerts: list[dict[str, Any]]) -> None:
    answer = await post_json(client, "/api/v1/alerts", tenant.token, {"alerts": alerts})
    assert answer.status == 200, answer.json
    await settle(bot)


def hostile_alert(tenant: Tenant, n: int = 0) -> dict[str, Any]:
    return {
        "customer": tenant.accounts[CUSTOMER],
        "kind": "disk_full",
        "severity": "critical" if n == 3 else "high",
        "title": TITLE,
        "details": "Free: 0 bytes <@U1> <https://x|y>",
        "dedup_key": f"disk:{n}",
    }


async def test_an_alert_from_the_api_pings_nobody(backend, client, bot, tenant, fake_slack):
    await ingest(client, bot, tenant, [hostile_alert(tenant)])
    [posted] = [c.args for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == NOC]
    assert posted["text"] == "HIGH Disk full &lt;!here&gt; (&lt;!channel&gt; &amp; Co)"
    blocks = json.loads(posted["blocks"]) if isinstance(posted["blocks"], str) else posted["blocks"]
    assert assert_escaped(blocks, "the alert's blocks") >= 2
    assert "*Disk full &lt;!here&gt;*\n&lt;!channel&gt; &amp; Co" in blocks[0]["text"]["text"]


async def test_a_storm_digest_from_the_api_pings_nobody(
    backend, client, bot, db, tenant, fake_slack
):
    async with db.unit_of_work() as session:  # not grouped: a burst becomes a digest
        await session.execute(update(AlertSubscription).values(group_by="off"))
    await ingest(client, bot, tenant, [hostile_alert(tenant, n) for n in range(12)])
    posts = [c.args for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == NOC]
    [digest] = [post for post in posts if "alerts while this channel was busy" in str(post)]
    assert digest["text"].startswith("12 alerts: Disk full &lt;!here&gt;; Disk full &lt;!here&gt;")
    assert not leaks(digest["text"])
    blocks = json.loads(digest["blocks"]) if isinstance(digest["blocks"], str) else digest["blocks"]
    assert assert_escaped(blocks, "the digest's blocks") >= 3
    shown = " ".join(text for _where, text in formatted_texts(blocks))
    assert "&lt;!channel&gt; &amp; Co 12" in shown
