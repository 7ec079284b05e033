"""Bearer-token authentication for the ingest API: `Authorization: Bearer <token>`,
where the token is one made with `msp-bot tokens create` (docs/API.md). The token
decides which MSP the request may read and write."""

from __future__ import annotations

from aiohttp import hdrs, web

from bot.api.ingest import ApiError
from bot.clock import Clock
from bot.services import api_tokens
from bot.services.api_tokens import ApiCaller
from storage.engine import Database

__all__ = ["ApiCaller", "authenticate_request", "bearer_token"]


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if there is one."""
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate_request(request: web.Request, *, db: Database, clock: Clock) -> ApiCaller:
    """The caller a request's token stands for; raises a 401 ApiError otherwise.

    In a short transaction of its own, so a refused token costs one indexed read
    and a valid one at most one small write (its last use, once a minute)."""
    token = bearer_token(request)
    if token is None:
        raise _unauthorized(
            "Send an API token in the header Authorization: Bearer <token>.", challenge="Bearer"
        )
    async with db.unit_of_work() as session:
        caller = await api_tokens.authenticate(session, token=token, now=clock())
    if caller is None:
        raise _unauthorized(
            "This API token is not valid, or it was revoked. Ask the operator for a new one.",
            challenge='Bearer error="invalid_token"',
        )
    return caller


def _unauthorized(message: str, *, challenge: str) -> ApiError:
    # RFC 6750: no error code when no credentials were sent, "invalid_token" otherwise.
    return ApiError(401, "invalid_token", message, headers={hdrs.WWW_AUTHENTICATE: challenge})
