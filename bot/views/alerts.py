"""An alert as its subscribers see it: one message per conversation, updated in
place as the alert repeats, changes state or is resolved."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.domain.alerts import AlertLink, AlertStatus, Severity
from bot.services.alert_routing import AlertInfo
from bot.views.message import Message
from bot.views.mrkdwn import escape, mention, number
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
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=_headline(alert))),
        ContextBlock(elements=[MarkdownTextObject(text=_facts(alert))]),
    ]
    if alert.details.strip():
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_details(alert.details))))
    if alert.links:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_links(alert.links))]))
    text = f"{alert.severity.value.upper()} {alert.title} ({alert.customer_name})"
    return Message.of(text, blocks)


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


def _status_line(alert: AlertInfo) -> str:
    match alert.status:
        case AlertStatus.ACKNOWLEDGED if alert.acknowledged_by:
            return f":eyes: Acknowledged by {mention(alert.acknowledged_by)}"
        case AlertStatus.SNOOZED if alert.snoozed_until is not None:
            return f":zzz: Snoozed until {stamp(alert.snoozed_until)}"
        case AlertStatus.RESOLVED:
            return ":white_check_mark: Resolved"
        case _:
            return f":rotating_light: {alert.status.value.capitalize()}"


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
        shown.append(f"<{escape(link.url)}|{escape(label)}>")
    return " · ".join(shown)
