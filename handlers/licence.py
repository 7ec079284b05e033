"""The MAU licence in Slack (R19): `/msp licence` and `/msp mau [CUSTOMER]`, and the
licence view's controls (customer, month, chart, and Extend, which asks for more
allowance as a request)."""

from __future__ import annotations

import asyncio

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import outbox
from bot.domain import mau as mau_rules
from bot.domain.requests import RequestType
from bot.errors import InvalidInput
from bot.ids import ActionId, BlockId
from bot.payloads import LicenceState, RequestFormState
from bot.results.licence import MauSeries
from bot.services import customers as customer_service
from bot.services import licence as service
from bot.services.tenancy import Requester
from bot.views import charts
from bot.views import licence as views
from bot.views.message import Message
from handlers.deps import Deps
from handlers.kit import Click, FollowUp, Invocation, call_service, click_routes
from handlers.middleware import requester_of
from handlers.payload_types import ActionPayload, InteractionBody, SuggestionPayload
from handlers.registry import Route
from handlers.request_forms import open_request

FEATURE = "Licence"  # the title of the small modals its clicks are answered in

# ---------------------------------------------------------------- /msp subcommands


async def licence_command(call: Invocation) -> Message | FollowUp:
    return await _licence(call.deps, call.requester, LicenceState())


async def mau_command(call: Invocation) -> Message | FollowUp:
    """The numbers, for the person alone, with a button that posts the chart in this
    channel: MSP-wide figures reach a channel only when they choose to, seeing where."""
    query = " ".join(call.args).strip()
    series = await call_service(
        call.deps,
        service.mau_series,
        requester=call.requester,
        now=call.deps.clock(),
        customer_query=query or None,
    )
    channel = str(call.command.get("channel_id", ""))
    return views.mau_message(series, channel_id=channel or None)


async def _licence(deps: Deps, requester: Requester, state: LicenceState) -> Message:
    month = mau_rules.parse_month_key(state.month) if state.month else None
    overview = await call_service(
        deps,
        service.licence_overview,
        requester=requester,
        now=deps.clock(),
        customer_id=state.customer_id,
        month=month,
    )
    return views.licence_message(overview)


async def _post_chart(deps: Deps, requester: Requester, series: MauSeries, channel: str) -> None:
    """Draw the chart off the event loop, then queue its upload to `channel`."""
    chart = views.mau_chart(series)
    png = await asyncio.to_thread(charts.mau_chart_png, chart)
    filename = views.chart_filename(series)
    async with deps.db.unit_of_work() as session:
        await outbox.upload_file(
            session,
            msp_id=requester.msp_id,
            key=outbox.new_key(f"mau-chart:{requester.user_id}"),
            channel=channel,
            filename=filename,
            content=png,
            title=chart.title,
            initial_comment=views.chart_comment(series),
        )
    deps.delivery.wake()


def _channel_of(body: InteractionBody) -> str:
    """The conversation a message button was clicked in."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    if not channel:
        raise InvalidInput("Open the licence view in a channel or DM to post the chart there.")
    return str(channel)


def _selected_month(body: InteractionBody) -> str | None:
    """The month picked in the licence view's month menu, from the message's state
    (Slack sends the state of every menu of the message with each action)."""
    for block in ((body.get("state") or {}).get("values") or {}).values():
        option = (block.get(ActionId.LICENCE_MONTH) or {}).get("selected_option") or {}
        if option.get("value"):
            try:
                return LicenceState.decode(option["value"]).month
            except InvalidInput:
                return None  # an unreadable menu value: fall back to this month
    return None


# ---------------------------------------------------------------- listeners


async def pick_customer(
    ack: AsyncAck,
    action: ActionPayload,
    body: InteractionBody,
    context: AsyncBoltContext,
    respond: AsyncRespond,
    *,
    deps: Deps,
) -> None:
    await ack()
    chosen = LicenceState.decode((action.get("selected_option") or {}).get("value"))
    state = LicenceState(customer_id=chosen.customer_id, month=_selected_month(body))
    await _rerender(deps, respond, context, state)


async def pick_month(
    ack: AsyncAck,
    action: ActionPayload,
    context: AsyncBoltContext,
    respond: AsyncRespond,
    *,
    deps: Deps,
) -> None:
    await ack()
    state = LicenceState.decode((action.get("selected_option") or {}).get("value"))
    await _rerender(deps, respond, context, state)


async def _rerender(
    deps: Deps, respond: AsyncRespond, context: AsyncBoltContext, state: LicenceState
) -> None:
    message = await _licence(deps, requester_of(context), state)
    await respond(response_type="ephemeral", replace_original=True, **message.as_kwargs())


async def post_chart(
    ack: AsyncAck,
    action: ActionPayload,
    body: InteractionBody,
    context: AsyncBoltContext,
    respond: AsyncRespond,
    *,
    deps: Deps,
) -> None:
    """ "Post chart in this channel", on the licence view or `/msp mau`'s answer
    (which then says it was posted, so a second click does not post it again)."""
    await ack()
    state = LicenceState.decode(action.get("value"))
    channel = _channel_of(body)
    requester = requester_of(context)
    series = await call_service(
        deps,
        service.mau_series,
        requester=requester,
        now=deps.clock(),
        customer_id=state.customer_id,
    )
    if not any(series.mau):  # a click from an older answer, or a forged one
        raise InvalidInput(views.NOTHING_TO_CHART)
    await _post_chart(deps, requester, series, channel)
    if action.get("block_id") == BlockId.MAU_CHART:
        posted = views.mau_message(series, channel_id=channel, chart_posted=True)
        await respond(response_type="ephemeral", replace_original=True, **posted.as_kwargs())


async def open_order_form(
    ack: AsyncAck,
    body: InteractionBody,
    context: AsyncBoltContext,
    client: AsyncWebClient,
    respond: AsyncRespond,
    *,
    deps: Deps,
) -> None:
    """R19: "Extend allowance" asks for more MAU allowance, as a request."""
    await ack()
    state = RequestFormState(kind=RequestType.MAU_ALLOWANCE_ORDER)
    await open_request(deps, client, body, respond, requester_of(context), state)


async def open_licence(click: Click) -> None:
    """A MAU notice's "Open licence": `/msp licence` for whoever clicked, below the
    notice (owners and admins; the others are told who may)."""
    await click.say(await _licence(click.deps, click.requester, LicenceState()))


async def suggest_customers(
    ack: AsyncAck, payload: SuggestionPayload, context: AsyncBoltContext, *, deps: Deps
) -> None:
    requester = requester_of(context)
    service.check_can_read_licence(requester)
    rows = await call_service(
        deps,
        customer_service.find,
        requester=requester,
        query=str(payload.get("value", ""))[:100],
        now=deps.clock(),
    )
    await ack(options=views.licence_customer_options(rows))


# ---------------------------------------------------------------- routes


ROUTES: tuple[Route, ...] = (
    Route("action", ActionId.LICENCE_CUSTOMER, pick_customer),
    Route("action", ActionId.LICENCE_MONTH, pick_month),
    Route("action", ActionId.LICENCE_CHART, post_chart),
    Route("action", ActionId.LICENCE_EXTEND, open_order_form),
    Route("options", ActionId.LICENCE_CUSTOMER, suggest_customers),
    *click_routes(FEATURE, {ActionId.LICENCE_OPEN: open_licence}),
)
