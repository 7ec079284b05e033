"""Alerts in Slack: the buttons on each alert message (Acknowledge, Resolve,
Snooze, Open customer), the menu on each listed alert, a storm digest's "List
all", and `/msp alerts [open|all] [CUSTOMER]`."""

from __future__ import annotations

from bot.domain.alerts import BULK_ACTIONS, Severity, ShownStatus
from bot.domain.roles import can_act_on_alerts
from bot.domain.subscriptions import parse_severity_word
from bot.errors import InvalidInput
from bot.ids import ActionId
from bot.payloads import AlertBulk, AlertChoice, AlertListRef, AlertQuery, CustomerRef
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
FILTERS = ("status", "severity")
STATUS_WORDS = {status.value: status for status in ShownStatus}


# ---------------------------------------------------------------- /msp alerts


def read_words(args: list[str]) -> tuple[AlertQuery, str]:
    """`[open|firing|acknowledged|snoozed|resolved|all] [severity>=LEVEL] [CUSTOMER]`,
    the words in any order before the customer's name."""
    status, severity = ShownStatus.OPEN, None
    words = list(args)
    while words:
        word = words[0].lower().replace("&gt;", ">")
        if word in STATUS_WORDS:
            status = STATUS_WORDS[word]
        elif word.startswith("severity"):
            severity = _severity(word)
        else:
            break
        words.pop(0)
    return AlertQuery(status=status, severity=severity), " ".join(words).strip()


def _severity(word: str) -> Severity:
    try:
        return Severity(parse_severity_word(word))
    except InvalidInput:
        levels = ", ".join(severity.value for severity in Severity)
        raise InvalidInput(
            f"Write the lowest severity as severity>=LEVEL, with LEVEL one of {levels}. "
            "Try: /msp alerts open severity>=high"
        ) from None


async def alerts_command(call: Invocation) -> Message | FollowUp:
    query, name = read_words(list(call.args))
    requester = call.requester
    async with call.deps.db.unit_of_work() as session:
        customer = None
        if name:
            customer = await customer_service.find_one(
                session, requester=requester, query=name, now=call.deps.clock(), example="alerts"
            )
            query = query.model_copy(update={"customer_id": customer.id})
        listing = await service.list_alerts(
            session,
            requester=requester,
            query=query,
            customer_name=customer.name if customer else None,
        )
    return views.alerts_message(listing)


async def _listing(click: Click, query: AlertQuery) -> Message:
    async with click.deps.db.unit_of_work() as session:
        name = None
        if query.customer_id is not None:
            card = await customer_service.show(
                session,
                requester=click.requester,
                customer_id=query.customer_id,
                now=click.deps.clock(),
            )
            name = card.name
        listing = await service.list_alerts(
            session, requester=click.requester, query=query, customer_name=name
        )
    return views.alerts_message(listing)


async def show_page(click: Click) -> None:
    """A status or severity menu, Previous or Next: the listing again, in place."""
    await _replace(click, await _listing(click, AlertQuery.decode(click.value)))


async def act_on_all(click: Click) -> None:
    """Acknowledge all or Resolve all (after Slack's confirm): what happened, and
    the listing redrawn as it now is."""
    bulk = AlertBulk.decode(click.value)
    deps = click.deps
    outcome = await call_service(
        deps,
        service.act_on_all,
        requester=click.requester,
        query=bulk.query,
        action=bulk.action,
        now=deps.clock(),
        notifier=deps.notifiers.alerts,
    )
    deps.delivery.wake()
    await _replace(click, await _listing(click, bulk.query))
    await click.say(views.bulk_done_message(outcome))


async def _replace(click: Click, message: Message) -> None:
    if click.respond is not None:
        await click.respond(response_type="ephemeral", replace_original=True, **message.as_kwargs())


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
    listing = views.listing_of_row(str(click.action.get("block_id", "")))
    if click.in_modal:
        await _redraw_list(click)
    elif listing is not None:  # a `/msp alerts` row: the listing, as it now is
        await _replace(click, await _listing(click, listing))
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
    can_act = can_act_on_alerts(click.requester.role)
    await open_or_push(
        click.client, click.body, views.alert_list_modal(alerts, ref, can_act=can_act)
    )


async def _redraw_list(click: Click) -> None:
    metadata = (click.body.get("view") or {}).get("private_metadata")
    if not metadata:
        return
    ref = AlertListRef.decode(metadata)
    alerts = await call_service(
        click.deps, service.alerts_by_ids, requester=click.requester, alert_ids=ref.alert_ids
    )
    can_act = can_act_on_alerts(click.requester.role)
    await update_in_place(
        click.client, click.body, views.alert_list_modal(alerts, ref, can_act=can_act)
    )


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
        **{f"{ActionId.ALERT_LIST_FILTER}.{which}": show_page for which in FILTERS},
        f"{ActionId.ALERT_LIST_PAGE}.previous": show_page,
        f"{ActionId.ALERT_LIST_PAGE}.next": show_page,
        **{f"{ActionId.ALERT_LIST_BULK}.{action.value}": act_on_all for action in BULK_ACTIONS},
    },
)
