"""The gallery: every screen the bot shows, as the fake Slack received it.

One seeded MSP (customers in every state, staff in every role, requests of every
type, subscriptions, alerts) is driven the way Slack drives the bot: signed slash
commands, clicks, modal submissions, `app_home_opened`, the alerts and usage API, and
the scheduler's jobs run on the injected clock. Every message, ephemeral answer,
modal and Home tab is written to docs/gallery/<screen>.json as Slack received it,
with what changes from run to run (ts, view ids, hashes, trigger ids, outbox keys,
random account numbers) replaced by placeholders, so a diff of the folder shows
only real changes. The folder is rewritten on every run; docs/gallery/README.md
says what each screen is and how to look at it as a picture.

The test also checks that every expected screen was produced, that the README's
index lists exactly these screens, and that each payload keeps within Slack's
limits."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.app import Bot, build_app
from bot.delivery.limits import DeliveryLimits
from bot.ids import ActionId, BlockId, CommercialField, CustomerField
from bot.payloads import CustomerRef, LicenceState, RequestRef
from bot.services import api_tokens
from bot.services.audit import OPERATOR_ACTOR
from scheduler.jobs.alerts import wake_snoozed_alerts
from scheduler.jobs.notices import run_sweep
from scheduler.jobs.requests import apply_scheduled_changes, expire_pending_requests
from storage.engine import Database
from storage.models import ChangeRequest, Customer, CustomerContact
from tests.drive import Reply, post, post_json
from tests.fake_slack import RESPONSE_URL_CALL, FakeSlack, RecordedCall
from tests.forms import add_values
from tests.seed import (
    ADMIN,
    APPROVALS,
    APPROVER,
    MEMBER,
    OWNER,
    VIEWER,
    grant_staff,
    seed_customer,
    set_msp,
)
from tests.slack_requests import SlackRequests
from tests.support import FAST_DELIVERY, FakeClock
from tests.wait import settle

GALLERY = Path(__file__).resolve().parent.parent / "docs" / "gallery"
README = GALLERY / "README.md"

GENERAL, NOC, ACCOUNTS, TEMP = "C0001", "C0NOC", "C0ACCOUNTS", "C0TEMP"
STRANGER, NEWCOMER = "U0999", "U0006"
TODAY = date(2026, 11, 22)  # the FakeClock's day, a Sunday

# Every screen the gallery holds; the README's index lists exactly these.
EXPECTED: tuple[str, ...] = (
    # the Home tab
    "home-owner-new-msp",
    "home-owner",
    "home-admin",
    "home-approver",
    "home-member",
    "home-viewer",
    "home-not-staff",
    # help, roles, settings, refusals
    "help",
    "help-viewer",
    "help-subscribe",
    "help-not-allowed",
    "help-unknown-command",
    "whoami",
    "roles",
    "role-changed",
    "settings",
    "settings-changed",
    "delivery",
    "refusal-not-allowed",
    "refusal-not-staff",
    "refusal-other-workspace",
    "refusal-invalid-input",
    "refusal-rule",
    "refusal-click",
    "refusal-modal-home",
    # customers
    "customers-list-empty",
    "customers-list",
    "customers-list-trials",
    "customers-list-no-match",
    "customers-list-modal-paid",
    "customer-card-paid",
    "customer-card-trial",
    "customer-card-over-free-limits",
    "customer-card-over-threshold",
    "customer-card-deletion-scheduled",
    "customer-card-member",
    "customer-card-viewer",
    "customer-card-modal",
    "customer-picker",
    "customer-no-match",
    "find-customer-modal",
    "add-customer-modal-trial",
    "add-customer-modal-paid",
    "add-customer-modal-errors",
    "add-customer-refused-modal",
    "customer-added-modal",
    "edit-customer-modal",
    "customer-saved-modal",
    "delete-customer-modal",
    "customer-deleted-modal",
    "correct-billing-modal",
    "billing-corrected-modal",
    # the dashboard, the licence, MAU and the export
    "dashboard",
    "dashboard-share-preview",
    "dashboard-shared",
    "dashboard-share-done",
    "licence",
    "licence-customer",
    "licence-month",
    "mau",
    "mau-customer",
    "mau-no-usage",
    "mau-chart-posted",
    "mau-chart-upload",
    "export-preparing",
    "export-file",
    # requests
    "request-extend-modal",
    "request-upgrade-modal",
    "request-add-licences-modal",
    "request-decrease-licences-modal",
    "request-downgrade-modal",
    "request-add-addon-modal",
    "request-remove-addon-modal",
    "request-cancel-modal",
    "request-reactivate-modal",
    "request-delete-modal",
    "request-remove-trial-modal",
    "request-mau-modal",
    "request-modal-preview",
    "request-modal-errors",
    "request-sent-modal",
    "request-refused-schedule",
    "request-message-approvals-channel",
    "request-message-approved",
    "request-message-scheduled",
    "request-message-denied",
    "request-message-expired",
    "request-message-applied",
    "request-dm-approved",
    "request-dm-denied",
    "request-dm-expired",
    "request-dm-applied",
    "request-review-modal-approver",
    "request-review-modal-asker",
    "request-review-modal-viewer",
    "request-decided-modal",
    "request-withdrawn-modal",
    "request-already-decided",
    "request-outcome",
    "request-deletion-reversed",
    "deny-request-modal",
    "confirm-deletion-modal",
    "requests-list-empty",
    "requests-list-pending",
    "requests-list-mine",
    "requests-list-scheduled",
    "reminder-request",
    # alerts
    "alert-message-critical",
    "alert-message-high",
    "alert-message-medium",
    "alert-message-low",
    "alert-message-max-mau",
    "alert-message-over-free-limits",
    "alert-message-acknowledged",
    "alert-message-snoozed",
    "alert-message-woken",
    "alert-message-resolved",
    "alert-message-reopened",
    "alert-message-grouped",
    "alert-reply-in-thread",
    "alert-already-handled",
    "alert-acted",
    "alert-digest",
    "alert-list-modal",
    "alerts-list",
    "alerts-list-customer",
    "alerts-list-empty",
    "alerts-list-filtered",
    "alerts-bulk-done",
    # subscriptions
    "subscriptions-list-empty",
    "subscriptions-list",
    "subscribed",
    "subscribed-me",
    "subscribe-invalid",
    "unsubscribed",
    "subscription-removed",
    "subscription-restored",
    "subscription-modal",
    "subscription-saved-modal",
    # notices and digests
    "notice-trial-ending",
    "notice-trial-ended",
    "notice-renewal-window",
    "notice-mau-80",
    "notice-mau-100",
    "notice-mau-projected",
    "digest-daily",
    "digest-weekly",
    "digest-busy-channel",
)

# Delivery as fast as the fake Slack takes it: no per-channel pacing, no tier waits.
GALLERY_DELIVERY = replace(
    FAST_DELIVERY, per_minute={method: 1_000_000 for method in DeliveryLimits().per_minute}
)


@pytest.fixture
async def bot(settings, db, clock) -> Bot:
    return build_app(settings, clock=clock, db=db, delivery_limits=GALLERY_DELIVERY)


# ---------------------------------------------------------------- what Slack received


@dataclass
class Step:
    """One thing done to the bot: its HTTP answer and the Slack calls it made."""

    reply: Reply | None
    calls: list[RecordedCall]

    @property
    def answer(self) -> dict[str, Any]:
        """The answer in the HTTP response (a command's ephemeral, a modal's update)."""
        assert self.reply is not None and self.reply.text, "no answer in the response"
        return self.reply.json

    def call(self, method: str, **match: str) -> dict[str, Any]:
        """The one call of `method` whose arguments match, as the fake Slack got it."""
        found = [
            call.args
            for call in self.calls
            if call.method == method and all(call.args.get(k) == v for k, v in match.items())
        ]
        assert len(found) == 1, (method, match, [c.method for c in self.calls])
        return found[0]

    def post(self, channel: str, containing: str = "", *, unlike: str = "") -> dict[str, Any]:
        """The one message posted in `channel` that says `containing` (and not `unlike`)."""
        found = [
            call.args
            for call in self.calls
            if call.method == "chat.postMessage"
            and call.args.get("channel") == channel
            and containing in json.dumps(call.args, ensure_ascii=False)
            and not (unlike and unlike in json.dumps(call.args, ensure_ascii=False))
        ]
        assert len(found) == 1, (channel, containing, [c.args.get("text") for c in self.calls])
        return found[0]

    def update(self, channel: str) -> dict[str, Any]:
        return self.call("chat.update", channel=channel)

    def said(self) -> dict[str, Any]:
        """The one answer sent to the response_url (below the message clicked)."""
        return self.call(RESPONSE_URL_CALL)

    def opened(self, method: str = "views.open") -> dict[str, Any]:
        return self.call(method)["view"]


class Driver:
    """The bot driven as Slack, the API's callers and the scheduler drive it."""

    def __init__(
        self,
        bot: Bot,
        client: TestClient,
        slack: SlackRequests,
        fake: FakeSlack,
        clock: FakeClock,
        db: Database,
    ) -> None:
        self.bot, self.client, self.slack, self.fake = bot, client, slack, fake
        self.clock, self.db = clock, db
        self.token = ""

    async def _step(self, send: Callable[[], Awaitable[Reply | None]]) -> Step:
        mark = len(self.fake.calls)
        reply = await send()
        await settle(self.bot)
        return Step(reply, self.fake.calls[mark:])

    async def _signed(self, request) -> Reply:
        reply = await post(self.client, request)
        assert reply.status == 200, reply.text
        return reply

    async def command(
        self, text: str, user: str = OWNER, channel: str = GENERAL, **kwargs: Any
    ) -> Step:
        request = self.slack.slash_command(text, user_id=user, channel_id=channel, **kwargs)
        return await self._step(lambda: self._signed(request))

    async def click(
        self,
        element: dict[str, Any],
        user: str = OWNER,
        *,
        option: int | None = None,
        channel: str | None = GENERAL,
        view: dict[str, Any] | None = None,
    ) -> Step:
        """A click on a button, or the `option`th option of a menu; in `view` (a modal or
        the Home tab) when given, else on a message in `channel`."""
        chosen = None if option is None else element["options"][option]
        request = self.slack.block_actions(
            action_id=element["action_id"],
            block_id=element.get("block_id", "b"),
            value=element.get("value"),
            selected_option=chosen,
            user_id=user,
            channel_id=None if view is not None else channel,
            view=view,
        )
        return await self._step(lambda: self._signed(request))

    async def choose(self, action_id: str, value: str, user: str = OWNER) -> Step:
        """An option chosen in a type-ahead menu (external_select) of a message."""
        request = self.slack.block_actions(
            action_id=action_id,
            selected_option={"value": value},
            user_id=user,
            channel_id=GENERAL,
            extra_action={"type": "external_select"},
        )
        return await self._step(lambda: self._signed(request))

    async def pick(
        self,
        view: dict[str, Any],
        block: dict[str, Any],
        value: str,
        values: dict[str, Any],
        user: str = OWNER,
    ) -> Step:
        """A choice made (or a figure typed) in a modal's input that redraws the modal
        (dispatch_action): Slack sends the modal with everything entered so far."""
        given = block["element"]
        if given["type"] == "static_select":
            chosen = next(o for o in given["options"] if o["value"] == value)
            state = {"type": "static_select", "selected_option": chosen}
            extra: dict[str, Any] = {"type": "static_select", "selected_option": chosen}
        else:
            state = {"type": given["type"], "value": value}
            extra = {"type": given["type"], "value": value}
        values = {**values, block["block_id"]: {given["action_id"]: state}}
        held = {**self.shown(view), "state": {"values": values}}
        request = self.slack.block_actions(
            action_id=given["action_id"],
            block_id=block["block_id"],
            user_id=user,
            channel_id=None,
            view=held,
            extra_action=extra,
        )
        return await self._step(lambda: self._signed(request))

    async def submit(self, view: dict[str, Any], values: dict[str, Any], user: str) -> Step:
        request = self.slack.view_submission(
            callback_id=view["callback_id"],
            private_metadata=view.get("private_metadata", ""),
            values=values,
            blocks=view["blocks"],
            user_id=user,
        )
        return await self._step(lambda: self._signed(request))

    async def home(self, user: str) -> Step:
        request = self.slack.app_home_opened(user_id=user)
        return await self._step(lambda: self._signed(request))

    async def home_view(self, user: str) -> dict[str, Any]:
        return (await self.home(user)).call("views.publish", user_id=user)["view"]

    async def api(self, path: str, body: dict[str, Any]) -> Step:
        async def send() -> None:
            answer = await post_json(self.client, path, self.token, body)
            assert answer.status == 200, answer.json

        return await self._step(send)

    async def job(self, run: Callable[..., Awaitable[int]], at: datetime | None = None) -> Step:
        """One of the scheduler's jobs, now (or at `at`) on the injected clock."""
        if at is not None:
            self.clock.set(at)

        async def send() -> None:
            await run(
                db=self.db,
                clock=self.clock,
                wake=self.bot.delivery.wake,
                notifiers=self.bot.notifiers,
            )

        return await self._step(send)

    async def sweep(self, name: str) -> Step:
        async def run(**kwargs: Any) -> int:
            return await run_sweep(name, **kwargs)

        return await self.job(run)

    def shown(self, view: dict[str, Any]) -> dict[str, Any]:
        """A modal as Slack holds it (with its id and hash), for a click inside it."""
        held = [v for v in self.fake.views.values() if v["blocks"] == view["blocks"]]
        assert held, "the modal is not open"
        return held[-1]


