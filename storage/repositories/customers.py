"""Customer queries. Every one takes the MSP id; a member's view adds their user id."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import (
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Customer, CustomerAssignment, CustomerContact, CustomerLocation

ListOrder = Literal["name", "trial_end", "users"]
# R1, R2: only live accounts hold a name or an admin email. Written as a literal,
# as the partial unique indexes' condition is, so PostgreSQL can use them.
_LIVE = Customer.status != literal_column("'deleted'")


def visible(msp_id: int, assigned_to: str | None) -> list:
    """WHERE clauses for the customers a person may see: all of the MSP's, or only
    those assigned to `assigned_to` (members)."""
    clauses = [Customer.msp_id == msp_id]
    if assigned_to is not None:
        clauses.append(
            # Start from the member's assignments (indexed) rather than checking
            # every customer of the MSP against them (bench/customers.py: 45 -> 23 ms
            # for a member's list at 100,000 customers).
            Customer.id.in_(
                select(CustomerAssignment.customer_id).where(
                    CustomerAssignment.slack_user_id == assigned_to
                )
            )
        )
    return clauses


async def get(
    session: AsyncSession,
    *,
    msp_id: int,
    customer_id: int,
    assigned_to: str | None = None,
    populate_existing: bool = False,
) -> Customer | None:
    """`populate_existing` re-reads a customer this transaction already holds (after
    a conditional UPDATE, say) instead of trusting the identity map."""
    statement = (
        select(Customer)
        .where(Customer.id == customer_id, *visible(msp_id, assigned_to))
        .options(
            selectinload(Customer.locations),
            selectinload(Customer.contacts),
            selectinload(Customer.assignments),
        )
        .execution_options(populate_existing=populate_existing)
    )
    return await session.scalar(statement)


async def by_ids(
    session: AsyncSession, *, msp_id: int, customer_ids: Collection[int]
) -> dict[int, Customer]:
    """The MSP's customers with these ids, in one query, by id."""
    if not customer_ids:
        return {}
    rows = await session.scalars(
        select(Customer).where(Customer.msp_id == msp_id, Customer.id.in_(sorted(customer_ids)))
    )
    return {customer.id: customer for customer in rows.all()}


async def count_active(session: AsyncSession, *, msp_id: int) -> int:
    """Customers that count against the MSP's maximum (R3): all but deleted ones."""
    total = await session.scalar(
        select(func.count())
        .select_from(Customer)
        .where(Customer.msp_id == msp_id, Customer.status != "deleted")
    )
    return int(total or 0)


async def name_taken(
    session: AsyncSession, *, msp_id: int, name_key: str, except_id: int | None = None
) -> bool:
    statement = select(Customer.id).where(
        Customer.msp_id == msp_id, Customer.name_key == name_key, _LIVE
    )
    if except_id is not None:
        statement = statement.where(Customer.id != except_id)
    return await session.scalar(statement.limit(1)) is not None


async def email_taken(
    session: AsyncSession, *, email_key: str, except_id: int | None = None
) -> bool:
    """R1 is across all live accounts of all MSPs, so this query is not tenant-scoped;
    it returns only a yes/no, never the other account."""
    statement = select(Customer.id).where(Customer.admin_email_key == email_key, _LIVE)
    if except_id is not None:
        statement = statement.where(Customer.id != except_id)
    return await session.scalar(statement.limit(1)) is not None


# Keys per query when checking a whole file: far below either database's limit
# on bound parameters.
_KEYS_PER_QUERY = 1000


def _batches(keys: Collection[str]) -> list[list[str]]:
    ordered = sorted(set(keys))
    return [ordered[i : i + _KEYS_PER_QUERY] for i in range(0, len(ordered), _KEYS_PER_QUERY)]


async def names_in_use(
    session: AsyncSession, *, msp_id: int, name_keys: Collection[str]
) -> set[str]:
    """Which of these name keys the MSP's live customers already have (R2), in a few
    queries."""
    found: set[str] = set()
    for batch in _batches(name_keys):
        rows = await session.scalars(
            select(Customer.name_key).where(
                Customer.msp_id == msp_id, Customer.name_key.in_(batch), _LIVE
            )
        )
        found.update(rows.all())
    return found


async def emails_in_use(session: AsyncSession, *, email_keys: Collection[str]) -> set[str]:
    """Which of these admin email keys any live account of any MSP has (R1): yes or no
    per key, never whose, as `email_taken`."""
    found: set[str] = set()
    for batch in _batches(email_keys):
        rows = await session.scalars(
            select(Customer.admin_email_key).where(Customer.admin_email_key.in_(batch), _LIVE)
        )
        found.update(rows.all())
    return found


