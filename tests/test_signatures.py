"""Requests that are not signed by Slack with our secret are refused and change nothing."""

from __future__ import annotations

import dataclasses
import time

import pytest
from sqlalchemy import func, select

from bot.domain.roles import Role
from storage.models import AuditEvent, Msp, StaffMember
from tests.drive import post
from tests.seed import grant
from tests.slack_requests import SignedRequest, SlackRequests, sign
from tests.support import SIGNING_SECRET
from tests.wait import settle_bot


def _without(request: SignedRequest, header: str) -> SignedRequest:
    headers = {k: v for k, v in request.headers.items() if k != header}
    return dataclasses.replace(request, headers=headers)


def _tampered(request: SignedRequest) -> SignedRequest:
    return dataclasses.replace(
        request, body=request.body.replace("whoami", "role+%3C%40U0009%3E+owner")
    )


def _stale(slack: SlackRequests) -> SignedRequest:
    return slack.slash_command(
        "role <@U0009> owner", user_id="U0001", timestamp=int(time.time()) - 301
    )


def _wrong_secret(slack: SlackRequests) -> SignedRequest:
    request = slack.slash_command("role <@U0009> owner", user_id="U0001")
    timestamp = int(request.headers["X-Slack-Request-Timestamp"])
    headers = {
        **request.headers,
        "X-Slack-Signature": sign(request.body, secret="not-ours", timestamp=timestamp),
    }
    return dataclasses.replace(request, headers=headers)


async def _counts(db) -> tuple[int, int, int]:
    async with db.unit_of_work() as session:
        return (
            await session.scalar(select(func.count()).select_from(Msp)),
            await session.scalar(select(func.count()).select_from(StaffMember)),
            await session.scalar(select(func.count()).select_from(AuditEvent)),
        )


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda s: _without(
                s.slash_command("role <@U0009> owner", user_id="U0001"), "X-Slack-Signature"
            ),
            id="no-signature",
        ),
        pytest.param(
            lambda s: _without(
                s.slash_command("role <@U0009> owner", user_id="U0001"), "X-Slack-Request-Timestamp"
            ),
            id="no-timestamp",
        ),
        pytest.param(_stale, id="over-5-minutes-old"),
        pytest.param(
            lambda s: _tampered(s.slash_command("whoami", user_id="U0001")), id="tampered-body"
        ),
        pytest.param(_wrong_secret, id="wrong-secret"),
    ],
)
async def test_unsigned_or_forged_requests_get_401_and_change_nothing(
    client, slack, db, fake_slack, forge
):
    await grant(db, "U0001", Role.OWNER)
    before = await _counts(db)
    calls_before = len(fake_slack.calls)
    reply = await post(client, forge(slack))
    assert reply.status == 401
    assert await _counts(db) == before
    await settle_bot(client)
    assert len(fake_slack.calls) == calls_before


async def test_forged_event_from_a_new_workspace_creates_no_tenant(client, db):
    forger = SlackRequests(signing_secret="not-ours", team_id="T0666")
    reply = await post(client, forger.app_home_opened(user_id="U0001"))
    assert reply.status == 401
    assert await _counts(db) == (0, 0, 0)


async def test_a_correctly_signed_request_passes(client, slack, db):
    await grant(db, "U0001", Role.OWNER)
    reply = await post(client, slack.slash_command("whoami", user_id="U0001"))
    assert reply.status == 200
    assert SIGNING_SECRET not in reply.text


async def test_url_verification_echoes_the_challenge(client, slack):
    reply = await post(client, slack.url_verification("challenge-123"))
    assert reply.status == 200
    assert reply.json == {"challenge": "challenge-123"}
