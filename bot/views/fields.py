"""Input blocks the forms share: a number, a line or paragraph of text, a day.

Every field's element has the same action id (`ActionId.FIELD`); the block id
names the field, so a handler reads `values[block_id][FIELD]` whatever the form.
"""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import (
    DatePickerElement,
    InputBlock,
    NumberInputElement,
    PlainTextInputElement,
)

from bot.ids import ActionId


def number_input(
    block_id: str,
    label: str,
    *,
    optional: bool = False,
    initial: str | None = None,
    decimal: bool = False,
    minimum: str | None = None,
    maximum: str | None = None,
    hint: str | None = None,
) -> InputBlock:
    """Slack checks the bounds as the person types; the handler checks them again,
    since a request can carry any value."""
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        hint=hint,
        element=NumberInputElement(
            action_id=ActionId.FIELD,
            is_decimal_allowed=decimal,
            initial_value=initial,
            min_value=minimum,
            max_value=maximum,
        ),
    )


def text_input(
    block_id: str,
    label: str,
    *,
    optional: bool = False,
    multiline: bool = False,
    initial: str | None = None,
    placeholder: str | None = None,
    max_length: int | None = None,
    hint: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        hint=hint,
        element=PlainTextInputElement(
            action_id=ActionId.FIELD,
            multiline=multiline,
            initial_value=initial or None,
            placeholder=placeholder,
            max_length=max_length,
        ),
    )


def date_input(block_id: str, label: str, initial: date | None, *, optional: bool) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        element=DatePickerElement(
            action_id=ActionId.FIELD, initial_date=initial.isoformat() if initial else None
        ),
    )
