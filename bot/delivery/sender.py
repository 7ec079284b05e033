"""Sending one outbox item with the Web API (or, for a webhook, a signed POST to
the MSP's own system), and sorting what can go wrong into "retry later", "join
the channel and retry" and "give up, and say why"."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from bot.delivery import outbox, webhooks
from bot.delivery.guarded_http import guarded_connector, refused_by_guard
from bot.delivery.limits import TierLimiter
from bot.delivery.outbox import Kind
from bot.net_guard import Destinations, address_kind, literal_address
from storage.models import OutboxItem

logger = logging.getLogger(__name__)

# Errors no retry can fix: the item fails and admins see why (`/msp delivery`).
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "ekm_access_denied",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "too_many_attachments",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "user_not_found",
        "user_not_in_channel",
        "invalid_arguments",
        "file_not_found",
        "method_not_supported_for_channel_type",
        "team_access_not_granted",
        "target_not_found",
        "target_failed",
    }
)
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# What a webhook that got no answer records: the same whatever the socket said, so
# `/msp delivery` cannot tell an open port from a closed one.
COULD_NOT_CONNECT = "could_not_connect"
# The webhook's host is not a public address (and not on MSPBOT_WEBHOOK_ALLOW_HOSTS).
ADDRESS_NOT_ALLOWED = "address_not_allowed"


@dataclass(frozen=True, slots=True)
class Sent:
    ts: str | None
    channel: str | None


@dataclass(frozen=True, slots=True)
class Retry:
    reason: str
    after_seconds: float | None = None  # None: back off by the attempt count
    rate_limited: bool = False


@dataclass(frozen=True, slots=True)
class JoinAndRetry:
    channel: str


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str


Outcome = Sent | Retry | JoinAndRetry | Failed

METHOD_OF_KIND = {
    Kind.POST: "chat.postMessage",
    Kind.UPDATE: "chat.update",
    Kind.EPHEMERAL: "chat.postEphemeral",
    Kind.HOME: "views.publish",
    Kind.UPLOAD: "files.completeUploadExternal",
}


class Sender:
    def __init__(
        self,
        client: AsyncWebClient,
        tiers: TierLimiter,
        *,
        webhook_secret: str | None = None,
        webhook_destinations: Destinations | None = None,
    ) -> None:
        self.client = client
        self.tiers = tiers
        self._webhook_secret = webhook_secret
        self._destinations = webhook_destinations or Destinations()

    async def send(
        self,
        item: OutboxItem,
        *,
        token: str | None = None,
        target: OutboxItem | None = None,
        team_id: str | None = None,
    ) -> Outcome:
        """`token`: the workspace's bot token (None: the client's own); `target`: an
        update's message; `team_id`: a webhook's MSP (its key)."""
        try:
            if item.kind == Kind.WEBHOOK:
                return await self._post_webhook(item, team_id)
            return await self._send(item, target, _auth(token))
        except SlackApiError as error:
            return classify(error, item)
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            return Retry(reason=f"network: {type(error).__name__}")

    async def join(self, channel: str, *, token: str | None = None) -> bool:
        """Join a public channel after not_in_channel; False when that is impossible."""
        await self.tiers.acquire("conversations.join")
        try:
            await self.client.conversations_join(channel=channel, **_auth(token))
        except SlackApiError:
            return False
        return True

    async def _send(
        self, item: OutboxItem, target: OutboxItem | None, auth: dict[str, str]
    ) -> Outcome:
        kind = Kind(item.kind)
        await self.tiers.acquire(METHOD_OF_KIND[kind])
        payload: dict[str, Any] = dict(item.payload)
        if kind == Kind.POST:
            _thread(payload, target)
            response = await self.client.chat_postMessage(**payload, **auth)
            return Sent(ts=response.get("ts"), channel=response.get("channel"))
        if kind == Kind.UPDATE:
            return await self._update(payload, target, auth)
        if kind == Kind.EPHEMERAL:
            await self.client.chat_postEphemeral(**payload, **auth)
            return Sent(ts=None, channel=payload["channel"])
        if kind == Kind.HOME:
            await self.client.views_publish(
                user_id=payload["user_id"], view=payload["view"], **auth
            )
            return Sent(ts=None, channel=None)
        return await self._upload(item, payload, auth)

    async def _update(
        self, payload: dict[str, Any], target: OutboxItem | None, auth: dict[str, str]
    ) -> Outcome:
        if target is None:
            return Failed("target_not_found")
        if target.status == "failed":
            return Failed("target_failed")
        merged = target.status == "coalesced" or target.original_payload is not None
        if merged or not target.ts or not target.sent_channel:
            # No single message to change (merged into a digest, or never posted):
            # post the new content so it is not lost.
            channel = target.payload.get("channel") or target.lane
            response = await self.client.chat_postMessage(
                channel=channel,
                text=payload["text"],
                blocks=payload.get("blocks") or None,
                **auth,
            )
            return Sent(ts=response.get("ts"), channel=response.get("channel"))
        await self.client.chat_update(
            channel=target.sent_channel,
            ts=target.ts,
            text=payload["text"],
            blocks=payload.get("blocks") or [],
            **auth,
        )
        return Sent(ts=target.ts, channel=target.sent_channel)

    async def _upload(
        self, item: OutboxItem, payload: dict[str, Any], auth: dict[str, str]
    ) -> Outcome:
        await self.tiers.acquire("files.getUploadURLExternal")
        response = await self.client.files_upload_v2(
            channel=payload["channel"],
            content=item.content or b"",
            filename=payload["filename"],
            title=payload.get("title") or payload["filename"],
            initial_comment=payload.get("initial_comment") or None,
            **auth,
        )
        files = response.get("files") or [{}]
        return Sent(ts=None, channel=payload["channel"] if files else None)

    async def _post_webhook(self, item: OutboxItem, team_id: str | None) -> Outcome:
        if self._webhook_secret is None:
            return Failed("webhook_secret_missing")
        if team_id is None:
            return Failed("msp_not_found")
        url = item.payload["url"]
        host = self._allowed_host(url)
        if host is None:
            return Failed(ADDRESS_NOT_ALLOWED)
        body, headers = webhooks.signed_request(
            key=webhooks.signing_key(self._webhook_secret, team_id),
            body=item.payload["body"],
            delivery=item.key,
            now=datetime.now(UTC),
        )
        timeout = aiohttp.ClientTimeout(total=webhooks.TIMEOUT_SECONDS)
        try:
            async with (
                aiohttp.ClientSession(
                    timeout=timeout, connector=guarded_connector(self._destinations, host)
                ) as http,
                # A redirect is not followed: it would resend the body somewhere not configured.
                http.post(url, data=body, headers=headers, allow_redirects=False) as response,
            ):
                return classify_webhook(response.status, response.headers)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as error:
            return _unreachable(item, error)

    def _allowed_host(self, url: str) -> str | None:
        """The URL's host, when a webhook may be sent there at all: https (or a host
        on the allow list), and not an IP literal that is not public. (A name is
        judged by its addresses when the connector resolves it.)"""
        try:
            parsed = URL(url)
        except (ValueError, TypeError):
            return None
        host = parsed.raw_host
        if not host:
            return None
        if self._destinations.allows_any_address(host):
            return host
        literal = literal_address(host)
        if parsed.scheme != "https" or (literal is not None and address_kind(literal) is not None):
            return None
        return host


def _unreachable(item: OutboxItem, error: BaseException) -> Outcome:
    """A webhook that got no answer: refused by the address guard (for good), or
    anything else on the way (retried). What the socket said goes to the log for
    the operator, never into the outbox row that `/msp delivery` shows."""
    if refused_by_guard(error):
        logger.warning("webhook %s refused: its host has an address that is not public", item.key)
        return Failed(ADDRESS_NOT_ALLOWED)
    logger.info("webhook %s could not connect (%s)", item.key, type(error).__name__)
    return Retry(reason=COULD_NOT_CONNECT)


def _auth(token: str | None) -> dict[str, str]:
    """slack_sdk takes a per-call `token` argument over the client's own."""
    return {} if token is None else {"token": token}


