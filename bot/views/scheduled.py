"""Scheduled notices as messages: trials ending and ended, the renewal window, MAU
against the allowance, requests waiting, and the daily and weekly digests. Pure
functions of bot.results.notices.NoticeInfo; names are people's text, escaped."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.customers import MAX_NAME_LENGTH, trial_days_left_words
from bot.domain.notices import NoticeKind
from bot.domain.requests import FREE_MAX_USERS, RequestType
from bot.ids import ActionId
from bot.payloads import CustomerRef, RequestFormState
from bot.results.notices import NoticeInfo
from bot.views.dashboard import dashboard_blocks
from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, mention, mrkdwn, slack_date
from bot.views.requests import decision_buttons
from bot.views.weekly import weekly_summary_message


def notice_message(notice: NoticeInfo) -> Message:
    match notice.kind:
        case NoticeKind.DAILY_DIGEST:
            return _digest(notice)
        case NoticeKind.WEEKLY_SUMMARY:
            assert notice.week is not None
            return weekly_summary_message(notice.week)
        case _:
            text = _TEXTS[notice.kind](notice)
            blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
            buttons = _next_steps(notice)
            if buttons:
                blocks.append(ActionsBlock(elements=buttons))
            hint = _HINTS.get(notice.kind)
            if hint:
                blocks.append(ContextBlock(elements=[MarkdownTextObject(text=hint(notice))]))
            return Message.of(text, blocks)


# What each notice about a customer offers to do next: each button opens the
# request's form (the rules answer there), labelled as the type is everywhere, or
# the customer's card.
OPEN_CUSTOMER = "Open customer"
NEXT_REQUESTS: dict[NoticeKind, tuple[RequestType, ...]] = {
    NoticeKind.TRIAL_EXPIRING: (RequestType.TRIAL_EXTENSION, RequestType.UPGRADE),
    NoticeKind.TRIAL_ENDED: (RequestType.UPGRADE,),
    NoticeKind.RENEWAL_WINDOW: (
        RequestType.DECREASE_LICENCES,
        RequestType.DOWNGRADE,
        RequestType.CANCEL,
    ),
}


def _next_steps(notice: NoticeInfo) -> list[ButtonElement]:
    if notice.kind is NoticeKind.REQUEST_WAITING and notice.request is not None:
        # A reminder decides as the approval message does, with the same buttons.
        return decision_buttons(notice.request)
    if notice.kind in (NoticeKind.MAU_ALLOWANCE, NoticeKind.MAU_PROJECTED):
        return _mau_buttons()
    if notice.customer_id is None or notice.kind not in NEXT_REQUESTS:
        return []
    buttons = [
        ButtonElement(
            text=kind.label,
            action_id=ActionId.REQUEST_START,
            value=RequestFormState(kind=kind, customer_id=notice.customer_id).encode(),
            style="primary" if index == 0 else None,
        )
        for index, kind in enumerate(NEXT_REQUESTS[notice.kind])
    ]
    buttons.append(
        ButtonElement(
            text=OPEN_CUSTOMER,
            action_id=ActionId.VIEW_CUSTOMER,
            value=CustomerRef(customer_id=notice.customer_id).encode(),
        )
    )
    return buttons


def _mau_buttons() -> list[ButtonElement]:
    """R19: the order form (only an owner's click is taken: the rules answer the
    others) and the licence view, below the notice for whoever clicks."""
    return [
        ButtonElement(
            text=RequestType.MAU_ALLOWANCE_ORDER.label,
            action_id=ActionId.REQUEST_START,
            value=RequestFormState(kind=RequestType.MAU_ALLOWANCE_ORDER).encode(),
            style="primary",
        ),
        ButtonElement(text="Open licence", action_id=ActionId.LICENCE_OPEN),
    ]


def _customer(notice: NoticeInfo) -> Mrkdwn:
    return mrkdwn(
        "*{name}* (`{account}`)", name=notice.customer_name, account=notice.account_number
    )


def _users(count: int) -> Mrkdwn:
    return mrkdwn("{count:,} user{s}", count=count, s="" if count == 1 else "s")


def _trial_expiring(notice: NoticeInfo) -> Mrkdwn:
    """R4: the days left counted as everywhere else (today included, "ends today" on
    the last day), with the last day itself."""
    assert notice.day is not None and notice.days_left is not None
    left = trial_days_left_words(notice.days_left)
    if notice.days_left <= 1:
        return mrkdwn(
            ":hourglass_flowing_sand: The trial of {customer} {left}: today is its last day. "
            "It has {users}.",
            customer=_customer(notice),
            left=left,
            users=_users(notice.users or 0),
        )
    return mrkdwn(
        ":hourglass_flowing_sand: The trial of {customer} has {left}: its last day is {day}. "
        "It has {users}.",
        customer=_customer(notice),
        left=left,
        day=slack_date(notice.day),
        users=_users(notice.users or 0),
    )


def _trial_ended(notice: NoticeInfo) -> Mrkdwn:
    assert notice.day is not None
    users = notice.users or 0
    over = (
        mrkdwn(
            " It has {users:,} users: over the free plan's {free}.",
            users=users,
            free=FREE_MAX_USERS,
        )
        if users > FREE_MAX_USERS
        else ""
    )
    return mrkdwn(
        ":lock: The trial of {customer} ended on {day}: it is now an expired trial on the "
        "free plan (at most {free} users).{over}",
        customer=_customer(notice),
        day=slack_date(notice.day),
        free=FREE_MAX_USERS,
        over=over,
    )


def _renewal_window(notice: NoticeInfo) -> Mrkdwn:
    assert notice.day is not None
    return mrkdwn(
        ":calendar: Last week to decrease licences, downgrade or cancel {customer} "
        "before renewal on {day}: requests must be in 30 days before it.",
        customer=_customer(notice),
        day=slack_date(notice.day),
    )


def _mau_allowance(notice: NoticeInfo) -> Mrkdwn:
    return mrkdwn(
        ":bar_chart: This month's MAU reached {percent}% of the allowance: "
        "{mau:,} of {allowance:,}.",
        percent=notice.percent,
        mau=notice.mau or 0,
        allowance=notice.allowance or 0,
    )


def _mau_projected(notice: NoticeInfo) -> Mrkdwn:
    """The estimate in the same sentence as the licence view, `/msp mau` and the chart."""
    assert notice.projection is not None
    return mrkdwn(
        ":chart_with_upwards_trend: *This month's MAU may end over the allowance.* {sentence}",
        sentence=notice.projection.sentence,
    )


def _request_waiting(notice: NoticeInfo) -> Mrkdwn:
    request = notice.request
    assert request is not None
    return mrkdwn(
        ":bell: Request #{id} ({kind}, {about}) by {who} has waited over a day for a decision.",
        id=request.id,
        kind=request.kind.label,
        about=request.customer_name or "the MAU allowance",
        who=mention(request.requested_by),
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
    NoticeKind.TRIAL_ENDED: lambda n: mrkdwn("Upgrading it makes it a paid account again."),
    NoticeKind.MAU_PROJECTED: lambda n: mrkdwn(
        "The licence shows the month so far per customer and the last 12 months; "
        "only owners order allowance."
    ),
    NoticeKind.MAU_ALLOWANCE: lambda n: mrkdwn(
        "The licence shows this month per customer and the last 12 months; "
        "only owners order allowance."
    ),
}


# ---------------------------------------------------------------- in a busy digest

NOTICE_EVENT = "msp_notice"
_MERGEABLE = frozenset(
    {NoticeKind.TRIAL_EXPIRING, NoticeKind.TRIAL_ENDED, NoticeKind.RENEWAL_WINDOW}
)


def notice_metadata(notice: NoticeInfo) -> dict[str, Any] | None:
    """Slack message metadata on a notice about one customer: what a busy
    conversation's digest needs to list it with its next steps (bot.notify.digest),
    without reading the database. None for the other notices (listed by their text)."""
    if notice.kind not in _MERGEABLE or notice.customer_id is None or notice.day is None:
        return None
    return {
        "event_type": NOTICE_EVENT,
        "event_payload": {
            "kind": notice.kind.value,
            "customer_id": notice.customer_id,
            "customer": notice.customer_name[:MAX_NAME_LENGTH],
            "account": notice.account_number[:40],
            "day": notice.day.isoformat(),
            "days_left": notice.days_left,
            "users": notice.users or 0,
        },
    }


def _digest(notice: NoticeInfo) -> Message:
    assert notice.board is not None and notice.day is not None
    title = "Daily digest"
    blocks: list[Block] = [
        HeaderBlock(text=title),  # a header is plain text: the day is in the line below
        ContextBlock(
            elements=[MarkdownTextObject(text=f"{slack_date(notice.day)} · the whole MSP")]
        ),
        *dashboard_blocks(notice.board, may_add_customers=False),
    ]
    return Message.of(mrkdwn("{title} for {day}", title=title, day=slack_date(notice.day)), blocks)
