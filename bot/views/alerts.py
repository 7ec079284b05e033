"""Alerts on screen: the message each subscribed conversation gets (updated in
place as the alert repeats, changes state or is resolved, with Acknowledge,
Resolve, Snooze and Open customer), `/msp alerts`, a storm digest and its "List
all" modal. Pure functions; titles, details and names are the senders' text, so
they are escaped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.domain.alerts import (
    BULK_ACTIONS,
    BULK_LIMIT,
    SNOOZE_HOURS,
    AlertAction,
    AlertLink,
    AlertStatus,
    Severity,
    ShownStatus,
    actions_for,
)
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import AlertBulk, AlertChoice, AlertListRef, AlertQuery, CustomerRef
from bot.results.alerts import AlertGroupSummary, AlertInfo, AlertListing, BulkOutcome
from bot.views.message import Message
from bot.views.modal import modal
from bot.views.mrkdwn import Mrkdwn, escape, join, mention, mrkdwn, number
from bot.views.request_history import stamp

SEVERITY_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.LOW: ":large_blue_circle:",
    Severity.INFO: ":white_circle:",
}
# Raw characters: escaped, each becomes at most five, so a section stays under 3,000.
MAX_SHOWN_DETAILS = 500
MAX_SHOWN_LABEL = 60
MAX_SHOWN_LINKS = 5


def alert_message(alert: AlertInfo, group: AlertGroupSummary | None = None) -> Message:
    """Built as plain Block Kit dicts, not slack_sdk's models: a storm renders
    thousands of these, and the models' validation was a third of the ingest's time
    (bench/alerts.py). Slack's limits still hold: every text is clipped above.

    `group`: this message is the parent of alerts threaded under it; it says how
    many, the worst severity among them and when the latest came."""
    blocks: list[dict[str, Any]] = [
        _section(_headline(alert)),
        _context(_facts(alert)),
    ]
    if group is not None and group.count > 1:
        blocks.append(_context(group_line(alert, group)))
    if alert.details.strip():
        blocks.append(_section(_details(alert.details)))
    if alert.links:
        blocks.append(_context(_links(alert.links)))
    buttons = _buttons(alert)
    if buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"{BlockId.ALERT_ACTIONS}.{alert.id}",
                "elements": buttons,
            }
        )
    return Message.of(_notification(alert), blocks)


def group_line(alert: AlertInfo, group: AlertGroupSummary) -> Mrkdwn:
    """ ":thread: 12 alerts for Acme in the thread · worst :red_circle: critical · latest …"."""
    kind = mrkdwn(" `{kind}`", kind=group.kind) if group.kind else ""
    return mrkdwn(
        ":thread: *{count}{kind} alerts* for {customer} in this message's thread · "
        "worst {emoji} {worst} · latest {latest}",
        count=number(group.count),
        kind=kind,
        customer=alert.customer_name or "no customer",
        emoji=SEVERITY_EMOJI[group.worst],
        worst=group.worst.value,
        latest=stamp(group.last_at),
    )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button = {"type": "button", "text": _plain(text), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def _notification(alert: AlertInfo) -> Mrkdwn:
    return mrkdwn(
        "{severity} {title} ({customer})",
        severity=alert.severity.value.upper(),
        title=alert.title,
        customer=alert.customer_name or "No customer",
    )


def message_metadata(alert: AlertInfo) -> dict[str, Any]:
    """Slack message metadata on each alert post: what a storm digest needs to sum
    the alerts up (bot.notify.digest), without reading the database."""
    return {
        "event_type": ALERT_EVENT,
        "event_payload": {
            "alert_id": alert.id,
            "severity": alert.severity.value,
            "customer": alert.customer_name[:80],
            "title": alert.title[:MAX_DIGEST_TITLE],
        },
    }


ALERT_EVENT = "msp_alert"
MAX_DIGEST_TITLE = 120


def _choice(alert: AlertInfo, action: AlertAction, hours: int | None = None) -> str:
    return AlertChoice(alert_id=alert.id, action=action, hours=hours).encode()


def _snooze_label(hours: int) -> str:
    return "1 hour" if hours == 1 else f"{hours} hours"


def _buttons(alert: AlertInfo) -> list[dict[str, Any]]:
    """Acknowledge, Resolve and Snooze while they apply; Open customer always."""
    allowed = actions_for(alert.status)
    elements = [
        _button(label, action_id, _choice(alert, action), style)
        for action, label, action_id, style in (
            (AlertAction.ACKNOWLEDGE, "Acknowledge", ActionId.ALERT_ACKNOWLEDGE, "primary"),
            (AlertAction.RESOLVE, "Resolve", ActionId.ALERT_RESOLVE, None),
        )
        if action in allowed
    ]
    if AlertAction.SNOOZE in allowed:
        elements.append(
            {
                "type": "static_select",
                "placeholder": _plain("Snooze…"),
                "action_id": ActionId.ALERT_SNOOZE,
                "options": [
                    {
                        "text": _plain(_snooze_label(hours)),
                        "value": _choice(alert, AlertAction.SNOOZE, hours),
                    }
                    for hours in SNOOZE_HOURS
                ],
            }
        )
    if alert.customer_id is not None:
        value = CustomerRef(customer_id=alert.customer_id).encode()
        elements.append(_button("Open customer", ActionId.ALERT_OPEN_CUSTOMER, value))
    return elements


def _headline(alert: AlertInfo) -> str:
    emoji = SEVERITY_EMOJI[alert.severity]
    title = escape(alert.title)
    if alert.status is AlertStatus.RESOLVED:
        title = f"~{title}~"
    return (
        f"{emoji} *{title}*\n{escape(alert.customer_name) or 'No customer'} · "
        f"`{escape(alert.kind)}` · {alert.severity.value}"
    )


def _facts(alert: AlertInfo) -> str:
    times = _times(alert.occurrences)
    # Firing again: the count is of the reports since it came back, not the earlier ones'.
    since = " since" if _firing_again(alert) else ""
    return f"{_status_line(alert)} · seen {times}{since}, last {stamp(alert.last_seen_at)}"


def _firing_again(alert: AlertInfo) -> bool:
    return alert.status is AlertStatus.FIRING and alert.reopened > 0


def _times(count: int) -> str:
    return "once" if count == 1 else f"{number(count)} times"


def _status_line(alert: AlertInfo) -> Mrkdwn:
    match alert.status:
        case AlertStatus.ACKNOWLEDGED if alert.acknowledged_by:
            return mrkdwn(":eyes: Acknowledged by {who}", who=mention(alert.acknowledged_by))
        case AlertStatus.SNOOZED if alert.snoozed_until is not None:
            who = mrkdwn(" by {who}", who=mention(alert.snoozed_by)) if alert.snoozed_by else ""
            return mrkdwn(
                ":zzz: Snoozed{who} until {until}", who=who, until=stamp(alert.snoozed_until)
            )
        case AlertStatus.RESOLVED if alert.resolved_by:
            return mrkdwn(":white_check_mark: Resolved by {who}", who=mention(alert.resolved_by))
        case AlertStatus.RESOLVED:
            return mrkdwn(":white_check_mark: Resolved")
        case AlertStatus.FIRING if _firing_again(alert):
            return mrkdwn(
                ":rotating_light: Firing again (resolved {times} before)",
                times=_times(alert.reopened),
            )
        case _:
            return mrkdwn(":rotating_light: Firing")


def _details(details: str) -> str:
    shown = details.strip()
    if len(shown) > MAX_SHOWN_DETAILS:
        shown = shown[: MAX_SHOWN_DETAILS - 1] + "…"
    return escape(shown)


def _links(links: tuple[AlertLink, ...]) -> str:
    """Links as mrkdwn: the URL (checked http(s) on the way in) and its label
    escaped, and no `|` in the label, which would end it."""
    shown = []
    for link in links[:MAX_SHOWN_LINKS]:
        label = link.label.replace("|", "/")[:MAX_SHOWN_LABEL]
        url = escape(link.url).replace("|", "%7C")  # a `|` would end the URL early
        shown.append(f"<{url}|{escape(label)}>")
    return " · ".join(shown)


# ---------------------------------------------------------------- listed alerts


def _row_menu(alert: AlertInfo) -> OverflowMenuElement | None:
    """The same choices as an alert message's buttons, folded into one menu."""
    options: list[Option] = []
    allowed = actions_for(alert.status)
    if AlertAction.ACKNOWLEDGE in allowed:
        options.append(Option(text="Acknowledge", value=_choice(alert, AlertAction.ACKNOWLEDGE)))
    if AlertAction.RESOLVE in allowed:
        options.append(Option(text="Resolve", value=_choice(alert, AlertAction.RESOLVE)))
    if AlertAction.SNOOZE in allowed:
        options += [
            Option(
                text=f"Snooze {_snooze_label(hours)}",
                value=_choice(alert, AlertAction.SNOOZE, hours),
            )
            for hours in SNOOZE_HOURS
        ]
    if not options:
        return None
    return OverflowMenuElement(action_id=ActionId.ALERT_ROW_MENU, options=options)


