"""A request as people see it, read from its row: shared by the request service
and the customer card (which shows a customer's latest requests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from bot.domain.requests import RequestStatus, RequestType
from storage.models import ChangeRequest


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """A request as people see it: in messages, lists and on the card."""

    id: int
    kind: RequestType
    status: RequestStatus
    customer_id: int | None
    customer_name: str
    account_number: str | None
    requested_by: str
    requested_at: datetime
    reason: str
    summary: str  # what is asked, in words ("+5 licences", "Professional")
    explanation: str  # what the rules said when it was asked
    effective_on: date | None
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    applied_at: datetime | None
    needs_typed_name: bool  # approving asks for the customer's name (deletions)
    message_keys: list[str] = field(default_factory=list)


def info_of(request: ChangeRequest) -> RequestInfo:
    details = request.details or {}
    kind = RequestType(request.kind)
    return RequestInfo(
        id=request.id,
        kind=kind,
        status=RequestStatus(request.status),
        customer_id=request.customer_id,
        customer_name=request.customer_name,
        account_number=request.account_number,
        requested_by=request.requested_by,
        requested_at=request.requested_at,
        reason=request.reason,
        summary=str(details.get("summary", kind.label)),
        explanation=str(details.get("explanation", "")),
        effective_on=request.effective_on,
        expires_at=request.expires_at,
        decided_by=request.decided_by,
        decided_at=request.decided_at,
        decision_note=request.decision_note,
        applied_at=request.applied_at,
        needs_typed_name=kind == RequestType.DELETE_ACCOUNT,
        message_keys=list(request.message_keys or []),
    )
