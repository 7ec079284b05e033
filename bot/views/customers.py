"""Customers on screen: the card, the lists, the picker, and the add, edit, delete
and find modals. Pure functions of the services' plain data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    ExternalDataSelectElement,
    HeaderBlock,
    InputBlock,
    InteractiveElement,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
    UserMultiSelectElement,
)

from bot.domain.customers import (
    DEFAULT_TRIAL_DAYS,
    MAX_LICENCES,
    MAX_NAME_LENGTH,
    NEVER_BLOCK,
    CustomerFilter,
    ListSort,
    Plan,
    Status,
    plan_status_label,
    trial_days_left_words,
)
from bot.domain.requests import FREE_MAX_DATA_GB, FREE_MAX_USERS, RequestType, add_on_label
from bot.domain.terms import Term
from bot.ids import ActionId, BlockId, CallbackId, CustomerField
from bot.payloads import (
    CustomerRef,
    EditCustomerState,
    ListState,
    RequestFormState,
    RowAction,
    RowActionKind,
)
from bot.results.customers import CustomerCard, CustomerPage, CustomerRow
from bot.views.alerts import severity_counts
from bot.views.billing import correction_context
from bot.views.fields import Typed, number_input, text_input, with_typed
from bot.views.message import Message
from bot.views.modal import modal
from bot.views.mrkdwn import escape, mention, money, mrkdwn, number, plain_text, slack_date
from bot.views.request_history import history_blocks

NEW_PLANS = (Plan.TRIAL, Plan.ESSENTIALS, Plan.PROFESSIONAL, Plan.ENTERPRISE)
# The Command Center's names for its lists (the Home tab's buttons say the same);
# each fits a modal's title (24 characters).
FILTER_TITLES = {
    CustomerFilter.ALL: "All Customers",
    CustomerFilter.PAID: "Paid Subscriptions",
    CustomerFilter.TRIALS: "Active Trials",
    CustomerFilter.EXPIRED: "Expired Trials",
    CustomerFilter.FREE: "Free Customers",
}


# ---------------------------------------------------------------- the card


def card_blocks(card: CustomerCard) -> list[Block]:
    facts = [
        f"*Plan*\n{card.plan.label}" + (" (past due)" if card.past_due else ""),
        f"*Status*\n{card.status.label}" + _trial_left(card),
        f"*Users / licences*\n{number(card.users)} / {number(card.licences)}",
        f"*MAU / threshold*\n{number(card.mau_this_month)} / {_threshold(card.max_mau_threshold)}",
        *_price_facts(card),
        f"*Agents reporting*\n{number(card.agents_reporting)} / {number(card.agents_total)}",
        f"*Admin*\n{escape(card.admin_email)}",
    ]
    blocks: list[Block] = [
        HeaderBlock(text=card.name[:150]),
        ContextBlock(
            elements=[MarkdownTextObject(text=mrkdwn("Account `{n}`", n=card.account_number))]
        ),
        SectionBlock(fields=[MarkdownTextObject(text=fact) for fact in facts]),
    ]
    if card.over_free_limits:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_over_free_limits(card))]))
    if card.mau_at_threshold is not None and card.max_mau_threshold is not None:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_at_threshold(card))))
    details = _details(card)
    if details:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(details)[:3000])))
    blocks += correction_context(card)
    if card.open_alerts:
        alerts = mrkdwn(
            ":rotating_light: *Open alerts* ({total:,}): {counts} · `/msp alerts {account}`",
            total=sum(card.open_alerts.values()),
            counts=severity_counts(card.open_alerts),
            account=card.account_number,
        )
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=alerts)]))
    blocks += history_blocks(card.requests)
    buttons = _card_buttons(card)
    if buttons:
        blocks.append(ActionsBlock(block_id=BlockId.CUSTOMER_ACTIONS, elements=buttons))
    if card.deletion_waits is not None:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_deletion_waits(card))]))
    return blocks


def card_message(card: CustomerCard, *, intro: str | None = None) -> Message:
    """`intro` is plain text (names in it are shown as typed, never formatted)."""
    blocks = card_blocks(card)
    if intro:
        blocks.insert(0, _plain_section(intro))
    return Message.of(
        mrkdwn("{name} ({account})", name=card.name, account=card.account_number), blocks
    )


def card_modal(card: CustomerCard, *, intro: str | None = None) -> dict[str, Any]:
    """The card inside a modal (after Add, Edit, or Find); `intro` is plain text."""
    blocks = card_blocks(card)
    if intro:
        blocks.insert(0, _plain_section(intro))
    return modal(callback_id=None, title="Customer", blocks=blocks, submit=None, close="Done")


def _price_facts(card: CustomerCard) -> list[str]:
    """R18: the price of a licence a month and the monthly total (unit price x
    licences); a paid term's term, contract start and renewal. An account without a
    paid term shows the price it will have once paid, never a total of $0."""
    unit = money(card.unit_price)
    if not card.plan.is_paid:
        when = "after the trial" if card.status == Status.ACTIVE_TRIAL else "once paid"
        return [f"*Price per licence*\n{unit} a month {when}"]
    licences = f"{number(card.licences)} licence{'s' if card.licences != 1 else ''}"
    term = card.term.label if card.term else "—"
    since = f" since {slack_date(card.contract_start)}" if card.contract_start else ""
    renewal = slack_date(card.renewal_date) if card.renewal_date else "—"
    # A cancelled plan does not renew: its renewal date is the day it ends.
    ends = card.status is Status.PENDING_CANCELLATION
    return [
        f"*Price per licence*\n{unit} a month",
        f"*Monthly total*\n{money(card.monthly_price)} ({licences} x {unit})",
        f"*Term*\n{term}{since}",
        f"*{'Ends' if ends else 'Renewal'}*\n{renewal}",
    ]


def _over_free_limits(card: CustomerCard) -> str:
    """R15: figures only, no user text."""
    return (
        f":warning: *Over free limits*: {number(card.users)} users and "
        f"{card.data_used_gb:g} GB; the free plan allows {FREE_MAX_USERS} users and "
        f"{FREE_MAX_DATA_GB} GB."
    )


def _at_threshold(card: CustomerCard) -> str:
    """R20: the customer blocks new end users until the threshold is raised or the
    month ends; figures only, no user text."""
    assert card.mau_at_threshold is not None and card.max_mau_threshold is not None
    where = "over" if card.mau_at_threshold > card.max_mau_threshold else "at"
    said = (
        f":no_entry: *New end users are blocked*: {number(card.mau_at_threshold)} MAU this "
        f"month, {where} its max-MAU threshold of {number(card.max_mau_threshold)}."
    )
    if card.can_edit:
        return (
            f"{said} Raise the threshold with *Edit* to let them in now; otherwise they stay "
            "blocked until the month ends."
        )
    return f"{said} They stay blocked until the month ends or an admin raises the threshold."


def _deletion_waits(card: CustomerCard) -> str:
    """R16: why the card offers no Delete, and what leads to one."""
    waits = card.deletion_waits
    assert waits is not None
    if waits.cancelled:
        ends = f" on {slack_date(waits.until)}" if waits.until else ""
        return f"Cancelled: it can be deleted once its paid term ends{ends}."
    how = (
        " (*Cancel subscription* in *Request…*)" if RequestType.CANCEL in card.request_kinds else ""
    )
    ends = f", on {slack_date(waits.until)} at the soonest" if waits.until else ""
    return (
        f"A paid account cannot be deleted during its term: cancel its subscription "
        f"first{how}, and it can be deleted once the term ends{ends}."
    )


def _trial_left(card: CustomerCard) -> str:
    return (
        "" if card.trial_days_left is None else f" ({trial_days_left_words(card.trial_days_left)})"
    )


def _threshold(value: int | None) -> str:
    return "never blocks" if value is None else number(value)


def _details(card: CustomerCard) -> list[str]:
    lines = []
    if card.contact_name or card.contact_email:
        who = escape(card.contact_name or "")
        email = f" ({escape(card.contact_email)})" if card.contact_email else ""
        lines.append(f"*Primary contact:* {who}{email}".rstrip())
    if card.locations:
        lines.append("*Locations:* " + ", ".join(escape(name) for name in card.locations))
    if card.assigned:
        lines.append("*Assigned:* " + ", ".join(mention(user) for user in card.assigned))
    if card.add_ons:
        lines.append("*Add-ons:* " + ", ".join(escape(add_on_label(name)) for name in card.add_ons))
    if card.notes:
        lines.append("*Notes:* " + escape(card.notes))
    return lines


def _card_buttons(card: CustomerCard) -> list[Any]:
    ref = CustomerRef(customer_id=card.id).encode()
    buttons: list[Any] = []
    if card.request_kinds:
        buttons.append(
            StaticSelectElement(
                action_id=ActionId.REQUEST_START,
                placeholder="Request…",
                options=[
                    Option(
                        text=kind.label,
                        value=RequestFormState(kind=kind, customer_id=card.id).encode(),
                    )
                    for kind in card.request_kinds
                ],
            )
        )
    if card.can_reverse_deletion:
        buttons.append(
            ButtonElement(
                text="Reverse deletion",
                action_id=ActionId.REVERSE_DELETION,
                value=ref,
                style="primary",
            )
        )
    if card.can_edit:
        buttons.append(ButtonElement(text="Edit", action_id=ActionId.EDIT_CUSTOMER, value=ref))
    if card.can_correct_billing:
        buttons.append(
            ButtonElement(
                text="Correct billing data", action_id=ActionId.CORRECT_BILLING, value=ref
            )
        )
    if card.can_delete:
        buttons.append(
            ButtonElement(
                text="Delete", action_id=ActionId.DELETE_CUSTOMER, value=ref, style="danger"
            )
        )
    return buttons


# ---------------------------------------------------------------- finding


MAX_OPTION_TEXT = 75  # Slack's limit for an option's text


def option_label(name: str, account_number: str) -> str:
    """`Name (ACCOUNT)` within an option's 75 characters: the name gives way."""
    suffix = f" ({account_number})"
    room = max(MAX_OPTION_TEXT - len(suffix), 1)
    shown = name if len(name) <= room else name[: room - 1] + "…"
    return (shown + suffix)[:MAX_OPTION_TEXT]