def alert_row(alert: AlertInfo, *, can_act: bool = True) -> SectionBlock:
    """One alert as a list row: the headline, its state, and a menu to act on it.
    Without `can_act` (a viewer, or a copy shared with a whole channel) the row offers
    Open customer only, as `/msp alerts` does: every choice of the menu would be refused."""
    text = f"{_headline(alert)}\n{_facts(alert)} · #{alert.id}"
    accessory = _row_menu(alert) if can_act else _open_customer_button(alert)
    return SectionBlock(text=MarkdownTextObject(text=text), accessory=accessory)


def _open_customer_button(alert: AlertInfo) -> ButtonElement | None:
    if alert.customer_id is None:
        return None
    return ButtonElement(
        text="Open customer",
        action_id=ActionId.ALERT_OPEN_CUSTOMER,
        value=CustomerRef(customer_id=alert.customer_id).encode(),
    )


def severity_counts(counts: dict[str, int]) -> Mrkdwn:
    """`2 critical · 5 high`, worst first, severities with none left out."""
    shown = [
        mrkdwn(
            "{emoji} {count:,} {severity}",
            emoji=SEVERITY_EMOJI[severity],
            count=counts[severity.value],
            severity=severity.value,
        )
        for severity in Severity
        if counts.get(severity.value)
    ]
    return join(" · ", shown) if shown else mrkdwn("none")


