"""Where `respond()` may post: a request's response_url is used only on Slack's
hooks hosts (or the origin of SLACK_API_URL, a proxy or a test fake), and a
redirect from it is never followed.

A response_url is whatever the request body says. Even on a signed request it is
an address the bot will POST to, so it is checked like any outgoing address:
`https://hooks.slack.com` or GovSlack's `https://hooks.slack-gov.com` (port 443),
or exactly the scheme, host and port of SLACK_API_URL. A request carrying any
other response_url is handled as usual, but its `respond()` sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

# Bolt's own builder, so a message posted here is exactly what its respond() posts.
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.webhook import WebhookResponse
from yarl import URL

logger = logging.getLogger(__name__)

SLACK_HOOK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
HTTPS_PORT = 443
RESPONSE_URL_TIMEOUT_S = 30  # slack_sdk's webhook client's default


@dataclass(frozen=True)
class ResponseUrlPolicy:
    """Which response_urls the bot may post to."""

    api_origin: tuple[str, str, int | None]  # scheme, host, port of SLACK_API_URL

    @classmethod
    def for_api_url(cls, api_url: str) -> ResponseUrlPolicy:
        url = URL(api_url)
        return cls((url.scheme, url.host or "", url.port))

    def target(self, response_url: object) -> URL | None:
        """The URL to post to, or None when `response_url` may not be used. Parsed
        once, by yarl, and posted to as parsed: what is checked is what aiohttp
        connects to."""
        if not isinstance(response_url, str):
            return None
        try:
            url = URL(response_url)
            port = url.port
        except (ValueError, TypeError):
            return None
        if not url.is_absolute() or url.user is not None or url.password is not None:
            return None
        if (url.scheme, url.host or "", port) == self.api_origin:
            return url
        if url.scheme == "https" and url.host in SLACK_HOOK_HOSTS and port == HTTPS_PORT:
            return url
        return None

    def allows(self, response_url: object) -> bool:
        return self.target(response_url) is not None


class GuardedRespond(AsyncRespond):
    """Bolt's `respond()`, posting only to an allowed response_url and never
    following a redirect (aiohttp follows them by default, to any address).

    With no response_url (the Home tab, a modal) it raises as Bolt's does; with
    one the policy refused, every call sends nothing and returns None."""

    def __init__(self, *, target: URL | None, refused: bool) -> None:
        super().__init__(response_url=None if target is None else str(target))
        self._target = target
        self._refused = refused

    async def __call__(  # type: ignore[override]
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[Any] | None = None,
        attachments: Sequence[Any] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse | None:
        if self._target is None:
            if self._refused:
                return None
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        return await _post(self._target, message)


async def _post(target: URL, message: dict[str, Any]) -> WebhookResponse:
    timeout = aiohttp.ClientTimeout(total=RESPONSE_URL_TIMEOUT_S)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(target, json=message, allow_redirects=False) as response,
    ):
        body = await response.text(errors="replace")
    if 300 <= response.status < 400:
        logger.warning("response_url answered a redirect (HTTP %d): not followed", response.status)
    return WebhookResponse(
        url=str(target), status_code=response.status, body=body, headers=dict(response.headers)
    )


def guard_context(context: AsyncBoltContext, policy: ResponseUrlPolicy) -> None:
    """The request's `respond` becomes a GuardedRespond, and a response_url the
    policy refuses is dropped from the context. Idempotent."""
    response_url = context.get("response_url")
    target = policy.target(response_url)
    refused = response_url is not None and target is None
    if refused:
        context.pop("response_url", None)
        logger.info("the request's response_url is not on Slack's hosts: not used")
    if not isinstance(context.get("respond"), GuardedRespond):
        context["respond"] = GuardedRespond(target=target, refused=refused)


def response_url_guard(policy: ResponseUrlPolicy) -> Callable[..., Awaitable[None]]:
    """`guard_context` as a Bolt middleware (Socket Mode requests reach Bolt
    without passing our HTTP route)."""

    async def guard(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        guard_context(context, policy)
        await next()

    return guard
