"""The MAU licence on screen (R19): the licence message with its controls, the
`/msp mau` numbers, and the allowance order form. Pure functions of the
services' plain data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.domain.mau import (
    ESTIMATE_FROM_DAY,
    Projection,
    has_allowance,
    month_key,
    readable_month,
)
from bot.ids import ActionId, BlockId
from bot.payloads import LicenceState
from bot.results.customers import CustomerRow
from bot.results.licence import (
    ChosenCustomer,
    LicenceOverview,
    MauSeries,
    OrderLine,
)
from bot.views.charts import MauChart
from bot.views.customers import option_label, picker_options
from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, channel_link, escape, mention, mrkdwn, number, slack_date

MAX_SECTION_TEXT = 3000
MAX_OPTIONS = 100
WHOLE_MSP = "Whole MSP"
NAME_CLIP = 60  # of a customer name in lists and options
NOTE_CLIP = 100  # of an order note in the list of orders


# ---------------------------------------------------------------- the licence message


# Said instead of offering a chart of zeros to a channel.
NOTHING_TO_CHART = (
    "No MAU has been reported for these 12 months yet, so there is no chart to post. "
    "Usage arrives from your RMM or billing system through the usage API "
    "(`POST /api/v1/usage`)."
)


def licence_message(overview: LicenceOverview) -> Message:
    blocks: list[Block] = [
        HeaderBlock(text="MAU licence"),
        SectionBlock(fields=[MarkdownTextObject(text=fact) for fact in _facts(overview)]),
        ContextBlock(elements=[PlainTextObject(text=overview.projection.sentence)]),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=_history_text(overview))),
        SectionBlock(text=MarkdownTextObject(text=_per_customer_text(overview))),
        SectionBlock(text=MarkdownTextObject(text=_orders_text(overview))),
        ActionsBlock(block_id=_controls_block_id(overview), elements=_controls(overview)),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Pick a customer to see their MAU beside the MSP's, or a month "
                    "for the MAU per customer. Overage = MAU above the allowance; a month "
                    "before the first allowance has none."
                )
            ]
        ),
    ]
    return Message.of(_licence_notification(overview), blocks)


def _licence_notification(overview: LicenceOverview) -> Mrkdwn:
    if not has_allowance(overview.allowance):
        return mrkdwn("MAU licence: {mau:,} MAU this month, no allowance yet", mau=overview.mau)
    over = mrkdwn(", {overage:,} over", overage=overview.overage) if overview.overage else ""
    return mrkdwn(
        "MAU licence: {mau:,} of {allowance:,} MAU this month{over}",
        mau=overview.mau,
        allowance=overview.allowance,
        over=over,
    )


def _facts(overview: LicenceOverview) -> list[str]:
    if not has_allowance(overview.allowance):
        mau = f"{number(overview.mau)} (no allowance yet)"
        overage = "none: no allowance yet"
    else:
        mau = f"{number(overview.mau)} of {number(overview.allowance)}"
        overage = (
            f":red_circle: *{number(overview.overage)}* MAU over"
            if overview.overage > 0
            else ":large_green_circle: none"
        )
    used = (
        f"{overview.percent_used:.1f}%"
        if overview.percent_used is not None
        else "no allowance bought"
    )
    return [
        f"*MAU this month*\n{mau}",
        f"*Overage so far*\n{overage}",
        f"*Allowance used*\n{used}",
        f"*Month-end estimate*\n{_estimate_fact(overview.projection)}",
    ]


def _estimate_fact(projection: Projection) -> str:
    """The estimate in a few words, beside the sentence that explains it."""
    estimate = projection.month_end
    if estimate is None:
        return f"from day {ESTIMATE_FROM_DAY} of the month"
    if projection.warns:
        return f"about {number(estimate)} (:warning: {number(projection.projected_overage)} over)"
    return f"about {number(estimate)}"


def _month_cell(month: date, current: date) -> str:
    return readable_month(month, to_date=month == current)


def _allowance_cells(allowance: int, overage: int) -> list[str]:
    """A month before the first allowance has neither an allowance nor overage."""
    if not has_allowance(allowance):
        return ["none", "-"]
    return [number(allowance), number(overage)]


def _history_text(overview: LicenceOverview) -> str:
    if overview.customer is None:
        title = "*MAU and allowance, last 12 months* (whole MSP)"
        header = ["Month", "MAU", "Allowance", "Overage"]
        rows = [
            [
                _month_cell(f.month, overview.month),
                number(f.mau),
                *_allowance_cells(f.allowance, f.overage),
            ]
            for f in overview.history
        ]
    else:
        title = (
            "*MAU and allowance, last 12 months*: "
            f"{_customer_name(overview.customer)} beside the whole MSP"
        )
        header = ["Month", "Customer", "MSP MAU", "Allowance"]
        rows = [
            [
                _month_cell(f.month, overview.month),
                number(f.customer_mau or 0),
                number(f.mau),
                _allowance_cells(f.allowance, 0)[0],
            ]
            for f in overview.history
        ]
    return f"{title}\n{_table(header, rows)}"


def _per_customer_text(overview: LicenceOverview) -> str:
    month = _month_cell(overview.selected_month, overview.month)
    count = overview.customers_with_mau
    title = (
        f"*MAU per customer, {month}*: {number(overview.selected_month_mau)} MAU across "
        f"{number(count)} customer{'s' if count != 1 else ''}"
    )
    if not overview.top_customers:
        return f"{title}\nNo usage reported for {month}."
    lines = [
        f"{rank}. {_clipped(row.name)} `{escape(row.account_number)}`: *{number(row.mau)}*"
        for rank, row in enumerate(overview.top_customers, 1)
    ]
    hidden = count - len(overview.top_customers)
    return _capped(title, lines, hidden=hidden, noun="customers")


def _orders_text(overview: LicenceOverview) -> str:
    title = "*Allowance orders*"
    if not overview.orders:
        return f"{title}\nNo allowance orders yet."
    lines = [_order_line(order) for order in overview.orders]
    hidden = overview.order_count - len(overview.orders)
    return _capped(title, lines, hidden=hidden, noun="earlier orders")


def _order_line(order: OrderLine) -> str:
    line = (
        f"{slack_date(order.day)} · {mention(order.ordered_by)} · "
        f"+{number(order.quantity)} · {number(order.allowance_before)} → "
        f"{number(order.allowance_after)}"
    )
    if order.status != "applied":
        line += f" ({escape(order.status)})"
    if order.note:
        note = order.note if len(order.note) <= NOTE_CLIP else order.note[: NOTE_CLIP - 1] + "…"
        line += f" · “{escape(' '.join(note.split()))}”"
    return line


def _controls_block_id(overview: LicenceOverview) -> str:
    """A block id per selection: Slack keeps a select's client-side state per block
    id, so a re-rendered message with a new id shows the new initial options."""
    customer = overview.customer.id if overview.customer else 0
    return f"{BlockId.LICENCE_CONTROLS}.{customer}.{month_key(overview.selected_month)}"


def _controls(overview: LicenceOverview) -> list[Any]:
    customer_id = overview.customer.id if overview.customer else None
    selected = month_key(overview.selected_month)
    month_options = {
        month: Option(
            text=_month_cell(month, overview.month),
            value=LicenceState(customer_id=customer_id, month=month_key(month)).encode(),
        )
        for month in reversed(overview.months)  # the latest first
    }
    elements: list[Any] = [
        ExternalDataSelectElement(
            action_id=ActionId.LICENCE_CUSTOMER,
            placeholder="Whole MSP or a customer",
            initial_option=_customer_option(overview.customer),
            min_query_length=0,
        ),
        StaticSelectElement(
            action_id=ActionId.LICENCE_MONTH,
            placeholder="Month",
            options=list(month_options.values()),
            initial_option=month_options[overview.selected_month],
        ),
        ButtonElement(
            text="Post chart in this channel",
            action_id=ActionId.LICENCE_CHART,
            value=LicenceState(customer_id=customer_id, month=selected).encode(),
        ),
    ]
    if overview.can_order:
        elements.append(
            ButtonElement(
                text="Extend allowance", action_id=ActionId.LICENCE_EXTEND, style="primary"
            )
        )
    return elements


def _customer_option(customer: ChosenCustomer | None) -> Option:
    if customer is None:
        return Option(text=WHOLE_MSP, value=LicenceState().encode())
    return Option(
        text=option_label(customer.name[:NAME_CLIP], customer.account_number),
        value=LicenceState(customer_id=customer.id).encode(),
    )


def licence_customer_options(rows: Sequence[CustomerRow]) -> list[dict[str, Any]]:
    """The licence view's type-ahead: "Whole MSP" first, then the matching customers
    (a customer's value is a CustomerRef, which decodes as a LicenceState)."""
    whole = {
        "text": {"type": "plain_text", "text": WHOLE_MSP},
        "value": LicenceState().encode(),
    }
    return [whole, *picker_options(list(rows[: MAX_OPTIONS - 1]))]


# ---------------------------------------------------------------- /msp mau


def chart_title(series: MauSeries) -> str:
    who = (
        f"{series.customer.name} ({series.customer.account_number})"
        if series.customer
        else WHOLE_MSP
    )
    return f"Monthly active users: {who}"


def chart_labels(series: MauSeries) -> list[str]:
    """The months as people read them; the last, this month, marked as partial."""
    current = series.months[-1] if series.months else None
    return [readable_month(month, to_date=month == current) for month in series.months]


def mau_chart(series: MauSeries) -> MauChart:
    """What the chart of `series` shows: the months, the allowance (for the whole
    MSP), this month marked as partial with its estimate, and the estimate in words."""
    return MauChart(
        title=chart_title(series),
        labels=chart_labels(series),
        mau=list(series.mau),
        allowance=list(series.allowance) if series.allowance is not None else None,
        partial=len(series.mau) - 1 if series.mau else None,
        estimate=series.projection.month_end,
        caption=series.projection.sentence,
    )


def chart_comment(series: MauSeries) -> Mrkdwn:
    """The comment the chart is posted with, for everyone in the conversation: what
    it covers and that this month is partial (the file's title names whose MAU). No
    mention: it would ping the person who asked, who knows already."""
    if not series.months:
        return mrkdwn("MAU for the last 12 months.")
    projection = series.projection
    return mrkdwn(
        "MAU for the last 12 months; {month} is to date ({days} of {total} days).",
        month=readable_month(series.months[-1]),
        days=projection.days_elapsed,
        total=projection.days_in_month,
    )


def chart_filename(series: MauSeries) -> str:
    who = series.customer.account_number if series.customer else "msp"
    return f"mau-{who.lower()}-{month_key(series.months[-1])}.png"


def mau_message(
    series: MauSeries, *, channel_id: str | None = None, chart_posted: bool = False
) -> Message:
    """The numbers behind the chart, for the person who asked and nobody else, with a
    button that posts the chart in `channel_id`, named so they know who will see it
    (`chart_posted`: it was clicked, and a line says so instead)."""
    if series.customer is None:
        title = "*Monthly active users, last 12 months*: whole MSP"
        header = ["Month", "MAU", "Allowance", "Overage"]
        rows = [
            [label, number(mau), *_allowance_cells(allowance, over)]
            for label, mau, allowance, over in zip(
                chart_labels(series),
                series.mau,
                series.allowance or [0] * len(series.mau),
                series.overage or [0] * len(series.mau),
                strict=True,
            )
        ]
    else:
        title = f"*Monthly active users, last 12 months*: {_customer_name(series.customer)}"
        header = ["Month", "MAU"]
        rows = [
            [label, number(mau)]
            for label, mau in zip(chart_labels(series), series.mau, strict=True)
        ]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"{title}\n{_table(header, rows)}"))
    ]
    if not any(series.mau):
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=NOTHING_TO_CHART)]))
    else:
        blocks.append(ContextBlock(elements=[PlainTextObject(text=series.projection.sentence)]))
        if channel_id:
            blocks.append(_chart_offer(series, channel_id, posted=chart_posted))
    latest = series.mau[-1] if series.mau else 0
    return Message.of(mrkdwn("MAU this month: {latest:,}", latest=latest), blocks)


