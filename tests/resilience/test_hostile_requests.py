"""10,000 hostile Slack requests (resilience): forged and stale
signatures, no signature, malformed JSON, huge bodies, other workspaces, unknown
action and callback ids, junk bodies. Every one is rejected or answered cleanly
(no 5xx), and no tenant data changes. Figures: docs/RELIABILITY.md.

Marked `resilience`: `.ci/run` runs it after the default suite."""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.domain.roles import Role
from storage.models import (
    Alert,
    AlertSubscription,
    ChangeRequest,
    Customer,
    OutboxItem,
    StaffMember,
)
from tests.seed import grant, seed_customer
from tests.slack_requests import FORM_CONTENT_TYPE, sign

pytestmark = pytest.mark.resilience
TOTAL = int(__import__("os").environ.get("MSPBOT_HOSTILE_REQUESTS", "10000"))
GUARDED = (Customer, ChangeRequest, Alert, AlertSubscription, StaffMember, OutboxItem)


def _signed(slack, body: str, *, timestamp: int | None = None, secret: str | None = None):
    stamp = int(time.time()) if timestamp is None else timestamp
    return body, {
        "Content-Type": FORM_CONTENT_TYPE,
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": sign(body, secret=secret or slack.signing_secret, timestamp=stamp),
    }


def _interactive(slack, payload: dict[str, Any], **kw):
    return _signed(slack, urlencode({"payload": json.dumps(payload)}), **kw)


def _click(slack, action_id: str, team: str, user: str = "U0001") -> dict[str, Any]:
    base = copy.deepcopy(slack.block_actions(action_id=action_id, user_id=user).payload)
    base["team"]["id"] = team
    base["user"]["team_id"] = team
    return base


def hostile(slack, n: int) -> tuple[str, str, dict[str, str]]:
    """The nth hostile request: (category, body, headers)."""
    category = CATEGORIES[n % len(CATEGORIES)]
    command = slack.slash_command(f"customers probe {n}")
    if category == "forged signature":
        body, headers = _signed(slack, command.body, secret="not-the-signing-secret")
    elif category == "stale timestamp":
        body, headers = _signed(slack, command.body, timestamp=int(time.time()) - 6 * 60)
    elif category == "no signature":
        body, headers = command.body, {"Content-Type": FORM_CONTENT_TYPE}
    elif category == "malformed JSON":
        body, headers = _signed(slack, urlencode({"payload": '{"type": "block_actions", ' * 3}))
    elif category == "huge body":
        body, headers = _signed(slack, urlencode({"text": "x" * (1024 * 1024 + n % 97)}))
    elif category == "other workspace":
        body, headers = _interactive(slack, _click(slack, "customer_delete", team="T0STRANGER"))
    elif category == "unknown action id":
        body, headers = _interactive(
            slack, _click(slack, f"no_such_action_{n}", team=slack.team_id)
        )
    elif category == "unknown callback id":
        payload = {
            "type": "view_submission",
            "team": {"id": slack.team_id},
            "user": {"id": "U0001", "team_id": slack.team_id},
            "view": {
                "callback_id": f"no_such_modal_{n}",
                "state": {"values": {}},
                "private_metadata": "{",
                "id": "V1",
                "hash": "h",
            },
        }
        body, headers = _interactive(slack, payload)
    elif category == "forged button value":
        click = _click(slack, "customer_delete", team=slack.team_id, user="U0005")
        click["actions"][0]["value"] = '{"customer_id": -1, "evil": "<!channel>"}'
        body, headers = _interactive(slack, click)
    else:  # junk
        body, headers = _signed(slack, "\x00\xff" * (n % 50 + 1))
        headers["Content-Type"] = "application/octet-stream"
    return category, body, headers


CATEGORIES = (
    "forged signature",
    "stale timestamp",
    "no signature",
    "malformed JSON",
    "huge body",
    "other workspace",
    "unknown action id",
    "unknown callback id",
    "forged button value",
    "junk",
)


async def _counts(db) -> dict[str, int]:
    async with db.unit_of_work() as session:
        return {
            model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)))
            for model in GUARDED
        }


async def test_ten_thousand_hostile_requests_are_all_refused_or_answered_cleanly(
    client, slack, db, bot, record_property
):
    await grant(db, "U0001", Role.OWNER)
    await grant(db, "U0005", Role.VIEWER)
    await seed_customer(db, name="Victim Co")
    before = await _counts(db)
    statuses: Counter[tuple[str, int]] = Counter()
    seconds: Counter[str] = Counter()
    started = time.perf_counter()
    for n in range(TOTAL):
        category, body, headers = hostile(slack, n)
        sent = time.perf_counter()
        response = await client.post("/slack/events", data=body.encode(), headers=headers)
        await response.read()
        seconds[category] += time.perf_counter() - sent
        statuses[(category, response.status)] += 1
    elapsed = time.perf_counter() - started
    await bot.in_flight.drain(30.0)
    after = await _counts(db)

    record_property("hostile_statuses", dict(statuses))
    print(f"\n{TOTAL} hostile requests in {elapsed:.1f} s ({TOTAL / elapsed:,.0f}/s)")
    for (category, status), count in sorted(statuses.items()):
        each = seconds[category] / count * 1000
        print(f"  {category:<22} HTTP {status}: {count} ({each:.1f} ms each)")
    assert not [key for key in statuses if key[1] >= 500], statuses
    assert sum(statuses.values()) == TOTAL
    for category in ("forged signature", "stale timestamp", "no signature"):
        assert {status for (c, status) in statuses if c == category} == {401}, category
    assert {s for (c, s) in statuses if c == "huge body"} <= {401, 413}
    assert after == before, "a hostile request changed tenant data"
