"""A fake Slack Web API and Socket Mode server for tests.

`FakeSlack` is a real aiohttp server on 127.0.0.1 (ephemeral port), so the code under test talks
to it through the real `slack_sdk` clients, just with `base_url=fake.base_url`. It answers the
methods the bot uses the way Slack does (same field names, same error strings), records every
call, and can be told to misbehave (`fail`) to exercise rate limits, outages and slow answers.

Conventions that differ from the real Slack are kept small and documented where they live:

* Channels: ids registered with `add_channel` behave as registered; any other id starting with
  C, G or D is accepted for posting, and user ids (U/W) are treated as a DM whose channel id is
  the user id with a leading "D" (as Slack answers with the IM channel, not the user id).
* Users: ids registered with `add_user` are known; any other id starting with "U" is known with
  generated values; anything else (e.g. "W0...") is `user_not_found`.
* Tokens: `Authorization: Bearer` is checked (a form-body `token` is accepted too, as Slack
  does). A known token of the wrong kind (the bot token on `apps.connections.open`, or the app
  token elsewhere) gets `not_allowed_token_type`; an unknown token gets `invalid_auth`.
* Workspaces (distribution mode): `grant_install` plays a person approving an install on
  Slack's authorize page and returns the `code` Slack would append to the redirect;
  `oauth.v2.access` (client id and secret as HTTP Basic auth, as slack_sdk sends them)
  exchanges it for a bot token of that workspace, and with `token_rotation` on, for an
  expiring `xoxe.xoxb-` token and a refresh token (grant_type=refresh_token). Every token
  answers for its own workspace (`auth.test`, `team_of`); `uninstall` revokes them.
* Missing required arguments answer `invalid_arguments` with Slack's
  `response_metadata.messages`, except where Slack has a specific error (`channel_not_found`,
  `user_not_found`, `no_text`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import math
import mimetypes
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import WSCloseCode, WSMsgType, web

__all__ = [
    "JSON_CONTENT_TYPE",
    "FakeSlack",
    "RecordedCall",
    "running_fake_slack",
]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

# Every generated timestamp/hash is derived from this instant so runs are reproducible.
BASE_TS = 1_700_000_000

# Form-encoded arguments that Slack expects as JSON strings. Only these are decoded: decoding
# every string that happens to look like JSON would turn a message text such as "[1]" into a list.
JSON_ARGUMENT_KEYS = frozenset(
    {
        "attachments",
        "blocks",
        "dialog",
        "files",
        "metadata",
        "option_groups",
        "options",
        "outputs",
        "profile",
        "unfurls",
        "user_auth_blocks",
        "view",
    }
)

SOCKET_ENVELOPE_TYPES = frozenset({"slash_commands", "interactive", "events_api"})

# Not Web API methods, but recorded and failable under these names like any method.
UPLOAD_CALL = "upload"
RESPONSE_URL_CALL = "response_url"

Args = dict[str, Any]
Body = dict[str, Any]


@dataclass
class RecordedCall:
    """One request received by the fake, in arrival order."""

    method: str  # e.g. "chat.postMessage", or "upload" / "response_url" for those endpoints
    args: dict[str, Any]  # query string + form or JSON body, JSON-string fields decoded
    headers: dict[str, str]
    at: float  # time.monotonic() when received
    path: str = ""  # request path, e.g. "/api/chat.postMessage"
    token: str | None = None  # the bearer token it came with


@dataclass
class _Workspace:
    team_id: str
    name: str
    bot_user_id: str
    bot_id: str


@dataclass
class _IssuedToken:
    team_id: str
    expires_at: float | None  # time.time(); None: does not expire
    revoked: bool = False


@dataclass
class _Grant:
    team_id: str
    user_id: str
    redirect_uri: str | None


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None
    delay: float
    remaining: int
    location: str | None = None  # a redirect's target


@dataclass
class _User:
    id: str
    name: str
    real_name: str
    email: str
    tz: str
    is_admin: bool
    deleted: bool
    is_bot: bool = False


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool
    is_archived: bool
    is_member: bool


@dataclass
class _PendingFile:
    id: str
    filename: str
    length: int
    title: str = ""
    data: bytes | None = None
    channels: list[str] = field(default_factory=list)


class SlackError(Exception):
    """Raised inside a method handler to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> Body:
        return {"ok": False, "error": self.error, **self.extra}


def _missing(argument: str) -> SlackError:
    return SlackError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] missing required field: {argument}"]},
    )