def _thread(payload: dict[str, Any], parent: OutboxItem | None) -> None:
    """A reply goes into the thread of the message it names once that was sent
    (for a parent merged into a digest, the worker hands the digest: its thread);
    otherwise it is a plain post. It is also shown in the channel, so a reopened
    alert is not buried in a thread, unless it belongs in the thread only (an alert
    grouped under its parent)."""
    payload.pop(outbox.THREAD_KEY, None)
    broadcast = not payload.pop(outbox.THREAD_ONLY, False)
    if parent is None or parent.status != "sent" or not parent.ts:
        return
    payload["thread_ts"] = parent.ts
    payload["channel"] = parent.sent_channel or payload["channel"]
    if broadcast:
        payload["reply_broadcast"] = True


def classify_webhook(status: int, headers: Mapping[str, Any]) -> Outcome:
    """2xx delivered; 429 and 5xx retried (429 after its Retry-After, if any); any
    other answer is a receiver that will not take it: failed, with the status."""
    if 200 <= status < 300:
        return Sent(ts=None, channel=None)
    if status == 429:
        after = _retry_after(headers, default=None)
        return Retry(
            reason="http_429",
            after_seconds=None if after is None else min(after, webhooks.MAX_RETRY_AFTER_SECONDS),
        )
    if status >= 500:
        return Retry(reason=f"http_{status}")
    return Failed(f"http_{status}")


def classify(error: SlackApiError, item: OutboxItem) -> Outcome:
    response = error.response
    status = getattr(response, "status_code", 0) or 0
    code = ""
    if response is not None and isinstance(response.data, dict):
        code = str(response.data.get("error", ""))
    if status == 429 or code == "ratelimited":
        after = _retry_after(getattr(response, "headers", {}) or {}, default=1.0)
        return Retry(reason="ratelimited", after_seconds=after, rate_limited=True)
    if status >= 500 or code in TRANSIENT_ERRORS:
        return Retry(reason=f"http_{status}" if status >= 500 else code)
    if (
        code == "not_in_channel"
        and not item.join_tried
        and item.payload.get("channel", "").startswith("C")
    ):
        return JoinAndRetry(channel=item.payload["channel"])
    if code in PERMANENT_ERRORS:
        return Failed(code)
    return Retry(reason=code or f"http_{status}")  # unknown: a few more tries, then give up


def _retry_after(headers: Mapping[str, Any], *, default: float | None) -> float | None:
    for name, value in dict(headers).items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value if isinstance(value, str) else value[0]))
            except (TypeError, ValueError, IndexError):
                break
    return default
