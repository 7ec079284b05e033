"""Scheduled notices as messages: trials ending and ended, the renewal window, MAU
against the allowance, requests waiting, and the daily and weekly digests. Pure
functions of bot.services.notices.NoticeInfo; names are people's text, escaped."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.notices import NoticeKind
from bot.domain.requests import FREE_MAX_USERS
from bot.services.notices import NoticeInfo
from bot.views.dashboard import dashboard_blocks
from bot.views.message import Message
from bot.views.mrkdwn import escape, mention, number, slack_date


def notice_message(notice: NoticeInfo) -> Message:
    match notice.kind:
        case NoticeKind.DAILY_DIGEST | NoticeKind.WEEKLY_SUMMARY:
            return _digest(notice)
        case _:
            text = _TEXTS[notice.kind](notice)
            blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
            hint = _HINTS.get(notice.kind)
            if hint:
                blocks.append(ContextBlock(elements=[MarkdownTextObject(text=hint(notice))]))
            return Message.of(text, blocks)


def _customer(notice: NoticeInfo) -> str:
    return f"*{escape(notice.customer_name)}* (`{notice.account_number}`)"


def _days(count: int) -> str:
    return "today" if count == 0 else ("tomorrow" if count == 1 else f"in {count} days")


def _trial_expiring(notice: NoticeInfo) -> str:
    assert notice.day is not None and notice.days_left is not None
    return (
        f":hourglass_flowing_sand: The trial of {_customer(notice)} ends "
        f"{_days(notice.days_left)} ({slack_date(notice.day)}), with "
        f"{number(notice.users or 0)} users."
    )


def _trial_ended(notice: NoticeInfo) -> str:
    assert notice.day is not None
    users = notice.users or 0
    over = (
        f" It has {number(users)} users: over the free plan's {FREE_MAX_USERS}."
        if users > FREE_MAX_USERS
        else ""
    )
    return (
        f":lock: The trial of {_customer(notice)} ended on {slack_date(notice.day)}: it is "
        f"now an expired trial on the free plan (at most {FREE_MAX_USERS} users).{over}"
    )


def _renewal_window(notice: NoticeInfo) -> str:
    assert notice.day is not None
    return (
        f":calendar: Last week to decrease licences, downgrade or cancel {_customer(notice)} "
        f"before renewal on {slack_date(notice.day)}: requests must be in 30 days before it."
    )


def _mau_allowance(notice: NoticeInfo) -> str:
    return (
        f":bar_chart: This month's MAU reached {notice.percent}% of the allowance: "
        f"{number(notice.mau or 0)} of {number(notice.allowance or 0)}."
    )


def _mau_projected(notice: NoticeInfo) -> str:
    assert notice.projection is not None
    over = notice.projection.month_end - (notice.allowance or 0)
    return (
        f":chart_with_upwards_trend: At this pace the month ends at about "
        f"{number(notice.projection.month_end)} MAU, {number(over)} over the allowance of "
        f"{number(notice.allowance or 0)}."
    )


def _request_waiting(notice: NoticeInfo) -> str:
    request = notice.request
    assert request is not None
    about = escape(request.customer_name or "the MAU allowance")
    return (
        f":bell: Request #{request.id} ({escape(request.kind.label)}, {about}) by "
        f"{mention(request.requested_by)} has waited over a day for a decision."
    )


_TEXTS = {
    NoticeKind.TRIAL_EXPIRING: _trial_expiring,
    NoticeKind.TRIAL_ENDED: _trial_ended,
    NoticeKind.RENEWAL_WINDOW: _renewal_window,
    NoticeKind.MAU_ALLOWANCE: _mau_allowance,
    NoticeKind.MAU_PROJECTED: _mau_projected,
    NoticeKind.REQUEST_WAITING: _request_waiting,
}
_HINTS = {
    NoticeKind.TRIAL_EXPIRING: lambda n: (
        f"`/msp request extend {n.account_number}` or `/msp request upgrade {n.account_number}`"
    ),
    NoticeKind.TRIAL_ENDED: lambda n: f"`/msp request upgrade {n.account_number}` reactivates it.",
    NoticeKind.RENEWAL_WINDOW: lambda n: (
        f"`/msp request decrease-licences {n.account_number}`, `downgrade` or `cancel`"
    ),
    NoticeKind.MAU_PROJECTED: lambda n: n.projection.explanation if n.projection else "",
    NoticeKind.MAU_ALLOWANCE: lambda n: "`/msp licence` shows the history; owners can order more.",
}


def _digest(notice: NoticeInfo) -> Message:
    assert notice.board is not None and notice.day is not None
    title = "Daily digest" if notice.kind is NoticeKind.DAILY_DIGEST else "Weekly summary"
    blocks: list[Block] = [
        HeaderBlock(text=f"{title}: {notice.day.isoformat()}"),
        ContextBlock(
            elements=[MarkdownTextObject(text=f"{slack_date(notice.day)} · the whole MSP")]
        ),
        *dashboard_blocks(notice.board, may_add_customers=False),
    ]
    return Message.of(f"{title} for {notice.day.isoformat()}", blocks)
