"""The weekly summary as a message: what changed over the week just ended, each
figure with where it stood the week before, so one glance tells what moved.

A figure that was nought both weeks is left out, and a group with nothing in it is
named in one closing line instead of rows of zeros; a week in which nothing happened
says so in one line. In the bot's first week (or when it arrived during the week
before) the figures stand alone: arrows from noughts it never saw would mislead.
Pure: a WeeklySummary in, a Message out."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import timedelta

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.results.notices import Compared, MauWeek, WeeklySummary
from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, join, mrkdwn, slack_date

TITLE = "Weekly summary"


def weekly_summary_message(summary: WeeklySummary) -> Message:
    week = _week(summary)
    blocks: list[Block] = [
        HeaderBlock(text=TITLE),  # plain text: the dates are in the line below
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=mrkdwn(
                        "{week} · the whole MSP · {against}", week=week, against=_against(summary)
                    )
                )
            ]
        ),
    ]
    if _quiet(summary):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_quiet_line(summary))))
        return Message.of(mrkdwn("{title}, {week}: a quiet week.", title=TITLE, week=week), blocks)
    groups = {
        "customers": _customers(summary),
        "monthly active users": _mau(summary.mau, compared=summary.compared),
        "alerts": _alerts(summary),
        "requests": _requests(summary),
    }
    shown = [MarkdownTextObject(text=text) for text in groups.values() if text]
    blocks.append(SectionBlock(fields=shown))
    empty = [name for name, text in groups.items() if not text]
    if empty:
        when = "in either week" if summary.compared else "this week"
        nothing = mrkdwn("Nothing {when} for {names}.", when=when, names=_listed(empty))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=nothing)]))
    text = mrkdwn(
        "{title}, {week}: {headline}.", title=TITLE, week=week, headline=_headline(summary)
    )
    return Message.of(text, blocks)


def _against(summary: WeeklySummary) -> Mrkdwn:
    """What the figures are compared with: the week before, unless the bot was not
    there for all of it (its figures would be noughts, not a quiet week)."""
    if summary.compared:
        return mrkdwn("each figure against the week before")
    assert summary.installed_on is not None
    if summary.installed_on >= summary.first_day:
        return mrkdwn("msp-bot's first week: nothing to compare with yet")
    return mrkdwn(
        "msp-bot arrived on {day}, so the week before is not compared",
        day=slack_date(summary.installed_on, pretty=False),
    )


def _week(summary: WeeklySummary) -> Mrkdwn:
    # Plain dates at both ends: "Dec 7, 2026 to yesterday" would read oddly.
    return mrkdwn(
        "{first} to {last}",
        first=slack_date(summary.first_day, pretty=False),
        last=slack_date(summary.last_day, pretty=False),
    )


# ---------------------------------------------------------------- a quiet week


def _mau_moved(mau: MauWeek) -> bool:
    if mau.week_ago is None:  # a new month: anything reported for it is news
        return mau.at_end > 0
    return mau.at_end != mau.week_ago


def _quiet(summary: WeeklySummary) -> bool:
    return not any(figure.week for figure in summary.events) and not _mau_moved(summary.mau)


def _quiet_line(summary: WeeklySummary) -> Mrkdwn:
    waiting = summary.requests_waiting.week
    still = (
        mrkdwn(
            " {count:,} {requests} still waiting for a decision.",
            count=waiting,
            requests=_plural(waiting, "request is", "requests are"),
        )
        if waiting
        else ""
    )
    return mrkdwn(
        ":zzz: A quiet week: no new customers, no trials converted or lost, no alerts "
        "opened or resolved, no requests decided, and no change in monthly active "
        "users.{still}",
        still=still,
    )


# ---------------------------------------------------------------- the groups


def _customers(summary: WeeklySummary) -> Mrkdwn:
    row = functools.partial(_row, compared=summary.compared)
    return _group(
        "Customers",
        [
            row(summary.new_customers, "new", "new"),
            row(summary.trials_converted, "trial converted", "trials converted"),
            row(summary.trials_lost, "trial lost", "trials lost"),
        ],
    )


def _alerts(summary: WeeklySummary) -> Mrkdwn:
    row = functools.partial(_row, compared=summary.compared)
    return _group(
        "Alerts",
        [
            row(summary.alerts_opened, "opened", "opened"),
            row(summary.alerts_resolved, "resolved", "resolved"),
        ],
    )


def _requests(summary: WeeklySummary) -> Mrkdwn:
    row = functools.partial(_row, compared=summary.compared)
    return _group(
        "Requests",
        [
            row(summary.requests_approved, "approved", "approved"),
            row(summary.requests_denied, "denied", "denied"),
            row(summary.requests_waiting, "still waiting", "still waiting"),
        ],
    )


def _mau(mau: MauWeek, *, compared: bool) -> Mrkdwn:
    return _group("Monthly active users", [_mau_row(mau, compared=compared)])


def _mau_row(mau: MauWeek, *, compared: bool = True) -> Mrkdwn | None:
    """The month-to-date figure against a week ago, or, when the month began this
    week, against nothing: what the month before reached is shown beside it. In the
    bot's first weeks (`compared` false) the figure alone."""
    month = f"{mau.month:%B}"
    if not compared:
        if not mau.at_end:
            return None
        return mrkdwn("*{count:,}* so far in {month}", count=mau.at_end, month=month)
    if mau.week_ago is None:
        if not mau.at_end and not mau.month_before:
            return None
        return mrkdwn(
            "*{count:,}* so far in {month} · the month began this week; {before} reached {total:,}",
            count=mau.at_end,
            month=month,
            before=_month_before(mau),
            total=mau.month_before or 0,
        )
    if not mau.at_end and not mau.week_ago:
        return None
    return mrkdwn(
        "*{count:,}* so far in {month} {change}",
        count=mau.at_end,
        month=month,
        change=_mau_change(mau.at_end, mau.week_ago),
    )