def picker_message(*, query: str, rows: list[CustomerRow]) -> Message:
    options = [
        Option(
            text=option_label(row.name, row.account_number),
            value=CustomerRef(customer_id=row.id).encode(),
        )
        for row in rows[:100]
    ]
    text = f"{len(rows)} customers match “{query[:80]}”. Pick one:"
    blocks: list[Block] = [
        SectionBlock(
            text=PlainTextObject(text=text),
            accessory=StaticSelectElement(
                action_id=ActionId.PICK_CUSTOMER, placeholder="Choose a customer", options=options
            ),
        )
    ]
    return Message.of(mrkdwn("{count} customers match", count=len(rows)), blocks)


def no_match_message(query: str) -> Message:
    text = (
        f"No customer matches “{query[:80]}”. Try part of the name or the account "
        "number, or /msp customers to browse."
    )
    return Message.of(mrkdwn("{text}", text=text), [_plain_section(text)])


def picker_options(rows: list[CustomerRow]) -> list[dict[str, Any]]:
    """Options for an external_select (best matches first, at most 100)."""
    return [
        {
            "text": {"type": "plain_text", "text": option_label(row.name, row.account_number)},
            "value": CustomerRef(customer_id=row.id).encode(),
        }
        for row in rows[:100]
    ]


def find_modal() -> dict[str, Any]:
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.CUSTOMER_FIND,
            label="Customer",
            element=ExternalDataSelectElement(
                action_id=ActionId.CUSTOMER_SEARCH,
                placeholder="Type a name or account number",
                min_query_length=1,
            ),
        )
    ]
    return modal(
        callback_id=CallbackId.FIND_CUSTOMER, title="Find a customer", blocks=blocks, submit="Show"
    )


