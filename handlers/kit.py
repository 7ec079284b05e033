"""What every handler module builds on: a `/msp` subcommand call (`Invocation`) and
the work it leaves for after the ack (`FollowUp`, `AnswerThen`); clicks (`Click`,
`click_listener`, `click_routes`), whose refusals are answered where the person is,
in a modal titled by the feature that refused; redrawing the modal a click came from
(`update_in_place`); and one service call in a unit of work of its own
(`call_service`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import BotError
from bot.services.tenancy import Requester
from bot.views.message import Message
from bot.views.notices import refusal_message, refusal_modal
from bot.views.requests import notice_modal as message_modal
from handlers.deps import Deps
from handlers.forms import in_modal, open_or_push
from handlers.middleware import requester_of
from handlers.payload_types import ActionPayload, CommandPayload, InteractionBody
from handlers.registry import Listener, Route

P = ParamSpec("P")
T = TypeVar("T")

FollowUp = Callable[[], Awaitable[None]]


# ---------------------------------------------------------------- /msp subcommands


@dataclass(frozen=True, slots=True)
class AnswerThen:
    """An answer to ack with at once, and work to do right after the ack (work too
    slow to come before it, such as building a file)."""

    answer: Message
    then: FollowUp


@dataclass(frozen=True, slots=True)
class Invocation:
    """One `/msp` subcommand call, as the subcommand functions need it."""

    context: AsyncBoltContext
    command: CommandPayload
    args: list[str]
    deps: Deps
    client: AsyncWebClient
    respond: AsyncRespond

    @property
    def requester(self) -> Requester:
        return requester_of(self.context)


# ---------------------------------------------------------------- clicks


@dataclass(frozen=True, slots=True)
class Click:
    """A click on a button or menu, with what answering it needs."""

    action: ActionPayload
    body: InteractionBody
    context: AsyncBoltContext
    client: AsyncWebClient
    respond: AsyncRespond | None  # None on the Home tab and in modals: no response_url there
    deps: Deps
    feature: str  # the title of the small modals it is answered in ("Alerts", ...)

    @property
    def in_modal(self) -> bool:
        return in_modal(self.body)

    @property
    def value(self) -> str | None:
        return chosen_value(self.action)

    @property
    def requester(self) -> Requester:
        return requester_of(self.context)

    async def say(self, message: Message) -> None:
        """Answer below the message clicked, or (Home tab, modals) in a small modal."""
        if self.respond is not None:
            await self.respond(
                response_type="ephemeral", replace_original=False, **message.as_kwargs()
            )
        else:
            await open_or_push(self.client, self.body, message_modal(message, title=self.feature))


ClickAnswer = Callable[[Click], Awaitable[None]]


def click_listener(answer: ClickAnswer, *, feature: str) -> Listener:
    """A listener that acks at once, then answers; a refusal on the Home tab or in a
    modal is shown there, titled `feature` (see `_refusals_answered`)."""

    async def listener(
        ack: AsyncAck,
        body: InteractionBody,
        action: ActionPayload,
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: AsyncRespond | None = None,
        *,
        deps: Deps,
    ) -> None:
        await ack()
        # Bolt hands Home tab and modal clicks a `respond` too, one that raises (there
        # is no response_url there): None, as Click says, so answers go to a modal.
        if "view" in body:
            respond = None
        click = Click(action, body, context, client, respond, deps, feature)
        async with _refusals_answered(click):
            await answer(click)

    listener.__name__ = answer.__name__  # Bolt names listeners in its logs
    return listener


def click_routes(feature: str, answers: Mapping[str, ClickAnswer]) -> tuple[Route, ...]:
    """Route table rows for a feature's clicks: action id -> what answers it."""
    return tuple(
        Route("action", action_id, click_listener(answer, feature=feature))
        for action_id, answer in answers.items()
    )


def chosen_value(action: ActionPayload) -> str | None:
    """A button's value, or the value of the option chosen in a menu."""
    return action.get("value") or (action.get("selected_option") or {}).get("value")


@asynccontextmanager
async def _refusals_answered(click: Click) -> AsyncIterator[None]:
    """A refusal after the ack is answered here: below the message (response_url),
    or, on the Home tab and in modals (no response_url), in a small modal titled by
    the feature that refused.

    Not left to the error handler: Bolt (1.30) resets its record of the ack when a
    listener raises after acking, and a listener that acks and raises before its
    first real await (a stale button's value) then looks unacknowledged: Slack
    would see a 404 after 3 s (found by tests/resilience)."""
    try:
        yield
    except BotError as refusal:
        if "view" not in click.body and click.respond is not None:
            message = refusal_message(refusal.sentence)
            await click.respond(
                response_type="ephemeral", replace_original=False, **message.as_kwargs()
            )
            return
        await open_or_push(
            click.client, click.body, refusal_modal(refusal.sentence, title=click.feature)
        )


async def update_in_place(
    client: AsyncWebClient, body: InteractionBody, view: dict[str, Any]
) -> None:
    """Redraw the modal the click came from. With the hash Slack refuses to replace a
    modal that changed since this click's copy: a newer click redrew it, and that
    newer list stands, so this refusal is dropped."""
    shown = body["view"]
    try:
        await client.views_update(view_id=shown["id"], hash=shown.get("hash"), view=view)
    except SlackApiError as error:
        if error.response.get("error") != "hash_conflict":
            raise


# ---------------------------------------------------------------- services


async def call_service(
    deps: Deps,
    use_case: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """One service call in a unit of work of its own, the shape of most answers:
    `call_service(deps, service.show, requester=..., customer_id=..., now=...)`,
    whose result the caller renders. Work that needs two calls in one transaction
    opens the unit of work itself."""
    async with deps.db.unit_of_work() as session:
        return await use_case(session, *args, **kwargs)
