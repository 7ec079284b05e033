"""Subscriptions in Slack: `/msp subscribe ...`, `/msp unsubscribe ...`,
`/msp subscriptions` (a list with Remove buttons and "New subscription"), and the
subscription modal."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import subscriptions as subscription_rules
from bot.domain.alert_groups import DEFAULT_GROUPING, Grouping, parse_grouping
from bot.domain.subscriptions import ME, SubscriptionSpec, Topic
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import CustomerRef, SubscriptionFormState, SubscriptionRef
from bot.results.subscriptions import SubscriptionList, SubscriptionRow
from bot.services import subscriptions as service
from bot.services.tenancy import Requester
from bot.views import subscriptions as views
from bot.views.message import Message
from handlers.deps import Deps
from handlers.forms import Form, errors_response, open_or_push
from handlers.kit import Click, FollowUp, Invocation, call_service, click_routes
from handlers.middleware import requester_of
from handlers.payload_types import CommandPayload, ViewPayload
from handlers.registry import Route

FEATURE = "Subscriptions"  # the title of the small modals its clicks are answered in
_BY_ID = re.compile(r"^#?(\d{1,9})$")


# ---------------------------------------------------------------- /msp subcommands


async def subscribe_command(call: Invocation) -> Message | FollowUp:
    spec = subscription_rules.parse_subscription(" ".join(call.args))
    row = await call_service(
        call.deps,
        service.subscribe,
        requester=call.requester,
        spec=spec,
        here=_here(call.command),
        now=call.deps.clock(),
        person_timezone=await _zone_for(spec, call.deps, call.client, call.requester),
    )
    return views.subscribed_message(row)


async def _zone_for(
    spec: SubscriptionSpec, deps: Deps, client: AsyncWebClient, requester: Requester
) -> str | None:
    """The person's own zone, looked up only when there are quiet hours to read in it."""
    if spec.quiet_start is None:
        return None
    return await deps.time_zones.of(client, team_id=requester.team_id, user_id=requester.user_id)


async def unsubscribe_command(call: Invocation) -> Message | FollowUp:
    """`/msp unsubscribe #ID`, or the same words the subscription was made with."""
    requester = call.requester
    by_id = _BY_ID.match(call.args[0]) if len(call.args) == 1 else None
    async with call.deps.db.unit_of_work() as session:
        if by_id is not None:
            row = await service.remove(
                session, requester=requester, subscription_id=int(by_id[1]), now=call.deps.clock()
            )
        else:
            row = await service.unsubscribe(
                session,
                requester=requester,
                spec=subscription_rules.parse_subscription(" ".join(call.args)),
                here=_here(call.command),
                now=call.deps.clock(),
            )
    return views.unsubscribed_message(row)


async def subscriptions_command(call: Invocation) -> Message | FollowUp:
    if call.args:
        raise InvalidInput("Usage: /msp subscriptions (no words after it).")
    listing = await call_service(call.deps, service.list_subscriptions, requester=call.requester)
    return views.subscriptions_message(listing)


def _here(command: CommandPayload) -> str:
    return str(command.get("channel_id", ""))[:32]


# ---------------------------------------------------------------- the list's buttons


async def remove_row(click: Click) -> None:
    await _change_and_list(
        click,
        service.remove,
        lambda listing, _removed, row: views.subscriptions_message(
            listing, notice=views.removed_notice(row), undo=row
        ),
    )


async def undo_removal(click: Click) -> None:
    """Undo, beside a removal: the subscription again, with the filters it had."""
    await _change_and_list(
        click,
        service.restore,
        lambda listing, removed, row: views.subscriptions_message(
            listing, notice=views.restored_notice(removed, row)
        ),
    )


async def _change_and_list(
    click: Click,
    change: Callable[..., Awaitable[SubscriptionRow]],
    answer: Callable[[SubscriptionList, int, SubscriptionRow], Message],
) -> None:
    """A list button's change to one subscription, answered with the list as it is
    now, in place of the one clicked."""
    ref = SubscriptionRef.decode(click.value)
    requester = click.requester
    async with click.deps.db.unit_of_work() as session:
        row = await change(
            session,
            requester=requester,
            subscription_id=ref.subscription_id,
            now=click.deps.clock(),
        )
        listing = await service.list_subscriptions(session, requester=requester)
    message = answer(listing, ref.subscription_id, row)
    if click.respond is not None:
        await click.respond(response_type="ephemeral", replace_original=True, **message.as_kwargs())
    else:
        await click.say(message)


async def open_new_form(click: Click) -> None:
    listing = await call_service(click.deps, service.list_subscriptions, requester=click.requester)
    channel = str((click.body.get("channel") or {}).get("id", ""))[:32]
    view = views.subscription_modal(
        can_subscribe_channels=listing.can_subscribe_channels,
        state=SubscriptionFormState(channel=channel if channel[:1] in ("C", "G") else ""),
    )
    await open_or_push(click.client, click.body, view)


# ---------------------------------------------------------------- the modal


