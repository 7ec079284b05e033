"""Merging a busy channel's coalescible messages into one digest message.

Each merged message keeps its text and blocks in its own outbox row; the digest
carries every message's text, so nothing it said is lost. Alert posts carry
their alert in Slack message metadata: a run of them becomes an alert digest
(counts by severity and customer, the worst few, and "List all", which shows
every merged alert as it is now). A notice about a customer carries it the same
way: the digest groups those by kind, each customer with the notice's next steps."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.domain.notices import NoticeKind
from bot.results.notices import CustomerNotice
from bot.views.alerts import ALERT_EVENT, digest_message
from bot.views.digests import Merged, updates_digest_message
from bot.views.mrkdwn import already_mrkdwn
from bot.views.scheduled import NOTICE_EVENT


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
    merged = [
        Merged(text=already_mrkdwn(str(payload.get("text") or "")), notice=_notice(payload))
        for payload in payloads
    ]
    return {"channel": channel, **updates_digest_message(merged).as_kwargs()}


def _notice(payload: dict[str, Any]) -> CustomerNotice | None:
    """What a notice about a customer said, from its message metadata; None for any
    other message, or metadata that does not read as one (it is then shown by its
    text, as before)."""
    metadata = payload.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != NOTICE_EVENT:
        return None
    entry = metadata.get("event_payload")
    if not isinstance(entry, dict):
        return None
    try:
        customer_id, users = entry["customer_id"], entry.get("users", 0)
        days_left = entry.get("days_left")
        if not all(isinstance(n, int) for n in (customer_id, users)) or customer_id < 1:
            return None
        if days_left is not None and not isinstance(days_left, int):
            return None
        return CustomerNotice(
            kind=NoticeKind(entry["kind"]),
            customer_id=customer_id,
            customer_name=str(entry.get("customer", "")),
            account_number=str(entry.get("account", "")),
            day=date.fromisoformat(str(entry["day"])),
            days_left=days_left,
            users=users,
        )
    except (KeyError, ValueError):
        return None
