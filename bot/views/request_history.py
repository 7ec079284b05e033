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


def request_label(info: RequestInfo) -> str:
    """What a request is, said once: its type's label, then what it asks beyond that
    ("Cancel subscription: Professional → Free", "Delete account"). Plain text: it
    is escaped wherever it goes into mrkdwn."""
    return f"{info.kind.label}: {info.summary}" if info.summary else info.kind.label


def request_heading(info: RequestInfo) -> Mrkdwn:
    """A request in a list row: `*#7 Cancel subscription*: Professional → Free`."""
    if info.summary:
        return mrkdwn(
            "*#{id} {kind}*: {summary}", id=info.id, kind=info.kind.label, summary=info.summary
        )
    return mrkdwn("*#{id} {kind}*", id=info.id, kind=info.kind.label)


def stamp(moment: datetime) -> Mrkdwn:
    """A time each reader sees in their own time zone."""
    return slack_time(moment)


def ended_at(info: RequestInfo) -> datetime | None:
    """When the request stopped waiting: its deadline for one that expired (the sweep
    that marks it runs a little later, which nobody needs to know), else its decision."""
    if info.status == RequestStatus.EXPIRED:
        return info.expires_at
    return info.decided_at


def outcome_line(info: RequestInfo, *, day_said: bool = False) -> Mrkdwn:
    """What became of the request, in one line. `day_said`: what it is shown with
    names its effective day already (the approval message's explanation), so the
    line does not say it again."""
    emoji = STATUS_EMOJI[info.status]
    by = mrkdwn(" by {who}", who=mention(info.decided_by)) if info.decided_by else ""
    ended = ended_at(info)
    at = mrkdwn(" {when}", when=stamp(ended)) if ended else ""
    note = mrkdwn(": {note}", note=info.decision_note) if info.decision_note else ""
    on = (
        mrkdwn(" on {day}", day=slack_date(info.effective_on))
        if info.effective_on and not day_said
        else ""
    )
    match info.status:
        case RequestStatus.PENDING:
            line = "{emoji} Waiting for approval"
        case RequestStatus.APPLIED if info.effective_on is not None and not info.decided_by:
            line = "{emoji} Applied{on}"
        case RequestStatus.APPLIED:
            line = "{emoji} Approved{by}{at} and applied{on}"
        case RequestStatus.SCHEDULED if on:
            line = "{emoji} Approved{by}{at}; takes effect{on}"
        case RequestStatus.SCHEDULED if day_said:
            line = "{emoji} Approved{by}{at}; scheduled for the day above"
        case RequestStatus.SCHEDULED:
            line = "{emoji} Approved{by}{at}; takes effect on its date"
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
            "#{id} {label} · {outcome}",
            id=info.id,
            label=request_label(info),
            outcome=outcome_line(info),
        )
        for info in history
    ]
    return [
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=("*Requests*\n" + "\n".join(lines))[:2900])),
    ]
