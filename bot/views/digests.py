"""A busy conversation's queued messages (other than alerts, see
bot.views.alerts.digest_message) merged into one digest message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, clip, join, mrkdwn

MAX_SECTION = 3000
MAX_SHOWN_IN_TEXT = 120  # of each merged message, in the digest's own notification text


def updates_digest_message(texts: Sequence[Mrkdwn]) -> Message:
    """`texts` are the merged messages' own notification texts, each shown in full."""
    count = len(texts)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{count} updates while this channel was busy"},
        }
    ]
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION) or " "}}
        for text in texts
    ]
    shown = join(" | ", (clip(text, MAX_SHOWN_IN_TEXT) for text in texts))
    return Message.of(mrkdwn("{count} updates: {shown}", count=count, shown=shown), blocks)