STATUS_LABELS = {
    ShownStatus.OPEN: "Open",
    ShownStatus.FIRING: "Firing",
    ShownStatus.ACKNOWLEDGED: "Acknowledged",
    ShownStatus.SNOOZED: "Snoozed",
    ShownStatus.RESOLVED: "Resolved",
    ShownStatus.ALL: "All",
}
BULK_LABELS = {AlertAction.ACKNOWLEDGE: "Acknowledge", AlertAction.RESOLVE: "Resolve"}


def alerts_message(listing: AlertListing) -> Message:
    """`/msp alerts`: a page of alerts, open, worst and newest first, each with its
    buttons; menus to filter by status and severity; Previous and Next; and
    Acknowledge all / Resolve all for what the filter matches."""
    query = listing.query
    which = _which(query)
    about = mrkdwn(" for {name}", name=listing.customer_name) if listing.customer_name else ""
    total = listing.total
    blocks: list[Block] = [
        HeaderBlock(
            text=f"{which}{' for ' + listing.customer_name if listing.customer_name else ''}"[:150]
        ),
    ]
    if total:  # nothing matching is said once, below the menus
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=severity_counts(listing.by_severity))])
        )
    blocks.append(ActionsBlock(elements=_filter_menus(query)))
    if not listing.alerts:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_nothing(query, about))))
    for alert in listing.alerts:
        blocks += _listed(alert, query, can_act=listing.can_act)
    if total:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_page_line(listing))]))
    controls = _paging(listing) + (_bulk_buttons(listing) if listing.can_act else [])
    if controls:
        blocks.append(ActionsBlock(elements=controls))
    return Message.of(
        mrkdwn("{which}{about}: {total:,}", which=which, about=about, total=total), blocks
    )


