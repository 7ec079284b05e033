"""Outgoing webhooks: JSON for the MSP's PSA or ticketing system, signed so the
receiver knows it came from this bot.

The signing key of an MSP is derived from MSPBOT_WEBHOOK_SECRET and its team id,
so the database holds no secret; `msp-bot webhooks secret --team T` prints it for
the operator to give to the receiving system. Pure: what a body says is
bot/notify/request_webhooks.py's, the POST the sender's (bot/delivery/sender.py),
the queueing the outbox's. Format: docs/DELIVERY.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from typing import Any

SIGNATURE_VERSION = "v1"
TIMESTAMP_HEADER = "X-MspBot-Timestamp"
SIGNATURE_HEADER = "X-MspBot-Signature"
DELIVERY_HEADER = "X-MspBot-Delivery"  # the same for every attempt: receivers drop repeats
TIMEOUT_SECONDS = 10.0
MAX_RETRY_AFTER_SECONDS = 300.0  # a receiver's Retry-After, bounded so a lane cannot stall


def signing_key(secret: str, team_id: str) -> str:
    """The MSP's key: hex HMAC-SHA256 of its team id under the master secret."""
    return hmac.new(secret.encode(), team_id.encode(), hashlib.sha256).hexdigest()


def signature(key: str, *, timestamp: int, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256(key, "{timestamp}.{body}"); the key is used as the
    hex text it is handed out as, not decoded."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def iso(moment: datetime | date | None) -> str | None:
    """ISO 8601: dates as they are, times in UTC with a Z, to the second."""
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return moment.isoformat()


def signed_request(
    *, key: str, body: dict[str, Any], delivery: str, now: datetime
) -> tuple[bytes, dict[str, str]]:
    """The bytes to POST (`body` with `sent_at`) and their headers."""
    raw = json.dumps({**body, "sent_at": iso(now)}, separators=(",", ":")).encode()
    timestamp = int(now.timestamp())
    return raw, {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(key, timestamp=timestamp, body=raw),
        DELIVERY_HEADER: delivery,
    }