async def present_by_name_and_email(
    session: AsyncSession, *, msp_id: int, email_keys: Collection[str]
) -> dict[tuple[str, str], str]:
    """The MSP's customers (not deleted) with these admin email keys, as
    (name key, email key) -> account number: what an import finds already there.

    Looked up by email alone, through its unique index (at most one live account
    per key), and kept when the MSP's: given the MSP too, SQLite preferred the
    MSP's index for a long list of keys and read every customer of the MSP for each
    chunk of an import, which made a 100,000-row import quadratic."""
    found: dict[tuple[str, str], str] = {}
    for batch in _batches(email_keys):
        rows = await session.execute(
            select(
                Customer.msp_id,
                Customer.name_key,
                Customer.admin_email_key,
                Customer.account_number,
            ).where(Customer.admin_email_key.in_(batch), _LIVE)
        )
        found.update(
            {(name, email): number for owner, name, email, number in rows if owner == msp_id}
        )
    return found


async def account_numbers_taken(session: AsyncSession, numbers: Collection[str]) -> set[str]:
    """Which of these account numbers exist already (one query for a whole chunk)."""
    found: set[str] = set()
    for batch in _batches(numbers):
        rows = await session.scalars(
            select(Customer.account_number).where(Customer.account_number.in_(batch))
        )
        found.update(rows.all())
    return found


@dataclass(frozen=True, slots=True)
class CustomerInsert:
    """A customer's row (every column of `customers` but `id`), with its sites in
    order, its primary contact (name, email) and the staff assigned to it."""

    values: dict[str, Any]
    locations: Sequence[str]
    contact: tuple[str, str | None] | None
    assigned: Sequence[str]


async def insert_many(session: AsyncSession, rows: Sequence[CustomerInsert]) -> dict[str, int]:
    """Insert customers and what hangs off them in four statements, whatever their
    number; returns account number -> id. Plain rows, not ORM objects: building,
    flushing and tracking them took ~3 ms a customer, most of a large import.

    A unique index refusing a row raises IntegrityError; the transaction is lost."""
    if not rows:
        return {}
    table = Customer.__table__
    inserted = await session.execute(
        insert(table).returning(table.c.account_number, table.c.id),  # type: ignore[attr-defined]
        [row.values for row in rows],
    )
    ids: dict[str, int] = {number: id_ for number, id_ in inserted.all()}
    locations: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    assignments: list[dict[str, Any]] = []
    for row in rows:
        customer_id = ids[row.values["account_number"]]
        locations += [
            {"customer_id": customer_id, "position": position, "name": name}
            for position, name in enumerate(row.locations)
        ]
        if row.contact is not None:
            name, email = row.contact
            contacts.append(
                {
                    "customer_id": customer_id,
                    "name": name,
                    "email": email,
                    "phone": None,
                    "is_primary": True,
                }
            )
        assignments += [
            {"customer_id": customer_id, "slack_user_id": user_id} for user_id in row.assigned
        ]
    for model, values in (
        (CustomerLocation, locations),
        (CustomerContact, contacts),
        (CustomerAssignment, assignments),
    ):
        if values:
            await session.execute(insert(model.__table__), values)  # type: ignore[arg-type]
    return ids


# Account numbers are 8 characters of this alphabet (bot.domain.customers), shown
# as XXXX-XXXX. Storage keeps its own copy of the shape so it imports nothing.
_ACCOUNT_SHAPED = re.compile(r"[23456789ABCDEFGHJKMNPQRSTVWXYZ]{8}")
_ACCOUNT_PART = re.compile(r"[23456789ABCDEFGHJKMNPQRSTVWXYZ]{1,8}")


def _name_rank(query_key: str):  # type: ignore[no-untyped-def]
    """1 = the exact name, 2 = the name starts with the query, 3 = contains it."""
    return case(
        (Customer.name_key == query_key, 1),
        (Customer.name_key.startswith(query_key, autoescape=True), 2),
        else_=3,
    )


async def search(
    session: AsyncSession,
    *,
    msp_id: int,
    assigned_to: str | None,
    query_key: str,
    account_key: str,
    limit: int,
) -> Sequence[Customer]:
    """The customer with that account number, or customers whose name contains the
    query, best matches first. Deleted customers are never offered.

    An account number is looked up on its unique index first: scanning every name
    for it cost ~110 ms at 100,000 customers against ~1 ms (bench/customers.py)."""
    statement = select(Customer).where(*visible(msp_id, assigned_to), Customer.status != "deleted")
    if _ACCOUNT_SHAPED.fullmatch(account_key):
        formatted = f"{account_key[:4]}-{account_key[4:]}"
        exact = await session.scalar(statement.where(Customer.account_number == formatted))
        if exact is not None:
            return [exact]
    if query_key:
        statement = statement.where(
            Customer.name_key.contains(query_key, autoescape=True)
        ).order_by(_name_rank(query_key), Customer.name_key)
    else:
        statement = statement.order_by(Customer.name_key)
    return (await session.scalars(statement.limit(limit))).all()


