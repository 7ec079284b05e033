"""Merging a busy channel's coalescible messages into one digest message.

Each merged message keeps its text and blocks in its own outbox row; the digest
carries every message's text, so nothing it said is lost. Alert posts carry
their alert in Slack message metadata: a run of them becomes an alert digest
(counts by severity and customer, the worst few, and "List all", which shows
every merged alert as it is now)."""

from __future__ import annotations

from typing import Any

from bot.views.alerts import ALERT_EVENT, digest_message
from bot.views.digests import updates_digest_message
from bot.views.mrkdwn import already_mrkdwn


def digest_payload(channel: str, payloads: list[dict[str, Any]]) -> dict[str, Any]:
    alerts = [_alert_entry(payload) for payload in payloads]
    if all(entry is not None for entry in alerts):
        message = digest_message([entry for entry in alerts if entry is not None])
        return {"channel": channel, **message.as_kwargs()}
    return _generic(channel, payloads)


def _alert_entry(payload: dict[str, Any]) -> dict[str, Any] | None:
    metadata = payload.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != ALERT_EVENT:
        return None
    entry = metadata.get("event_payload")
    if not isinstance(entry, dict) or not isinstance(entry.get("alert_id"), int):
        return None
    return entry


def _generic(channel: str, payloads: list[dict[str, Any]]) -> dict[str, Any]:
    texts = [already_mrkdwn(str(payload.get("text") or "")) for payload in payloads]
    return {"channel": channel, **updates_digest_message(texts).as_kwargs()}
