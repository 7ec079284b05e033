"""Outgoing webhooks: each decision about a request, as JSON for the MSP's PSA or
ticketing system, signed so the receiver knows it came from this bot.

The signing key of an MSP is derived from MSPBOT_WEBHOOK_SECRET and its team id,
so the database holds no secret; `msp-bot webhooks secret --team T` prints it for
the operator to give to the receiving system. Pure: the POST is the sender's
(bot/delivery/sender.py), the queueing the outbox's. Format: docs/DELIVERY.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from typing import Any

from bot.domain.requests import RequestStatus
from bot.services.request_info import RequestInfo

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


def event_of(info: RequestInfo) -> str:
    """`request.approved` is an approval applied at once; a change approved for a
    later date is `request.scheduled`, and `request.applied` when it takes effect
    (so it has an `effective_on`)."""
    if info.status == RequestStatus.APPLIED and info.effective_on is None:
        return "request.approved"
    return f"request.{info.status.value}"


def request_event(info: RequestInfo, *, team_id: str) -> dict[str, Any]:
    """The body, but for `sent_at`, which the sender adds when it sends."""
    customer = (
        {"name": info.customer_name, "account_number": info.account_number}
        if info.customer_name
        else None  # an MAU allowance order is the MSP's own
    )
    return {
        "event": event_of(info),
        "team_id": team_id,
        "request": {
            "id": info.id,
            "type": info.kind.value,
            "status": info.status.value,
            "customer": customer,
            "requested_by": info.requested_by,
            "requested_at": iso(info.requested_at),
            "summary": info.summary,
            "reason": info.reason,
            "effective_on": iso(info.effective_on),
            "decided_by": info.decided_by,
            "decided_at": iso(info.decided_at),
            "decision_note": info.decision_note,
        },
    }


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