def _listing(
    msp_id: int, assigned_to: str | None, statuses: Collection[str], text_key: str
) -> list:
    clauses = [*visible(msp_id, assigned_to), Customer.status.in_(sorted(statuses))]
    if text_key:
        account_part = text_key.upper().replace("-", "")
        name_matches = Customer.name_key.contains(text_key, autoescape=True)
        if _ACCOUNT_PART.fullmatch(account_part):
            # Only text that could be part of an account number is looked for there.
            account_matches = func.replace(Customer.account_number, "-", "").contains(
                account_part, autoescape=True
            )
            clauses.append(or_(name_matches, account_matches))
        else:
            clauses.append(name_matches)
    return clauses


def _list_order(order: ListOrder) -> list:
    """ORDER BY of a listing. Each ends with the name, unique within an MSP, so every
    customer has exactly one place and a page boundary never repeats or skips one."""
    by_name = Customer.name_key.asc()
    if order == "trial_end":
        # Spelled out because the backends differ: SQLite puts NULLs first, PostgreSQL last.
        return [Customer.trial_end.asc().nulls_last(), by_name]
    if order == "users":
        return [Customer.users.desc(), by_name]
    return [by_name]


async def page(
    session: AsyncSession,
    *,
    msp_id: int,
    assigned_to: str | None,
    statuses: Collection[str],
    text_key: str,
    offset: int,
    limit: int,
    order: ListOrder,
) -> Sequence[Customer]:
    statement: Select[tuple[Customer]] = (
        select(Customer)
        .where(*_listing(msp_id, assigned_to, statuses, text_key))
        .order_by(*_list_order(order))
        .offset(offset)
        .limit(limit)
    )
    return (await session.scalars(statement)).all()


async def totals(
    session: AsyncSession,
    *,
    msp_id: int,
    assigned_to: str | None,
    statuses: Collection[str],
    text_key: str,
) -> tuple[int, int, int]:
    """(customers, users of trial accounts, users of paid accounts) in the listing."""
    paying = Customer.status.in_(("paid", "pending_cancellation"))
    statement = select(
        func.count(),
        func.coalesce(
            func.sum(case((Customer.status == "active_trial", Customer.users), else_=0)), 0
        ),
        func.coalesce(func.sum(case((paying, Customer.users), else_=0)), 0),
    ).where(*_listing(msp_id, assigned_to, statuses, text_key))
    row = (await session.execute(statement)).one()
    return int(row[0]), int(row[1]), int(row[2])


async def bump_version(
    session: AsyncSession, *, customer_id: int, expected_version: int, now: datetime
) -> bool:
    """Claim the edit: True when the record was still at `expected_version`."""
    result = await session.execute(
        update(Customer)
        .where(and_(Customer.id == customer_id, Customer.version == expected_version))
        .values(version=expected_version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_customer(session: AsyncSession, *, customer_id: int) -> None:
    await session.execute(delete(Customer).where(Customer.id == customer_id))


async def assigned_among(
    session: AsyncSession, *, msp_id: int, customer_ids: set[int], user_id: str
) -> set[int]:
    """Which of these customers are assigned to this person."""
    if not customer_ids:
        return set()
    rows = await session.scalars(
        select(Customer.id).where(Customer.id.in_(sorted(customer_ids)), *visible(msp_id, user_id))
    )
    return set(rows.all())


async def renewals_due(
    session: AsyncSession, *, statuses: Sequence[str], on_or_before: date, limit: int
) -> Sequence[tuple[int, int, date]]:
    """(customer id, MSP id, renewal date) of paying accounts whose renewal date is
    on or before `on_or_before` (a bound: each MSP's own date is checked by the
    caller), earliest first."""
    rows = await session.execute(
        select(Customer.id, Customer.msp_id, Customer.renewal_date)
        .where(Customer.status.in_(list(statuses)), Customer.renewal_date <= on_or_before)
        .order_by(Customer.renewal_date, Customer.id)
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in rows.all()]


async def roll_renewal(
    session: AsyncSession, *, customer_id: int, renewal: date, next_renewal: date, now: datetime
) -> bool:
    """Move the renewal date on, only if it is still `renewal`: of two replicas
    rolling the same term at once, exactly one gets True."""
    result = await session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.renewal_date == renewal)
        .values(renewal_date=next_renewal, version=Customer.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