def _which(query: AlertQuery) -> str:
    status = (
        "Alerts" if query.status is ShownStatus.ALL else f"{STATUS_LABELS[query.status]} alerts"
    )
    if query.severity is not None:
        status += f", {query.severity.value} or worse"
    return status


def _nothing(query: AlertQuery, about: str) -> Mrkdwn:
    if query.status is ShownStatus.OPEN and query.severity is None and about:
        return mrkdwn(":white_check_mark: Nothing is open{about}.", about=about)
    if query.status is ShownStatus.OPEN and query.severity is None:
        # Often a new MSP's first look: where alerts come from, and how to get them.
        return mrkdwn(
            ":white_check_mark: Nothing is open. Alerts come from your monitoring tools "
            "through the alerts API (`POST /api/v1/alerts`); `/msp subscribe` has them "
            "posted as they fire."
        )
    return mrkdwn(
        ":white_check_mark: No alerts{about} match. Choose another status or severity above.",
        about=about,
    )


def _filter_menus(query: AlertQuery) -> list[StaticSelectElement]:
    statuses = [
        Option(
            text=label,
            value=query.model_copy(update={"status": status, "offset": 0}).encode(),
        )
        for status, label in STATUS_LABELS.items()
    ]
    severities = [
        Option(
            text="Any severity" if severity is None else f"{severity.value.capitalize()} or worse",
            value=query.model_copy(update={"severity": severity, "offset": 0}).encode(),
        )
        for severity in (None, *Severity)
    ]
    shown_status = list(STATUS_LABELS).index(query.status)
    shown_severity = 0 if query.severity is None else list(Severity).index(query.severity) + 1
    return [
        StaticSelectElement(
            action_id=f"{ActionId.ALERT_LIST_FILTER}.status",
            placeholder="Status",
            options=statuses,
            initial_option=statuses[shown_status],
        ),
        StaticSelectElement(
            action_id=f"{ActionId.ALERT_LIST_FILTER}.severity",
            placeholder="Severity",
            options=severities,
            initial_option=severities[shown_severity],
        ),
    ]


def _listed(alert: AlertInfo, query: AlertQuery, *, can_act: bool) -> list[Block]:
    """A row: the alert, and its buttons (a viewer's: Open customer only). Their
    block says which listing they are on, so a click redraws it."""
    text = f"{_headline(alert)}\n{_facts(alert)} · #{alert.id}"
    buttons = _buttons(alert)
    if not can_act:
        buttons = [b for b in buttons if b["action_id"] == ActionId.ALERT_OPEN_CUSTOMER]
    row: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
    if buttons:
        block_id = f"{BlockId.ALERT_LIST_ROW}.{alert.id}.{query.encode()}"
        row.append(ActionsBlock(block_id=block_id[:255], elements=buttons))
    return row


def listing_of_row(block_id: str) -> AlertQuery | None:
    """The listing a row's button was on (see `_listed`); None for any other block."""
    prefix, _, rest = block_id.partition(".")
    if prefix != BlockId.ALERT_LIST_ROW:
        return None
    _alert_id, _, encoded = rest.partition(".")
    return AlertQuery.decode(encoded)