# ---------------------------------------------------------------- lists

SORT_LABELS = {
    ListSort.NAME: "Name (A-Z)",
    ListSort.TRIAL_END: "Trial end (soonest first)",
    ListSort.USERS: "Users (most first)",
}
ROW_ACTION_LABELS = {RowActionKind.VIEW: "View card"}
# The requests a row's menu offers for each status (the rules decide on the click;
# an overflow menu holds at most five options, "View card" included).
ROW_REQUESTS: dict[Status, tuple[RequestType, ...]] = {
    Status.ACTIVE_TRIAL: (RequestType.TRIAL_EXTENSION, RequestType.UPGRADE),
    Status.EXPIRED_TRIAL: (
        RequestType.TRIAL_EXTENSION,
        RequestType.UPGRADE,
        RequestType.REMOVE_EXPIRED_TRIAL,
    ),
    Status.PAID: (RequestType.ADD_LICENCES, RequestType.UPGRADE, RequestType.CANCEL),
    Status.PENDING_CANCELLATION: (RequestType.REACTIVATE,),
    Status.FREE: (RequestType.REACTIVATE, RequestType.DELETE_ACCOUNT),
}
SEARCH_TOO_LONG_TO_SORT = "Shorten the search to sort this list."


def list_message(page: CustomerPage) -> Message:
    """A list as an ephemeral message (`/msp customers`)."""
    title = FILTER_TITLES[page.filter]
    if page.text:
        title += f" matching “{page.text[:40]}”"
    blocks: list[Block] = [HeaderBlock(text=title[:150]), *list_blocks(page)]
    return Message.of(mrkdwn("{title}: {total:,} customers", title=title, total=page.total), blocks)


