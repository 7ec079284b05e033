"""Limits Slack enforces that slack_sdk's models do not check for us."""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_SURFACE_BLOCKS = 100  # modals and the Home tab
MAX_TEXT_FALLBACK = 3000


def checked_blocks(
    blocks: list[dict[str, Any]], *, limit: int = MAX_MESSAGE_BLOCKS
) -> list[dict[str, Any]]:
    if len(blocks) > limit:
        raise ValueError(f"{len(blocks)} blocks exceed Slack's limit of {limit}")
    return blocks


def fallback_text(text: str) -> str:
    """The notification text shown where blocks cannot be (clipped to a safe length)."""
    return text if len(text) <= MAX_TEXT_FALLBACK else text[: MAX_TEXT_FALLBACK - 1] + "…"
