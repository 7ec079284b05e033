"""The Command Center summary, as the dashboard message and the Home tab show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from bot.domain.mau import Projection
from bot.domain.roles import Role
from bot.results.alerts import AlertInfo
from bot.results.requests import RequestInfo


@dataclass(frozen=True, slots=True)
class TrialEnding:
    id: int
    account_number: str
    name: str
    trial_end: date
    days_left: int
    users: int


@dataclass(frozen=True, slots=True)
class SilentAgents:
    id: int
    account_number: str
    name: str
    reporting: int
    total: int


@dataclass(frozen=True, slots=True)
class AtThreshold:
    """A customer whose MAU this month has reached its max-MAU threshold (R20), as
    the dashboard lists it."""

    id: int
    account_number: str
    name: str
    mau: int
    threshold: int


@dataclass(frozen=True, slots=True)
class Allowances:
    """The MSP's limits: shown to the roles that see the whole MSP."""

    max_customers: int
    seat_allowance: int | None
    mau_allowance: int


@dataclass(frozen=True, slots=True)
class DeliveryProblems:
    failed: int  # in the last bot.services.dashboard.DELIVERY_PROBLEM_DAYS days
    queued: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    role: Role
    whole_msp: bool  # False: a member's assigned customers only
    today: date  # in the MSP's time zone: what "this month" and "ending soon" count from
    as_of: datetime  # when the figures were read, shown in each reader's own zone
    customers: int
    billable_users: int  # R5: users of paid subscriptions only
    trial_users: int
    locations: int
    mau: int  # this month, as reported by the usage API
    overage: int  # R19, 0 for members (the allowance is the MSP's)
    paid: int
    active_trials: int
    expired_trials: int
    trials_ending: list[TrialEnding]
    trials_ending_total: int
    silent_agents: int
    customers_with_silent_agents: int
    silent_agent_customers: list[SilentAgents]
    at_max_mau: list[AtThreshold]  # R20: new end users are blocked at these customers
    at_max_mau_total: int
    allowances: Allowances | None
    delivery: DeliveryProblems | None  # for the roles that manage delivery
    # Requests waiting for a decision: for approvers all of the MSP's (shown first),
    # for others their own.
    pending_requests: list[RequestInfo] = field(default_factory=list)
    pending_total: int = 0
    decides_requests: bool = False
    # The worst open alerts the person may see, and how many are open by severity.
    open_alerts: list[AlertInfo] = field(default_factory=list)
    open_alerts_by_severity: dict[str, int] = field(default_factory=dict)
    # This month's MAU estimate against the allowance, for the roles that see the
    # whole MSP (the licence view's, in the same words).
    mau_projection: Projection | None = None
