"""Input blocks the forms share: a number, a line or paragraph of text, a day.

Every field's element has the same action id (`ActionId.FIELD`); the block id
names the field, so a handler reads the block's one element whatever the form. An
input that redraws its form as it changes (`dispatch`) has an action id of its own,
which routes the redraw; it is read by its block id all the same. `with_typed` puts
what was entered back into a redrawn form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from slack_sdk.models.blocks import (
    DatePickerElement,
    InputBlock,
    NumberInputElement,
    PlainTextInputElement,
)
from slack_sdk.models.blocks.basic_components import DispatchActionConfig

from bot.ids import ActionId

# A view's state as Slack sends it: block id -> action id -> the element's state.
Typed = dict[str, dict[str, Any]]
# Slack sends a number input's value on each character typed and on Enter.
AS_TYPED = DispatchActionConfig(trigger_actions_on=["on_enter_pressed", "on_character_entered"])


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
    dispatch: str | None = None,
) -> InputBlock:
    """Slack checks the bounds as the person types; the handler checks them again,
    since a request can carry any value. `dispatch`: the action id Slack sends as the
    number is typed, for a form that follows it (a preview)."""
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        hint=hint,
        dispatch_action=True if dispatch else None,
        element=NumberInputElement(
            action_id=dispatch or ActionId.FIELD,
            is_decimal_allowed=decimal,
            initial_value=initial,
            min_value=minimum,
            max_value=maximum,
            dispatch_action_config=AS_TYPED if dispatch else None,
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


# ---------------------------------------------------------------- a form redrawn as it is filled in

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")  # what a users_select sends
_NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,15})?$")
MAX_TEXT = 3000  # a plain_text_input's longest value


def with_typed(view: dict[str, Any], typed: Typed | None) -> dict[str, Any]:
    """`view` with what the person had entered as its inputs' initial values: a form
    redrawn while it is filled in (a plan chosen, a number typed) keeps it. Slack
    keeps what was entered in an input whose block and action ids stay the same;
    the initial values say the same, so the form is right whichever Slack goes by.
    Only what the element itself could have sent is kept (one of its options, a
    date, text within its length, a number within its bounds), since a forged state
    would make Slack refuse the whole view."""
    if not isinstance(typed, Mapping):
        return view
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        state = _element_state(typed.get(block.get("block_id", "")))
        if state is not None:
            _carry(block["element"], state)
    return view


def _element_state(inputs: object) -> Mapping[str, Any] | None:
    """The state of a block's one element."""
    if not isinstance(inputs, Mapping):
        return None
    state = next(iter(inputs.values()), None)
    return state if isinstance(state, Mapping) else None


def _carry(element: dict[str, Any], state: Mapping[str, Any]) -> None:
    kept = _KEPT.get(str(element.get("type")))
    if kept is not None:
        key, read = kept
        _put(element, key, read(state, element))


def _text(state: Mapping[str, Any], element: Mapping[str, Any]) -> str | None:
    value = state.get("value")
    if not isinstance(value, str) or not value:
        return None
    if len(value) > element.get("max_length", MAX_TEXT) or not _encodable(value):
        return None
    return value


def _number(state: Mapping[str, Any], element: Mapping[str, Any]) -> str | None:
    """A number the element accepts: a whole one unless decimals are allowed, within
    its bounds."""
    value = state.get("value")
    if not isinstance(value, str) or not _NUMBER.match(value):
        return None
    if "." in value and not element.get("is_decimal_allowed"):
        return None
    try:
        amount = Decimal(value)
        low, high = element.get("min_value"), element.get("max_value")
        if (low is not None and amount < Decimal(low)) or (
            high is not None and amount > Decimal(high)
        ):
            return None
    except InvalidOperation:
        return None
    return value


def _option(state: Mapping[str, Any], element: Mapping[str, Any]) -> dict[str, Any] | None:
    chosen = state.get("selected_option")
    offered = _offered(element, [chosen.get("value")] if isinstance(chosen, Mapping) else [])
    return offered[0] if offered else None


def _options(state: Mapping[str, Any], element: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    chosen = state.get("selected_options")
    values = (
        [o.get("value") for o in chosen if isinstance(o, Mapping)]
        if isinstance(chosen, list)
        else []
    )
    return _offered(element, values) or None


def _offered(element: Mapping[str, Any], wanted: list[object]) -> list[dict[str, Any]]:
    """The element's own options whose values were chosen, in its order."""
    options = element.get("options") or []
    return [option for option in options if option.get("value") in wanted]


def _day(state: Mapping[str, Any], element: Mapping[str, Any]) -> str | None:
    value = state.get("selected_date")
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def _users(state: Mapping[str, Any], element: Mapping[str, Any]) -> list[str] | None:
    value = state.get("selected_users")
    if not isinstance(value, list):
        return None
    users = [user for user in value if isinstance(user, str) and _USER_ID.match(user)]
    return users[: element.get("max_selected_items", 100)] or None


# Each element type: the initial value it takes, read from its state.
_KEPT: dict[str, tuple[str, Callable[[Mapping[str, Any], Mapping[str, Any]], object]]] = {
    "plain_text_input": ("initial_value", _text),
    "number_input": ("initial_value", _number),
    "static_select": ("initial_option", _option),
    "checkboxes": ("initial_options", _options),
    "datepicker": ("initial_date", _day),
    "multi_users_select": ("initial_users", _users),
}


def _put(element: dict[str, Any], key: str, value: object) -> None:
    if value is None:
        element.pop(key, None)
    else:
        element[key] = value


def _encodable(text: str) -> bool:
    """No lone surrogates (a valid JSON escape, but no text Slack takes back)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
