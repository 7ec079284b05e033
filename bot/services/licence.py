"""The MAU licence (R19): this month's MAU against the allowance, the last 12
months, allowance orders, and MAU per customer.

Owners and admins see the licence view; only owners order more allowance (an MAU
allowance order request, bot/services/requests.py). The
MAU chart (`mau_series`) is open to all staff, members only for their customers.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import mau as mau_rules
from bot.domain.roles import Role
from bot.errors import NotAllowed, NotFound
from bot.results.licence import (
    ChosenCustomer,
    CustomerMonth,
    LicenceOverview,
    MauSeries,
    MonthFigures,
    OrderLine,
)
from bot.services import customers as customer_service
from bot.services.tenancy import Permission, Requester, msp_of
from storage.models import MauAllowanceOrder, Msp
from storage.repositories import licence as licence_repo

NOT_STAFF = "Only the MSP's staff can see MAU."

# Who may see the licence and order more MAU.
SEE = Permission(
    frozenset({Role.OWNER, Role.ADMIN}),
    "Only owners and admins can see the licence view.",
    NOT_STAFF,
)
ORDER = Permission(frozenset({Role.OWNER}), "Only an owner can order more MAU.", NOT_STAFF)
RECENT_ORDERS = 10
TOP_CUSTOMERS = 15
ORDER_APPLIED = "applied"


# ---------------------------------------------------------------- roles


def check_can_read_licence(requester: Requester) -> None:
    SEE.check(requester)


# ---------------------------------------------------------------- reading


async def licence_overview(
    session: AsyncSession,
    *,
    requester: Requester,
    now: datetime,
    customer_id: int | None = None,
    month: date | None = None,
) -> LicenceOverview:
    check_can_read_licence(requester)
    msp = await msp_of(session, requester)
    today = customer_service.today_for(msp, now)
    current = mau_rules.month_start(today)
    months = mau_rules.last_months(today)
    selected = mau_rules.month_start(month) if month is not None else current
    if selected not in months:
        selected = current  # an old or forged month: show this one
    msp_mau = await licence_repo.msp_mau_by_month(
        session, msp_id=msp.id, first=months[0], last=months[-1]
    )
    allowances = await _allowances(session, msp, months, current)
    customer, customer_mau = await _chosen_customer_mau(
        session, requester, msp, customer_id, months
    )
    mau_now = msp_mau.get(current, 0)
    top, with_mau = await licence_repo.top_customers_for_month(
        session, msp_id=msp.id, month=selected, limit=TOP_CUSTOMERS
    )
    return LicenceOverview(
        today=today,
        month=current,
        mau=mau_now,
        allowance=msp.mau_allowance,
        overage=mau_rules.overage(mau_now, msp.mau_allowance),
        percent_used=mau_rules.percent_used(mau_now, msp.mau_allowance),
        projection=mau_rules.project_month_end(mau_now, today=today, allowance=msp.mau_allowance),
        history=[
            MonthFigures(
                month=m,
                mau=msp_mau.get(m, 0),
                allowance=allowance,
                overage=mau_rules.overage(msp_mau.get(m, 0), allowance),
                customer_mau=customer_mau.get(m, 0) if customer is not None else None,
            )
            for m, allowance in zip(months, allowances, strict=True)
        ],
        customer=customer,
        orders=await _recent_orders(session, msp),
        order_count=await licence_repo.count_orders(session, msp_id=msp.id),
        months=months,
        selected_month=selected,
        selected_month_mau=msp_mau.get(selected, 0),
        top_customers=[
            CustomerMonth(
                customer_id=row.customer_id,
                name=row.name,
                account_number=row.account_number,
                mau=row.mau,
            )
            for row in top
        ],
        customers_with_mau=with_mau,
        can_order=ORDER.allows(requester),
    )


async def mau_series(
    session: AsyncSession,
    *,
    requester: Requester,
    now: datetime,
    customer_query: str | None = None,
    customer_id: int | None = None,
) -> MauSeries:
    """`/msp mau [CUSTOMER]` and the licence view's chart. A member sees only the
    customers assigned to them, and the whole MSP's figures not at all."""
    assigned_to = customer_service.assigned_filter(requester)
    msp = await msp_of(session, requester)
    today = customer_service.today_for(msp, now)
    months = mau_rules.last_months(today)
    customer: ChosenCustomer | None = None
    if customer_query and customer_query.strip():
        found = await customer_service.find_one(
            session, requester=requester, query=customer_query.strip(), now=now, example="mau"
        )
        customer = ChosenCustomer(id=found.id, name=found.name, account_number=found.account_number)
    elif customer_id is not None:
        customer = await _visible_customer(session, msp, customer_id, assigned_to)
    elif assigned_to is not None:
        raise NotAllowed(
            "Members see the MAU of the customers assigned to them. Name one of your "
            "customers: /msp mau NAME-OR-ACCOUNT"
        )
    if customer is not None:
        by_month = await licence_repo.customer_mau_by_month(
            session,
            msp_id=msp.id,
            customer_id=customer.id,
            assigned_to=assigned_to,
            first=months[0],
            last=months[-1],
        )
        mau = [by_month.get(m, 0) for m in months]
        return MauSeries(
            customer=customer,
            months=months,
            mau=mau,
            allowance=None,
            overage=None,
            # A customer has no allowance of its own: its estimate is plain usage.
            projection=mau_rules.project_month_end(mau[-1], today=today),
        )
    totals = await licence_repo.msp_mau_by_month(
        session, msp_id=msp.id, first=months[0], last=months[-1]
    )
    allowances = await _allowances(session, msp, months, months[-1])
    mau = [totals.get(m, 0) for m in months]
    return MauSeries(
        customer=None,
        months=months,
        mau=mau,
        allowance=allowances,
        overage=[
            mau_rules.overage(used, allowed) for used, allowed in zip(mau, allowances, strict=True)
        ],
        projection=mau_rules.project_month_end(mau[-1], today=today, allowance=allowances[-1]),
    )


