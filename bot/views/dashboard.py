"""The Command Center summary, drawn for the Home tab and for `/msp dashboard`
(the same blocks; a message adds who shared it, the Home tab adds the commands)."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.domain.alerts import KIND_MAX_MAU_REACHED
from bot.domain.customers import CustomerFilter, trial_days_left_words
from bot.domain.roles import can_act_on_alerts
from bot.ids import ActionId, BlockId
from bot.payloads import CustomerRef, ListState, ShareTarget
from bot.results.dashboard import AtThreshold, Dashboard, SilentAgents, TrialEnding
from bot.views.alerts import alert_row, severity_counts
from bot.views.message import Message
from bot.views.mrkdwn import (
    Mrkdwn,
    channel_link,
    escape,
    join,
    mention,
    mrkdwn,
    number,
    slack_date,
    slack_time,
)
from bot.views.request_history import request_heading
from bot.views.requests import review_button, withdraw_button

TITLE = "MSP Command Center"
LIST_BUTTONS = (
    (CustomerFilter.PAID, "Paid Subscriptions"),
    (CustomerFilter.TRIALS, "Active Trials"),
    (CustomerFilter.EXPIRED, "Expired Trials"),
)


def dashboard_blocks(
    board: Dashboard,
    *,
    may_add_customers: bool,
    shared: bool = False,
    viewer: str | None = None,
) -> list[Block]:
    """Everything but the title: KPIs, the lists' buttons, trials ending soon,
    customers at their max-MAU threshold, agents not reporting and delivery problems.
    `shared`: the copy posted for a whole channel, to read; it offers only what any
    reader may click (Open customer, View), nothing that depends on who clicks.
    `viewer`: the one person it is drawn for (their Home tab, their own copy), whose
    own requests say "you" and offer Withdraw."""
    # The worst open alerts come first: they are what needs someone now; then the
    # requests waiting, in the same place whoever reads (to decide, or one's own).
    blocks: list[Block] = _open_alerts(board, shared=shared)
    blocks += _pending_requests(board, shared=shared, viewer=None if shared else viewer)
    blocks += [
        SectionBlock(block_id=BlockId.HOME_KPIS, fields=_kpis(board)),
        *_mau_estimate(board),
        ActionsBlock(block_id=BlockId.HOME_LISTS, elements=_list_buttons(board, may_add_customers)),
    ]
    blocks += _trials_ending(board)
    blocks += _at_max_mau(board)
    blocks += _silent_agents(board)
    blocks += _delivery(board)
    return blocks


def dashboard_message(
    board: Dashboard,
    *,
    shared_by: str | None = None,
    share_in: str | None = None,
    viewer: str | None = None,
) -> Message:
    """`/msp dashboard` for the person (`viewer`), with a button that shares it in
    `share_in` (named beside it), or (`shared_by`) the copy posted in a channel."""
    blocks = _summary_blocks(board, shared_by=shared_by, viewer=viewer)
    if shared_by is None and share_in:
        offer = mrkdwn(
            ":lock: Only you can see this. *Share in this channel* posts it for everyone "
            "in {where}.",
            where=channel_link(share_in),
        )
        blocks += [DividerBlock(), _share_section(offer, share_in, label="Share in this channel")]
    return Message.of(_notification(board), blocks)


def share_preview_message(board: Dashboard, *, user_id: str, channel_id: str) -> Message:
    """`/msp dashboard share`: the copy that would be posted, shown to the person
    alone under a button that names where it goes; nothing is posted until they click."""
    offer = mrkdwn(
        ":eyes: This preview is only for you. Click *Post in this channel* to share it "
        "with everyone in {where}; nothing is posted until you do.",
        where=channel_link(channel_id),
    )
    blocks: list[Block] = [
        _share_section(offer, channel_id, label="Post in this channel", style="primary"),
        DividerBlock(),
        *_summary_blocks(board, shared_by=user_id),
    ]
    return Message.of(_notification(board), blocks)


def _summary_blocks(
    board: Dashboard, *, shared_by: str | None, viewer: str | None = None
) -> list[Block]:
    scope = "the whole MSP" if board.whole_msp else "the customers assigned to you"
    if shared_by:
        scope = f"shared by {mention(shared_by)}"
    return [
        HeaderBlock(text=TITLE),
        ContextBlock(elements=[MarkdownTextObject(text=f"{slack_time(board.as_of)} · {scope}")]),
        *dashboard_blocks(
            board, may_add_customers=False, shared=shared_by is not None, viewer=viewer
        ),
    ]


def _share_section(
    text: Mrkdwn, channel_id: str, *, label: str, style: str | None = None
) -> SectionBlock:
    return SectionBlock(
        block_id=BlockId.DASHBOARD_ACTIONS,
        text=MarkdownTextObject(text=text),
        accessory=ButtonElement(
            text=label,
            action_id=ActionId.DASHBOARD_SHARE,
            value=ShareTarget(channel=channel_id).encode(),
            style=style,
        ),
    )


def _notification(board: Dashboard) -> Mrkdwn:
    return mrkdwn("{title}: {summary}", title=TITLE, summary=summary_line(board))


def summary_line(board: Dashboard) -> Mrkdwn:
    """One line for notifications and screen readers."""
    return mrkdwn(
        "{customers:,} customers, {users:,} billed users, "
        "{mau:,} MAU this month, {trials:,} active trials",
        customers=board.customers,
        users=board.billable_users,
        mau=board.mau,
        trials=board.active_trials,
    )


def _kpis(board: Dashboard) -> list[MarkdownTextObject]:
    limits = board.allowances
    customers = number(board.customers)
    users = number(board.billable_users)
    mau = number(board.mau)
    if limits is not None:  # each figure says what its maximum is
        customers += f" of {number(limits.max_customers)} allowed"
        if limits.seat_allowance is not None:
            users += f" of {number(limits.seat_allowance)} seats"
        mau += (
            f" of {number(limits.mau_allowance)} allowed"
            if limits.mau_allowance
            else " · no allowance yet"
        )
    fields = [
        f"*Customers*\n{customers}",
        f"*Active users (billed)*\n{users}",
        f"*Trial users*\n{number(board.trial_users)}",
        f"*Locations*\n{number(board.locations)}",
        f"*MAU this month*\n{mau}",
    ]
    if limits is not None:
        overage = number(board.overage)
        fields.append(
            f"*Overage MAU*\n:warning: {overage}" if board.overage else f"*Overage MAU*\n{overage}"
        )
    return [MarkdownTextObject(text=text) for text in fields]


def _mau_estimate(board: Dashboard) -> list[Block]:
    """The month-end estimate under the MAU figures, only when it warns of overage
    (the rule and the words are the licence view's and the MAU notice's)."""
    projection = board.mau_projection
    if projection is None or not projection.warns:
        return []
    text = mrkdwn(":chart_with_upwards_trend: {sentence}", sentence=projection.sentence)
    return [ContextBlock(elements=[MarkdownTextObject(text=text)])]


def _list_buttons(board: Dashboard, may_add_customers: bool) -> list[ButtonElement]:
    counts = {
        CustomerFilter.PAID: board.paid,
        CustomerFilter.TRIALS: board.active_trials,
        CustomerFilter.EXPIRED: board.expired_trials,
    }
    buttons = [
        ButtonElement(
            text=f"{label} ({counts[which]:,})",
            action_id=f"{ActionId.HOME_OPEN_LIST}:{which}",
            value=ListState(filter=which).encode(),
        )
        for which, label in LIST_BUTTONS
    ]
    if may_add_customers:
        buttons.append(
            ButtonElement(
                text="Add customer", action_id=ActionId.HOME_ADD_CUSTOMER, style="primary"
            )
        )
    return buttons


def _trials_ending(board: Dashboard) -> list[Block]:
    if not board.trials_ending_total:
        return []
    title = f"*Trials ending in the next 7 days* ({board.trials_ending_total:,})"
    blocks: list[Block] = [DividerBlock(), SectionBlock(text=MarkdownTextObject(text=title))]
    blocks += [_trial_row(trial) for trial in board.trials_ending]
    more = board.trials_ending_total - len(board.trials_ending)
    if more > 0:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"…and {more:,} more: open *Active Trials* (soonest first)."
                    )
                ]
            )
        )
    return blocks


def _trial_row(trial: TrialEnding) -> SectionBlock:
    left = trial_days_left_words(trial.days_left)
    figures = f"{slack_date(trial.trial_end)} · {left} · {number(trial.users)} users"
    return _customer_row(trial.id, trial.name, trial.account_number, figures)


def _pending_requests(
    board: Dashboard, *, shared: bool = False, viewer: str | None = None
) -> list[Block]:
    """Approvers see what waits for them, each with Review; others see their own
    requests still waiting, each with Withdraw. The reader's own requests say "you"
    rather than mentioning them."""
    if not board.pending_total:
        return []
    title = (
        f":inbox_tray: *Waiting for approval* ({number(board.pending_total)})"
        if board.decides_requests
        else f":hourglass_flowing_sand: *Your requests waiting* ({number(board.pending_total)})"
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=title))]
    for info in board.pending_requests:
        own = viewer is not None and info.requested_by == viewer
        # An MSP's own order (MAU allowance) has no customer: its heading says what it is.
        parts = [request_heading(info)]
        if info.customer_name:
            parts.append(escape(info.customer_name))
        if board.decides_requests or not own:  # "Your requests" says whose they are
            who = mrkdwn("you") if own else mention(info.requested_by)
            parts.append(mrkdwn("asked by {who}", who=who))
        text = join(" · ", parts)
        accessory: ButtonElement | None = None
        if not shared and board.decides_requests:
            accessory = review_button(info)  # one's own: Withdraw, in the review
        elif not shared and own:
            accessory = withdraw_button(info)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text[:2900]), accessory=accessory))
    more = board.pending_total - len(board.pending_requests)
    if more > 0:
        listing = "pending" if board.decides_requests else "mine"
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(text=f"…and {more:,} more: `/msp requests {listing}`.")
                ]
            )
        )
    blocks.append(DividerBlock())
    return blocks


def _open_alerts(board: Dashboard, *, shared: bool = False) -> list[Block]:
    """Open alerts by severity and the worst few, each with its menu (Open customer
    only for a viewer, and in a copy shared with a channel)."""
    total = sum(board.open_alerts_by_severity.values())
    if not total:
        return []
    title = (
        f":rotating_light: *Open alerts* ({number(total)}): "
        f"{severity_counts(board.open_alerts_by_severity)}"
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=title))]
    can_act = can_act_on_alerts(board.role) and not shared
    blocks += [alert_row(alert, can_act=can_act) for alert in board.open_alerts]
    more = total - len(board.open_alerts)
    if more > 0:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"…and {more:,} more: `/msp alerts`.")])
        )
    blocks.append(DividerBlock())
    return blocks


def _at_max_mau(board: Dashboard) -> list[Block]:
    """R20: these customers' new end users are blocked until the threshold is raised
    (Edit on the card) or the month ends. A customer whose max-MAU alert is among the
    open alerts above is said there (with the same figures, and its menu), not twice."""
    alerted = {
        alert.customer_id for alert in board.open_alerts if alert.kind == KIND_MAX_MAU_REACHED
    }
    rows = [row for row in board.at_max_mau if row.id not in alerted]
    above = len(board.at_max_mau) - len(rows)
    count = board.at_max_mau_total - above
    if count <= 0:
        return []
    customers = f"customer{'s' if count != 1 else ''}"
    title = (
        f":no_entry: *At their max-MAU threshold*: {number(count)} more {customers}, besides "
        f"the {number(above)} in the open alerts above: new end users are blocked"
        if above
        else f":no_entry: *At their max-MAU threshold*: {number(count)} {customers}: "
        "new end users are blocked"
    )
    blocks: list[Block] = [DividerBlock(), SectionBlock(text=MarkdownTextObject(text=title))]
    blocks += [_threshold_row(row) for row in rows]
    more = count - len(rows)
    if more > 0:
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=f"…and {more:,} more (furthest over shown).")]
            )
        )
    return blocks


def _threshold_row(row: AtThreshold) -> SectionBlock:
    figures = f"{number(row.mau)} MAU this month · threshold {number(row.threshold)}"
    return _customer_row(row.id, row.name, row.account_number, figures)


def _silent_agents(board: Dashboard) -> list[Block]:
    if not board.silent_agents:
        return []
    title = (
        f"*Agents not reporting*: {number(board.silent_agents)} "
        f"at {number(board.customers_with_silent_agents)} "
        f"customer{'s' if board.customers_with_silent_agents != 1 else ''}"
    )
    blocks: list[Block] = [DividerBlock(), SectionBlock(text=MarkdownTextObject(text=title))]
    blocks += [_silent_row(row) for row in board.silent_agent_customers]
    return blocks


def _silent_row(row: SilentAgents) -> SectionBlock:
    figures = f"{number(row.total - row.reporting)} of {number(row.total)} silent"
    return _customer_row(row.id, row.name, row.account_number, figures)


def _customer_row(customer_id: int, name: str, account_number: str, figures: str) -> SectionBlock:
    """A customer in a dashboard list: the name as typed (plain text cannot format,
    link or ping), its figures (mrkdwn), and a View button."""
    return SectionBlock(
        fields=[
            PlainTextObject(text=f"{name} · {account_number}"),
            MarkdownTextObject(text=figures),
        ],
        accessory=_view_button(customer_id),
    )


def _delivery(board: Dashboard) -> list[Block]:
    problems = board.delivery
    if problems is None or not problems.failed:
        return []
    text = (
        f":rotating_light: *{number(problems.failed)} message"
        f"{'s' if problems.failed != 1 else ''} could not be delivered* in the last 7 days"
        f" ({number(problems.queued)} waiting). `/msp delivery` shows what and why."
    )
    return [DividerBlock(), SectionBlock(text=MarkdownTextObject(text=text))]


def _view_button(customer_id: int) -> ButtonElement:
    return ButtonElement(
        text="View",
        action_id=ActionId.VIEW_CUSTOMER,
        value=CustomerRef(customer_id=customer_id).encode(),
    )
