"""A message as the views hand it over: fallback text plus blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import Block

from bot.views.limits import MAX_MESSAGE_BLOCKS, checked_blocks, fallback_text


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, text: str, blocks: list[Block]) -> Message:
        rendered = [block.to_dict() for block in blocks]
        return cls(
            text=fallback_text(text), blocks=checked_blocks(rendered, limit=MAX_MESSAGE_BLOCKS)
        )

    def as_kwargs(self) -> dict[str, Any]:
        """Arguments for ack(), respond() and chat.postMessage."""
        return {"text": self.text, "blocks": list(self.blocks)}