# ---------------------------------------------------------------- helpers


def _zone(msp: Msp) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(msp.timezone)


async def _allowances(
    session: AsyncSession, msp: Msp, months: list[date], current: date
) -> list[int]:
    """The allowance of each month, told from the orders (R19 history)."""
    since = datetime.combine(months[0], time(0), tzinfo=_zone(msp))
    orders = await licence_repo.orders_explaining(session, msp_id=msp.id, since=since)
    changes = [
        mau_rules.AllowanceChange(
            day=_local_day(msp, order), before=order.allowance_before, after=order.allowance_after
        )
        for order in orders
    ]
    return mau_rules.allowance_by_month(
        months, changes, current=msp.mau_allowance, current_month=current
    )


def _local_day(msp: Msp, order: MauAllowanceOrder) -> date:
    return order.created_at.astimezone(_zone(msp)).date()


async def _recent_orders(session: AsyncSession, msp: Msp) -> list[OrderLine]:
    orders = await licence_repo.recent_orders(session, msp_id=msp.id, limit=RECENT_ORDERS)
    return [
        OrderLine(
            id=order.id,
            day=_local_day(msp, order),
            ordered_by=order.ordered_by,
            quantity=order.quantity,
            allowance_before=order.allowance_before,
            allowance_after=order.allowance_after,
            status=order.status,
            note=order.note,
        )
        for order in orders
    ]


async def _chosen_customer_mau(
    session: AsyncSession,
    requester: Requester,
    msp: Msp,
    customer_id: int | None,
    months: list[date],
) -> tuple[ChosenCustomer | None, dict[date, int]]:
    if customer_id is None:
        return None, {}
    assigned_to = customer_service.assigned_filter(requester)
    customer = await _visible_customer(session, msp, customer_id, assigned_to)
    by_month = await licence_repo.customer_mau_by_month(
        session,
        msp_id=msp.id,
        customer_id=customer.id,
        assigned_to=assigned_to,
        first=months[0],
        last=months[-1],
    )
    return customer, by_month


async def _visible_customer(
    session: AsyncSession, msp: Msp, customer_id: int, assigned_to: str | None
) -> ChosenCustomer:
    found = await licence_repo.visible_customer(
        session, msp_id=msp.id, customer_id=customer_id, assigned_to=assigned_to
    )
    if found is None:
        raise NotFound("That customer does not exist, or is not assigned to you.")
    return ChosenCustomer(id=found.id, name=found.name, account_number=found.account_number)
