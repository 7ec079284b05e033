"""Merging a busy channel's coalescible messages into one digest message.

Each merged message keeps its text and blocks in its own outbox row; the digest
carries every message's text, so nothing it said is lost."""

from __future__ import annotations

from typing import Any

MAX_SECTION = 3000


def digest_payload(channel: str, payloads: list[dict[str, Any]]) -> dict[str, Any]:
    count = len(payloads)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{count} updates while this channel was busy"},
        }
    ]
    for payload in payloads:
        text = str(payload.get("text") or "")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}})
    return {
        "channel": channel,
        "text": f"{count} updates: "
        + " | ".join(_clip(str(p.get("text") or ""), 120) for p in payloads)[:3000],
        "blocks": blocks,
    }


def _clip(text: str, limit: int = MAX_SECTION) -> str:
    text = text or " "
    return text if len(text) <= limit else text[: limit - 1] + "…"