def _page_line(listing: AlertListing) -> Mrkdwn:
    first = listing.query.offset + 1
    last = listing.query.offset + len(listing.alerts)
    if not listing.alerts:
        return mrkdwn("{total:,} match; this page is past the end.", total=listing.total)
    return mrkdwn("{first:,} to {last:,} of {total:,}", first=first, last=last, total=listing.total)


def _paging(listing: AlertListing) -> list[ButtonElement]:
    query, size = listing.query, listing.page_size
    buttons = []
    if query.offset > 0:
        earlier = query.model_copy(update={"offset": max(0, query.offset - size)})
        buttons.append(
            ButtonElement(
                text="Previous",
                action_id=f"{ActionId.ALERT_LIST_PAGE}.previous",
                value=earlier.encode(),
            )
        )
    if query.offset + len(listing.alerts) < listing.total:
        later = query.model_copy(update={"offset": query.offset + size})
        buttons.append(
            ButtonElement(
                text="Next", action_id=f"{ActionId.ALERT_LIST_PAGE}.next", value=later.encode()
            )
        )
    return buttons


def _bulk_buttons(listing: AlertListing) -> list[ButtonElement]:
    """Acknowledge all / Resolve all what the filter matches (every page), each
    behind a confirm that says how many and which."""
    buttons = []
    whole = listing.query.model_copy(update={"offset": 0})
    for action in BULK_ACTIONS:
        count = listing.movable(action)
        if not count:
            continue
        shown = min(count, BULK_LIMIT)
        label = BULK_LABELS[action]
        what = _which(listing.query).lower()
        about = f" for {listing.customer_name}" if listing.customer_name else ""
        later = f" ({number(count - shown)} more on the next click)" if count > shown else ""
        buttons.append(
            ButtonElement(
                text=f"{label} all {number(count)}"[:75],
                action_id=f"{ActionId.ALERT_LIST_BULK}.{action.value}",
                value=AlertBulk(query=whole, action=action).encode(),
                style="danger" if action is AlertAction.RESOLVE else None,
                confirm=ConfirmObject(
                    title=f"{label} {number(shown)} alerts?"[:100],
                    # Plain text: the customer's name is the sender's words.
                    text=PlainTextObject(
                        text=(
                            f"{label} {number(shown)} of the {what}{about}, on every page"
                            f"{later}. Their messages in every channel change too; alerts "
                            "someone else changed meanwhile are left as they are."
                        )[:300]
                    ),
                    confirm=f"{label} {number(shown)}"[:30],
                    deny="Cancel",
                ),
            )
        )
    return buttons


def bulk_done_message(outcome: BulkOutcome) -> Message:
    done = {
        AlertAction.ACKNOWLEDGE: "Acknowledged",
        AlertAction.RESOLVE: "Resolved",
        AlertAction.SNOOZE: "Snoozed",
    }
    if outcome.changed == 0:
        text = mrkdwn("Nothing was left to change: someone else got there first.")
    else:
        text = mrkdwn(
            ":white_check_mark: {done} {count:,} alerts.",
            done=done[outcome.action],
            count=outcome.changed,
        )
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])


def acted_message(alert: AlertInfo) -> Message:
    """What a click on a listed alert did (the listing itself is ephemeral)."""
    text = mrkdwn(
        "{status}: *{title}* ({customer})",
        status=_status_line(alert),
        title=alert.title,
        customer=alert.customer_name or "No customer",
    )
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])


# ---------------------------------------------------------------- storm digests


