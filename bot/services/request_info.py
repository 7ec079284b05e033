"""A request as people see it (bot.results.requests.RequestInfo), read from its row:
shared by the request service and the customer card (which shows a customer's latest
requests)."""

from __future__ import annotations

from bot.domain.requests import RequestStatus, RequestType
from bot.results.requests import RequestInfo
from storage.models import ChangeRequest


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
