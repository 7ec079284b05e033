"""Subscriptions on screen: the list (a Remove button per row, "New subscription"),
what a subscribe or unsubscribe did, and the subscription modal. Pure functions of
the service's plain data; customer names and kinds are people's text, so they are
escaped."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    ConversationSelectElement,
    ExternalDataMultiSelectElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.domain.subscriptions import DEFAULT_TOPICS, EXAMPLE, SEVERITIES, Topic, is_channel_id
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import SubscriptionFormState, SubscriptionRef
from bot.results.subscriptions import SubscriptionList, SubscriptionRow
from bot.views.message import Message
from bot.views.modal import modal
from bot.views.mrkdwn import Mrkdwn, channel_link, clip, escape, join, mention, mrkdwn

MAX_ROWS = 40  # with the header, footer and actions, well under 50 blocks
MAX_NAMES_SHOWN = 10
TOPIC_LABELS = {
    Topic.ALERTS: "Alerts",
    Topic.TRIALS: "Trials ending and ended",
    Topic.MAU: "MAU allowance and max-MAU",
    Topic.REQUESTS: "Requests waiting and applied",
    Topic.DIGEST: "The daily or weekly digest",
}
ALL_SEVERITIES = "any"


def _where(row: SubscriptionRow) -> Mrkdwn:
    target = row.filters.target
    if row.filters.target_kind == "person":
        return mrkdwn("{who} (direct message)", who=mention(target))
    return channel_link(target) if is_channel_id(target) else escape(target)


def _names(names: tuple[str, ...]) -> Mrkdwn:
    more = len(names) - MAX_NAMES_SHOWN
    return mrkdwn(
        "{shown}{more}",
        shown=join(", ", names[:MAX_NAMES_SHOWN]),
        more=f" and {more} more" if more > 0 else "",
    )


def describe(row: SubscriptionRow) -> Mrkdwn:
    """One mrkdwn line: where, what, and each filter that is set."""
    filters = row.filters
    parts = [
        mrkdwn(
            "*#{id}* {where}: {topics}",
            id=row.id,
            where=_where(row),
            topics=", ".join(filters.topics),
        )
    ]
    if filters.min_severity:
        parts.append(mrkdwn("severity {severity} or worse", severity=filters.min_severity))
    if row.included:
        parts.append(mrkdwn("customers: {names}", names=_names(row.included)))
    else:
        parts.append(mrkdwn("all customers"))
    if row.excluded:
        parts.append(mrkdwn("not {names}", names=_names(row.excluded)))
    if filters.kinds:
        parts.append(mrkdwn("kinds: {kinds}", kinds=", ".join(filters.kinds)))
    grouping = filters.grouping.describe() if Topic.ALERTS in filters.topics else ""
    if grouping:
        parts.append(mrkdwn("{grouping}", grouping=grouping))
    if filters.quiet_start and filters.quiet_end:
        parts.append(
            mrkdwn(
                "quiet {start}-{end} ({zone})",
                start=filters.quiet_start,
                end=filters.quiet_end,
                zone=filters.quiet_timezone or "the MSP's time zone",
            )
        )
    return join(" · ", parts)


def _row_block(row: SubscriptionRow) -> SectionBlock:
    accessory = None
    if row.can_remove:
        accessory = ButtonElement(
            action_id=ActionId.SUBSCRIPTION_REMOVE,
            text="Remove",
            value=SubscriptionRef(subscription_id=row.id).encode(),
            confirm=ConfirmObject(
                title=f"Remove subscription #{row.id}?",
                text=PlainTextObject(
                    text=f"{_plain_whom(row)} will stop getting these. You can undo it."[:300]
                ),
                confirm="Remove",
                deny="Keep it",
                style="danger",
            ),
        )
    return SectionBlock(
        text=MarkdownTextObject(text=clip(describe(row), 3000)), accessory=accessory
    )


def _plain_whom(row: SubscriptionRow) -> str:
    return "You" if row.filters.target_kind == "person" else "That channel"


def undo_button(row: SubscriptionRow) -> ButtonElement:
    return ButtonElement(
        action_id=ActionId.SUBSCRIPTION_UNDO,
        text="Undo",
        value=SubscriptionRef(subscription_id=row.id).encode(),
    )


def subscriptions_message(
    listing: SubscriptionList, *, notice: Mrkdwn | None = None, undo: SubscriptionRow | None = None
) -> Message:
    """`notice` says what just changed; `undo`, a removal it offers to take back."""
    blocks: list[Block] = []
    if notice:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=clip(notice, 3000)),
                accessory=undo_button(undo) if undo is not None else None,
            )
        )
    title = "Subscriptions" if listing.everyone else "Your subscriptions"
    blocks.append(HeaderBlock(text=title))
    if not listing.rows:
        blocks.append(SectionBlock(text=PlainTextObject(text=f"None yet. {EXAMPLE}")))
    blocks += [_row_block(row) for row in listing.rows[:MAX_ROWS]]
    if len(listing.rows) > MAX_ROWS:
        more = len(listing.rows) - MAX_ROWS
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {more} more.")]))
    blocks.append(
        ActionsBlock(
            block_id=BlockId.SUBSCRIPTIONS_ACTIONS,
            elements=[
                ButtonElement(
                    action_id=ActionId.SUBSCRIPTION_NEW, text="New subscription", style="primary"
                )
            ],
        )
    )
    return Message.of(mrkdwn("{title}: {count}", title=title, count=len(listing.rows)), blocks)


def subscribed_message(row: SubscriptionRow) -> Message:
    text = mrkdwn(":bell: Subscribed. {row}", row=describe(row))
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))])


def unsubscribed_message(row: SubscriptionRow) -> Message:
    text = removed_notice(row)
    block = SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)), accessory=undo_button(row))
    return Message.of(text, [block])


def restored_notice(removed_id: int, row: SubscriptionRow) -> Mrkdwn:
    """What Undo brought back, in full; its new number only when it has a new one."""
    if row.id == removed_id:
        return mrkdwn(":bell: Restored {row}", row=describe(row))
    return mrkdwn(":bell: Restored #{removed} as {row}", removed=removed_id, row=describe(row))


def removed_notice(row: SubscriptionRow) -> Mrkdwn:
    """What was removed, in full: its row is gone from the list below."""
    return mrkdwn(":no_bell: Removed {row}", row=describe(row))


# ---------------------------------------------------------------- the modal


def _option(value: str, label: str) -> Option:
    return Option(value=value, text=PlainTextObject(text=label))


def subscription_modal(*, can_subscribe_channels: bool, state: SubscriptionFormState) -> dict:
    blocks: list[Block] = []
    if can_subscribe_channels:
        # Filled in with the channel it was opened from, which the hint says: submitted
        # as it is, the whole channel gets them, not the person.
        hint = (
            "This channel is filled in: clear it to get them yourself, by direct message."
            if state.channel
            else "Leave empty to get them yourself, by direct message."
        )
        blocks.append(
            InputBlock(
                block_id=BlockId.SUBSCRIPTION_TARGET,
                label="Send to",
                optional=True,
                hint=hint,
                element=ConversationSelectElement(
                    action_id=ActionId.FIELD,
                    placeholder="A channel",
                    initial_conversation=state.channel or None,
                    filter={"include": ["public", "private"], "exclude_bot_users": True},
                ),
            )
        )
    else:
        blocks.append(
            SectionBlock(text=PlainTextObject(text="These notices come to you, by direct message."))
        )
    blocks += [
        _topics_input(),
        _severity_input(),
        *_customer_inputs(),
        *_text_inputs(),
        _grouping_input(),
    ]
    return modal(
        callback_id=CallbackId.SUBSCRIPTION_FORM,
        title="New subscription",
        blocks=blocks,
        submit="Subscribe",
        metadata=state.encode(),
    )


def _topics_input() -> InputBlock:
    options = [_option(topic.value, label) for topic, label in TOPIC_LABELS.items()]
    return InputBlock(
        block_id=BlockId.SUBSCRIPTION_TOPICS,
        label="Topics",
        element=CheckboxesElement(
            action_id=ActionId.FIELD,
            options=options,
            initial_options=[o for o in options if o.value in {t.value for t in DEFAULT_TOPICS}],
        ),
    )


def _severity_input() -> InputBlock:
    options = [_option(ALL_SEVERITIES, "Any severity")] + [
        _option(level, f"{level.capitalize()} or worse") for level in SEVERITIES
    ]
    return InputBlock(
        block_id=BlockId.SUBSCRIPTION_SEVERITY,
        label="Alerts of severity",
        element=StaticSelectElement(
            action_id=ActionId.FIELD, options=options, initial_option=options[0]
        ),
    )


# What the modal offers (any other grouping is typed: /msp subscribe ... group=kind,20m).
GROUPING_CHOICES = (
    ("customer,5", "By customer, within 5 minutes"),
    ("kind,5", "By customer and kind, within 5 minutes"),
    ("customer,15", "By customer, within 15 minutes"),
    ("kind,15", "By customer and kind, within 15 minutes"),
    ("off", "Do not group: a message for each"),
)


def _grouping_input() -> InputBlock:
    options = [_option(value, label) for value, label in GROUPING_CHOICES]
    return InputBlock(
        block_id=BlockId.SUBSCRIPTION_GROUPING,
        label="Group alerts",
        hint="Alerts that keep coming are threaded under one message, with a count.",
        element=StaticSelectElement(
            action_id=ActionId.FIELD, options=options, initial_option=options[0]
        ),
    )


def _customer_inputs() -> list[Block]:
    return [
        InputBlock(
            block_id=block_id,
            label=label,
            optional=True,
            hint=hint,
            element=ExternalDataMultiSelectElement(
                action_id=ActionId.CUSTOMER_SEARCH,
                placeholder="Type a name or account number",
                min_query_length=1,
            ),
        )
        for block_id, label, hint in (
            (
                BlockId.SUBSCRIPTION_CUSTOMERS,
                "Only these customers",
                "Empty: every customer you can see.",
            ),
            (BlockId.SUBSCRIPTION_EXCLUDED, "Not these customers", "Excluded wins."),
        )
    ]


def _text_inputs() -> list[Block]:
    return [
        _optional_text(
            BlockId.SUBSCRIPTION_KINDS,
            "Alert kinds",
            "Comma-separated, as the sending systems name them. Empty: every kind.",
            placeholder="agents_not_reporting, max_mau_reached",
            max_length=800,
        ),
        _optional_text(
            BlockId.SUBSCRIPTION_QUIET,
            "Quiet hours (yours only)",
            "HH:MM-HH:MM in your time zone, e.g. 22:00-07:00. Not for channels.",
            placeholder="22:00-07:00",
            max_length=11,
        ),
    ]


def _optional_text(
    block_id: str, label: str, hint: str, *, placeholder: str, max_length: int
) -> InputBlock:
    element = PlainTextInputElement(
        action_id=ActionId.FIELD, placeholder=placeholder, max_length=max_length
    )
    return InputBlock(block_id=block_id, label=label, optional=True, hint=hint, element=element)


def subscribed_modal(row: SubscriptionRow) -> dict[str, Any]:
    return modal(
        callback_id=None,
        title="Subscribed",
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(text=clip(mrkdwn(":bell: {row}", row=describe(row)), 3000))
            )
        ],
        submit=None,
        close="Done",
    )
