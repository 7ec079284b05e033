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
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    SectionBlock,
)

from bot.domain.alerts import (
    SNOOZE_HOURS,
    AlertAction,
    AlertLink,
    AlertStatus,
    Severity,
    actions_for,
)
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import AlertChoice, AlertListRef, CustomerRef
from bot.results.alerts import AlertInfo
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


def alert_message(alert: AlertInfo) -> Message:
    """Built as plain Block Kit dicts, not slack_sdk's models: a storm renders
    thousands of these, and the models' validation was a third of the ingest's time
    (bench/alerts.py). Slack's limits still hold: every text is clipped above."""
    blocks: list[dict[str, Any]] = [
        _section(_headline(alert)),
        _context(_facts(alert)),
    ]
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
    times = "once" if alert.occurrences == 1 else f"{number(alert.occurrences)} times"
    return f"{_status_line(alert)} · seen {times}, last {stamp(alert.last_seen_at)}"


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
        case _:
            fired = "Firing again" if alert.reopened else "Firing"
            return mrkdwn(":rotating_light: {fired}", fired=fired)


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


def alert_row(alert: AlertInfo) -> SectionBlock:
    """One alert as a list row: the headline, its state, and a menu to act on it."""
    text = f"{_headline(alert)}\n{_facts(alert)} · #{alert.id}"
    return SectionBlock(text=MarkdownTextObject(text=text), accessory=_row_menu(alert))


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


def alerts_message(
    *,
    alerts: Sequence[AlertInfo],
    by_severity: dict[str, int],
    open_only: bool,
    customer_name: str | None,
) -> Message:
    """`/msp alerts [open|all] [CUSTOMER]`: the worst and newest first."""
    which = "Open alerts" if open_only else "Alerts"
    about = mrkdwn(" for {name}", name=customer_name) if customer_name else ""
    total = sum(by_severity.values())
    blocks: list[Block] = [
        HeaderBlock(text=f"{which}{' for ' + customer_name if customer_name else ''}"[:150]),
        ContextBlock(elements=[MarkdownTextObject(text=severity_counts(by_severity))]),
    ]
    if not alerts:
        quiet = "Nothing is open" if open_only else "No alerts yet"
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f":white_check_mark: {quiet}{about}."))
        )
    blocks += [alert_row(alert) for alert in alerts]
    if total > len(alerts):
        more = (
            f"Showing the {len(alerts)} worst and newest of {number(total)}. "
            "Name a customer to narrow it: `/msp alerts open CUSTOMER`."
        )
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    return Message.of(
        mrkdwn("{which}{about}: {total:,}", which=which, about=about, total=total), blocks
    )


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


def alert_list_modal(alerts: Sequence[AlertInfo], ref: AlertListRef) -> dict[str, Any]:
    """A digest's "List all": every alert it merged, as it is now, with its menu."""
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=severity_counts(_counted(alerts)))])
    ]
    if not alerts:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text="None of these alerts is yours to see."))
        )
    blocks += [alert_row(alert) for alert in alerts]
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
