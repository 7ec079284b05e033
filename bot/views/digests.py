"""A busy conversation's queued messages (other than alerts, see
bot.views.alerts.digest_message) merged into one digest message.

Notices about customers (trials ending or ended, renewal windows) are grouped by
kind: a title, then a row per customer with the notice's next steps in its menu, and
one clause per group in the notification ("10 trials end soon: Adatum Corp (4 days
left), ... and 6 more"). Anything else is shown by its own text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    OverflowMenuElement,
    SectionBlock,
)
from slack_sdk.models.blocks.basic_components import Option

from bot.domain.customers import trial_days_left_words
from bot.domain.notices import NoticeKind
from bot.domain.requests import FREE_MAX_USERS
from bot.ids import ActionId
from bot.payloads import RowAction, RowActionKind
from bot.results.notices import CustomerNotice
from bot.views.limits import MAX_MESSAGE_BLOCKS
from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, clip, join, mrkdwn, slack_date
from bot.views.scheduled import NEXT_REQUESTS, OPEN_CUSTOMER

MAX_SECTION = 3000
# The digest's notification text: whole clauses and names, then "and N more". A
# notification shows a line or two; the blocks list everything.
MAX_NOTIFICATION = 300


@dataclass(frozen=True, slots=True)
class Merged:
    """One merged message: its notification text and, for a notice about a customer,
    what it said (read back from its message metadata)."""

    text: Mrkdwn
    notice: CustomerNotice | None = None


def updates_digest_message(merged: Sequence[Merged]) -> Message:
    count = len(merged)
    groups: dict[NoticeKind, list[CustomerNotice]] = {}
    others: list[Mrkdwn] = []
    for item in merged:
        if item.notice is not None and item.notice.kind in _GROUPS:
            groups.setdefault(item.notice.kind, []).append(item.notice)
        else:
            others.append(item.text)
    blocks: list[Block] = [HeaderBlock(text=f"{count:,} updates while this channel was busy")]
    clauses: list[tuple[Mrkdwn, list[Mrkdwn]]] = []
    for kind, group in _GROUPS.items():
        notices = sorted(groups.get(kind, []), key=_order)
        if not notices:
            continue
        # What every row would repeat (the same last day, say) is said once, above them.
        shared = len(notices) > 1 and len({(n.day, n.days_left) for n in notices}) == 1
        when = mrkdwn(" · {when}", when=group.when(notices[0])) if shared else Mrkdwn("")
        title = group.title(len(notices), when)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=title)))
        blocks += [_row(notice, group, shared=shared) for notice in notices]
        clauses.append(group.clause(notices))
    for text in others:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION) or " ")))
        clauses.append((text, []))
    return Message.of(_notification(count, clauses), _within_limit(blocks))


# ---------------------------------------------------------------- the groups


@dataclass(frozen=True, slots=True)
class _Group:
    # Above the rows: for so many customers, with the facts they share (" · renews
    # 12 Jan 2027") or nothing.
    title: Callable[[int, Mrkdwn], Mrkdwn]
    # The group's clause in the notification: its lead and each customer named.
    clause: Callable[[Sequence[CustomerNotice]], tuple[Mrkdwn, list[Mrkdwn]]]
    when: Callable[[CustomerNotice], Mrkdwn]  # a row's dates: "4 days left · last day …"
    rest: Callable[[CustomerNotice], Mrkdwn]  # the rest of a row: "3 users", or nothing


def _count(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def _users(count: int) -> Mrkdwn:
    return mrkdwn("{count:,} user{s}", count=count, s="" if count == 1 else "s")


def _names(notices: Sequence[CustomerNotice]) -> list[Mrkdwn]:
    return [mrkdwn("{name}", name=notice.customer_name) for notice in notices]


def _ending_clause(notices: Sequence[CustomerNotice]) -> tuple[Mrkdwn, list[Mrkdwn]]:
    """ "10 trials end soon (4 days left each): A, B" or, the days differing,
    "3 trials end soon: A (ends today), B (4 days left)"."""
    lead = mrkdwn("{trials}", trials=_count(len(notices), "trial ends soon", "trials end soon"))
    left = {notice.days_left for notice in notices}
    if None in left:
        return lead, _names(notices)
    if len(left) == 1:
        (days,) = left
        assert days is not None
        each = " each" if len(notices) > 1 else ""
        return mrkdwn(
            "{lead} ({left}{each})", lead=lead, left=trial_days_left_words(days), each=each
        ), _names(notices)
    return lead, [
        mrkdwn(
            "{name} ({left})",
            name=notice.customer_name,
            left=trial_days_left_words(notice.days_left or 0),
        )
        for notice in notices
    ]


def _ending_when(notice: CustomerNotice) -> Mrkdwn:
    last_day = mrkdwn("last day {day}", day=slack_date(notice.day))
    if notice.days_left is None:
        return last_day
    return mrkdwn(
        "{left} · {last_day}", left=trial_days_left_words(notice.days_left), last_day=last_day
    )


def _ended_rest(notice: CustomerNotice) -> Mrkdwn:
    over = (
        mrkdwn(" · :warning: over the free plan's {free}", free=FREE_MAX_USERS)
        if notice.users > FREE_MAX_USERS
        else ""
    )
    return mrkdwn("{users}{over}", users=_users(notice.users), over=over)


_GROUPS: dict[NoticeKind, _Group] = {
    NoticeKind.TRIAL_EXPIRING: _Group(
        title=lambda n, when: mrkdwn(
            ":hourglass_flowing_sand: *{trials}*{when}",
            trials=_count(n, "trial ends soon", "trials end soon"),
            when=when,
        ),
        clause=_ending_clause,
        when=_ending_when,
        rest=lambda notice: _users(notice.users),
    ),
    NoticeKind.TRIAL_ENDED: _Group(
        title=lambda n, when: mrkdwn(
            ":lock: *{trials}*{when}: {now} on the free plan (at most {free} users)",
            trials=_count(n, "trial ended", "trials ended"),
            when=when,
            now="it is now an expired trial" if n == 1 else "each is now an expired trial",
            free=FREE_MAX_USERS,
        ),
        clause=lambda notices: (
            mrkdwn("{trials}", trials=_count(len(notices), "trial ended", "trials ended")),
            _names(notices),
        ),
        when=lambda notice: mrkdwn("last day {day}", day=slack_date(notice.day)),
        rest=_ended_rest,
    ),
    NoticeKind.RENEWAL_WINDOW: _Group(
        title=lambda n, when: mrkdwn(
            ":calendar: *Last week to decrease licences, downgrade or cancel before "
            "renewal* ({count:,}){when}: requests must be in 30 days before it",
            count=n,
            when=when,
        ),
        clause=lambda notices: (
            mrkdwn(
                "Last week to change {accounts} before renewal",
                accounts=_count(len(notices), "account", "accounts"),
            ),
            _names(notices),
        ),
        when=lambda notice: mrkdwn("renews {day}", day=slack_date(notice.day)),
        rest=lambda notice: Mrkdwn(""),
    ),
}


def _order(notice: CustomerNotice) -> tuple[object, ...]:
    """Soonest first: a trial's last day, a renewal date; then by name."""
    return (notice.day, notice.customer_name.casefold(), notice.customer_id)


