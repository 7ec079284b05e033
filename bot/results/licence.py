"""The MAU licence (R19) as the licence view and the MAU chart show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.domain.mau import Projection


@dataclass(frozen=True, slots=True)
class ChosenCustomer:
    id: int
    name: str
    account_number: str


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """One month of the licence history. `customer_mau` is the chosen customer's
    MAU (None when the view shows the whole MSP). An allowance of 0: none had been
    bought by then, so the month has no overage."""

    month: date
    mau: int
    allowance: int
    overage: int
    customer_mau: int | None = None


@dataclass(frozen=True, slots=True)
class OrderLine:
    id: int
    day: date  # in the MSP's time zone
    ordered_by: str
    quantity: int
    allowance_before: int
    allowance_after: int
    status: str
    note: str


@dataclass(frozen=True, slots=True)
class CustomerMonth:
    customer_id: int
    name: str
    account_number: str
    mau: int


@dataclass(frozen=True, slots=True)
class LicenceOverview:
    today: date
    month: date  # the current month
    mau: int  # the MSP's MAU this month
    allowance: int
    overage: int
    percent_used: float | None  # None without an allowance
    projection: Projection  # this month's estimate, against the allowance
    history: list[MonthFigures]  # the last 12 months, oldest first, this month (to date) last
    customer: ChosenCustomer | None  # whose MAU the history shows beside the MSP's
    orders: list[OrderLine]  # newest first
    order_count: int
    months: list[date]  # the months one may pick for the per-customer table
    selected_month: date
    selected_month_mau: int
    top_customers: list[CustomerMonth]
    customers_with_mau: int
    can_order: bool


@dataclass(frozen=True, slots=True)
class MauSeries:
    """MAU of the last 12 months, of the whole MSP or of one customer, oldest first:
    the last month is the current one, to date. The allowance (0 in a month before
    the first was bought) and overage are the MSP's, so they are given only for the
    whole MSP; the projection is of the MAU shown, against the allowance if given."""

    customer: ChosenCustomer | None
    months: list[date]
    mau: list[int]
    allowance: list[int] | None
    overage: list[int] | None
    projection: Projection
