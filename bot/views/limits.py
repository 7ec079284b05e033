"""Limits Slack enforces that slack_sdk's models do not check for us."""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_SURFACE_BLOCKS = 100  # modals and the Home tab
MAX_TEXT_FALLBACK = 3000  # a message's notification text (Message.of clips it)


def checked_blocks(
    blocks: list[dict[str, Any]], *, limit: int = MAX_MESSAGE_BLOCKS
) -> list[dict[str, Any]]:
    if len(blocks) > limit:
        raise ValueError(f"{len(blocks)} blocks exceed Slack's limit of {limit}")
    return blocks
