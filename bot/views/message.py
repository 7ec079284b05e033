"""A message as the views hand it over: notification text plus blocks.

The notification `text` is what Slack shows in notifications and where blocks
cannot be shown, and it formats it as mrkdwn (a `<!here>` in it pings), so it must
be `Mrkdwn`: built by `bot.views.mrkdwn.mrkdwn`, which escapes every outside value.
It is plain words: a notification shows bold and code markup literally, so
`Message.of` drops it (`bot.views.mrkdwn.notification`); a view may hand it the same
mrkdwn its first block shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import Block

from bot.views.limits import MAX_MESSAGE_BLOCKS, MAX_TEXT_FALLBACK, checked_blocks
from bot.views.mrkdwn import Mrkdwn, clip, notification


@dataclass(frozen=True, slots=True)
class Message:
    text: Mrkdwn
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.text, Mrkdwn):
            raise TypeError("a message's text is built with bot.views.mrkdwn.mrkdwn()")

    @classmethod
    def of(cls, text: Mrkdwn, blocks: Sequence[Block | dict[str, Any]]) -> Message:
        """`blocks` as slack_sdk models (validated) or, where speed matters, dicts;
        `text` as plain words (its markup dropped) and clipped."""
        if not isinstance(text, Mrkdwn):  # before it is made plain (and Mrkdwn again)
            raise TypeError("a message's text is built with bot.views.mrkdwn.mrkdwn()")
        rendered = [block.to_dict() if isinstance(block, Block) else block for block in blocks]
        return cls(
            text=clip(notification(text), MAX_TEXT_FALLBACK),
            blocks=checked_blocks(rendered, limit=MAX_MESSAGE_BLOCKS),
        )

    def as_kwargs(self) -> dict[str, Any]:
        """Arguments for ack(), respond() and chat.postMessage."""
        return {"text": self.text, "blocks": list(self.blocks)}
