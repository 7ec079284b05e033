"""Customer accounts as the card, the lists and the pickers show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from bot.domain.customers import CustomerFilter, ListSort, Plan, Status
from bot.domain.requests import RequestType
from bot.domain.terms import Term
from bot.results.requests import RequestInfo


@dataclass(frozen=True, slots=True)
class CustomerCard:
    id: int
    account_number: str
    name: str
    admin_email: str
    plan: Plan
    status: Status
    trial_end: date | None
    trial_days_left: int | None
    users: int
    licences: int
    mau_this_month: int
    max_mau_threshold: int | None  # R20: None never blocks
    unit_price: Decimal
    monthly_price: Decimal  # unit price x licences
    term: Term | None
    contract_start: date | None
    renewal_date: date | None
    past_due: bool
    data_used_gb: float
    add_ons: list[str]
    agents_reporting: int
    agents_total: int
    locations: list[str]
    contact_name: str | None
    contact_email: str | None
    assigned: list[str]
    notes: str
    created_by: str
    version: int
    can_edit: bool
    can_delete: bool
    # Requests: what the person may ask for this account now (or schedule), the
    # latest requests about it, and whether they may reverse a scheduled deletion.
    request_kinds: list[RequestType] = field(default_factory=list)
    requests: list[RequestInfo] = field(default_factory=list)
    can_reverse_deletion: bool = False
    open_alerts: dict[str, int] = field(default_factory=dict)  # by severity
    # Commercial figures are corrected by owners only (others ask by request).
    can_correct_billing: bool = False
    correction: Correction | None = None  # the latest owner correction
    over_free_limits: bool = False  # R15: free or expired trial, above a free limit
    # R20: this month's MAU once it has reached the threshold (new end users are
    # blocked); None while below it, or when the threshold never blocks.
    mau_at_threshold: int | None = None
    # R16: why Delete is not offered, for those who may delete: the paid term.
    deletion_waits: DeletionWaits | None = None


@dataclass(frozen=True, slots=True)
class DeletionWaits:
    """R16: an account in a paid term cannot be deleted before the term ends: a
    renewing plan must be cancelled first, a cancelled one waits for its end."""

    cancelled: bool
    until: date | None  # the soonest the term can end; None without a renewal date


@dataclass(frozen=True, slots=True)
class Correction:
    """An owner's correction of an account's commercial figures, as the card shows it."""

    by: str
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    account_number: str
    name: str
    plan: Plan
    status: Status
    users: int
    licences: int
    trial_end: date | None
    trial_days_left: int | None
    renewal_date: date | None
    over_free_limits: bool = False  # R15


@dataclass(frozen=True, slots=True)
class CustomerPage:
    filter: CustomerFilter
    text: str
    sort: ListSort
    page: int
    page_count: int
    total: int
    trial_users: int
    paid_users: int
    rows: list[CustomerRow]
    can_add: bool = False  # the reader may add customers: an empty list offers it
