"""Forged Slack requests, and a local server standing for the address a forger
wants the bot to call (shared by tests/test_request_verification.py and the
resilience suite).

Every forgery starts from a real click whose response_url points at the target:
before the signature was checked on our side, an unparseable timestamp made
Bolt's error path answer through that response_url."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web
from multidict import CIMultiDict

from bot.domain.alerts import AlertAction
from bot.ids import ActionId
from bot.payloads import AlertChoice
from tests.slack_requests import SignedRequest, SlackRequests
from tests.support import SIGNING_SECRET

TIMESTAMP = "X-Slack-Request-Timestamp"
SIGNATURE = "X-Slack-Signature"
RawRequest = tuple[str, CIMultiDict[str]]  # a body and headers, a header possibly twice


@dataclass
class Target:
    """A local HTTP server recording every request that reaches it."""

    url: str
    hits: list[str] = field(default_factory=list)


@asynccontextmanager
async def running_target() -> AsyncIterator[Target]:
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(f"{request.method} {request.path}")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield Target(url=f"http://127.0.0.1:{runner.addresses[0][1]}/", hits=hits)
    finally:
        await runner.cleanup()


def marker() -> str:
    """Put in a request's body: it must never show up in the log."""
    return f"FORGEDLOGLINE{uuid.uuid4().hex}"


def click(requests: SlackRequests, *, user_id: str, name: str = "alice") -> SignedRequest:
    """Acknowledge on an alert that does not exist: the listener answers the
    refusal through the response_url."""
    value = AlertChoice(alert_id=999_999, action=AlertAction.ACKNOWLEDGE).encode()
    return requests.block_actions(
        action_id=ActionId.ALERT_ACKNOWLEDGE, value=value, user_id=user_id, user_name=name
    )


def signed_at(
    request: SignedRequest, timestamp: str, secret: str = SIGNING_SECRET
) -> SignedRequest:
    """Signed over `timestamp` exactly as written (Slack's scheme, any string)."""
    basestring = f"v0:{timestamp}:{request.body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest()
    return dataclasses.replace(
        request, headers={**request.headers, TIMESTAMP: timestamp, SIGNATURE: signature}
    )


def with_header(request: SignedRequest, name: str, value: str | None) -> SignedRequest:
    headers = {k: v for k, v in request.headers.items() if k != name}
    if value is not None:
        headers[name] = value
    return dataclasses.replace(request, headers=headers)


def repeated(request: SignedRequest, name: str, first: str) -> RawRequest:
    """The request with header `name` sent twice: `first`, then its own value.
    aiohttp believes the first of two and Bolt the last."""
    headers = CIMultiDict((k, v) for k, v in request.headers.items() if k != name)
    headers.add(name, first)
    headers.add(name, request.headers[name])
    return request.body, headers


def raw(request: SignedRequest | RawRequest) -> RawRequest:
    if isinstance(request, SignedRequest):
        return request.body, CIMultiDict(request.headers)
    return request


def _now() -> int:
    return int(time.time())


def _arabic_indic(number: int) -> str:
    return "".join(chr(0x0660 + int(digit)) for digit in str(number))


Forge = Callable[[SignedRequest], SignedRequest | RawRequest]

# A minute past the five-minute window. These requests are forged on the wall
# clock and checked a moment later: one second past the edge, a request from the
# future slips back inside it when the check runs a second late on a busy machine.
# The edge itself is tested on an injected clock.
OUTSIDE_THE_WINDOW = 300 + 60

BAD_TIMESTAMPS: dict[str, Forge] = {
    "missing": lambda r: with_header(r, TIMESTAMP, None),
    "abc": lambda r: with_header(r, TIMESTAMP, "abc"),
    "empty": lambda r: with_header(r, TIMESTAMP, ""),
    "1e9": lambda r: with_header(r, TIMESTAMP, "1e9"),
    "NaN": lambda r: with_header(r, TIMESTAMP, "NaN"),
    "fraction": lambda r: signed_at(r, f"{_now()}.5"),
    "negative": lambda r: signed_at(r, f"-{_now()}"),
    "plus-sign": lambda r: signed_at(r, f"+{_now()}"),
    "underscores": lambda r: signed_at(r, f"{_now():_}"),
    "huge": lambda r: signed_at(r, "9" * 40),
    "enormous": lambda r: with_header(r, TIMESTAMP, "9" * 5000),
    "non-ascii-digits": lambda r: signed_at(r, _arabic_indic(_now())),
    "stale": lambda r: signed_at(r, str(_now() - OUTSIDE_THE_WINDOW)),
    "from-the-future": lambda r: signed_at(r, str(_now() + OUTSIDE_THE_WINDOW)),
    "repeated": lambda r: repeated(r, TIMESTAMP, "abc"),
}

BAD_SIGNATURES: dict[str, Forge] = {
    "missing": lambda r: with_header(r, SIGNATURE, None),
    "empty": lambda r: with_header(r, SIGNATURE, ""),
    "wrong-secret": lambda r: signed_at(r, str(_now()), secret="not-the-signing-secret"),
    "tampered-body": lambda r: dataclasses.replace(r, body=r.body.replace("alice", "mallory")),
    "not-hex": lambda r: with_header(r, SIGNATURE, "v0=" + "z" * 64),
    "non-ascii": lambda r: with_header(r, SIGNATURE, "v0=" + "é" * 64),
    "other-version": lambda r: with_header(r, SIGNATURE, "v1=" + r.headers[SIGNATURE][3:]),
    "upper-case-hex": lambda r: with_header(r, SIGNATURE, "v0=" + r.headers[SIGNATURE][3:].upper()),
    "repeated": lambda r: repeated(r, SIGNATURE, "v0=" + "0" * 64),
}


def foreign_response_urls(target: Target) -> dict[str, str]:
    """response_urls a signed request might carry that the bot must not use; each
    reaches the target if it is (wrongly) used."""
    port = target.url.rstrip("/").rsplit(":", 1)[1]
    return {
        "loopback": f"{target.url}x",
        "localhost": f"http://localhost:{port}/x",
        "userinfo-slack": f"http://hooks.slack.com@127.0.0.1:{port}/x",
        "hooks-path": f"{target.url}hooks/actions/T0001/1/abc",
    }


def click_with_response_url(requests: SlackRequests, url: str, *, user_id: str) -> SignedRequest:
    """A click carrying `url` as its response_url, signed with `requests`' secret."""
    request = click(requests, user_id=user_id)
    payload = {**request.payload, "response_url": url}
    body = "payload=" + quote(json.dumps(payload, separators=(",", ":")), safe="")
    unsigned = dataclasses.replace(request, body=body, payload=payload)
    return signed_at(unsigned, str(_now()), secret=requests.signing_secret)