def _chart_offer(series: MauSeries, channel_id: str, *, posted: bool) -> Block:
    where = channel_link(channel_id)
    if posted:
        text = mrkdwn(":bar_chart: The chart is being posted in {where}.", where=where)
        return ContextBlock(block_id=BlockId.MAU_CHART, elements=[MarkdownTextObject(text=text)])
    text = mrkdwn(
        ":lock: Only you can see these figures. *Post chart in this channel* posts "
        "them as a chart for everyone in {where}.",
        where=where,
    )
    customer_id = series.customer.id if series.customer else None
    return SectionBlock(
        block_id=BlockId.MAU_CHART,
        text=MarkdownTextObject(text=text),
        accessory=ButtonElement(
            text="Post chart in this channel",
            action_id=ActionId.LICENCE_CHART,
            value=LicenceState(customer_id=customer_id).encode(),
            style="primary",
        ),
    )


# ---------------------------------------------------------------- ordering allowance


def _customer_name(customer: ChosenCustomer) -> str:
    return mrkdwn("{name} `{account}`", name=customer.name, account=customer.account_number)


def _clipped(name: str) -> str:
    """A customer name for mrkdwn: shortened, then escaped (so `<!channel>` pings no one)."""
    short = name if len(name) <= NAME_CLIP else name[: NAME_CLIP - 1] + "…"
    return escape(short)


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A monospace table: the first column left-aligned, numbers right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    return "```\n" + "\n".join(line(row) for row in [header, *rows]) + "\n```"


def _capped(title: str, lines: list[str], *, hidden: int, noun: str) -> str:
    """`title` and as many `lines` as fit in one section; the rest, and the `hidden`
    ones never fetched, are counted in an "and N more" line."""
    reserve = 60  # room for the "and N more" line
    text = title
    shown = 0
    for line in lines:
        if len(text) + 1 + len(line) > MAX_SECTION_TEXT - reserve:
            break
        text += "\n" + line
        shown += 1
    more = hidden + len(lines) - shown
    if more > 0:
        text += f"\n…and {number(more)} more {noun}"
    return text