def _month_before(mau: MauWeek) -> str:
    return f"{mau.month - timedelta(days=1):%B}"  # `month` is its first day


def _mau_change(at_end: int, week_ago: int) -> Mrkdwn:
    if at_end == week_ago:
        return mrkdwn("· same as a week ago")
    arrow = "↑" if at_end > week_ago else "↓"
    return mrkdwn(
        "· {arrow} {by:,} from {before:,} a week ago",
        arrow=arrow,
        by=abs(at_end - week_ago),
        before=week_ago,
    )


def _group(title: str, rows: Sequence[Mrkdwn | None]) -> Mrkdwn:
    """A titled group of rows, or nothing when every row was left out."""
    kept = [row for row in rows if row]
    if not kept:
        return Mrkdwn("")
    return mrkdwn("*{title}*\n{rows}", title=title, rows=join("\n", kept))


def _row(figure: Compared, one: str, many: str, *, compared: bool = True) -> Mrkdwn | None:
    """`*3* new · ↑ from 1`; None when it was nought both weeks. Not `compared`: `*3*
    new`, None when nought this week."""
    if not compared:
        if not figure.week:
            return None
        return mrkdwn("*{count:,}* {what}", count=figure.week, what=_plural(figure.week, one, many))
    if not figure.week and not figure.week_before:
        return None
    return mrkdwn(
        "*{count:,}* {what} · {change}",
        count=figure.week,
        what=_plural(figure.week, one, many),
        change=_change(figure),
    )


def _change(figure: Compared) -> Mrkdwn:
    if figure.week == figure.week_before:
        return mrkdwn("same as the week before")
    arrow = "↑" if figure.week > figure.week_before else "↓"
    return mrkdwn("{arrow} from {before:,}", arrow=arrow, before=figure.week_before)


# ---------------------------------------------------------------- the notification


def _headline(summary: WeeklySummary) -> Mrkdwn:
    """The week's news in one line (what a notification shows): only what happened."""
    parts = [
        _count(summary.new_customers.week, "new customer", "new customers"),
        _count(summary.trials_converted.week, "trial converted", "trials converted"),
        _count(summary.trials_lost.week, "trial lost", "trials lost"),
        _count(summary.alerts_opened.week, "alert opened", "alerts opened"),
        _count(summary.alerts_resolved.week, "alert resolved", "alerts resolved"),
        _count(summary.requests_approved.week, "request approved", "requests approved"),
        _count(summary.requests_denied.week, "request denied", "requests denied"),
    ]
    if _mau_moved(summary.mau):
        parts.append(_mau_news(summary.mau))
    return join(", ", [part for part in parts if part])


def _mau_news(mau: MauWeek) -> Mrkdwn:
    if not mau.week_ago:  # a new month, or none reported before: "up 3,410 to 3,410" reads oddly
        return mrkdwn("{count:,} MAU so far in {month:%B}", count=mau.at_end, month=mau.month)
    return mrkdwn(
        "MAU {way} {by:,} to {count:,}",
        way="up" if mau.at_end > mau.week_ago else "down",
        by=abs(mau.at_end - mau.week_ago),
        count=mau.at_end,
    )


def _count(count: int, one: str, many: str) -> Mrkdwn | None:
    return (
        mrkdwn("{count:,} {what}", count=count, what=_plural(count, one, many)) if count else None
    )


def _listed(names: Sequence[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many