def list_modal(page: CustomerPage) -> dict[str, Any]:
    """A list opened from the Home tab: the message's blocks, the title in the modal's."""
    return modal(
        callback_id=CallbackId.CUSTOMER_LIST,
        title=FILTER_TITLES[page.filter],
        blocks=list_blocks(page),
        submit=None,
        close="Close",
    )


def list_blocks(page: CustomerPage) -> list[Block]:
    """Totals, rows and controls: one body for the message and the modal."""
    sort = _sort_select(page) if page.rows else None
    notes = [_totals(page)]
    if page.rows and sort is None:
        notes.append(SEARCH_TOO_LONG_TO_SORT)
    blocks: list[Block] = [ContextBlock(elements=[MarkdownTextObject(text=n) for n in notes])]
    blocks += [_row_block(row) for row in page.rows]
    if not page.rows:
        blocks += _empty_list(page)
    controls: list[InteractiveElement] = [*_page_buttons(page), *([sort] if sort else [])]
    if controls:
        blocks.append(DividerBlock())
        blocks.append(ActionsBlock(block_id=BlockId.LIST_NAVIGATION, elements=controls))
    return blocks


def _empty_list(page: CustomerPage) -> list[Block]:
    """What to do about an empty list, not only that it is empty."""
    if page.text:
        said = mrkdwn(
            "No customer matches “{text}”. Try part of the name, or the account number.",
            text=page.text[:40],
        )
    elif page.filter is CustomerFilter.ALL and page.can_add:
        said = mrkdwn("No customers yet. Add the first one, or import your book from a CSV file.")
    else:
        said = mrkdwn("No customers here.")
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=said))]
    if page.can_add and not page.text:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Add customer", action_id=ActionId.HOME_ADD_CUSTOMER, style="primary"
                    )
                ]
            )
        )
    return blocks


def _totals(page: CustomerPage) -> str:
    parts = [f"*{page.total:,}* customer{'s' if page.total != 1 else ''}"]
    if page.filter in (CustomerFilter.TRIALS, CustomerFilter.ALL):
        parts.append(f"*{page.trial_users:,}* trial users")  # R5: shown apart from billing
    if page.filter in (CustomerFilter.PAID, CustomerFilter.ALL):
        parts.append(f"*{page.paid_users:,}* active (billed) users")
    parts.append(f"page {page.page} of {page.page_count}")
    return " · ".join(parts)