def digest_message(entries: Sequence[dict[str, Any]]) -> Message:
    """Many alerts queued for one busy conversation, as one message: counts by
    severity and customer, the worst few, and "List all" for every one of them.
    `entries` are the alerts' message metadata payloads (see message_metadata)."""
    count = len(entries)
    severities = Counter(str(entry.get("severity", "")) for entry in entries)
    customers = Counter(str(entry.get("customer", "")) or "No customer" for entry in entries)
    ranked = sorted(
        enumerate(entries),
        key=lambda pair: (-_rank_of(pair[1]), pair[0]),
    )
    worst = [entry for _index, entry in ranked[:DIGEST_WORST]]
    top = customers.most_common(DIGEST_CUSTOMERS)
    by_customer = ", ".join(f"{escape(name)} {number(n)}" for name, n in top)
    if len(customers) > len(top):
        by_customer += f" and {number(len(customers) - len(top))} more customers"
    blocks: list[Block] = [
        HeaderBlock(text=f"{count} alerts while this channel was busy"),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"{severity_counts(dict(severities))}\n*By customer:* {by_customer}"
            )
        ),
        DividerBlock(),
        SectionBlock(
            text=MarkdownTextObject(text="*Worst:*\n" + "\n".join(_digest_line(e) for e in worst))
        ),
        ActionsBlock(
            block_id=BlockId.ALERT_DIGEST_ACTIONS,
            elements=[
                ButtonElement(
                    text=f"List all {count}",
                    action_id=ActionId.ALERT_LIST_ALL,
                    value=AlertListRef(alert_ids=[int(e["alert_id"]) for e in entries]).encode(),
                    style="primary",
                )
            ],
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Counts as they were queued; *List all* shows each alert as it is now, "
                    "to acknowledge, resolve or snooze it."
                )
            ]
        ),
    ]
    worst_titles = join("; ", (str(entry.get("title", ""))[:60] for entry in worst))
    return Message.of(mrkdwn("{count} alerts: {worst}", count=count, worst=worst_titles), blocks)


DIGEST_WORST = 5
DIGEST_CUSTOMERS = 5


def _rank_of(entry: dict[str, Any]) -> int:
    try:
        return Severity(str(entry.get("severity"))).rank
    except ValueError:
        return 0


def _digest_line(entry: dict[str, Any]) -> str:
    try:
        emoji = SEVERITY_EMOJI[Severity(str(entry.get("severity")))]
    except ValueError:
        emoji = SEVERITY_EMOJI[Severity.INFO]
    customer = escape(str(entry.get("customer", ""))) or "No customer"
    return f"{emoji} {escape(str(entry.get('title', '')))} · {customer}"


def alert_list_modal(
    alerts: Sequence[AlertInfo], ref: AlertListRef, *, can_act: bool = True
) -> dict[str, Any]:
    """A digest's "List all": every alert it merged, as it is now, with its menu (for
    a viewer, `can_act` False: Open customer)."""
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=severity_counts(_counted(alerts)))])
    ]
    if not alerts:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text="None of these alerts is yours to see."))
        )
    blocks += [alert_row(alert, can_act=can_act) for alert in alerts]
    return modal(
        callback_id=CallbackId.ALERT_LIST,
        title=f"{len(alerts)} alerts",
        blocks=blocks,
        submit=None,
        close="Close",
        metadata=ref.encode(),
    )


def _counted(alerts: Sequence[AlertInfo]) -> dict[str, int]:
    return dict(Counter(alert.severity.value for alert in alerts))


def already_handled_message(info: AlertInfo, action: AlertAction) -> Message:
    """Why a click on an alert did nothing: what happened to it, and who did it (a
    mention each reader sees as a name)."""
    if info.status is AlertStatus.RESOLVED:
        by = mention(info.resolved_by) if info.resolved_by else mrkdwn("its sender")
        text = mrkdwn("This alert was already resolved by {by}.", by=by)
    elif info.status is AlertStatus.ACKNOWLEDGED and action is AlertAction.ACKNOWLEDGE:
        by = mrkdwn(" by {who}", who=mention(info.acknowledged_by)) if info.acknowledged_by else ""
        text = mrkdwn("This alert was already acknowledged{by}.", by=by)
    else:
        text = mrkdwn("This alert is {status} now.", status=info.status.value)
    text = mrkdwn(":information_source: {text} Nothing was changed.", text=text)
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])
