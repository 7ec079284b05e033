"""An MSP's settings and grants as `/msp settings` shows them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.domain.customers import DEFAULT_MONTHLY_PRICE


@dataclass(frozen=True, slots=True)
class MspSettings:
    """What the MSP's owners and admins decide (`/msp settings`)."""

    approvals_channel: str | None
    allow_self_approval: bool
    request_expiry_days: int
    webhook_url: str | None
    trial_notice_days: str = "7,3,1"
    timezone: str = "UTC"
    default_monthly_price: Decimal = DEFAULT_MONTHLY_PRICE


@dataclass(frozen=True, slots=True)
class Grants:
    """What the vendor grants the MSP; the operator sets them (`msp-bot msp set`)."""

    max_customers: int
    seat_allowance: int | None
    trial_days: int


@dataclass(frozen=True, slots=True)
class SettingsOverview:
    """Every setting of one MSP, with what counts against the grants: the customers
    (R3) and the users of paid subscriptions (R5, against the seat allowance)."""

    team_id: str
    settings: MspSettings
    grants: Grants
    customers: int
    billable_users: int
    mau_allowance: int


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    """What a change to the settings did: the settings before it, everything after
    it, and which settings it named (MspSettings field names), so the answer can say
    what changed, or that a setting already had the value asked for."""

    before: MspSettings
    overview: SettingsOverview
    named: tuple[str, ...]
