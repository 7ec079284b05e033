"""The parts of Slack's payloads the handlers read, typed.

Bolt hands every payload over as a plain dict, and anyone who can sign a request can
send any JSON, so these describe what Slack sends, not what is sure to arrive: every
key is optional (`total=False`), and code that must not trip over a forged body reads
with `.get` and checks what it gets. An annotation costs nothing at run time.
"""

from __future__ import annotations

from typing import TypedDict


class OptionPayload(TypedDict, total=False):
    """An option of a menu, checkboxes or a multi-select, as chosen."""

    value: str


class ActionPayload(TypedDict, total=False):
    """The button clicked or the menu used (an element of block_actions' `actions`)."""

    action_id: str
    block_id: str
    value: str  # a button's
    selected_option: OptionPayload | None  # a menu's


class InputState(TypedDict, total=False):
    """What one input element holds, in a view's state or a message's."""

    value: str | None
    selected_option: OptionPayload | None
    selected_options: list[OptionPayload]
    selected_date: str | None
    selected_conversation: str | None
    selected_users: list[str]


# block id -> action id -> what that element holds
BlockValues = dict[str, dict[str, InputState]]


class StatePayload(TypedDict, total=False):
    values: BlockValues


class BlockPayload(TypedDict, total=False):
    """A block of a view Slack sends back, as far as reading a form needs."""

    type: str
    block_id: str


class ViewPayload(TypedDict, total=False):
    """A view as Slack sends it: a submitted modal (view_submission's `view`), or the
    modal or Home tab a click came from (block_actions' `body["view"]`)."""

    id: str
    hash: str
    type: str  # "modal" or "home"
    callback_id: str
    private_metadata: str
    state: StatePayload
    blocks: list[BlockPayload]


class ConversationPayload(TypedDict, total=False):
    id: str


class ContainerPayload(TypedDict, total=False):
    channel_id: str


class InteractionBody(TypedDict, total=False):
    """The body of a click (block_actions) or a shortcut: where it came from and the
    trigger a modal is opened with."""

    type: str
    trigger_id: str
    view: ViewPayload  # a click on the Home tab or in a modal
    channel: ConversationPayload  # a click on a message
    container: ContainerPayload
    state: StatePayload  # a message's menus, sent with each of its actions


class CommandPayload(TypedDict, total=False):
    """A slash command, as Slack posts it."""

    command: str
    text: str
    trigger_id: str
    channel_id: str


class SuggestionPayload(TypedDict, total=False):
    """What is typed into an external select (block_suggestion)."""

    action_id: str
    value: str


class HomeOpenedEvent(TypedDict, total=False):
    type: str
    tab: str  # "home" or "messages"


class RevokedTokens(TypedDict, total=False):
    bot: list[str]
    oauth: list[str]


class TokensRevokedEvent(TypedDict, total=False):
    type: str
    tokens: RevokedTokens


class EventPayload(TypedDict, total=False):
    type: str


class RequestBody(TypedDict, total=False):
    """Any request's body, as far as the middleware and the error handler look at it:
    what kind of request it is, and a modal's blocks."""

    type: str  # "view_submission", "block_actions", "event_callback", ...
    command: str  # only in a slash command's body
    event: EventPayload
    view: ViewPayload
