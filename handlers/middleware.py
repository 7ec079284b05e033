"""Tenant and role resolution for every request.

Puts a `Requester` in `context["requester"]`. People who are not on the MSP's
staff get a friendly reply and never reach a listener, so no listener can leak
data to them; events pass through (the Home tab explains the situation itself).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot import log_context
from bot.services.tenancy import Requester, resolve_requester
from bot.views.notices import not_staff_message
from handlers.deps import Deps

REQUESTER = "requester"


def requester_of(context: AsyncBoltContext) -> Requester:
    requester = context.get(REQUESTER)
    if not isinstance(requester, Requester):
        raise LookupError("no requester in context: the tenant middleware did not run")
    return requester


def register(app: AsyncApp, deps: Deps) -> None:
    async def resolve_tenant_and_role(
        context: AsyncBoltContext,
        body: dict[str, Any],
        next: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        team_id = context.team_id or context.enterprise_id
        user_id = context.user_id
        if log_context.request_id.get() is None:  # Socket Mode: no HTTP request started one
            log_context.start_request()
        log_context.team_id.set(team_id)
        log_context.user_id.set(user_id)
        if team_id and user_id:
            requester = deps.requesters.get(team_id, user_id) or await _look_up(
                deps, team_id, user_id
            )
            context[REQUESTER] = requester
            if not requester.is_staff and not _is_event(body):
                return _turn_away(body, context.respond, deps)
        await next()
        return None

    app.middleware(resolve_tenant_and_role)


async def _look_up(deps: Deps, team_id: str, user_id: str) -> Requester:
    async with deps.db.unit_of_work() as session:
        requester = await resolve_requester(
            session,
            team_id=team_id,
            user_id=user_id,
            bootstrap_owners=deps.bootstrap_owners,
            timezone=deps.default_timezone,
            now=deps.clock(),
        )
    deps.requesters.put(requester)
    return requester


def _is_event(body: dict[str, Any]) -> bool:
    return body.get("type") == "event_callback"


def _turn_away(body: dict[str, Any], respond: AsyncRespond | None, deps: Deps) -> BoltResponse:
    """Answer someone who is not staff, in the way each kind of request allows."""
    message = not_staff_message()
    if "command" in body:
        reply = {"response_type": "ephemeral", **message.as_kwargs()}
        return BoltResponse(status=200, body=json.dumps(reply))
    if body.get("type") == "block_suggestion":
        return BoltResponse(status=200, body=json.dumps({"options": []}))
    if respond is not None:
        # Buttons in messages carry a response_url; answer there after acking.
        deps.in_flight.spawn(
            respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())
        )
    return BoltResponse(status=200, body="")