def _row_block(row: CustomerRow) -> SectionBlock:
    return SectionBlock(
        fields=[
            PlainTextObject(text=f"{row.name} · {row.account_number}"),
            MarkdownTextObject(text=_row_details(row)),
        ],
        accessory=_row_menu(row),
    )


def _row_details(row: CustomerRow) -> str:
    """Plan, status and figures: no user text here, the name is in plain text beside it."""
    line = plan_status_label(row.plan, row.status)  # "Free", never "Free · Free"
    if row.trial_days_left is not None:
        line += f" · {trial_days_left_words(row.trial_days_left)}"
    if row.status == Status.EXPIRED_TRIAL and row.trial_end:
        line += f" · ended {slack_date(row.trial_end)}"
    line += f" · {number(row.users)} users"
    if row.over_free_limits:
        line += " · :warning: over free limits"
    if row.plan.is_paid:
        line += f" / {number(row.licences)} licences"
    if row.renewal_date:
        # A cancelled plan does not renew: it ends on its renewal date.
        verb = "ends" if row.status is Status.PENDING_CANCELLATION else "renews"
        line += f" · {verb} {slack_date(row.renewal_date)}"
    return line


def _row_menu(row: CustomerRow) -> OverflowMenuElement:
    """A row's actions, in one menu (Slack allows five options)."""
    options = [
        Option(
            text=ROW_ACTION_LABELS[RowActionKind.VIEW],
            value=RowAction(customer_id=row.id, action=RowActionKind.VIEW).encode(),
        )
    ]
    options += [
        Option(
            text=f"Request: {kind.label}",
            value=RowAction(
                customer_id=row.id, action=RowActionKind.REQUEST, request=kind
            ).encode(),
        )
        for kind in ROW_REQUESTS.get(row.status, ())
    ]
    return OverflowMenuElement(action_id=ActionId.ROW_MENU, options=options)


def _page_buttons(page: CustomerPage) -> list[ButtonElement]:
    buttons = []
    if page.page > 1:
        buttons.append(
            ButtonElement(
                text="◀ Previous",
                action_id=ActionId.LIST_PREVIOUS,
                value=_state(page, page_number=page.page - 1, sort=page.sort),
            )
        )
    if page.page < page.page_count:
        buttons.append(
            ButtonElement(
                text="Next ▶",
                action_id=ActionId.LIST_NEXT,
                value=_state(page, page_number=page.page + 1, sort=page.sort),
            )
        )
    return buttons


def _sort_select(page: CustomerPage) -> StaticSelectElement | None:
    """Each option carries the whole list state (page 1 in its order), so the answer
    needs nothing else from the list, in a message as in a modal. None when a long
    search would not fit in an option's value."""
    options = {
        sort: Option(text=SORT_LABELS[sort], value=_state(page, page_number=1, sort=sort))
        for sort in ListSort
    }
    if any(len(option.value) > Option.value_max_length for option in options.values()):
        return None
    return StaticSelectElement(
        action_id=ActionId.LIST_SORT,
        placeholder="Sort by",
        options=list(options.values()),
        initial_option=options[page.sort],
    )


def _state(page: CustomerPage, *, page_number: int, sort: ListSort) -> str:
    return ListState(filter=page.filter, text=page.text, page=page_number, sort=sort).encode()


# ---------------------------------------------------------------- forms


