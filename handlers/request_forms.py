"""Opening a request: the request modal, or the rules' refusal (with "Schedule for
DATE" where the rule allows asking for a later date). Shared by `/msp request`,
the card's request menu and the list rows' menus."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.payloads import RequestFormState
from bot.services import requests as service
from bot.services.tenancy import Requester
from bot.views import requests as views
from bot.views.message import Message
from handlers.deps import Deps
from handlers.forms import open_or_push
from handlers.payload_types import InteractionBody


async def form_or_refusal(
    deps: Deps, requester: Requester, state: RequestFormState
) -> dict[str, Any] | Message:
    """The request modal, or (when the rules refuse it now but allow asking for a
    later date) the refusal with a "Schedule for DATE" button. A flat refusal raises."""
    async with deps.db.unit_of_work() as session:
        form = await service.start(
            session,
            requester=requester,
            kind=state.kind,
            customer_id=state.customer_id,
            now=deps.clock(),
        )
    later = form.preview.schedule_for
    if not form.preview.allowed and not state.schedule and later is not None:
        scheduled = state.model_copy(update={"schedule": True})
        return views.refusal_message(form.preview.reason, schedule=scheduled, when=later)
    return views.request_modal(form, state)


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