# ---------------------------------------------------------------- finding things in blocks


def elements(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each interactive element, with the id of the block it is in (Slack sends both)."""
    for block in blocks:
        inner = [
            *(block.get("elements") or []),
            *([block["accessory"]] if block.get("accessory") else []),
        ]
        for item in inner:
            if isinstance(item, dict):
                yield {**item, "block_id": block.get("block_id", "b")}


def element(payload: dict[str, Any], action_id: str, text: str = "") -> dict[str, Any]:
    """The element with `action_id` (and a label starting with `text`) in a message or view."""
    found = [
        e
        for e in elements(payload["blocks"])
        if isinstance(e, dict)
        and str(e.get("action_id", "")).startswith(action_id)
        and str((e.get("text") or {}).get("text", "")).startswith(text)
    ]
    assert found, f"no {action_id} {text!r} in {json.dumps(payload)[:400]}"
    return found[0]


def input_of(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(block for block in view["blocks"] if block.get("block_id") == block_id)


def option_of(menu: dict[str, Any], label: str) -> int:
    labels = [option["text"]["text"] for option in menu["options"]]
    assert label in labels, (label, labels)
    return labels.index(label)


def filled(view: dict[str, Any], **changes: dict[str, Any]) -> dict[str, Any]:
    """A modal's values as Slack submits them: each input as it opened, then `changes`
    (block id -> the element's state)."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        given = block["element"]
        kind = given["type"]
        state: dict[str, Any] = {"type": kind}
        if kind in ("plain_text_input", "number_input"):
            state["value"] = given.get("initial_value")
        elif kind in ("static_select", "external_select"):
            state["selected_option"] = given.get("initial_option")
        elif kind == "datepicker":
            state["selected_date"] = given.get("initial_date")
        elif kind in ("checkboxes", "multi_external_select", "multi_static_select"):
            state["selected_options"] = given.get("initial_options") or []
        elif kind == "multi_users_select":
            state["selected_users"] = given.get("initial_users") or []
        elif kind == "conversations_select":
            state["selected_conversation"] = given.get("initial_conversation")
        values[block["block_id"]] = {given["action_id"]: state}
    for block_id, state in changes.items():
        values[block_id] = {ActionId.FIELD: state}
    return values


def typed(value: str | None, kind: str = "plain_text_input") -> dict[str, Any]:
    return {"type": kind, "value": value}


def picked(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


# ---------------------------------------------------------------- the gallery


class Gallery:
    """The screens kept, cleaned of what changes from run to run."""

    def __init__(self) -> None:
        self.screens: dict[str, Any] = {}
        self.replacements: dict[str, str] = {}  # random text -> its stable placeholder

    def keep(self, name: str, payload: dict[str, Any]) -> None:
        assert name in EXPECTED, f"{name} is not in EXPECTED"
        assert name not in self.screens, f"{name} kept twice"
        self.screens[name] = self._clean(payload)

    def message(self, name: str, args: dict[str, Any]) -> None:
        """A message as posted, updated, answered or acknowledged."""
        self.keep(name, {k: v for k, v in args.items() if k not in ("token", "trigger_id")})

    def view(self, name: str, view: dict[str, Any], **around: Any) -> None:
        """A modal or Home tab: {"view": ...} (and `around`, e.g. response_action)."""
        self.keep(name, {**around, "view": view})

    def file(self, name: str, args: dict[str, Any]) -> None:
        """A file shared in a conversation: where, its title and the comment with it."""
        files = [{"title": entry.get("title")} for entry in args.get("files") or []]
        kept = {k: args[k] for k in ("channel_id", "initial_comment", "thread_ts") if k in args}
        self.keep(name, {**kept, "files": files})

    def _clean(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self._field(key, inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [self._clean(inner) for inner in value]
        if isinstance(value, str):
            for random_text, placeholder in self.replacements.items():
                value = value.replace(random_text, placeholder)
            return _OUTBOX_KEY.sub("<key>", value)
        return value

    def _field(self, key: str, value: Any) -> Any:
        if key in VOLATILE and isinstance(value, str) and value:
            return VOLATILE[key]
        return self._clean(value)

    def write(self) -> None:
        """Rewrite the folder: every screen, nothing left from an earlier run."""
        GALLERY.mkdir(parents=True, exist_ok=True)
        for old in GALLERY.glob("*.json"):
            old.unlink()
        for name, payload in sorted(self.screens.items()):
            text = json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
            (GALLERY / f"{name}.json").write_text(text, encoding="utf-8")


VOLATILE = {
    "ts": "<ts>",
    "thread_ts": "<thread ts>",
    "message_ts": "<ts>",
    "view_id": "<view id>",
    "hash": "<hash>",
    "trigger_id": "<trigger id>",
    "response_url": "<response url>",
    "id": "<id>",  # a view's or a file's id (button values hold ids as JSON text)
    "root_view_id": "<view id>",
}
_OUTBOX_KEY = re.compile(r"\b[0-9a-f]{32}\b")


# ---------------------------------------------------------------- Slack's limits


def limit_problems(name: str, payload: dict[str, Any]) -> list[str]:
    """What Slack would refuse or cut: too many blocks, texts too long, empty texts."""
    problems: list[str] = []
    view = payload.get("view")
    if view is not None:
        surface, blocks, most = view.get("type", "modal"), view.get("blocks") or [], 100
        if surface == "modal":
            for part in ("title", "submit", "close"):
                label = (view.get(part) or {}).get("text")
                if label is not None and len(label) > 24:
                    problems.append(f"modal {part} over 24 characters: {label!r}")
    elif "blocks" in payload or "text" in payload:
        surface, blocks, most = "message", payload.get("blocks") or [], 50
        if not str(payload.get("text") or "").strip():
            problems.append("a message without notification text")
    else:
        return problems  # an error response or a file: no blocks
    if len(blocks) > most:
        problems.append(f"{len(blocks)} blocks in a {surface} (at most {most})")
    for block in blocks:
        text = (block.get("text") or {}).get("text")
        if block["type"] == "section" and text is not None and len(text) > 3000:
            problems.append(f"section text of {len(text)} characters (at most 3000)")
        if block["type"] == "header" and len(text or "") > 150:
            problems.append(f"header of {len(text or '')} characters (at most 150)")
        for item in elements([block]):
            label = (
                str((item.get("text") or {}).get("text", "")) if item["type"] == "button" else ""
            )
            if len(label) > 75:
                problems.append(f"button text over 75 characters: {label!r}")
    for text_object in _text_objects(blocks):
        if not str(text_object.get("text", "")).strip():
            problems.append(f"an empty {text_object.get('type')} text")
    return [f"{name}: {problem}" for problem in problems]


def _text_objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("type") in ("plain_text", "mrkdwn") and "text" in value:
            yield value
        for inner in value.values():
            yield from _text_objects(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _text_objects(inner)


def readme_index() -> set[str]:
    """The screens the README's index table lists: `| [name.json](name.json) | ...`."""
    return set(re.findall(r"^\| \[([a-z0-9-]+)\.json\]\(\1\.json\) \|", README.read_text(), re.M))


# ---------------------------------------------------------------- the MSP


@dataclass(frozen=True)
class Book:
    """The seeded customers' ids, by name."""

    ids: dict[str, int]

    def ref(self, name: str) -> str:
        return CustomerRef(customer_id=self.ids[name]).encode()


async def customer(db: Database, name: str, account: str, **columns: Any) -> int:
    """A customer with a fixed account number and email, so every run shows the same."""
    email = f"it@{name.split()[0].lower()}-{account[:4].lower()}.example"
    return await seed_customer(
        db,
        name=name,
        account_number=account,
        admin_email=email,
        admin_email_key=email,
        **columns,
    )


PAID = {"status": "paid", "term": "annual", "unit_price_cents": 7_500}


async def seed_book(db: Database) -> Book:
    """Ten customers: paid (one over its max-MAU threshold, one renewing in under 30
    days, one cancelling), trials ending soon, later and already over, an expired
    trial over the free limits, and a free account."""
    ids = {
        "Northwind Traders": await customer(
            db,
            "Northwind Traders",
            "NWTR-4K2Q",
            **PAID,
            plan="essentials",
            licences=10,
            users=8,
            contract_start=date(2026, 3, 1),
            renewal_date=date(2027, 3, 1),
            max_mau=1_000,
            agents=(9, 10),
            locations=2,
            assigned=[MEMBER],
        ),
        "Contoso Dental": await customer(
            db,
            "Contoso Dental",
            "CNTS-7MPD",
            **{**PAID, "unit_price_cents": 6_850},
            plan="professional",
            licences=25,
            users=23,
            contract_start=date(2025, 12, 29),
            renewal_date=date(2026, 12, 29),  # 37 days: its last week to change it
            max_mau=1_200,
            agents=(20, 20),
            locations=3,
            add_ons=["activconnect"],
        ),
        "Fabrikam Legal": await customer(
            db,
            "Fabrikam Legal",
            "FBKM-2HXW",
            **{**PAID, "term": "monthly"},
            plan="essentials",
            licences=5,
            users=5,
            contract_start=date(2026, 9, 10),
            renewal_date=date(2026, 12, 10),  # under 30 days away
            agents=(3, 5),
        ),
        "Tailspin Toys": await customer(
            db,
            "Tailspin Toys",
            "TLSP-3RWM",
            **PAID,
            plan="essentials",
            licences=12,
            users=11,
            contract_start=date(2026, 6, 1),
            renewal_date=date(2027, 6, 1),
        ),
        "Globex Clinic": await customer(
            db,
            "Globex Clinic",
            "GLBX-9RTC",
            **{**PAID, "status": "pending_cancellation"},
            plan="essentials",
            licences=8,
            users=6,
            contract_start=date(2026, 1, 15),
            renewal_date=date(2027, 1, 15),
        ),
        "Initech Labs": await customer(
            db,
            "Initech Labs",
            "INTC-3VQB",
            status="active_trial",
            trial_start=date(2026, 10, 27),
            trial_end=date(2026, 11, 25),  # 3 days left: its notice is due
            users=4,
            max_mau=500,
            assigned=[MEMBER],
        ),
        "Umbrella Vets": await customer(
            db,
            "Umbrella Vets",
            "UMBR-6PLK",
            status="active_trial",
            trial_start=date(2026, 10, 31),
            trial_end=date(2026, 11, 29),  # 7 days left
            users=7,
        ),
        "Hooli Health": await customer(
            db,
            "Hooli Health",
            "HOOL-8DZN",
            status="active_trial",
            trial_start=date(2026, 11, 21),
            trial_end=date(2026, 12, 20),
            users=2,
        ),
        "Soylent Foods": await customer(
            db,
            "Soylent Foods",
            "SOYL-5WQE",
            status="expired_trial",
            trial_start=date(2026, 10, 12),
            trial_end=date(2026, 11, 10),
            users=5,
            data_used_gb=1.2,
        ),
        "Stark Dental": await customer(
            db, "Stark Dental", "STRK-4NVA", status="free", users=2, assigned=[MEMBER]
        ),
        "Wayne Accounting": await customer(
            db,
            "Wayne Accounting",
            "WAYN-7CJR",
            status="active_trial",
            trial_start=date(2026, 10, 23),
            trial_end=date(2026, 11, 21),  # its last day was yesterday
            users=6,
        ),
    }
    async with db.unit_of_work() as session:
        session.add(
            CustomerContact(
                customer_id=ids["Northwind Traders"],
                name="Ana Trujillo",
                email="ana@northwind.example",
                is_primary=True,
            )
        )
    return Book(ids)


def usage_reports() -> list[dict[str, Any]]:
    """A year of MAU for the paid customers and this month's for two trials: the MSP
    at 84% of its 3,000 MAU allowance, Contoso Dental over its max-MAU threshold."""
    months = [f"{2025 + (m > 12)}-{(m - 1) % 12 + 1:02d}" for m in range(12, 24)]
    reports = []
    for index, month in enumerate(months):
        reports.append({"customer": "NWTR-4K2Q", "month": month, "mau": 420 + 20 * index})
        reports.append({"customer": "CNTS-7MPD", "month": month, "mau": 900 + 50 * index})
    reports.append({"customer": "INTC-3VQB", "month": "2026-11", "mau": 300})
    reports.append({"customer": "UMBR-6PLK", "month": "2026-11", "mau": 120})
    return reports


def alert(account: str, kind: str, severity: str, title: str, **fields: Any) -> dict[str, Any]:
    return {"customer": account, "kind": kind, "severity": severity, "title": title, **fields}


async def api_token(db: Database, clock: FakeClock) -> str:
    async with db.unit_of_work() as session:
        created = await api_tokens.create_token(
            session,
            team_id="T0001",
            name="rmm",
            timezone="UTC",
            created_by=OPERATOR_ACTOR,
            now=clock(),
        )
    return created.token


async def request_id(db: Database, kind: str, customer_id: int | None = None) -> int:
    """The latest request of `kind` about the customer (None: about the MSP)."""
    about = (
        ChangeRequest.customer_id.is_(None)
        if customer_id is None
        else ChangeRequest.customer_id == customer_id
    )
    async with db.unit_of_work() as session:
        found = await session.scalar(
            select(func.max(ChangeRequest.id)).where(ChangeRequest.kind == kind, about)
        )
    assert found is not None, (kind, customer_id)
    return int(found)


def request_ref(number: int) -> str:
    return RequestRef(request_id=number).encode()


# ---------------------------------------------------------------- the test


async def test_every_screen_is_in_the_gallery(bot, client, slack, fake_slack, clock, db):
    bot.scheduler.pause()  # the jobs run below, on the injected clock, when the story says
    s = Driver(bot, client, slack, fake_slack, clock, db)
    g = Gallery()
    s.token = await api_token(db, clock)

    await new_msp(s, g)
    book = await seed_book(db)
    await set_msp(db, max_customers=25, seat_allowance=60, mau_allowance=3_000)
    await subscriptions_and_usage(s, g)
    await notices(s, g)
    await alerts(s, g)
    await requests(s, g, book)
    await homes_and_reviews(s, g, book)
    await customers(s, g, book)
    await figures(s, g, book)
    await subscription_screens(s, g)
    await time_passes(s, g)

    g.write()
    assert len(set(EXPECTED)) == len(EXPECTED)
    assert sorted(set(EXPECTED) - set(g.screens)) == [], "screens not produced"
    assert readme_index() == set(EXPECTED), "docs/gallery/README.md's index is not the list"
    problems = [p for name, payload in g.screens.items() for p in limit_problems(name, payload)]
    assert problems == []


# ---------------------------------------------------------------- the story


async def new_msp(s: Driver, g: Gallery) -> None:
    """A new MSP: staff in every role and nothing else yet."""
    await grant_staff(s.db)
    g.view("home-owner-new-msp", await s.home_view(OWNER))
    g.message("customers-list-empty", (await s.command("customers")).answer)
    g.message("alerts-list-empty", (await s.command("alerts")).answer)
    g.message("requests-list-empty", (await s.command("requests", user=APPROVER)).answer)
    g.message("subscriptions-list-empty", (await s.command("subscriptions")).answer)
    g.message("mau-no-usage", (await s.command("mau")).answer)

    g.view("home-not-staff", await s.home_view(STRANGER))
    g.message("refusal-not-staff", (await s.command("help", user=STRANGER)).answer)
    g.message("refusal-other-workspace", (await s.command("help", team_id="T0999")).answer)

    g.message("help", (await s.command("help")).answer)
    g.message("help-viewer", (await s.command("help", user=VIEWER)).answer)
    g.message("help-subscribe", (await s.command("help subscribe")).answer)
    g.message("help-not-allowed", (await s.command("help settings", user=VIEWER)).answer)
    g.message("help-unknown-command", (await s.command("custmers")).answer)
    g.message("whoami", (await s.command("whoami", user=MEMBER)).answer)
    g.message("roles", (await s.command("roles", user=VIEWER)).answer)
    g.message("role-changed", (await s.command(f"role <@{NEWCOMER}|dana> viewer")).answer)
    g.message("settings", (await s.command("settings")).answer)
    g.message("settings-changed", (await s.command("settings trial-notices 7,3")).answer)
    g.message("refusal-invalid-input", (await s.command("settings timezone Mars/Olympus")).answer)
    g.message("refusal-not-allowed", (await s.command("settings", user=VIEWER)).answer)

    # The first customer, through the Home tab's Add customer, then edited and deleted.
    home = await s.home_view(OWNER)
    add = (await s.click(element(home, ActionId.HOME_ADD_CUSTOMER), view=home)).opened()
    g.view("add-customer-modal-trial", add)
    plan = input_of(add, CustomerField.PLAN)
    paid = await s.pick(add, plan, "essentials", filled(add))
    paid_form = paid.call("views.update")["view"]
    g.view("add-customer-modal-paid", paid_form)
    wrong = filled(
        paid_form,
        **{
            CustomerField.NAME: typed("Acme Temp"),
            CustomerField.ADMIN_EMAIL: typed("acme at example"),
            CustomerField.PLAN: picked("essentials"),
        },
    )
    g.message("add-customer-modal-errors", (await s.submit(paid_form, wrong, OWNER)).answer)
    right = add_values(name="Acme Temp", email="it@acmetemp.example", locations="Main office")
    added = (await s.submit(add, right, OWNER)).answer
    number = next(
        str(e["text"]).split("`")[1]
        for block in added["view"]["blocks"]
        for e in block.get("elements") or []
        if str(e.get("text", "")).startswith("Account `")
    )
    g.replacements[number] = "ACME-0001"  # a new account's number is random
    g.view("customer-added-modal", added["view"], response_action=added["response_action"])
    card = added["view"]
    edit = (await s.click(element(card, ActionId.EDIT_CUSTOMER), view=card)).opened("views.push")
    g.view("edit-customer-modal", edit)
    notes = {CustomerField.NOTES: typed("Evaluating for 40 seats; decision in December.")}
    saved = (await s.submit(edit, filled(edit, **notes), OWNER)).answer
    g.view("customer-saved-modal", saved["view"], response_action=saved["response_action"])
    card = saved["view"]
    delete = (await s.click(element(card, ActionId.DELETE_CUSTOMER), view=card)).opened(
        "views.push"
    )
    g.view("delete-customer-modal", delete)
    confirm = {CustomerField.CONFIRM_NAME: typed("Acme Temp")}
    deleted = (await s.submit(delete, filled(delete, **confirm), OWNER)).answer
    g.view("customer-deleted-modal", deleted["view"], response_action=deleted["response_action"])


async def subscriptions_and_usage(s: Driver, g: Gallery) -> None:
    """Where alerts and notices go, then a year of usage over the API."""
    await s.command(f"subscribe <#{NOC}|noc> alerts")
    g.message(
        "subscribed",
        (await s.command(f"subscribe <#{ACCOUNTS}|accounts> trials mau requests digest")).answer,
    )
    g.message(
        "subscribed-me", (await s.command("subscribe me alerts severity&gt;=high", MEMBER)).answer
    )
    reported = await s.api("/api/v1/usage", {"usage": usage_reports()})
    g.message("alert-message-max-mau", reported.post(NOC, "Contoso Dental"))


async def notices(s: Driver, g: Gallery) -> None:
    """The morning's sweeps: trials ending and ended, the renewal window, the MAU
    allowance, the daily digest."""
    ending = await s.sweep("trial_expiry_notices")
    g.message("notice-trial-ending", ending.post(ACCOUNTS, "Initech Labs"))
    ended = await s.sweep("end_trials")
    g.message("notice-trial-ended", ended.post(ACCOUNTS, "Wayne Accounting"))
    g.message("alert-message-over-free-limits", ended.post(NOC, "Wayne Accounting"))
    renewal = await s.sweep("renewal_window_notices")
    g.message("notice-renewal-window", renewal.post(ACCOUNTS, "Contoso Dental"))
    mau = await s.sweep("mau_notices")
    g.message("notice-mau-80", mau.post(ACCOUNTS, "80%"))
    g.message("notice-mau-projected", mau.post(ACCOUNTS, unlike="80%"))
    g.message("digest-daily", (await s.sweep("digests")).post(ACCOUNTS, "Daily digest"))
    # A new trial's first report takes the MSP over its allowance.
    await s.api(
        "/api/v1/usage", {"usage": [{"customer": "HOOL-8DZN", "month": "2026-11", "mau": 900}]}
    )
    g.message("notice-mau-100", (await s.sweep("mau_notices")).post(ACCOUNTS, "100%"))


async def alerts(s: Driver, g: Gallery) -> None:
    """Alerts of every severity over the API, acted on from their messages and lists."""
    sent = {}
    for severity, account, kind, title, extra in (
        (
            "critical",
            "NWTR-4K2Q",
            "firewall_down",
            "Firewall FW01 is not answering",
            {
                "details": "No heartbeat from FW01 for 10 minutes; the site's VPN is down.",
                "links": [{"url": "https://rmm.example.com/devices/fw01", "label": "FW01 in RMM"}],
            },
        ),
        ("high", "CNTS-7MPD", "backup_failed", "Nightly backup of FS01 failed", {}),
        ("medium", "INTC-3VQB", "disk_full", "Disk C: on IT-PC07 is 91% full", {}),
        ("low", "UMBR-6PLK", "printer_offline", "Printer FRONT-DESK is offline", {}),
    ):
        step = await s.api(
            "/api/v1/alerts", {"alerts": [alert(account, kind, severity, title, **extra)]}
        )
        sent[severity] = step.post(NOC, title)
        g.message(f"alert-message-{severity}", sent[severity])

    critical = element(sent["critical"], ActionId.ALERT_ACKNOWLEDGE)
    g.message(
        "alert-message-acknowledged", (await s.click(critical, ADMIN, channel=NOC)).update(NOC)
    )
    g.message("alert-already-handled", (await s.click(critical, OWNER, channel=NOC)).said())
    snooze = element(sent["high"], ActionId.ALERT_SNOOZE)
    snoozed = await s.click(snooze, OWNER, option=option_of(snooze, "4 hours"), channel=NOC)
    g.message("alert-message-snoozed", snoozed.update(NOC))
    resolve = element(sent["medium"], ActionId.ALERT_RESOLVE)
    g.message("alert-message-resolved", (await s.click(resolve, ADMIN, channel=NOC)).update(NOC))
    low = element(sent["low"], ActionId.ALERT_RESOLVE)
    g.message("refusal-click", (await s.click(low, VIEWER, channel=NOC)).said())
    again = alert("INTC-3VQB", "disk_full", "medium", "Disk C: on IT-PC07 is 96% full")
    reopened = await s.api("/api/v1/alerts", {"alerts": [again]})
    g.message("alert-message-reopened", reopened.post(NOC, "96% full"))

    # Another alert for Northwind minutes after its firewall's: a reply in that
    # message's thread, and the parent's line counting them.
    vpn = alert("NWTR-4K2Q", "vpn_down", "high", "Site VPN tunnel to HQ is down")
    grouped = await s.api("/api/v1/alerts", {"alerts": [vpn]})
    g.message("alert-reply-in-thread", grouped.post(NOC, "VPN tunnel"))
    g.message("alert-message-grouped", grouped.update(NOC))

    listed = (await s.command("alerts")).answer
    g.message("alerts-list", listed)
    initech = (await s.command("alerts all Initech Labs")).answer
    g.message("alerts-list-customer", initech)
    severity = element(listed, f"{ActionId.ALERT_LIST_FILTER}.severity")
    filtered = await s.click(severity, OWNER, option=option_of(severity, "High or worse"))
    g.message("alerts-list-filtered", filtered.said())
    acted = await acknowledge_listed(s, listed, OWNER)
    g.message("alert-acted", acted.said())
    everything = element(initech, f"{ActionId.ALERT_LIST_BULK}.acknowledge")
    bulk = await s.click(everything, ADMIN)
    g.message("alerts-bulk-done", bulk.call(RESPONSE_URL_CALL, replace_original=False))


async def acknowledge_listed(
    s: Driver, listing: dict[str, Any], user: str, *, view: dict[str, Any] | None = None
) -> Step:
    """Acknowledge the last alert listed (the mildest): its row's button, or the
    Acknowledge option of its menu."""
    found = [
        e
        for e in elements(listing["blocks"])
        if e.get("action_id") in (ActionId.ALERT_ACKNOWLEDGE, ActionId.ALERT_ROW_MENU)
    ]
    assert found, json.dumps(listing)[:1000]
    row = found[-1]
    option = option_of(row, "Acknowledge") if row["action_id"] == ActionId.ALERT_ROW_MENU else None
    return await s.click(row, user, option=option, view=view)


async def requests(s: Driver, g: Gallery, book: Book) -> None:
    """A request of every type: each form, and the ones sent on to a decision."""

    async def form(text: str, user: str) -> dict[str, Any]:
        return (await s.command(f"request {text}", user=user)).opened()

    # Asked and left waiting: more licences for Northwind, by its member.
    licences = await form("add-licences Northwind Traders", MEMBER)
    g.view("request-add-licences-modal", licences)
    count = input_of(licences, BlockId.REQUEST_LICENCES)
    typing = await s.pick(licences, count, "5", filled(licences), MEMBER)
    g.view("request-modal-preview", typing.call("views.update")["view"])
    asked = await s.submit(
        licences,
        filled(
            licences,
            **{
                BlockId.REQUEST_LICENCES: typed("5", "number_input"),
                BlockId.REQUEST_REASON: typed("Five new hires start in January."),
            },
        ),
        MEMBER,
    )
    g.view("request-sent-modal", asked.answer["view"], response_action="update")
    g.message("request-message-approvals-channel", asked.post(APPROVALS))

    # A trial extension, approved at once from the approvals channel.
    extend = await form("extend Initech Labs", MEMBER)
    g.view("request-extend-modal", extend)
    extension = (await s.submit(extend, filled(extend), MEMBER)).post(APPROVALS)
    approved = await s.click(
        element(extension, ActionId.REQUEST_APPROVE), APPROVER, channel=APPROVALS
    )
    g.message("request-message-approved", approved.update(APPROVALS))
    g.message("request-dm-approved", approved.post(MEMBER))

    # An upgrade, left waiting (its asker withdraws it later).
    upgrade = await form("upgrade Umbrella Vets", ADMIN)
    g.view("request-upgrade-modal", upgrade)
    await s.submit(
        upgrade,
        filled(
            upgrade,
            **{
                BlockId.REQUEST_PLAN: picked("professional"),
                BlockId.REQUEST_LICENCES: typed("7", "number_input"),
            },
        ),
        ADMIN,
    )

    # Forms only: what each type asks.
    for name, text in (
        ("request-downgrade-modal", "downgrade Contoso Dental"),
        ("request-add-addon-modal", "add-addon Northwind Traders"),
        ("request-remove-addon-modal", "remove-addon Contoso Dental"),
        ("request-reactivate-modal", "reactivate Globex Clinic"),
    ):
        g.view(name, await form(text, ADMIN))

    # Enterprise without seats: the form says what is missing, on its field.
    tailspin = await form("upgrade Tailspin Toys", ADMIN)
    no_seats = filled(tailspin, **{BlockId.REQUEST_PLAN: picked("enterprise")})
    g.message("request-modal-errors", (await s.submit(tailspin, no_seats, ADMIN)).answer)

    # Fewer licences at renewal: approved, scheduled for the renewal date.
    decrease = await form("decrease-licences Contoso Dental", ADMIN)
    g.view("request-decrease-licences-modal", decrease)
    fewer = filled(decrease, **{BlockId.REQUEST_LICENCES: typed("20", "number_input")})
    scheduled = (await s.submit(decrease, fewer, ADMIN)).post(APPROVALS)
    decided = await s.click(
        element(scheduled, ActionId.REQUEST_APPROVE), APPROVER, channel=APPROVALS
    )
    g.message("request-message-scheduled", decided.update(APPROVALS))

    # A cancellation, denied with a reason.
    cancel = await form("cancel Tailspin Toys", ADMIN)
    g.view("request-cancel-modal", cancel)
    why = {BlockId.REQUEST_REASON: typed("They are moving to an in-house IT team.")}
    cancelled = (await s.submit(cancel, filled(cancel, **why), ADMIN)).post(APPROVALS)
    deny = (
        await s.click(element(cancelled, ActionId.REQUEST_DENY), APPROVER, channel=APPROVALS)
    ).opened()
    g.view("deny-request-modal", deny)
    note = {BlockId.REQUEST_DENY_NOTE: typed("Their contract runs to June: talk to them first.")}
    denied = await s.submit(deny, filled(deny, **note), APPROVER)
    g.message("request-message-denied", denied.update(APPROVALS))
    g.message("request-dm-denied", denied.post(ADMIN))

    # A deletion: approving it asks for the customer's name; then reversed from the card.
    remove = await form("delete Stark Dental", MEMBER)
    g.view("request-delete-modal", remove)
    deletion = (await s.submit(remove, filled(remove), MEMBER)).post(APPROVALS)
    name = (
        await s.click(element(deletion, ActionId.REQUEST_APPROVE), ADMIN, channel=APPROVALS)
    ).opened()
    g.view("confirm-deletion-modal", name)
    await s.submit(
        name, filled(name, **{BlockId.REQUEST_CONFIRM_NAME: typed("Stark Dental")}), ADMIN
    )
    card = (await s.command("customer Stark Dental", ADMIN)).answer
    g.message("customer-card-deletion-scheduled", card)
    reverse = await s.click(element(card, ActionId.REVERSE_DELETION), ADMIN)
    g.message("request-deletion-reversed", reverse.said())

    # An expired trial's removal, left waiting until it expires.
    trial = await form("remove-trial Soylent Foods", OWNER)
    g.view("request-remove-trial-modal", trial)
    await s.submit(trial, filled(trial), OWNER)

    # More MAU allowance, from the licence view.
    licence = (await s.command("licence")).answer
    order = (await s.click(element(licence, ActionId.LICENCE_EXTEND))).opened()
    g.view("request-mau-modal", order)
    more = {
        BlockId.REQUEST_QUANTITY: typed("250", "number_input"),
        BlockId.REQUEST_REASON: typed("Hooli Health's rollout doubles its users."),
    }
    await s.submit(order, filled(order, **more), OWNER)

    # Refused: a rule that says no, and one that offers a later date.
    g.message("refusal-rule", (await s.command("request extend Northwind Traders")).answer)
    later = await s.command("request decrease-licences Fabrikam Legal", ADMIN)
    g.message("request-refused-schedule", later.answer)


async def homes_and_reviews(s: Driver, g: Gallery, book: Book) -> None:
    """Each role's Home tab, the request lists, and deciding from a review."""
    g.message("requests-list-pending", (await s.command("requests", APPROVER)).answer)
    g.message("requests-list-mine", (await s.command("requests mine", MEMBER)).answer)
    g.message("requests-list-scheduled", (await s.command("requests scheduled")).answer)
    homes = {}
    for role, user in (
        ("owner", OWNER),
        ("admin", ADMIN),
        ("approver", APPROVER),
        ("member", MEMBER),
        ("viewer", VIEWER),
    ):
        homes[role] = await s.home_view(user)
        g.view(f"home-{role}", homes[role])

    licences = await request_id(s.db, "add_licences", book.ids["Northwind Traders"])
    upgrade = await request_id(s.db, "upgrade", book.ids["Umbrella Vets"])
    removal = await request_id(s.db, "remove_expired_trial", book.ids["Soylent Foods"])

    def review_of(home: dict[str, Any], number: int) -> dict[str, Any]:
        return next(
            e
            for e in elements(home["blocks"])
            if e.get("action_id") == ActionId.REQUEST_REVIEW and e["value"] == request_ref(number)
        )

    home = homes["approver"]
    review = (await s.click(review_of(home, licences), APPROVER, view=home)).opened()
    g.view("request-review-modal-approver", review)
    shown = s.shown(review)
    approved = await s.click(element(review, ActionId.REQUEST_APPROVE), APPROVER, view=shown)
    g.view("request-decided-modal", approved.call("views.update")["view"])

    home = homes["admin"]
    review = (await s.click(review_of(home, upgrade), ADMIN, view=home)).opened()
    g.view("request-review-modal-asker", review)
    withdrawn = await s.click(
        element(review, ActionId.REQUEST_WITHDRAW), ADMIN, view=s.shown(review)
    )
    g.view("request-withdrawn-modal", withdrawn.call("views.update")["view"])

    viewer_review = {"action_id": ActionId.REQUEST_REVIEW, "value": request_ref(removal)}
    opened = await s.click(viewer_review, VIEWER, view=homes["viewer"])
    g.view("request-review-modal-viewer", opened.opened())

    again = {"action_id": ActionId.REQUEST_APPROVE, "value": request_ref(licences)}
    g.message("request-already-decided", (await s.click(again, ADMIN, channel=APPROVALS)).said())
    listed = {"action_id": ActionId.REQUEST_REVIEW, "value": request_ref(licences)}
    g.message("request-outcome", (await s.click(listed, APPROVER)).said())

    # The MAU order, approved now that the Home tabs show it waiting.
    order = await request_id(s.db, "mau_allowance_order")
    await s.click(
        {"action_id": ActionId.REQUEST_APPROVE, "value": request_ref(order)},
        APPROVER,
        channel=APPROVALS,
    )

    paid = element(homes["owner"], ActionId.HOME_OPEN_LIST, "Paid Subscriptions")
    g.view("customers-list-modal-paid", (await s.click(paid, view=homes["owner"])).opened())
    # A Home tab drawn while its reader could act, clicked after their role was
    # lowered: the refusal comes in a small modal, as nothing can be said below.
    refused = await acknowledge_listed(s, homes["owner"], VIEWER, view=homes["owner"])
    g.view("refusal-modal-home", refused.opened())


async def customers(s: Driver, g: Gallery, book: Book) -> None:
    """Cards for each kind of customer and each kind of reader, lists and finding."""
    for name, text, user in (
        ("customer-card-paid", "customer Northwind Traders", OWNER),
        ("customer-card-trial", "customer Initech Labs", OWNER),
        ("customer-card-over-free-limits", "customer Soylent Foods", OWNER),
        ("customer-card-over-threshold", "customer Contoso Dental", OWNER),
        ("customer-card-member", "customer Northwind Traders", MEMBER),
        ("customer-card-viewer", "customer Northwind Traders", VIEWER),
        ("customer-picker", "customer dental", OWNER),
        ("customer-no-match", "customer Zenith", OWNER),
        ("customers-list", "customers", OWNER),
        ("customers-list-trials", "customers trials", OWNER),
        ("customers-list-no-match", "customers Zenith", OWNER),
    ):
        g.message(name, (await s.command(text, user)).answer)

    find = (await s.command("customer")).opened()
    g.view("find-customer-modal", find)
    northwind = {
        "type": "external_select",
        "selected_option": {"value": book.ref("Northwind Traders")},
    }
    found = (await s.submit(find, filled(find, **{BlockId.CUSTOMER_FIND: northwind}), OWNER)).answer
    g.view("customer-card-modal", found["view"], response_action=found["response_action"])

    card = (await s.command("customer Fabrikam Legal")).answer
    correct = (await s.click(element(card, ActionId.CORRECT_BILLING))).opened()
    g.view("correct-billing-modal", correct)
    corrected = filled(
        correct,
        **{
            CommercialField.UNIT_PRICE: typed("72.50", "number_input"),
            BlockId.BILLING_REASON: typed("The billing system still had last year's price."),
        },
    )
    done = (await s.submit(correct, corrected, OWNER)).answer
    g.view("billing-corrected-modal", done["view"], response_action=done["response_action"])


async def figures(s: Driver, g: Gallery, book: Book) -> None:
    """The dashboard, shared; the licence; MAU and its chart; the export."""
    g.message("dashboard", (await s.command("dashboard")).answer)
    preview = (await s.command("dashboard share")).answer
    g.message("dashboard-share-preview", preview)
    shared = await s.click(element(preview, ActionId.DASHBOARD_SHARE))
    g.message("dashboard-shared", shared.post(GENERAL))
    g.message("dashboard-share-done", shared.said())

    licence = (await s.command("licence")).answer
    g.message("licence", licence)
    contoso = LicenceState(customer_id=book.ids["Contoso Dental"]).encode()
    chosen = await s.choose(ActionId.LICENCE_CUSTOMER, contoso)
    g.message("licence-customer", chosen.said())
    months = element(licence, ActionId.LICENCE_MONTH)
    october = next(n for n, o in enumerate(months["options"]) if "2026-10" in o["value"])
    g.message("licence-month", (await s.click(months, option=october)).said())

    g.message("mau", (await s.command("mau")).answer)
    answer = (await s.command("mau Northwind Traders")).answer
    g.message("mau-customer", answer)
    chart = await s.click(element(answer, ActionId.LICENCE_CHART))
    g.message("mau-chart-posted", chart.said())
    g.file("mau-chart-upload", chart.call("files.completeUploadExternal"))

    export = await s.command("export customers", MEMBER)
    g.message("export-preparing", export.answer)
    g.file("export-file", export.call("files.completeUploadExternal"))


async def subscription_screens(s: Driver, g: Gallery) -> None:
    listing = (await s.command("subscriptions")).answer
    g.message("subscriptions-list", listing)
    remove = next(  # the member's own subscription
        block["accessory"]
        for block in listing["blocks"]
        if block.get("accessory") and MEMBER in block["text"]["text"]
    )
    removed = (await s.click(remove)).said()
    g.message("subscription-removed", removed)
    g.message(
        "subscription-restored",
        (await s.click(element(removed, ActionId.SUBSCRIPTION_UNDO))).said(),
    )
    modal = (await s.click(element(listing, ActionId.SUBSCRIPTION_NEW))).opened()
    g.view("subscription-modal", modal)
    chosen = filled(
        modal,
        **{
            BlockId.SUBSCRIPTION_TOPICS: {
                "type": "checkboxes",
                "selected_options": [{"value": "alerts"}, {"value": "requests"}],
            },
            BlockId.SUBSCRIPTION_SEVERITY: picked("critical"),
        },
    )
    saved = (await s.submit(modal, chosen, OWNER)).answer
    g.view("subscription-saved-modal", saved["view"], response_action=saved["response_action"])
    await s.command(f"subscribe <#{TEMP}|temp> mau")
    g.message("unsubscribed", (await s.command(f"unsubscribe <#{TEMP}|temp> mau")).answer)
    g.message("subscribe-invalid", (await s.command("subscribe severity&gt;=urgent")).answer)


async def time_passes(s: Driver, g: Gallery) -> None:
    """The clock moves: a snooze ends, Monday's summary, a reminder, an expiry, a
    renewal; then a storm of alerts and a busy morning of notices."""
    woken = await s.job(wake_snoozed_alerts, at=datetime(2026, 11, 22, 13, 5, tzinfo=UTC))
    g.message("alert-message-woken", woken.update(NOC))

    monday = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    s.clock.set(monday)
    g.message("digest-weekly", (await s.sweep("digests")).post(ACCOUNTS, "Weekly summary"))
    reminders = await s.sweep("request_reminders")
    reminder = [
        call.args
        for call in reminders.calls
        if call.method == "chat.postMessage"
        and call.args.get("channel") == APPROVALS
        and "Soylent Foods" in call.args.get("text", "")
    ]
    assert len(reminder) == 1, [c.args.get("text") for c in reminders.calls]
    g.message("reminder-request", reminder[0])

    expired = await s.job(expire_pending_requests, at=datetime(2026, 11, 30, 9, 30, tzinfo=UTC))
    g.message("request-message-expired", expired.update(APPROVALS))
    g.message("request-dm-expired", expired.post(OWNER))

    renewed = await s.job(apply_scheduled_changes, at=datetime(2026, 12, 29, 9, 30, tzinfo=UTC))
    g.message("request-message-applied", renewed.update(APPROVALS))
    g.message("request-dm-applied", renewed.post(ADMIN))

    # Ten new trials (a busy morning's notices, below) and a storm over twelve customers.
    names = (
        "Adatum Corp",
        "Alpine Ski House",
        "Blue Yonder Air",
        "Coho Winery",
        "Datum Law",
        "Fourth Coffee",
        "Litware Inc",
        "Lucerne Press",
        "Margie Travel",
        "Proseware",
    )
    trials = [
        (name, f"TR{n:02d}-{name[:4].upper().replace(' ', 'X')}") for n, name in enumerate(names)
    ]
    for name, account in trials:
        await customer(
            s.db,
            name,
            account,
            status="active_trial",
            trial_start=date(2026, 12, 2),
            trial_end=date(2027, 1, 1),
            users=3,
        )
    storm = [
        alert(account, "agent_offline", "high" if n == 4 else "medium", f"Agent {n + 1} is offline")
        for n, account in enumerate(["NWTR-4K2Q", "CNTS-7MPD", *(a for _, a in trials)])
    ]
    digest = (await s.api("/api/v1/alerts", {"alerts": storm})).post(NOC)
    g.message("alert-digest", digest)
    listed = await s.click(element(digest, ActionId.ALERT_LIST_ALL), ADMIN, channel=NOC)
    g.view("alert-list-modal", listed.opened())

    busy = await s.sweep("trial_expiry_notices")
    g.message("digest-busy-channel", busy.post(ACCOUNTS, "while this channel was busy"))

    g.message("delivery", (await s.command("delivery", ADMIN)).answer)
    async with s.db.unit_of_work() as session:
        count = await session.scalar(select(func.count()).select_from(Customer))
    await set_msp(s.db, max_customers=count)
    home = await s.home_view(OWNER)
    refused = await s.click(element(home, ActionId.HOME_ADD_CUSTOMER), view=home)
    g.view("add-customer-refused-modal", refused.opened())