def add_modal(
    *,
    default_price: Decimal,
    today: date,
    trial_days: int = DEFAULT_TRIAL_DAYS,
    plan: Plan = Plan.TRIAL,
    typed: Typed | None = None,
) -> dict[str, Any]:
    """The Add customer form for `plan`: the name first, then the admin's email and
    the plan. A trial asks only for what a trial needs; a paid plan also asks for
    its contract (licences, term, contract start, price per licence), every part of
    it required. Choosing another plan redraws the form, keeping what was entered
    (`typed`, the open form's state). `today` is the MSP's day: a paid contract
    starts today unless told otherwise (a customer brought in mid-contract).
    `trial_days`: how long the MSP's trials last (the operator's grant)."""
    blocks: list[Block] = [
        text_input(CustomerField.NAME, "Organization name", max_length=MAX_NAME_LENGTH),
        text_input(CustomerField.ADMIN_EMAIL, "Admin email", placeholder="admin@customer.com"),
        _plan_select(plan, trial_days=trial_days, default_price=default_price),
        *(_paid_contract_inputs(today=today, default_price=default_price) if plan.is_paid else []),
        *_threshold_inputs(None),
        text_input(
            CustomerField.LOCATIONS,
            "Locations",
            optional=True,
            multiline=True,
            placeholder="One site per line",
        ),
        text_input(CustomerField.CONTACT_NAME, "Primary contact", optional=True),
        text_input(CustomerField.CONTACT_EMAIL, "Primary contact's email", optional=True),
        InputBlock(
            block_id=CustomerField.ASSIGNED,
            label="Assigned staff",
            element=UserMultiSelectElement(action_id=ActionId.FIELD, max_selected_items=20),
            optional=True,
        ),
    ]
    view = modal(
        callback_id=CallbackId.ADD_CUSTOMER, title="Add customer", blocks=blocks, submit="Add"
    )
    return with_typed(view, typed)


def _plan_select(plan: Plan, *, trial_days: int, default_price: Decimal) -> InputBlock:
    """The plan, which redraws the form when another is chosen (dispatch_action): a
    paid plan's contract fields appear only for a paid plan."""
    if plan.is_paid:
        hint = "A customer already under a paid contract: give the contract below."
    else:
        hint = (
            f"A trial lasts {trial_days} days; after it, a licence costs "
            f"{money(default_price)} a month (your default price). For a customer already "
            "paying, choose its paid plan."
        )
    return InputBlock(
        block_id=CustomerField.PLAN,
        label="Plan",
        dispatch_action=True,
        element=StaticSelectElement(
            action_id=ActionId.ADD_CUSTOMER_PLAN,
            options=[_plan_option(choice) for choice in NEW_PLANS],
            initial_option=_plan_option(plan),
        ),
        hint=hint,
    )


def _paid_contract_inputs(*, today: date, default_price: Decimal) -> list[Block]:
    """What a paid plan needs (R18): its licences, term and contract start, from which
    the renewal date follows (bot.domain.terms), and the price per licence."""
    return [
        number_input(
            CustomerField.LICENCES,
            "Licences",
            minimum="1",
            hint=f"How many licences the contract is for: 1 to {MAX_LICENCES:,}.",
        ),
        InputBlock(
            block_id=CustomerField.TERM,
            label="Term",
            element=StaticSelectElement(
                action_id=ActionId.FIELD,
                placeholder="Monthly or annual",
                options=[Option(text=term.label, value=term.value) for term in Term],
            ),
        ),
        InputBlock(
            block_id=CustomerField.CONTRACT_START,
            label="Contract start",
            element=DatePickerElement(action_id=ActionId.FIELD, initial_date=today.isoformat()),
            hint="The day the paid contract began: earlier than today for a customer who is "
            "already mid-contract. It renews every term on the same day of the month.",
        ),
        _price_input(f"{default_price:.2f}"),
    ]


