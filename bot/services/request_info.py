"""A request as people see it (bot.results.requests.RequestInfo), read from its row:
shared by the request service and the customer card (which shows a customer's latest
requests)."""

from __future__ import annotations

from typing import Any

from bot.domain.requests import RequestStatus, RequestType
from bot.results.requests import RequestInfo
from bot.sentences import Sentence
from storage.models import ChangeRequest

# Where a request's details keep its sentences with their dates as values; the plain
# text beside them ("explanation", the decision_note column) is for everything else.
EXPLANATION_SAID = "explanation_said"
DECISION_NOTE_SAID = "decision_note_said"


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
        summary=_summary(kind, details),
        explanation=_stored_sentence(details, EXPLANATION_SAID, details.get("explanation")),
        effective_on=request.effective_on,
        expires_at=request.expires_at,
        decided_by=request.decided_by,
        decided_at=request.decided_at,
        decision_note=_stored_sentence(details, DECISION_NOTE_SAID, request.decision_note)
        if request.decision_note
        else None,
        applied_at=request.applied_at,
        needs_typed_name=kind == RequestType.DELETE_ACCOUNT,
        message_keys=list(request.message_keys or []),
    )


def _summary(kind: RequestType, details: dict[str, Any]) -> str:
    """What is asked beyond the type: nothing when the stored summary only names the
    type (requests stored before summaries said more: "Cancel")."""
    summary = str(details.get("summary") or "")
    names_the_type = {kind.label.casefold(), kind.value.replace("_", " ")}
    return "" if summary.casefold() in names_the_type else summary


def _stored_sentence(details: dict[str, Any], key: str, plain: object) -> Sentence:
    """The sentence kept with its dates when it still says what the plain text says,
    else the plain text (a row written before sentences were kept, or since changed)."""
    text = str(plain or "")
    said = Sentence.from_json(details.get(key))
    return said if said is not None and said.plain() == text else Sentence.literal(text)


def note_values(details: dict[str, Any] | None, note: Sentence) -> dict[str, Any]:
    """The columns that record why a request was not applied: the note's plain text,
    and the sentence itself in the details, so its dates show in each reader's way."""
    return {
        "decision_note": note.plain(),
        "details": {**(details or {}), DECISION_NOTE_SAID: note.to_json()},
    }
