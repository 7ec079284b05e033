"""Every customer a person may see, in name order, a batch at a time: what the CSV
export reads, so its memory stays the same whatever the size of the MSP.

Plain rows, not ORM objects: an export reads each customer once and changes
nothing, and building (then letting go of) tracked objects took most of its time
(bench/export.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Customer, CustomerAssignment, CustomerContact, CustomerLocation
from storage.repositories.customers import visible


@dataclass(slots=True)
class ExportedCustomer:
    """A customer's exported columns, with its sites (in order), its primary
    contact's name and email, and the staff assigned to it."""

    id: int
    account_number: str
    name: str
    admin_email: str
    plan: str
    status: str
    licences: int
    users: int
    trial_start: date | None
    trial_end: date | None
    contract_start: date | None
    term: str | None
    renewal_date: date | None
    past_due: bool
    max_mau_threshold: int | None
    unit_price_cents: int
    notes: str
    locations: list[str] = field(default_factory=list)
    contact: tuple[str, str | None] | None = None
    assigned: list[str] = field(default_factory=list)


_COLUMNS = (
    Customer.id,
    Customer.account_number,
    Customer.name,
    Customer.admin_email,
    Customer.plan,
    Customer.status,
    Customer.licences,
    Customer.users,
    Customer.trial_start,
    Customer.trial_end,
    Customer.contract_start,
    Customer.term,
    Customer.renewal_date,
    Customer.past_due,
    Customer.max_mau_threshold,
    Customer.unit_price_cents,
    Customer.notes,
)


async def in_name_order(
    session: AsyncSession,
    *,
    msp_id: int,
    assigned_to: str | None,
    exclude_status: str,
    batch_size: int,
) -> AsyncIterator[list[ExportedCustomer]]:
    """Batches of `batch_size` customers ordered by `name_key` then id, read through
    one cursor (one statement, so one consistent snapshot); each batch's sites,
    contacts and assignments are read with three queries on its ids."""
    name_order = Customer.name_key
    if session.get_bind().dialect.name == "postgresql":
        # Code-point order, as SQLite's BINARY collation (and Python) compare: the
        # server's own collation may ignore punctuation, and an export should read
        # the same on both databases.
        name_order = name_order.collate("C")
    statement = (
        select(*_COLUMNS)
        .where(*visible(msp_id, assigned_to), Customer.status != exclude_status)
        .order_by(name_order, Customer.id)
        .execution_options(yield_per=batch_size)
    )
    result = await session.stream(statement)
    try:
        async for rows in result.partitions():
            batch = {row.id: ExportedCustomer(**row._mapping) for row in rows}
            await _add_children(session, batch)
            yield list(batch.values())
    finally:
        await result.close()


async def _add_children(session: AsyncSession, batch: dict[int, ExportedCustomer]) -> None:
    ids = list(batch)
    locations = await session.execute(
        select(CustomerLocation.customer_id, CustomerLocation.name)
        .where(CustomerLocation.customer_id.in_(ids))
        .order_by(CustomerLocation.customer_id, CustomerLocation.position, CustomerLocation.id)
    )
    for customer_id, name in locations:
        batch[customer_id].locations.append(name)
    contacts = await session.execute(
        select(CustomerContact.customer_id, CustomerContact.name, CustomerContact.email)
        .where(CustomerContact.customer_id.in_(ids), CustomerContact.is_primary.is_(True))
        .order_by(CustomerContact.id.desc())  # the first primary one wins, as on the card
    )
    for customer_id, name, email in contacts:
        batch[customer_id].contact = (name, email)
    assignments = await session.execute(
        select(CustomerAssignment.customer_id, CustomerAssignment.slack_user_id).where(
            CustomerAssignment.customer_id.in_(ids)
        )
    )
    assigned: dict[int, list[str]] = defaultdict(list)
    for customer_id, user_id in assignments:
        assigned[customer_id].append(user_id)
    for customer_id, user_ids in assigned.items():
        batch[customer_id].assigned = sorted(user_ids)
