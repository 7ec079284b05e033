"""Usage reports per customer and month (the usage API), written set-based: a
report of 1,000 customers is a handful of statements, not 1,000 round trips."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Customer, CustomerUsage

# The figures a report carries, named as in customer_usage.
FIGURES = ("mau", "users", "agents_total", "agents_reporting", "data_gb")
# Where the customer keeps the latest of each.
CUSTOMER_FIGURES = {
    "mau": Customer.mau_this_month,
    "users": Customer.users,
    "agents_total": Customer.agents_total,
    "agents_reporting": Customer.agents_reporting,
    "data_gb": Customer.data_used_gb,
}


@dataclass(frozen=True, slots=True)
class NamedCustomer:
    id: int
    account_number: str
    name_key: str
    max_mau_threshold: int | None  # None: never block (R20)
    name: str
    status: str


# NamedCustomer's columns, in its order.
NAMED_CUSTOMER_COLUMNS = (
    Customer.id,
    Customer.account_number,
    Customer.name_key,
    Customer.max_mau_threshold,
    Customer.name,
    Customer.status,
)


async def customers_named(
    session: AsyncSession,
    *,
    msp_id: int,
    account_numbers: Collection[str],
    name_keys: Collection[str],
) -> list[NamedCustomer]:
    """The MSP's customers with one of these account numbers or name keys, in one
    query. Deleted customers are left out: nothing may be reported for them.

    On PostgreSQL the rows are locked (in id order, so two reports cannot deadlock):
    two reports for the same customer at once then run one after the other, and a
    threshold crossing (R20) is seen by exactly one of them. SQLite has one writer
    at a time anyway."""
    statement = (
        select(*NAMED_CUSTOMER_COLUMNS)
        .where(
            Customer.msp_id == msp_id,
            Customer.status != "deleted",
            or_(
                Customer.account_number.in_(sorted(account_numbers)),
                Customer.name_key.in_(sorted(name_keys)),
            ),
        )
        .order_by(Customer.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(of=Customer)
    return [NamedCustomer(*row) for row in (await session.execute(statement)).all()]


async def reported_figures(
    session: AsyncSession, *, msp_id: int, customer_ids: Collection[int], months: Collection[date]
) -> dict[tuple[int, date], dict[str, Any]]:
    """The FIGURES already reported, by (customer id, month), for these customers and months."""
    statement = select(
        CustomerUsage.customer_id,
        CustomerUsage.month,
        *(getattr(CustomerUsage, f) for f in FIGURES),
    ).where(
        CustomerUsage.msp_id == msp_id,
        CustomerUsage.customer_id.in_(sorted(customer_ids)),
        CustomerUsage.month.in_(sorted(months)),
    )
    return {
        (customer_id, month): dict(zip(FIGURES, figures, strict=True))
        for customer_id, month, *figures in (await session.execute(statement)).all()
    }


async def shown_figures(
    session: AsyncSession, *, msp_id: int, customer_ids: Collection[int]
) -> dict[int, dict[str, Any]]:
    """The FIGURES each of these customers shows now (its latest report)."""
    statement = select(Customer.id, *(CUSTOMER_FIGURES[f] for f in FIGURES)).where(
        Customer.msp_id == msp_id, Customer.id.in_(sorted(customer_ids))
    )
    return {
        customer_id: dict(zip(FIGURES, figures, strict=True))
        for customer_id, *figures in (await session.execute(statement)).all()
    }


async def latest_months(
    session: AsyncSession, *, msp_id: int, customer_ids: Collection[int]
) -> dict[int, date]:
    """The newest month each of these customers has a report for."""
    statement = (
        select(CustomerUsage.customer_id, func.max(CustomerUsage.month))
        .where(CustomerUsage.msp_id == msp_id, CustomerUsage.customer_id.in_(sorted(customer_ids)))
        .group_by(CustomerUsage.customer_id)
    )
    return {customer_id: month for customer_id, month in (await session.execute(statement)).all()}


async def upsert(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert each (customer, month) report, or replace the figures of the one there.

    `rows` hold msp_id, customer_id, month, reported_at and the FIGURES; no two
    may share a customer and month (PostgreSQL refuses to update a row twice in
    one statement)."""
    if not rows:
        return
    table = CustomerUsage.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["customer_id", "month"],
        set_={name: statement.excluded[name] for name in (*FIGURES, "reported_at")},
    )
    await session.execute(statement, list(rows))


async def set_latest_figures(
    session: AsyncSession, *, msp_id: int, rows: Sequence[dict[str, Any]], now: datetime
) -> None:
    """Copy the newest reported figures onto the customers, one executemany.

    `rows` hold `customer_id` and the FIGURES. The customer's `version` is left
    alone: it guards people's edits, which a usage report does not conflict with."""
    if not rows:
        return
    table = Customer.__table__
    # Parameter names must differ from the columns' (SQLAlchemy reserves those).
    statement = (
        update(table)
        .where(table.c.id == bindparam("p_customer_id"), table.c.msp_id == msp_id)
        .values(
            mau_this_month=bindparam("p_mau"),
            users=bindparam("p_users"),
            data_used_gb=bindparam("p_data_gb"),
            agents_total=bindparam("p_agents_total"),
            agents_reporting=bindparam("p_agents_reporting"),
            usage_reported_at=now,
        )
    )
    parameters = [{f"p_{name}": row[name] for name in ("customer_id", *FIGURES)} for row in rows]
    await session.execute(statement, parameters)


async def append_audit_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Audit events a usage report caused (R20), in one executemany: the ORM would
    insert them one by one on SQLite, and the first report of a month may cross
    hundreds of thresholds. (audit.append does one; this is its bulk form, kept
    here while the audit repository has none.)"""
    if rows:
        await session.execute(insert(AuditEvent.__table__), list(rows))
