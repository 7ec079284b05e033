"""What a request's webhook says: each decision about a request, as the JSON body the
MSP's PSA or ticketing system receives (docs/DELIVERY.md). Signing and sending it is
bot/delivery/webhooks.py's and the sender's."""

from __future__ import annotations

from typing import Any

from bot.delivery.webhooks import iso
from bot.domain.requests import RequestStatus
from bot.results.requests import RequestInfo


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
            "decision_note": info.decision_note.plain() if info.decision_note else None,
        },
    }
