"""A pytest fixture that makes any attempt to reach the real Slack fail the test.

Tests must talk to `FakeSlack`; a client left on its default `https://slack.com/api/` (or a
response_url on hooks.slack.com, or a Socket Mode `wss://wss-primary.slack.com`) is a bug that
would otherwise only show up as a network timeout, or worse, as a real post.

Patched entry points (undone by monkeypatch after each test):

* `aiohttp.ClientSession._request`: every aiohttp request, and `ws_connect` (which goes through
  it), i.e. slack_sdk's AsyncWebClient, AsyncWebhookClient and the aiohttp Socket Mode client.
* `urllib.request.OpenerDirector.open`: what `urlopen` calls, so it also catches modules that
  did `from urllib.request import urlopen` (slack_sdk's sync WebClient, WebhookClient...), where
  patching the `urlopen` name itself would not.
* `http.client.HTTPConnection.connect` and `socket.create_connection`: a last line for other
  HTTP clients and for slack_sdk's built-in (raw socket) Socket Mode client.

The fixture raises `AssertionError` at the call, and, because application code may swallow
exceptions (retry loops, `except Exception`), it also fails the test at teardown if anything was
attempted. A test that triggers the guard on purpose clears `guard.violations` afterwards.
"""

from __future__ import annotations

import http.client
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from yarl import URL

__all__ = ["SlackGuard", "forbid_real_slack", "install_slack_guard", "is_slack_host"]

SLACK_DOMAIN = "slack.com"


def is_slack_host(host: str | None) -> bool:
    """True for slack.com and any subdomain (case and a trailing dot ignored)."""
    if not host:
        return False
    host = host.lower().rstrip(".")
    return host == SLACK_DOMAIN or host.endswith("." + SLACK_DOMAIN)


@dataclass
class SlackGuard:
    """What the guard caught during the current test."""

    violations: list[str] = field(default_factory=list)

    def check(self, url: str, host: str | None) -> None:
        if is_slack_host(host):
            self.violations.append(url)
            raise AssertionError(f"test tried to call the real Slack: {url}")


def _aiohttp_url(session: aiohttp.ClientSession, str_or_url: Any) -> URL:
    url = URL(str(str_or_url))
    base_url = getattr(
        session, "_base_url", None
    )  # ClientSession(base_url=...) joins relative URLs
    if base_url is not None and not url.absolute:
        url = base_url.join(url)
    return url


def install_slack_guard(monkeypatch: pytest.MonkeyPatch) -> SlackGuard:
    """Patch the HTTP entry points; usable outside the fixture (e.g. in a session fixture)."""
    guard = SlackGuard()

    original_request = aiohttp.ClientSession._request

    async def guarded_request(
        self: aiohttp.ClientSession, method: str, str_or_url: Any, *args: Any, **kwargs: Any
    ) -> Any:
        url = _aiohttp_url(self, str_or_url)
        guard.check(str(url), url.host)
        return await original_request(self, method, str_or_url, *args, **kwargs)

    original_open = urllib.request.OpenerDirector.open

    def guarded_open(
        self: urllib.request.OpenerDirector, fullurl: Any, *args: Any, **kwargs: Any
    ) -> Any:
        url = fullurl.full_url if isinstance(fullurl, urllib.request.Request) else str(fullurl)
        guard.check(url, URL(url).host)
        return original_open(self, fullurl, *args, **kwargs)

    original_connect = http.client.HTTPConnection.connect

    def guarded_connect(self: http.client.HTTPConnection) -> None:
        # Through a proxy, self.host is the proxy and the real target is the tunnel host.
        host = getattr(self, "_tunnel_host", None) or self.host
        guard.check(f"{host}:{self.port}", host)
        original_connect(self)

    original_create_connection = socket.create_connection

    def guarded_create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        host = str(address[0])
        guard.check(f"{host}:{address[1]}", host)
        return original_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", guarded_request)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", guarded_open)
    monkeypatch.setattr(http.client.HTTPConnection, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", guarded_create_connection)
    return guard


@pytest.fixture
def forbid_real_slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackGuard]:
    """Fail the test if it tries to reach slack.com or *.slack.com (meant to be autouse)."""
    guard = install_slack_guard(monkeypatch)
    yield guard
    if guard.violations:
        pytest.fail(
            "test tried to call the real Slack (even if the error was swallowed): "
            + ", ".join(guard.violations),
            pytrace=False,
        )
