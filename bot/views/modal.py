"""One way to build a modal view, checked against Slack's limits."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, PlainTextObject
from slack_sdk.models.views import View

from bot.views.limits import MAX_SURFACE_BLOCKS, checked_blocks

MAX_TITLE = 24  # Slack's limit for a modal's title


def modal(
    *,
    callback_id: str | None,
    title: str,
    blocks: list[Block],
    submit: str | None,
    close: str = "Cancel",
    metadata: str | None = None,
) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=callback_id,
        title=PlainTextObject(text=title[:MAX_TITLE]),
        submit=PlainTextObject(text=submit) if submit else None,
        close=PlainTextObject(text=close),
        private_metadata=metadata,
        blocks=blocks,
    ).to_dict()
    view["blocks"] = checked_blocks(view["blocks"], limit=MAX_SURFACE_BLOCKS)
    return view
