"""Requests as people see them: in messages, lists, the request modal and on the
customer card."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from bot.domain.customers import Plan, Status
from bot.domain.policy import Verdict
from bot.domain.requests import RequestStatus, RequestType
from bot.sentences import Sentence


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
    summary: str  # what is asked beyond its type ("10 → 15 licences"); "" when the type says it
    explanation: Sentence  # what the rules said when it was asked, its dates as values
    effective_on: date | None
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: Sentence | None  # the approver's reason, or why it was not applied
    applied_at: datetime | None
    needs_typed_name: bool  # approving asks for the customer's name (deletions)
    message_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RequestForm:
    """What the request modal shows before anything is typed."""

    kind: RequestType
    customer_id: int | None
    customer_name: str
    account_number: str | None
    plan: Plan | None
    status: Status | None
    licences: int
    users: int
    renewal_date: date | None
    trial_end: date | None
    add_ons: list[str]
    unit_price: Decimal | None  # a licence a month
    preview: Verdict  # the rules for this account as it stands (details not yet given)
    # The rules for what has been typed so far (None: nothing yet), which the form's
    # preview shows as it is filled in: the new trial end, the charge, the date.
    quote: Verdict | None = None
    mau_allowance: int | None = None  # an MAU allowance order: the allowance now
    mau_this_month: int | None = None  # ...and the MSP's MAU so far this month


@dataclass(frozen=True, slots=True)
class Submitted:
    info: RequestInfo
    routed_to: str  # "the approvals channel" or "the owners (by DM)"


@dataclass(frozen=True, slots=True)
class RequestList:
    which: str
    requests: list[RequestInfo]
    total: int
    can_decide: bool
    viewer: str
    can_request: bool = False  # may ask for changes: an empty list says how
