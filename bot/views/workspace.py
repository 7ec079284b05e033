"""Replies to requests from a workspace this bot does not serve."""

from __future__ import annotations

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from bot.views.message import Message
from bot.views.mrkdwn import mrkdwn

OTHER_WORKSPACE_TEXT = mrkdwn(
    ":wave: This msp-bot serves another Slack workspace only, so it cannot help here. "
    "Ask your Slack admin to install your MSP's own app."
)
WORKSPACE_UNCONFIRMED_TEXT = mrkdwn(
    ":hourglass: msp-bot cannot confirm its workspace with Slack right now, so it is not "
    "answering yet. Please try again in a minute."
)


def other_workspace_message() -> Message:
    return Message.of(
        OTHER_WORKSPACE_TEXT, [SectionBlock(text=MarkdownTextObject(text=OTHER_WORKSPACE_TEXT))]
    )


def workspace_unconfirmed_message() -> Message:
    return Message.of(
        WORKSPACE_UNCONFIRMED_TEXT,
        [SectionBlock(text=MarkdownTextObject(text=WORKSPACE_UNCONFIRMED_TEXT))],
    )
