"""Alerts in Slack: the buttons on each alert message (Acknowledge, Resolve,
Snooze, Open customer), the menu on each listed alert, a storm digest's "List
all", and `/msp alerts [open|all] [CUSTOMER]`."""

from __future__ import annotations

from bot.ids import ActionId
from bot.payloads import AlertChoice, AlertListRef, CustomerRef
from bot.services import alert_actions as service
from bot.services import customers as customer_service
from bot.services.alert_actions import AlreadyHandled
from bot.views import alerts as views
from bot.views.message import Message
from handlers.customers import show_card
from handlers.forms import open_or_push
from handlers.kit import Click, FollowUp, Invocation, call_service, click_routes, update_in_place
from handlers.registry import Route

FEATURE = "Alerts"  # the title of the small modals its clicks are answered in
WHICH_WORDS = {"open": True, "all": False}


# ---------------------------------------------------------------- /msp alerts


async def alerts_command(call: Invocation) -> Message | FollowUp:
    args = list(call.args)
    open_only = True
    if args and args[0].lower() in WHICH_WORDS:
        open_only = WHICH_WORDS[args.pop(0).lower()]
    query = " ".join(args).strip()
    requester = call.requester
    async with call.deps.db.unit_of_work() as session:
        customer = None
        if query:
            customer = await customer_service.find_one(
                session, requester=requester, query=query, now=call.deps.clock(), example="alerts"
            )
        listing = await service.list_alerts(
            session,
            requester=requester,
            open_only=open_only,
            customer_id=customer.id if customer else None,
            customer_name=customer.name if customer else None,
        )
    return views.alerts_message(
        alerts=listing.alerts,
        by_severity=listing.by_severity,
        open_only=listing.open_only,
        customer_name=listing.customer_name,
    )


# ---------------------------------------------------------------- clicks


async def act(click: Click) -> None:
    """Acknowledge, Resolve, a Snooze option, or a listed alert's menu. The alert's
    messages everywhere are updated through the outbox; a listing or digest modal
    the click came from is redrawn."""
    choice = AlertChoice.decode(click.value)
    deps = click.deps
    try:
        info = await call_service(
            deps,
            service.act,
            requester=click.requester,
            alert_id=choice.alert_id,
            action=choice.action,
            hours=choice.hours,
            now=deps.clock(),
            notifier=deps.notifiers.alerts,
        )
    except AlreadyHandled as handled:
        await click.say(views.already_handled_message(handled.info, choice.action))
        return
    deps.delivery.wake()
    if click.in_modal:
        await _redraw_list(click)
    elif click.action.get("action_id") == ActionId.ALERT_ROW_MENU:
        # A `/msp alerts` row: that listing is ephemeral, so say what happened.
        await click.say(views.acted_message(info))


async def open_customer(click: Click) -> None:
    await show_card(click, CustomerRef.decode(click.value).customer_id)


async def list_all(click: Click) -> None:
    """A digest's "List all": every alert it merged, as it is now."""
    ref = AlertListRef.decode(click.value)
    alerts = await call_service(
        click.deps, service.alerts_by_ids, requester=click.requester, alert_ids=ref.alert_ids
    )
    await open_or_push(click.client, click.body, views.alert_list_modal(alerts, ref))


async def _redraw_list(click: Click) -> None:
    metadata = (click.body.get("view") or {}).get("private_metadata")
    if not metadata:
        return
    ref = AlertListRef.decode(metadata)
    alerts = await call_service(
        click.deps, service.alerts_by_ids, requester=click.requester, alert_ids=ref.alert_ids
    )
    await update_in_place(click.client, click.body, views.alert_list_modal(alerts, ref))


# ---------------------------------------------------------------- routes


ROUTES: tuple[Route, ...] = click_routes(
    FEATURE,
    {
        ActionId.ALERT_ACKNOWLEDGE: act,
        ActionId.ALERT_RESOLVE: act,
        ActionId.ALERT_SNOOZE: act,
        ActionId.ALERT_ROW_MENU: act,
        ActionId.ALERT_OPEN_CUSTOMER: open_customer,
        ActionId.ALERT_LIST_ALL: list_all,
    },
)
