"""An account's commercial figures on screen: the owner's "Correct billing data"
form and the card's line about the latest correction. Pure functions of the
services' plain data."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    StaticSelectElement,
)

from bot.domain.commercial import MAX_REASON_LENGTH
from bot.domain.customers import Plan
from bot.domain.terms import Term
from bot.ids import ActionId, BlockId, CallbackId, CommercialField
from bot.payloads import EditCustomerState
from bot.results.customers import Correction, CustomerCard
from bot.views.fields import date_input, number_input, text_input
from bot.views.modal import modal
from bot.views.mrkdwn import Mrkdwn, mention, mrkdwn, slack_time

PAST_DUE = "past_due"  # the checkbox's value


def correction_line(correction: Correction) -> Mrkdwn:
    """ "Corrected by @x on <date>: reason", each reader's own date."""
    return mrkdwn(
        ":pencil2: Billing data corrected by {who} on {when}: {reason}",
        who=mention(correction.by),
        when=slack_time(correction.at),
        reason=correction.reason,
    )


def correction_context(card: CustomerCard) -> list[Block]:
    if card.correction is None:
        return []
    return [ContextBlock(elements=[MarkdownTextObject(text=correction_line(card.correction))])]


def correction_modal(card: CustomerCard) -> dict[str, Any]:
    """Every figure filled in as it stands; what is left as it was is no change."""
    intro = mrkdwn(
        "Account `{account}` · {status}. These figures come from your billing system: "
        "correct them here only when they are wrong, and say why. Changes under the "
        "rules (upgrades, licence changes, cancellations) are requests.",
        account=card.account_number,
        status=card.status.label,
    )
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=intro)]),
        _select(CommercialField.PLAN, "Plan", list(Plan), card.plan, optional=False),
        number_input(
            CommercialField.LICENCES,
            "Licences",
            optional=True,
            initial=str(card.licences) if card.plan.is_paid else None,
        ),
        _select(CommercialField.TERM, "Term", list(Term), card.term, optional=True),
        date_input(
            CommercialField.CONTRACT_START, "Contract start", card.contract_start, optional=True
        ),
        date_input(CommercialField.RENEWAL_DATE, "Renewal date", card.renewal_date, optional=True),
        number_input(
            CommercialField.UNIT_PRICE,
            "Price per licence a month ($)",
            initial=f"{card.unit_price:.2f}",
            decimal=True,
        ),
        InputBlock(
            block_id=CommercialField.PAST_DUE,
            label="Balance",
            optional=True,
            element=CheckboxesElement(
                action_id=ActionId.FIELD,
                options=[_past_due_option()],
                initial_options=[_past_due_option()] if card.past_due else None,
            ),
        ),
        text_input(
            BlockId.BILLING_REASON,
            "Reason",
            multiline=True,
            max_length=MAX_REASON_LENGTH,
            placeholder="e.g. the billing system had 12 licences, the contract says 15",
            hint="Kept in the audit log and shown on the card.",
        ),
    ]
    return modal(
        callback_id=CallbackId.CORRECT_BILLING,
        title="Correct billing data",
        blocks=blocks,
        submit="Save",
        metadata=EditCustomerState(customer_id=card.id, version=card.version).encode(),
    )


def _select(
    block_id: str,
    label: str,
    choices: list[Plan] | list[Term],
    initial: Plan | Term | None,
    *,
    optional: bool,
) -> InputBlock:
    """A menu of a StrEnum's members (labelled), the stored one chosen."""
    options = {choice: Option(text=choice.label, value=choice.value) for choice in choices}
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        element=StaticSelectElement(
            action_id=ActionId.FIELD,
            options=list(options.values()),
            initial_option=options[initial] if initial is not None else None,
        ),
    )


def _past_due_option() -> Option:
    return Option(text="Past due", value=PAST_DUE)
