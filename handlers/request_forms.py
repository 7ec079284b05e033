"""Opening a request: the request modal, or the rules' refusal (with "Schedule for
DATE" where the rule allows asking for a later date), or the request of that type
the customer has open already (with Review). Shared by `/msp request`, the card's
request menu and the list rows' menus; and the modal redrawn as it is filled in."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.customers import Plan
from bot.domain.policy import Change
from bot.payloads import RequestFormState
from bot.results.requests import RequestForm
from bot.services import requests as service
from bot.services.requests import AlreadyOpen
from bot.services.tenancy import Requester
from bot.views import requests as views
from bot.views.fields import Typed
from bot.views.message import Message
from handlers.deps import Deps
from handlers.forms import open_or_push
from handlers.payload_types import InteractionBody


async def form_or_refusal(
    deps: Deps, requester: Requester, state: RequestFormState
) -> dict[str, Any] | Message:
    """The request modal, or (when the rules refuse it now but allow asking for a
    later date) the refusal with a "Schedule for DATE" button, or (when the customer
    has a request of this type open already) that request with Review. A flat
    refusal raises."""
    try:
        form = await _form(deps, requester, state, change=None)
    except AlreadyOpen as already:
        return views.already_open_message(already.info)
    later = form.preview.schedule_for
    if not form.preview.allowed and not state.schedule and later is not None:
        scheduled = state.model_copy(update={"schedule": True})
        return views.refusal_message(form.preview.reason, schedule=scheduled, when=later)
    return views.request_modal(form, state)


async def redrawn_form(
    deps: Deps,
    requester: Requester,
    state: RequestFormState,
    *,
    change: Change | None,
    problem: str | None,
    typed: Typed,
    plan: Plan | None = None,
) -> dict[str, Any] | Message:
    """The request modal again as it is being filled in: its preview for `change`
    (None when what is typed cannot be read: `problem` says why), what was entered
    kept, its fields for the plan chosen (`plan`). A request of this type asked by
    someone else meanwhile is said instead."""
    try:
        form = await _form(deps, requester, state, change=change)
    except AlreadyOpen as already:
        return views.already_open_message(already.info)
    return views.request_modal(form, state, problem=problem, typed=typed, plan=plan)


async def _form(
    deps: Deps, requester: Requester, state: RequestFormState, *, change: Change | None
) -> RequestForm:
    async with deps.db.unit_of_work() as session:
        return await service.start(
            session,
            requester=requester,
            kind=state.kind,
            customer_id=state.customer_id,
            now=deps.clock(),
            change=change,
        )


async def open_request(
    deps: Deps,
    client: AsyncWebClient,
    body: InteractionBody,
    respond: AsyncRespond | None,
    requester: Requester,
    state: RequestFormState,
) -> None:
    """From a click: the modal opens (or stacks), a refusal is answered below the
    message (or, on the Home tab and in modals, the caller shows it)."""
    result = await form_or_refusal(deps, requester, state)
    if isinstance(result, Message):
        if respond is None:
            await open_or_push(client, body, views.refusal_modal(result))
        else:
            await respond(response_type="ephemeral", replace_original=False, **result.as_kwargs())
    else:
        await open_or_push(client, body, result)