def _row(notice: CustomerNotice, group: _Group, *, shared: bool) -> SectionBlock:
    """A customer the notice was about (its dates left to the title when every row
    shares them), and its next steps: the notice's own buttons as a menu (Slack
    allows five options), each working as the button would."""
    parts = [group.rest(notice)] if shared else [group.when(notice), group.rest(notice)]
    figures = join(" · ", [part for part in parts if part])
    text = mrkdwn(
        "*{name}* (`{account}`){figures}",
        name=notice.customer_name,
        account=notice.account_number,
        figures=mrkdwn(" · {figures}", figures=figures) if figures else "",
    )
    options = [
        Option(
            text=kind.label,
            value=RowAction(
                customer_id=notice.customer_id, action=RowActionKind.REQUEST, request=kind
            ).encode(),
        )
        for kind in NEXT_REQUESTS.get(notice.kind, ())
    ]
    options.append(
        Option(
            text=OPEN_CUSTOMER,
            value=RowAction(customer_id=notice.customer_id, action=RowActionKind.VIEW).encode(),
        )
    )
    return SectionBlock(
        text=MarkdownTextObject(text=clip(text, MAX_SECTION)),
        accessory=OverflowMenuElement(action_id=ActionId.ROW_MENU, options=options),
    )


def _within_limit(blocks: list[Block]) -> list[Block]:
    """Slack's 50 blocks: a digest merges at most 40 messages, so this holds unless
    the delivery limits were raised; then the last rows give way to a count."""
    if len(blocks) <= MAX_MESSAGE_BLOCKS:
        return blocks
    kept = blocks[: MAX_MESSAGE_BLOCKS - 1]
    more = len(blocks) - len(kept)
    note = mrkdwn("…and {more:,} more, not shown here.", more=more)
    return [*kept, ContextBlock(elements=[MarkdownTextObject(text=note)])]


# ---------------------------------------------------------------- the notification


def _notification(count: int, clauses: Sequence[tuple[Mrkdwn, list[Mrkdwn]]]) -> Mrkdwn:
    """Each group's clause with as many whole names as fit, then "and N more"; never
    a name, an emoji or a token cut in half."""
    shown: list[Mrkdwn] = []
    used = 0
    for index, (lead, names) in enumerate(clauses):
        room = MAX_NOTIFICATION - used - (2 if shown else 0)
        clause = _clause(lead, names, room) if names else _whole_or_clipped(lead, room)
        if clause is None:
            rest = sum(len(names) or 1 for _lead, names in clauses[index:])
            shown.append(mrkdwn("and {rest:,} more", rest=rest))
            break
        shown.append(clause)
        used += len(clause) + (2 if len(shown) > 1 else 0)
    text = join("; ", shown)
    if len(clauses) > 1:
        return mrkdwn("{count:,} updates: {text}", count=count, text=text)
    return text


def _clause(lead: Mrkdwn, names: Sequence[Mrkdwn], room: int) -> Mrkdwn | None:
    """`lead: a, b and 3 more` within `room` characters, or the lead alone, or None."""
    if len(lead) > room:
        return None
    for kept in range(len(names), 0, -1):
        listed = join(", ", names[:kept])
        more = len(names) - kept
        clause = (
            mrkdwn("{lead}: {listed} and {more:,} more", lead=lead, listed=listed, more=more)
            if more
            else mrkdwn("{lead}: {listed}", lead=lead, listed=listed)
        )
        if len(clause) <= room:
            return clause
    return lead


def _whole_or_clipped(text: Mrkdwn, room: int) -> Mrkdwn | None:
    """Another merged message's own text: whole, or cut at a word when it is the first."""
    text = Mrkdwn(text.rstrip().removesuffix("."))  # the clauses are joined by "; "
    if len(text) <= room:
        return text
    return None if room < MAX_NOTIFICATION else clip(text, room)