def _json_response(
    body: Body, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=json.dumps(body),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def _decode_json_arguments(args: Args) -> Args:
    decoded = dict(args)
    for key in JSON_ARGUMENT_KEYS & decoded.keys():
        value = decoded[key]
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                decoded[key] = json.loads(value)
    return decoded


async def _read_arguments(request: web.Request) -> Args:
    """Merge query string and body like Slack does. Raises SlackError("invalid_json")."""
    args: Args = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return _decode_json_arguments(args)
    if request.content_type == "application/json":
        raw = await request.text()
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise SlackError("invalid_json") from exc
        if isinstance(parsed, dict):
            args.update(parsed)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            args[key] = value.file.read() if isinstance(value, web.FileField) else value
    return _decode_json_arguments(args)


def _bearer_token(request: web.Request, args: Args) -> str | None:
    header = request.headers.get("Authorization")
    if header:
        scheme, _, token = header.partition(" ")
        # A malformed header is an unknown token, not a missing one (Slack: invalid_auth).
        return token.strip() if scheme.lower() == "bearer" else header
    token = args.get("token")
    return token if isinstance(token, str) and token else None


def _tz_fields(tz: str) -> tuple[str, int]:
    """(tz_label, tz_offset seconds) for an IANA zone, as users.info reports them."""
    try:
        now = datetime.now(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return tz, 0
    offset = now.utcoffset()
    return now.tzname() or tz, int(offset.total_seconds()) if offset else 0


MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # enough for any test's file


class FakeSlack:
    """Fake Slack server. Use `async with FakeSlack() as fake:` or `running_fake_slack()`.

    Close Socket Mode clients before stopping the fake: `stop()` closes the websockets, and a
    client that is still running with auto-reconnect would try to reconnect to a dead server.
    """

    def __init__(
        self,
        *,
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        team_domain: str = "acme-msp",
        bot_id: str = "B0001",
        app_id: str = "A0001",
    ) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_domain = team_domain
        self.bot_id = bot_id
        self.app_id = app_id
        # The Enterprise Grid organisation of the default workspace (auth.test names it).
        self.enterprise_id: str | None = None

        self.calls: list[RecordedCall] = []
        self.uploaded_files: dict[str, bytes] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view as last answered
        self.socket_messages: list[dict[str, Any]] = []  # what Socket Mode clients sent us

        self._failures: dict[str, list[_Failure]] = {}
        self._fault_rates: dict[str, tuple[float, random.Random, tuple[int, ...]]] = {}
        self._channel_limits: dict[str, tuple[float, int]] = {}  # method -> (per second, burst)
        self._channel_tat: dict[tuple[str, str], float] = {}  # (method, channel) -> GCRA TAT
        self.rate_limited: int = 0  # 429s answered by limit_rate()
        self._users: dict[str, _User] = {}
        self._channels: dict[str, _Channel] = {}
        self._files: dict[str, _PendingFile] = {}
        self._home_views: dict[str, str] = {}  # user id -> view id
        self._counter = itertools.count(1)

        # Distribution mode: the app's credentials, installed workspaces, their tokens.
        self.client_id = "1111.2222"
        self.client_secret = "fake-client-secret"
        self.token_rotation = False
        self.token_lifetime_seconds = 43_200  # Slack's: 12 hours
        self._workspaces: dict[str, _Workspace] = {}
        self._tokens: dict[str, _IssuedToken] = {}
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> team id
        self._grants: dict[str, _Grant] = {}
        self._current_token: str | None = None

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopping = asyncio.Event()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_connected = asyncio.Event()
        self._pending_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._holds: dict[str, asyncio.Event] = {}  # method -> released when set

        self._handlers: dict[str, Callable[[Args], Body]] = {
            "auth.test": self._auth_test,
            "oauth.v2.access": self._oauth_v2_access,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.open": self._conversations_open,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.upload": self._files_upload,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeSlack is already started")
        # Slack takes files of up to 1 GB; aiohttp's default would refuse one over 1 MB.
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_post("/hooks/{path:.*}", self._handle_response_url)
        app.router.add_get("/socket", self._handle_socket)
        # A short shutdown_timeout: in-flight handlers are woken by _stopping anyway, so there is
        # nothing worth waiting 60 s (aiohttp's default) for.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._stopping.set()
        for future in self._pending_acks.values():
            # An exception, not cancel(): cancelling would look like the *caller* was cancelled.
            if not future.done():
                future.set_exception(ConnectionError("FakeSlack stopped before the ack"))
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def base_url(self) -> str:
        """Web API base URL; the trailing slash matters to slack_sdk's URL joining."""
        return f"{self.root_url}api/"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket"

    @property
    def hooks_base_url(self) -> str:
        """Base for response_url values that land on this fake (see SlackRequests)."""
        return f"{self.root_url}hooks/"

    # ------------------------------------------------------------------ test controls

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.method == method]

    def reset(self) -> None:
        """Forget recorded calls and queued failures (workspace state is kept)."""
        self.calls.clear()
        self._failures.clear()

    def fail(
        self,
        method: str,
        *,
        times: int = 1,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next `times` calls of `method` ("*" = any) misbehave.

        status=429 answers `ratelimited` (plus `Retry-After` when retry_after is given); a 5xx
        without `error` answers a plain-text body like a load balancer would; `error` with status
        200 answers `{"ok": false, "error": error}`; `delay` sleeps first and, with no other
        option, then answers normally. Method-specific failures are used before "*" ones.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if not 200 <= status <= 599:
            raise ValueError(f"unsupported HTTP status {status}")
        if status == 200 and error is None and delay <= 0:
            raise ValueError("fail() needs a non-200 status, an error or a delay")
        failure = _Failure(status, error, retry_after, delay, times)
        self._failures.setdefault(method, []).append(failure)

    def redirect(self, method: str, *, to: str, status: int = 302, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with a redirect (`status`) to `to`."""
        if status not in (301, 302, 303, 307, 308):
            raise ValueError(f"not a redirect status: {status}")
        if times < 1:
            raise ValueError("times must be >= 1")
        failure = _Failure(status, None, None, 0.0, times, location=to)
        self._failures.setdefault(method, []).append(failure)

    def fault_rate(
        self,
        method: str,
        rate: float,
        *,
        seed: int = 0,
        statuses: tuple[int, ...] = (500, 503, 429),
    ) -> None:
        """Fail a random share `rate` of `method` calls (seeded, so runs repeat), with one of
        `statuses` each time; a 429 carries `Retry-After: 0`. Faults answer before the call
        has any effect, like a gateway that never reached Slack's backend."""
        self._fault_rates[method] = (rate, random.Random(seed), statuses)

    def hold(self, method: str) -> asyncio.Event:
        """Keep every call of `method` waiting (recorded, not answered) until the
        returned event is set: what happens before Slack answers can be checked
        without timing anything."""
        gate = self._holds.setdefault(method, asyncio.Event())
        return gate

    def limit_rate(self, method: str, *, per_second: float, burst: int = 1) -> None:
        """Enforce a per-channel rate for `method` like Slack's posting limit: calls over it get
        429 with a Retry-After (whole seconds, as Slack sends), and change nothing."""
        self._channel_limits[method] = (per_second, burst)

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "UTC",
        is_admin: bool = False,
        deleted: bool = False,
    ) -> None:
        name = name or user_id.lower()
        self._users[user_id] = _User(
            id=user_id,
            name=name,
            real_name=real_name or name.title(),
            email=email or f"{name}@example.com",
            tz=tz,
            is_admin=is_admin,
            deleted=deleted,
            is_bot=user_id == self.bot_user_id,
        )

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str,
        is_private: bool = False,
        is_archived: bool = False,
        is_member: bool = True,
    ) -> None:
        self._channels[channel_id] = _Channel(channel_id, name, is_private, is_archived, is_member)

    # ------------------------------------------------------------------ Socket Mode

    async def send_socket_mode_envelope(
        self, envelope_type: str, payload: dict[str, Any], *, timeout: float = 5
    ) -> dict[str, Any]:
        """Send an envelope to the newest Socket Mode connection and return the client's ack.

        Waits up to `timeout` for a connection, then up to `timeout` for the ack
        (`{"envelope_id": ..., "payload": ...}`); raises TimeoutError otherwise.
        """
        if envelope_type not in SOCKET_ENVELOPE_TYPES:
            raise ValueError(f"unknown envelope type {envelope_type!r}")
        ws = await self._wait_for_socket(timeout)
        envelope_id = str(uuid.uuid4())
        ack: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = ack
        try:
            await ws.send_json(
                {
                    "envelope_id": envelope_id,
                    "type": envelope_type,
                    "payload": payload,
                    "accepts_response_payload": envelope_type != "events_api",
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
            async with asyncio.timeout(timeout):
                return await ack
        finally:
            self._pending_acks.pop(envelope_id, None)

    async def _wait_for_socket(self, timeout: float) -> web.WebSocketResponse:
        async with asyncio.timeout(timeout):
            while True:
                open_sockets = [ws for ws in self._sockets if not ws.closed]
                if open_sockets:
                    return open_sockets[-1]
                self._socket_connected.clear()
                await self._socket_connected.wait()

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        # timeout bounds the close handshake so stop() never hangs on a silent client.
        ws = web.WebSocketResponse(timeout=1.0)
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        # Registered only after hello, so an envelope can never overtake it.
        self._sockets.append(ws)
        self._socket_connected.set()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_socket_text(message.data)
        finally:
            self._sockets.remove(ws)
        return ws

    def _on_socket_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        self.socket_messages.append(message)
        ack = self._pending_acks.get(str(message.get("envelope_id")))
        if ack is not None and not ack.done():
            ack.set_result(message)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            args = await _read_arguments(request)
        except SlackError as exc:
            self._record(method, {}, request)
            return _json_response(exc.body())
        self._record(method, args, request)
        gate = self._holds.get(method)
        if gate is not None:
            await self._held(gate)
        try:
            handler = self._handlers.get(method)
            if handler is None:
                raise SlackError("unknown_method")
            if method == "oauth.v2.access":
                self._authenticate_client(request, args)
                self._current_token = None
            else:
                self._current_token = _bearer_token(request, args)
                self._authenticate(method, self._current_token)
            chaos = self._random_fault(method) or self._over_channel_limit(method, args)
            if chaos is not None:
                return chaos
            injected = await self._injected_response(method)
            if injected is not None:
                return injected
            return _json_response(handler(args))
        except SlackError as exc:
            return _json_response(exc.body())

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """The pre-signed upload URL from files.getUploadURLExternal: no token needed."""
        file_id = request.match_info["file_id"]
        data = await _read_upload_bytes(request)
        self._record(UPLOAD_CALL, {"file_id": file_id, "length": len(data)}, request)
        injected = await self._injected_response(UPLOAD_CALL)
        if injected is not None:
            return injected
        pending = self._files.get(file_id)
        if pending is None:
            return web.Response(status=404, text="Not Found")
        pending.data = data
        self.uploaded_files[file_id] = data
        return web.Response(text=f"OK - {len(data)}")

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        """response_url posts (respond() in Bolt), when SlackRequests points them here."""
        try:
            args = await _read_arguments(request)
        except SlackError:
            args = {}
        self._record(RESPONSE_URL_CALL, args, request)
        injected = await self._injected_response(RESPONSE_URL_CALL)
        return injected if injected is not None else _json_response({"ok": True})

    def _record(self, method: str, args: Args, request: web.Request) -> None:
        self.calls.append(
            RecordedCall(
                method=method,
                args=args,
                headers=dict(request.headers),
                at=time.monotonic(),
                path=request.path,
                token=_bearer_token(request, args),
            )
        )

    def _authenticate(self, method: str, token: str | None) -> None:
        if not token:
            raise SlackError("not_authed")
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token == expected:
            return
        issued = self._tokens.get(token)
        if issued is not None and method != "apps.connections.open":
            if issued.revoked:
                raise SlackError("token_revoked")
            if issued.expires_at is not None and issued.expires_at <= time.time():
                raise SlackError("token_expired")
            return
        if token in (self.app_token, self.bot_token):
            raise SlackError("not_allowed_token_type")
        raise SlackError("invalid_auth")

    def _take_failure(self, method: str) -> _Failure | None:
        for key in (method, "*"):
            queue = self._failures.get(key)
            if queue:
                failure = queue[0]
                failure.remaining -= 1
                if failure.remaining == 0:
                    queue.pop(0)
                return failure
        return None

    async def _injected_response(self, method: str) -> web.Response | None:
        failure = self._take_failure(method)
        if failure is None:
            return None
        if failure.delay > 0:
            await self._interruptible_sleep(failure.delay)
        if failure.location is not None:
            return web.Response(status=failure.status, headers={"Location": failure.location})
        if failure.status == 429:
            headers = (
                {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
            )
            body = {"ok": False, "error": failure.error or "ratelimited"}
            return _json_response(body, status=429, headers=headers)
        if failure.error is not None:
            return _json_response({"ok": False, "error": failure.error}, status=failure.status)
        if failure.status != 200:
            return web.Response(status=failure.status, text=f"{failure.status} Server Error")
        return None  # delay only: answer normally

    def _random_fault(self, method: str) -> web.Response | None:
        configured = self._fault_rates.get(method)
        if configured is None:
            return None
        rate, rng, statuses = configured
        if rng.random() >= rate:
            return None
        status = rng.choice(statuses)
        if status == 429:
            return _json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "0"}
            )
        return web.Response(status=status, text=f"{status} Server Error")

    def _over_channel_limit(self, method: str, args: Args) -> web.Response | None:
        """GCRA per (method, channel): allows `burst` calls at once, then `per_second`."""
        limit = self._channel_limits.get(method)
        if limit is None:
            return None
        per_second, burst = limit
        interval = 1.0 / per_second
        key = (method, str(args.get("channel") or args.get("channel_id") or ""))
        now = time.monotonic()
        tat = max(self._channel_tat.get(key, now), now)
        if tat - now > interval * (burst - 1) + 1e-9:
            self.rate_limited += 1
            retry_after = max(1, math.ceil(tat - now - interval * (burst - 1)))
            return _json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        self._channel_tat[key] = tat + interval
        return None

    async def _held(self, gate: asyncio.Event) -> None:
        """Wait until `gate` is set, or the fake stops."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        released = asyncio.ensure_future(gate.wait())
        await asyncio.wait({stopping, released}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        released.cancel()

    async def _interruptible_sleep(self, seconds: float) -> None:
        """Sleep, but wake at stop() so a slow answer never holds up the server's shutdown."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    # ------------------------------------------------------------------ id generators

    def _next(self) -> int:
        return next(self._counter)

    def _next_ts(self) -> str:
        n = self._next() * 100
        return f"{BASE_TS + n // 1_000_000}.{n % 1_000_000:06d}"

    def _next_hash(self) -> str:
        return f"{BASE_TS}.{self._next():08x}"

    # ------------------------------------------------------------------ lookups

    def _conversation_for_post(self, channel: Any) -> str:
        """Channel id a message lands in, with Slack's posting errors."""
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        registered = self._find_channel(channel)
        if registered is not None:
            if registered.is_archived:
                raise SlackError("is_archived")
            if not registered.is_member:
                raise SlackError("not_in_channel")
            return registered.id
        if channel[0] in "UW":
            return "D" + channel[1:]
        if channel[0] in "CGD":
            return channel
        raise SlackError("channel_not_found")

    def _find_channel(self, channel: str) -> _Channel | None:
        if channel.startswith("#"):
            name = channel[1:]
            return next((c for c in self._channels.values() if c.name == name), None)
        return self._channels.get(channel)

    def _known_channel(self, channel: Any) -> _Channel:
        """Registered channel, or an auto-created public one for other C ids."""
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        registered = self._find_channel(channel)
        if registered is not None:
            return registered
        if channel.startswith("C"):
            return _Channel(channel, channel.lower(), False, False, True)
        raise SlackError("channel_not_found")

    def _known_user(self, user_id: Any) -> _User:
        if not isinstance(user_id, str) or not user_id:
            raise SlackError("user_not_found")
        user = self._users.get(user_id)
        if user is not None:
            return user
        if user_id.startswith("U"):
            name = f"user_{user_id.lower()}"
            return _User(
                id=user_id,
                name=name,
                real_name=f"User {user_id}",
                email=f"{name}@example.com",
                tz="UTC",
                is_admin=False,
                deleted=False,
                is_bot=user_id == self.bot_user_id,
            )
        raise SlackError("user_not_found")

    # ------------------------------------------------------------------ representations

    def _channel_dict(self, channel: _Channel) -> dict[str, Any]:
        empty_text = {"value": "", "creator": "", "last_set": 0}
        return {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.is_private,
            "is_group": channel.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel.is_private,
            "is_archived": channel.is_archived,
            "is_general": channel.name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": channel.is_member,
            "created": BASE_TS,
            "creator": "U0000",
            "context_team_id": self.team_id,
            "topic": empty_text,
            "purpose": empty_text,
        }

    def _user_dict(self, user: _User) -> dict[str, Any]:
        tz_label, tz_offset = _tz_fields(user.tz)
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "is_admin": user.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": BASE_TS,
            "profile": {
                "display_name": user.name,
                "display_name_normalized": user.name,
                "real_name": user.real_name,
                "real_name_normalized": user.real_name,
                "email": user.email,
                "team": self.team_id,
            },
        }

    def _message_dict(self, args: Args, ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
            "text": args.get("text") or "",
            "blocks": args.get("blocks") or [],
        }
        for optional in ("attachments", "thread_ts", "metadata"):
            if args.get(optional):
                message[optional] = args[optional]
        return message

    def _file_dict(self, pending: _PendingFile) -> dict[str, Any]:
        name = pending.filename
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        return {
            "id": pending.id,
            "created": BASE_TS,
            "timestamp": BASE_TS,
            "name": name,
            "title": pending.title or name,
            "mimetype": mimetype,
            "filetype": extension,
            "user": self.bot_user_id,
            "user_team": self.team_id,
            "editable": False,
            "size": len(pending.data or b""),
            "mode": "hosted",
            "is_external": False,
            "is_public": bool(pending.channels),
            "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{pending.id}/{name}",
            "permalink": (
                f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{pending.id}/{name}"
            ),
            "channels": list(pending.channels),
            "groups": [],
            "ims": [],
        }

    def _store_view(self, spec: dict[str, Any], *, view_id: str, root_view_id: str) -> Body:
        view = {
            "id": view_id,
            "team_id": self.team_id,
            "type": spec.get("type"),
            "blocks": spec.get("blocks") or [],
            "private_metadata": spec.get("private_metadata") or "",
            "callback_id": spec.get("callback_id") or "",
            "state": {"values": {}},
            "hash": self._next_hash(),
            "title": spec.get("title"),
            "close": spec.get("close"),
            "submit": spec.get("submit"),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "previous_view_id": None,
            "root_view_id": root_view_id,
            "app_id": self.app_id,
            "external_id": spec.get("external_id") or "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = view
        return view

    def _view_spec(self, args: Args) -> dict[str, Any]:
        spec = args.get("view")
        if not isinstance(spec, dict):
            raise _missing("view")
        if not spec.get("type"):
            raise _missing("view.type")
        return spec

    # ------------------------------------------------------------------ methods

    def _auth_test(self, args: Args) -> Body:
        issued = self._tokens.get(self._current_token or "")
        workspace = self._workspaces.get(issued.team_id) if issued is not None else None
        if workspace is not None:
            return {
                "ok": True,
                "url": f"https://{workspace.team_id.lower()}.slack.com/",
                "team": workspace.name,
                "user": "msp-bot",
                "team_id": workspace.team_id,
                "user_id": workspace.bot_user_id,
                "bot_id": workspace.bot_id,
                "app_id": self.app_id,
                "is_enterprise_install": False,
            }
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Acme MSP",
            "user": "msp-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
        }

    # ------------------------------------------------------------------ OAuth installs

    def grant_install(
        self,
        *,
        team_id: str,
        user_id: str,
        team_name: str | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        """A person approved the install on Slack's page: the one-time code Slack puts
        on the redirect to the app (`?code=...&state=...`)."""
        if team_id not in self._workspaces:
            number = self._next()
            self._workspaces[team_id] = _Workspace(
                team_id=team_id,
                name=team_name or f"Workspace {team_id}",
                bot_user_id=f"UBOT{number:04d}",
                bot_id=f"B{number:05d}",
            )
        code = f"code-{self._next()}-{uuid.UUID(int=self._next()).hex[:8]}"
        self._grants[code] = _Grant(team_id=team_id, user_id=user_id, redirect_uri=redirect_uri)
        return code

    def uninstall(self, team_id: str) -> None:
        """The workspace removed the app: its tokens stop working (Slack then sends
        app_uninstalled and tokens_revoked, which the test sends to the bot)."""
        for issued in self._tokens.values():
            if issued.team_id == team_id:
                issued.revoked = True
        self._refresh_tokens = {
            refresh: team for refresh, team in self._refresh_tokens.items() if team != team_id
        }

    def team_of(self, token: str | None) -> str | None:
        """The workspace a token belongs to (the default token: the fake's own team)."""
        if token == self.bot_token:
            return self.team_id
        issued = self._tokens.get(token or "")
        return issued.team_id if issued is not None else None

    def tokens_of(self, team_id: str) -> list[str]:
        """Every token issued to a workspace, oldest first."""
        return [token for token, issued in self._tokens.items() if issued.team_id == team_id]

    def workspace_bot_user(self, team_id: str) -> str:
        return self._workspaces[team_id].bot_user_id

    def expire_tokens(self, team_id: str) -> None:
        """Make a workspace's tokens expire now (as if their 12 hours had passed)."""
        for issued in self._tokens.values():
            if issued.team_id == team_id and issued.expires_at is not None:
                issued.expires_at = time.time() - 1

    def _authenticate_client(self, request: web.Request, args: Args) -> None:
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header.split(" ", 1)[1]).decode()
            except (ValueError, UnicodeDecodeError) as exc:
                raise SlackError("invalid_client_id") from exc
            client_id, _, client_secret = decoded.partition(":")
        if client_id != self.client_id:
            raise SlackError("invalid_client_id")
        if client_secret != self.client_secret:
            raise SlackError("bad_client_secret")

    def _oauth_v2_access(self, args: Args) -> Body:
        if args.get("grant_type") == "refresh_token":
            team_id = self._refresh_tokens.pop(str(args.get("refresh_token")), None)
            if team_id is None:
                raise SlackError("invalid_refresh_token")
            return self._issue_token(team_id, installer=None)
        grant = self._grants.pop(str(args.get("code") or ""), None)
        if grant is None:
            raise SlackError("invalid_code")
        if grant.redirect_uri is not None and args.get("redirect_uri") != grant.redirect_uri:
            raise SlackError("bad_redirect_uri")
        return self._issue_token(grant.team_id, installer=grant.user_id)

    def _issue_token(self, team_id: str, *, installer: str | None) -> Body:
        workspace = self._workspaces[team_id]
        number = self._next()
        body: Body = {
            "ok": True,
            "token_type": "bot",
            "scope": "commands,chat:write,files:write,im:write,channels:join",
            "bot_user_id": workspace.bot_user_id,
            "app_id": self.app_id,
            "team": {"id": team_id, "name": workspace.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if installer is not None:
            body["authed_user"] = {"id": installer}
        if self.token_rotation:
            token = f"xoxe.xoxb-1-{team_id}-{number}"
            refresh = f"xoxe-1-{team_id}-{number}"
            self._tokens[token] = _IssuedToken(team_id, time.time() + self.token_lifetime_seconds)
            self._refresh_tokens[refresh] = team_id
            body.update(
                access_token=token, refresh_token=refresh, expires_in=self.token_lifetime_seconds
            )
        else:
            token = f"xoxb-{team_id}-{number}"
            self._tokens[token] = _IssuedToken(team_id, None)
            body["access_token"] = token
        return body

    def _apps_connections_open(self, args: Args) -> Body:
        return {"ok": True, "url": self.socket_url}

    def _chat_post_message(self, args: Args) -> Body:
        channel = self._conversation_for_post(args.get("channel"))
        if not any(args.get(key) for key in ("text", "blocks", "attachments")):
            raise SlackError("no_text")
        ts = self._next_ts()
        message = self._message_dict(args, ts)
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, args: Args) -> Body:
        self._conversation_for_post(args.get("channel"))
        if not args.get("user"):
            raise _missing("user")
        if not any(args.get(key) for key in ("text", "blocks", "attachments")):
            raise SlackError("no_text")
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, args: Args) -> Body:
        channel = args.get("channel")
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        ts = args.get("ts")
        if not ts:
            raise _missing("ts")
        # Same normalisation as posting, so updating a DM posted to a user id finds it.
        key = ("D" + channel[1:] if channel[0] in "UW" else channel, str(ts))
        message = self.messages.get(key)
        if message is None:
            raise SlackError("message_not_found")
        if not any(args.get(k) for k in ("text", "blocks", "attachments")):
            raise SlackError("no_text")
        message.update(self._message_dict(args, key[1]))
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": key[0],
            "ts": key[1],
            "text": message["text"],
            "message": message,
        }

    def _views_open(self, args: Args) -> Body:
        if not (args.get("trigger_id") or args.get("interactivity_pointer")):
            raise _missing("trigger_id")
        view_id = f"V{self._next():010d}"
        view = self._store_view(self._view_spec(args), view_id=view_id, root_view_id=view_id)
        return {"ok": True, "view": view}

    def _views_update(self, args: Args) -> Body:
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        if not view_id and not external_id:
            raise _missing("view_id")
        current = self.views.get(str(view_id)) if view_id else self._by_external_id(external_id)
        if current is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        view = self._store_view(
            self._view_spec(args), view_id=current["id"], root_view_id=current["root_view_id"]
        )
        return {"ok": True, "view": view}

    def _by_external_id(self, external_id: Any) -> dict[str, Any] | None:
        return next((v for v in self.views.values() if v["external_id"] == external_id), None)

    def _views_publish(self, args: Args) -> Body:
        user_id = args.get("user_id")
        if not user_id:
            raise _missing("user_id")
        spec = self._view_spec(args)
        current_id = self._home_views.get(user_id)
        current = self.views.get(current_id) if current_id else None
        if current is not None and args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        view_id = current_id or f"V{self._next():010d}"
        view = self._store_view(spec, view_id=view_id, root_view_id=view_id)
        self._home_views[user_id] = view_id
        return {"ok": True, "view": view}

    def _users_info(self, args: Args) -> Body:
        return {"ok": True, "user": self._user_dict(self._known_user(args.get("user")))}

    def _conversations_info(self, args: Args) -> Body:
        return {"ok": True, "channel": self._channel_dict(self._known_channel(args.get("channel")))}

    def _conversations_join(self, args: Args) -> Body:
        channel = self._known_channel(args.get("channel"))
        if channel.is_private:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("is_archived")
        already_member = channel.id in self._channels and channel.is_member
        channel.is_member = True
        body: Body = {"ok": True, "channel": self._channel_dict(channel)}
        if already_member:
            body["warning"] = "already_in_channel"
            body["response_metadata"] = {"warnings": ["already_in_channel"]}
        return body

    def _conversations_open(self, args: Args) -> Body:
        """A DM with one person (`users`): its id is the user id with a D, the same
        conversation a post to the user id lands in."""
        if args.get("channel"):
            return {"ok": True, "channel": {"id": self._known_channel(args["channel"]).id}}
        users = [user for user in str(args.get("users") or "").split(",") if user.strip()]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackError("not_supported")  # multi-person DMs: not needed by the bot
        user = self._known_user(users[0].strip())
        if user.is_bot:
            raise SlackError("cannot_dm_bot")
        return {"ok": True, "channel": {"id": "D" + user.id[1:]}}

    def _files_get_upload_url_external(self, args: Args) -> Body:
        filename = args.get("filename")
        if not filename:
            raise _missing("filename")
        try:
            length = int(args["length"])
        except (KeyError, TypeError, ValueError):
            raise _missing("length") from None
        file_id = f"F{self._next():010d}"
        self._files[file_id] = _PendingFile(id=file_id, filename=str(filename), length=length)
        return {"ok": True, "upload_url": f"{self.root_url}upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: Args) -> Body:
        entries = args.get("files")
        if not isinstance(entries, list) or not entries:
            raise _missing("files")
        channels = self._share_targets(args)
        completed = []
        for entry in entries:
            pending = self._files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            # An id never issued, or issued but never uploaded, cannot be completed.
            if pending is None or pending.data is None:
                raise SlackError("file_not_found")
            pending.title = entry.get("title") or pending.filename
            pending.channels = channels
            completed.append(self._file_dict(pending))
        return {"ok": True, "files": completed}

    def _share_targets(self, args: Args) -> list[str]:
        targets = []
        if args.get("channel_id"):
            targets.append(self._conversation_for_post(args["channel_id"]))
        for channel in str(args.get("channels") or "").split(","):
            if channel.strip():
                targets.append(self._conversation_for_post(channel.strip()))
        return targets

    def _files_upload(self, args: Args) -> Body:
        """Legacy files.upload (v1): `content` (form) or `file` (multipart)."""
        data = args.get("file", args.get("content"))
        if data is None:
            raise SlackError("no_file_data")
        raw = data if isinstance(data, bytes) else str(data).encode()
        file_id = f"F{self._next():010d}"
        pending = _PendingFile(
            id=file_id,
            filename=str(args.get("filename") or "file"),
            length=len(raw),
            title=str(args.get("title") or ""),
            data=raw,
            channels=self._share_targets(args),
        )
        self._files[file_id] = pending
        self.uploaded_files[file_id] = raw
        return {"ok": True, "file": self._file_dict(pending)}


async def _read_upload_bytes(request: web.Request) -> bytes:
    """slack_sdk posts raw bytes; other clients may send multipart: take the first part."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        part = await reader.next()
        while part is not None and not hasattr(part, "read"):
            part = await reader.next()
        return bytes(await part.read()) if part is not None else b""  # type: ignore[union-attr]
    return await request.read()


@contextlib.asynccontextmanager
async def running_fake_slack(**kwargs: Any) -> AsyncIterator[FakeSlack]:
    """`async with running_fake_slack() as fake:` — a started FakeSlack, stopped afterwards."""
    fake = FakeSlack(**kwargs)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
