"""Tenant and role resolution for every request.

Puts a `Requester` in `context["requester"]`. People who are not on the MSP's
staff get a friendly reply and never reach a listener, so no listener can leak
data to them; events pass through (the Home tab explains the situation itself).

A one-workspace bot first turns away requests from any other workspace or
organisation, before anything is read or written: a valid signature only says the
request came through this Slack app, not that it is for this bot's workspace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot import log_context
from bot.home_workspace import HomeWorkspace
from bot.services import staff
from bot.services.tenancy import Requester, resolve_requester
from bot.views.message import Message
from bot.views.notices import not_staff_message
from bot.views.workspace import other_workspace_message, workspace_unconfirmed_message
from handlers.ack_deadline import before_the_deadline
from handlers.deps import Deps
from handlers.payload_types import RequestBody

REQUESTER = "requester"

logger = logging.getLogger(__name__)


def requester_of(context: AsyncBoltContext) -> Requester:
    requester = context.get(REQUESTER)
    if not isinstance(requester, Requester):
        raise LookupError("no requester in context: the tenant middleware did not run")
    return requester


def register(app: AsyncApp, deps: Deps) -> None:
    async def resolve_tenant_and_role(
        context: AsyncBoltContext,
        body: RequestBody,
        next: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        team_id = context.team_id or context.enterprise_id
        user_id = context.user_id
        if log_context.request_id.get() is None:  # Socket Mode: no HTTP request started one
            log_context.start_request()
        log_context.team_id.set(team_id)
        log_context.user_id.set(user_id)
        if deps.home_workspace is not None:
            refusal = await _not_our_workspace(deps.home_workspace, context)
            if refusal is not None:
                return _turn_away(body, context, deps, refusal)
        if team_id and user_id:
            requester = deps.requesters.get(team_id, user_id) or await before_the_deadline(
                _look_up(deps, team_id, user_id)
            )
            context[REQUESTER] = requester
            if not requester.is_staff and not _is_event(body):
                # Whom to ask is read only for an answer someone reads (see _turn_away).
                shown = "command" in body or context.response_url is not None
                ask = await before_the_deadline(_whom_to_ask(deps, requester)) if shown else []
                return _turn_away(body, context, deps, not_staff_message(ask))
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
    deps.requesters.remember(requester)
    return requester


async def _whom_to_ask(deps: Deps, requester: Requester) -> list[str]:
    async with deps.db.unit_of_work() as session:
        return await staff.whom_to_ask(session, requester=requester)


async def _not_our_workspace(home: HomeWorkspace, context: AsyncBoltContext) -> Message | None:
    """The reply for a request from another workspace or organisation (or from any,
    while Slack has not confirmed which one the token belongs to); None to serve it."""
    identity = await home.identity()
    if identity is None:
        return workspace_unconfirmed_message()
    if identity.serves(team_id=context.team_id, enterprise_id=context.enterprise_id):
        return None
    logger.warning(
        "refused a request from another workspace (team %s, organisation %s)",
        context.team_id,
        context.enterprise_id,
    )
    return other_workspace_message()


def _is_event(body: RequestBody) -> bool:
    return body.get("type") == "event_callback"


def _turn_away(
    body: RequestBody, context: AsyncBoltContext, deps: Deps, message: Message
) -> BoltResponse:
    """Answer a request that goes no further, in the way each kind of request allows:
    in the command's response, with no options, in a message's response_url, or
    (events, modal submissions) with a bare acknowledgement."""
    if _is_event(body):
        return BoltResponse(status=200, body="")
    if "command" in body:
        reply = {"response_type": "ephemeral", **message.as_kwargs()}
        return BoltResponse(status=200, body=json.dumps(reply))
    if body.get("type") == "block_suggestion":
        return BoltResponse(status=200, body=json.dumps({"options": []}))
    respond = context.respond
    if context.response_url is not None and respond is not None:
        # Buttons in messages carry a response_url; answer there after acking. A
        # modal or the Home tab has none: there is nowhere to answer.
        deps.in_flight.spawn(
            respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())
        )
    return BoltResponse(status=200, body="")
