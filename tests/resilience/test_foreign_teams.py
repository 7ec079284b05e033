"""Requests from other workspaces and organisations, signed with the app's secret
(what any workspace that installed the same app sends): a one-workspace bot serves
the workspace of its token only. Thousands of every kind Slack sends, one after
the other and in bursts: each is refused in the form its kind allows, and not one
row is written. Figures: docs/RELIABILITY.md.

Marked `resilience`: `.ci/run` runs it after the default suite."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from bot.domain.roles import Role
from bot.ids import ActionId, CallbackId
from storage.models import (
    AuditEvent,
    ChangeRequest,
    Customer,
    Msp,
    OutboxItem,
    StaffMember,
)
from tests.drive import post
from tests.fake_slack import FakeSlack
from tests.seed import grant, seed_customer
from tests.slack_requests import SignedRequest, SlackRequests
from tests.support import TEAM_ID
from tests.test_tenancy_guard import OTHER_WORKSPACE, from_origin, reply_text
from tests.wait import settle

pytestmark = pytest.mark.resilience
TOTAL = int(os.environ.get("MSPBOT_FOREIGN_REQUESTS", "3000"))
BURST = 25  # requests in flight at once in the concurrent half
GUARDED = (Msp, AuditEvent, StaffMember, Customer, ChangeRequest, OutboxItem)
EXISTING_FOREIGN = "T0900"  # another workspace's MSP, made with the CLI

Build = Callable[[SlackRequests, str, int], SignedRequest]


def _kinds() -> dict[str, Build]:
    def event(event_type: str) -> Build:
        return lambda slack, team, n: slack.event(
            {"type": event_type, "user": f"U{n:05d}"}, team_id=team
        )

    return {
        "command": lambda slack, team, n: slack.slash_command(
            f"customers probe {n}", user_id="U0001", team_id=team
        ),
        "message click": lambda slack, team, n: slack.block_actions(
            action_id=ActionId.DELETE_CUSTOMER, value='{"customer_id": 1}', team_id=team
        ),
        "home click": lambda slack, team, n: slack.block_actions(
            action_id=ActionId.HOME_REFRESH, view={"type": "home"}, channel_id=None, team_id=team
        ),
        "modal submit": lambda slack, team, n: slack.view_submission(
            callback_id=CallbackId.ADD_CUSTOMER, values={}, team_id=team
        ),
        "modal closed": lambda slack, team, n: slack.view_closed(
            callback_id=CallbackId.ADD_CUSTOMER, team_id=team
        ),
        "suggestion": lambda slack, team, n: slack.block_suggestion(
            action_id=ActionId.CUSTOMER_SEARCH, value=f"a{n}", team_id=team
        ),
        "shortcut": lambda slack, team, n: slack.global_shortcut(
            callback_id=CallbackId.ADD_CUSTOMER, team_id=team
        ),
        "home opened": lambda slack, team, n: slack.app_home_opened(user_id="U0001", team_id=team),
        "app uninstalled": event("app_uninstalled"),
        "tokens revoked": lambda slack, team, n: slack.event(
            {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}, team_id=team
        ),
    }


KINDS = _kinds()
# Where the request claims to come from: (team id, organisation id) for the nth one.
ORIGINS: dict[str, Callable[[int], tuple[str | None, str | None]]] = {
    "other team": lambda n: (f"T{n:08d}", None),
    "existing other MSP": lambda n: (EXISTING_FOREIGN, None),
    "organisation only": lambda n: (None, f"E{n:08d}"),
    "other team in an organisation": lambda n: (f"T{n:08d}", f"E{n:08d}"),
    "our team, other organisation": lambda n: (TEAM_ID, f"E{n:08d}"),
    "hostile id": lambda n: (f"T1\n2026-12-07 INFO forged {n}\u2028" + "x" * (n % 300), None),
}


def foreign_request(slack: SlackRequests, n: int) -> tuple[str, str, SignedRequest]:
    kind = list(KINDS)[n % len(KINDS)]
    origin = list(ORIGINS)[(n // len(KINDS)) % len(ORIGINS)]
    team_id, enterprise_id = ORIGINS[origin](n)
    request = KINDS[kind](slack, team_id or "T0PLACEHOLDER", n)
    return kind, origin, from_origin(request, team_id=team_id, enterprise_id=enterprise_id)


async def _counts(db) -> dict[str, int]:
    async with db.unit_of_work() as session:
        counts = {
            model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)))
            for model in GUARDED
        }
        disabled = select(func.count()).select_from(Msp).where(Msp.disabled_at.is_not(None))
        counts["disabled msps"] = int(await session.scalar(disabled))
    return counts


def _refused(kind: str, status: int, text: str) -> bool:
    if status != 200:
        return False
    if kind == "command":
        return OTHER_WORKSPACE in text
    if kind == "suggestion":
        return text == '{"options": []}'
    return text == ""


async def test_thousands_of_foreign_requests_write_nothing(
    client, slack, db, bot, fake_slack: FakeSlack, backend, record_property
):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0900", Role.OWNER, team_id=EXISTING_FOREIGN)
    await seed_customer(db, name="Ours")
    before = await _counts(db)
    fake_slack.reset()
    outcomes: Counter[tuple[str, str]] = Counter()
    origins: Counter[str] = Counter()
    clicks_with_response_url = 0

    async def send(n: int) -> None:
        nonlocal clicks_with_response_url
        kind, origin, request = foreign_request(slack, n)
        reply = await post(client, request)
        outcomes[(kind, "refused" if _refused(kind, reply.status, reply.text) else "other")] += 1
        origins[origin] += 1
        clicks_with_response_url += kind == "message click"

    started = time.perf_counter()
    half = TOTAL // 2
    for n in range(half):  # one after the other
        await send(n)
    for first in range(half, TOTAL, BURST):  # in bursts
        await asyncio.gather(*(send(n) for n in range(first, min(first + BURST, TOTAL))))
    elapsed = time.perf_counter() - started
    await settle(bot)
    after = await _counts(db)

    answers = fake_slack.calls_to("response_url")
    other_calls = Counter(call.method for call in fake_slack.calls if call.method != "auth.test")
    del other_calls["response_url"]
    refused = sum(count for (_, verdict), count in outcomes.items() if verdict == "refused")
    record_property("foreign_outcomes", {f"{k} {v}": c for (k, v), c in outcomes.items()})
    print(f"\n{TOTAL} foreign requests on {backend} in {elapsed:.1f} s ({TOTAL / elapsed:,.0f}/s)")
    print(f"  refused politely: {refused}; rows written: {_written(before, after)}")
    print(f"  refusals sent to response_url: {len(answers)} of {clicks_with_response_url}")
    for (kind, verdict), count in sorted(outcomes.items()):
        print(f"  {kind:<16} {verdict}: {count}")
    print("  origins: " + ", ".join(f"{origin} {count}" for origin, count in origins.items()))

    assert refused == TOTAL, outcomes
    assert after == before, _written(before, after)
    assert len(answers) == clicks_with_response_url
    assert all(OTHER_WORKSPACE in call.args["text"] for call in answers)
    assert other_calls == Counter(), other_calls  # no views, messages or DMs for them

    ours = await post(client, slack.slash_command("whoami", user_id="U0001"))
    assert "Owner" in reply_text(ours)


def _written(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {table: after[table] - before[table] for table in before}
