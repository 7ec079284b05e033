"""What a person reads about their customer export: it is being prepared, the note
that comes with the file in their DM, and why it could not be sent."""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, mrkdwn, slack_date

WHY_DM = mrkdwn(
    ":lock: The file holds admin emails, contacts and prices, so only you get it: "
    "it is never posted in a channel."
)
# Installs from before the export went to DMs lack the scope conversations.open needs.
MISSING_SCOPE_ERRORS = frozenset({"missing_scope", "not_allowed_token_type"})


def export_preparing_message() -> Message:
    """The ack of `/msp export customers`, before anything is read."""
    text = mrkdwn(
        ":hourglass_flowing_sand: I'm preparing your customer export. It will arrive in "
        "your DM with me in a moment (find me under *Apps* in Slack's sidebar)."
    )
    return Message.of(
        text,
        [
            SectionBlock(text=MarkdownTextObject(text=text)),
            ContextBlock(elements=[MarkdownTextObject(text=WHY_DM)]),
        ],
    )


def export_filename(day: date) -> str:
    return f"customers-{day.isoformat()}.csv"


def export_comment(*, count: int, day: date, whole_msp: bool) -> Mrkdwn:
    """The note that comes with the file in the person's DM."""
    noun = "customer" if count == 1 else "customers"
    which = (
        mrkdwn("the MSP's {count:,} {noun}", count=count, noun=noun)
        if whole_msp
        else mrkdwn("the {count:,} {noun} assigned to you", count=count, noun=noun)
    )
    return mrkdwn(
        "Here is your customer export: {which}, as of {day}. It holds admin emails, "
        "contacts and prices: share it only with your MSP's staff.",
        which=which,
        day=slack_date(day),
    )


def dm_unavailable_message(reason: str) -> Message:
    """conversations.open failed: nothing was sent anywhere."""
    if reason in MISSING_SCOPE_ERRORS:
        hint = mrkdwn(
            "An admin needs to reinstall the app so it may send you direct messages "
            "(the `im:write` permission)."
        )
    else:
        hint = mrkdwn("Try `/msp export customers` again in a moment.")
    text = mrkdwn(
        ":warning: I couldn't send you the customer export: Slack would not open a "
        "direct message between us (it said `{reason}`). Nothing was posted anywhere. "
        "{hint}",
        reason=reason,
        hint=hint,
    )
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])


def export_not_delivered_message(reason: str) -> Message:
    """The upload to the person's DM failed: nothing was posted anywhere."""
    text = mrkdwn(
        ":warning: I couldn't deliver the customer export to your DM with me (Slack "
        "said `{reason}`). Nothing was posted anywhere. Try `/msp export customers` "
        "again in a moment.",
        reason=reason,
    )
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])
