"""Who and what a log line is about: the request, team and user ids of the work
running now, kept in context variables (asyncio copies them into the tasks a
request starts, so a listener's follow-up work logs them too)."""

from __future__ import annotations

import secrets
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
team_id: ContextVar[str | None] = ContextVar("team_id", default=None)
user_id: ContextVar[str | None] = ContextVar("user_id", default=None)


def new_request_id() -> str:
    return secrets.token_hex(6)


def start_request() -> str:
    """A new request: its id, and no team or user until the middleware knows them."""
    rid = new_request_id()
    request_id.set(rid)
    team_id.set(None)
    user_id.set(None)
    return rid


def fields() -> dict[str, str]:
    """The ids known now, for a log record (none is left out as null)."""
    known = {"request_id": request_id.get(), "team_id": team_id.get(), "user_id": user_id.get()}
    return {name: value for name, value in known.items() if value}
