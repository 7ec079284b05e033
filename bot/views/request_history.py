"""A request's outcome in one line, and a customer's latest requests for its card."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock, MarkdownTextObject, SectionBlock

from bot.domain.requests import RequestStatus
from bot.results.requests import RequestInfo
from bot.views.mrkdwn import Mrkdwn, mention, mrkdwn, slack_date, slack_time

STATUS_EMOJI = {
    RequestStatus.PENDING: ":hourglass_flowing_sand:",
    RequestStatus.APPLIED: ":white_check_mark:",
    RequestStatus.SCHEDULED: ":calendar:",
    RequestStatus.DENIED: ":x:",
    RequestStatus.WITHDRAWN: ":leftwards_arrow_with_hook:",
    RequestStatus.EXPIRED: ":zzz:",
    RequestStatus.REVERSED: ":rewind:",
}


def stamp(moment: datetime) -> Mrkdwn:
    """A time each reader sees in their own time zone."""
    return slack_time(moment)


def outcome_line(info: RequestInfo) -> Mrkdwn:
    """What became of the request, in one line."""
    emoji = STATUS_EMOJI[info.status]
    by = mrkdwn(" by {who}", who=mention(info.decided_by)) if info.decided_by else ""
    at = mrkdwn(" {when}", when=stamp(info.decided_at)) if info.decided_at else ""
    note = mrkdwn(": {note}", note=info.decision_note) if info.decision_note else ""
    on = mrkdwn(" on {day}", day=slack_date(info.effective_on)) if info.effective_on else ""
    match info.status:
        case RequestStatus.PENDING:
            line = "{emoji} Waiting for approval"
        case RequestStatus.APPLIED if info.effective_on is not None and not info.decided_by:
            line = "{emoji} Applied{on}"
        case RequestStatus.APPLIED:
            line = "{emoji} Approved{by}{at} and applied{on}"
        case RequestStatus.SCHEDULED:
            line = (
                "{emoji} Approved{by}{at}; takes effect{on}"
                if on
                else "{emoji} Approved{by}{at}; takes effect on its date"
            )
        case RequestStatus.DENIED:
            line = "{emoji} Denied{by}{at}{note}"
        case RequestStatus.WITHDRAWN:
            line = "{emoji} Withdrawn by {requester}{at}"
        case RequestStatus.EXPIRED:
            line = "{emoji} Expired{at} without a decision"
        case RequestStatus.REVERSED:
            line = "{emoji} Reversed before it took effect{note}"
        case _:
            line = "{emoji}"
    return mrkdwn(
        line, emoji=emoji, by=by, at=at, note=note, on=on, requester=mention(info.requested_by)
    )


def history_blocks(history: list[RequestInfo]) -> list[Block]:
    """The latest requests about a customer, for its card."""
    if not history:
        return []
    lines = [
        mrkdwn(
            "#{id} {kind}: {summary} · {outcome}",
            id=info.id,
            kind=info.kind.label,
            summary=info.summary,
            outcome=outcome_line(info),
        )
        for info in history
    ]
    return [
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=("*Requests*\n" + "\n".join(lines))[:2900])),
    ]