def edit_modal(card: CustomerCard) -> dict[str, Any]:
    blocks: list[Block] = [
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=mrkdwn(
                        "Account `{n}` · {plan}", n=card.account_number, plan=card.plan.label
                    )
                )
            ]
        ),
        text_input(
            CustomerField.NAME, "Organization name", initial=card.name, max_length=MAX_NAME_LENGTH
        ),
        text_input(CustomerField.ADMIN_EMAIL, "Admin email", initial=card.admin_email),
        text_input(
            CustomerField.CONTACT_NAME, "Primary contact", optional=True, initial=card.contact_name
        ),
        text_input(
            CustomerField.CONTACT_EMAIL,
            "Primary contact's email",
            optional=True,
            initial=card.contact_email,
        ),
        text_input(
            CustomerField.LOCATIONS,
            "Locations",
            optional=True,
            multiline=True,
            initial="\n".join(card.locations),
        ),
        *_threshold_inputs(card.max_mau_threshold),
        _price_input(f"{card.unit_price:.2f}"),
        InputBlock(
            block_id=CustomerField.ASSIGNED,
            label="Assigned staff",
            element=UserMultiSelectElement(
                action_id=ActionId.FIELD, initial_users=card.assigned or None, max_selected_items=20
            ),
            optional=True,
        ),
        text_input(
            CustomerField.NOTES,
            "Notes",
            optional=True,
            multiline=True,
            initial=card.notes,
            max_length=2000,
        ),
    ]
    state = EditCustomerState(customer_id=card.id, version=card.version).encode()
    return modal(
        callback_id=CallbackId.EDIT_CUSTOMER,
        title="Edit customer",
        blocks=blocks,
        submit="Save",
        metadata=state,
    )


def delete_modal(card: CustomerCard) -> dict[str, Any]:
    warning = (
        f":warning: Deleting {card.name} ({card.account_number}) is permanent: its locations, "
        "contacts and agents go with it. Type the customer's name to confirm."
    )
    blocks: list[Block] = [
        _plain_section(warning),
        text_input(CustomerField.CONFIRM_NAME, "Customer name", placeholder=card.name[:150]),
    ]
    return modal(
        callback_id=CallbackId.DELETE_CUSTOMER,
        title="Delete customer",
        blocks=blocks,
        submit="Delete",
        metadata=CustomerRef(customer_id=card.id).encode(),
    )


def deleted_modal(*, name: str, account_number: str) -> dict[str, Any]:
    text = f":wastebasket: {name} ({account_number}) was deleted."
    return modal(
        callback_id=None,
        title="Customer deleted",
        blocks=[_plain_section(text)],
        submit=None,
        close="Done",
    )


def notice_modal(*, title: str, text: str) -> dict[str, Any]:
    """A one-message modal; `text` is shown as plain text (a quoted `command` bare)."""
    return modal(
        callback_id=None,
        title=title,
        blocks=[_plain_section(plain_text(text))],
        submit=None,
        close="Close",
    )


def _plain_section(text: str) -> SectionBlock:
    """User-typed names in plain text: Slack neither formats nor links them."""
    return SectionBlock(text=PlainTextObject(text=text[:3000], emoji=True))


def _plan_option(plan: Plan) -> Option:
    return Option(text=plan.label, value=plan.value)


def _threshold_inputs(threshold: int | None) -> list[Block]:
    """R20: a literal threshold, or the explicit choice to never block (a new
    account's default). The number is optional here; the handler requires it
    unless "Never block" is ticked."""
    never = Option(value=NEVER_BLOCK, label="Never block new end users, whatever the MAU")
    return [
        number_input(
            CustomerField.THRESHOLD,
            "Max-MAU threshold",
            optional=True,
            initial=None if threshold is None else str(threshold),
            minimum="1",
            hint="New end users are blocked once this many are active in a month. "
            "Leave it empty only to never block (below).",
        ),
        InputBlock(
            block_id=CustomerField.NEVER_BLOCK,
            label="Never block",
            optional=True,
            element=CheckboxesElement(
                action_id=ActionId.FIELD,
                options=[never],
                initial_options=[never] if threshold is None else None,
            ),
        ),
    ]


def _price_input(initial: str) -> InputBlock:
    """R18: the stored price is a licence's a month; the monthly total follows."""
    return number_input(
        CustomerField.PRICE,
        "Price per licence a month ($)",
        initial=initial,
        decimal=True,
        minimum="0",
        hint="The monthly total is this price x the licences.",
    )