def _picked_ids(form: Form, block_id: str) -> tuple[int, ...]:
    def customer_id(value: str) -> int:
        try:
            return CustomerRef.decode(value).customer_id
        except InvalidInput as error:  # flagged on its picker, not on no block at all
            raise InvalidInput(error.message, field=block_id) from None

    return tuple(
        form.check(lambda value=value: customer_id(value), 0) for value in form.options(block_id)
    )


def read_form(form: Form) -> tuple[SubscriptionSpec, service.Picked]:
    """The modal's fields; errors are collected on the form, by block id."""
    target = form.conversation(BlockId.SUBSCRIPTION_TARGET)
    if target is not None and not subscription_rules.is_channel_id(target):
        form.errors[BlockId.SUBSCRIPTION_TARGET] = "Pick a channel (not a person or a DM)."
        target = None
    quiet = _quiet(form, for_channel=target is not None)
    spec = SubscriptionSpec(
        target=target or ME,
        topics=_topics(form),
        min_severity=_severity(form),
        kinds=_kinds(form),
        quiet_start=quiet[0] if quiet else None,
        quiet_end=quiet[1] if quiet else None,
        grouping=_grouping(form),
    )
    picked = service.Picked(
        include=_picked_ids(form, BlockId.SUBSCRIPTION_CUSTOMERS),
        exclude=_picked_ids(form, BlockId.SUBSCRIPTION_EXCLUDED),
    )
    if set(picked.include) & set(picked.exclude):  # on the picker, not on the topics
        form.errors[BlockId.SUBSCRIPTION_EXCLUDED] = (
            "A customer cannot be both included and excluded."
        )
    return spec, picked


def _topics(form: Form) -> tuple[Topic, ...]:
    known = {topic.value for topic in Topic}
    chosen = form.options(BlockId.SUBSCRIPTION_TOPICS)
    topics = tuple(dict.fromkeys(Topic(t) for t in chosen if t in known))
    if not topics or len(topics) < len(set(chosen)):  # a value the modal never offered
        form.errors[BlockId.SUBSCRIPTION_TOPICS] = "Pick at least one topic from the list."
    return topics


def _severity(form: Form) -> str | None:
    chosen = form.selected(BlockId.SUBSCRIPTION_SEVERITY)
    if chosen is None or chosen == views.ALL_SEVERITIES:
        return None
    return form.check(
        lambda: subscription_rules.parse_severity(chosen, field=BlockId.SUBSCRIPTION_SEVERITY), None
    )


def _grouping(form: Form) -> Grouping:
    chosen = form.selected(BlockId.SUBSCRIPTION_GROUPING)
    if chosen is None:
        return DEFAULT_GROUPING
    return form.check(
        lambda: parse_grouping(chosen, field=BlockId.SUBSCRIPTION_GROUPING), DEFAULT_GROUPING
    )


def _kinds(form: Form) -> tuple[str, ...]:
    text = (form.text(BlockId.SUBSCRIPTION_KINDS) or "").strip()
    if not text:
        return ()
    kinds = form.check(
        lambda: subscription_rules.parse_kinds(text, field=BlockId.SUBSCRIPTION_KINDS), []
    )
    return tuple(kinds)


def _quiet(form: Form, *, for_channel: bool) -> tuple[str, str] | None:
    text = (form.text(BlockId.SUBSCRIPTION_QUIET) or "").strip()
    if not text:
        return None
    if for_channel:
        form.errors[BlockId.SUBSCRIPTION_QUIET] = "Quiet hours are for you, not for channels."
        return None
    return form.check(
        lambda: subscription_rules.parse_quiet_hours(text, field=BlockId.SUBSCRIPTION_QUIET), None
    )


def _field_of(error: Exception) -> str:
    """Where a service's refusal goes in the modal."""
    if isinstance(error, NotAllowed):
        return BlockId.SUBSCRIPTION_TARGET
    if isinstance(error, NotFound):
        return BlockId.SUBSCRIPTION_CUSTOMERS
    return BlockId.SUBSCRIPTION_TOPICS


# ---------------------------------------------------------------- listeners


async def submit_form(
    ack: AsyncAck, view: ViewPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    form = Form(view)
    spec, picked = read_form(form)
    if form.errors:
        await ack(**errors_response(form.errors))
        return
    requester = requester_of(context)
    try:
        row = await call_service(
            deps,
            service.subscribe,
            requester=requester,
            spec=spec,
            here="",  # the modal names its conversation, or none (me)
            now=deps.clock(),
            picked=picked,
            person_timezone=await _zone_for(spec, deps, context.client, requester),
        )
    except (InvalidInput, NotAllowed, NotFound) as refusal:
        await ack(**errors_response({_field_of(refusal): refusal.message}))
        return
    await ack(response_action="update", view=views.subscribed_modal(row))


# ---------------------------------------------------------------- routes


ROUTES: tuple[Route, ...] = (
    Route("view", CallbackId.SUBSCRIPTION_FORM, submit_form),
    *click_routes(
        FEATURE,
        {
            ActionId.SUBSCRIPTION_REMOVE: remove_row,
            ActionId.SUBSCRIPTION_UNDO: undo_removal,
            ActionId.SUBSCRIPTION_NEW: open_new_form,
        },
    ),
)
