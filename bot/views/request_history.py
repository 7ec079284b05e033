"""A request's outcome in one line, and a customer's latest requests for its card."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock, MarkdownTextObject, SectionBlock

from bot.domain.requests import RequestStatus
from bot.services.request_info import RequestInfo
from bot.views.mrkdwn import escape, mention, slack_date

STATUS_EMOJI = {
    RequestStatus.PENDING: ":hourglass_flowing_sand:",
    RequestStatus.APPLIED: ":white_check_mark:",
    RequestStatus.SCHEDULED: ":calendar:",
    RequestStatus.DENIED: ":x:",
    RequestStatus.WITHDRAWN: ":leftwards_arrow_with_hook:",
    RequestStatus.EXPIRED: ":zzz:",
    RequestStatus.REVERSED: ":rewind:",
}


def stamp(moment: datetime) -> str:
    """A time each reader sees in their own time zone."""
    fallback = f"{moment:%Y-%m-%d %H:%M} UTC"
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def outcome_line(info: RequestInfo) -> str:
    """What became of the request, in one line."""
    emoji = STATUS_EMOJI[info.status]
    by = f" by {mention(info.decided_by)}" if info.decided_by else ""
    at = f" {stamp(info.decided_at)}" if info.decided_at else ""
    match info.status:
        case RequestStatus.PENDING:
            return f"{emoji} Waiting for approval"
        case RequestStatus.APPLIED if info.effective_on is not None and not info.decided_by:
            return f"{emoji} Applied on {slack_date(info.effective_on)}"
        case RequestStatus.APPLIED:
            when = f" on {slack_date(info.effective_on)}" if info.effective_on else ""
            return f"{emoji} Approved{by}{at} and applied{when}"
        case RequestStatus.SCHEDULED:
            day = slack_date(info.effective_on) if info.effective_on else "its date"
            return f"{emoji} Approved{by}{at}; takes effect on {day}"
        case RequestStatus.DENIED:
            note = f": {escape(info.decision_note)}" if info.decision_note else ""
            return f"{emoji} Denied{by}{at}{note}"
        case RequestStatus.WITHDRAWN:
            return f"{emoji} Withdrawn by {mention(info.requested_by)}{at}"
        case RequestStatus.EXPIRED:
            return f"{emoji} Expired{at} without a decision"
        case RequestStatus.REVERSED:
            note = f": {escape(info.decision_note)}" if info.decision_note else ""
            return f"{emoji} Reversed before it took effect{note}"
    return emoji


def history_blocks(history: list[RequestInfo]) -> list[Block]:
    """The latest requests about a customer, for its card."""
    if not history:
        return []
    lines = [
        f"#{info.id} {escape(info.kind.label)}: {escape(info.summary)} · {outcome_line(info)}"
        for info in history
    ]
    return [
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=("*Requests*\n" + "\n".join(lines))[:2900])),
    ]
