"""Writing test data straight into the database, so a test controls every figure it
checks: staff and their roles, MSP settings, customers with their usage, an MSP with
an API token, and many customers at once (with the CSV rows their export must hold)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update

from bot.domain.customers import Plan, email_key, from_cents, name_key
from bot.domain.roles import Role
from bot.services import api_tokens, customers, staff
from bot.services.audit import OPERATOR_ACTOR
from bot.services.tenancy import Requester, ensure_msp
from storage.engine import Database
from storage.models import (
    Customer,
    CustomerAssignment,
    CustomerContact,
    CustomerLocation,
    CustomerUsage,
    Msp,
    StaffMember,
)
from tests.support import TEAM_ID, FakeClock

# The staff grant_staff seeds, one person in each role, and their approvals channel.
OWNER, ADMIN, APPROVER, MEMBER, VIEWER = "U0001", "U0002", "U0003", "U0004", "U0005"
APPROVALS = "C0APPROVE"
RENEWAL = date(2027, 3, 1)  # the paid customer's (PAID_COLUMNS)
SEEDED_AT = datetime(2026, 11, 1, tzinfo=UTC)  # when seeded customers were created
_numbers = itertools.count(1)

# ---------------------------------------------------------------- staff and the MSP


async def grant(db: Database, user_id: str, role: Role, *, team_id: str = TEAM_ID) -> None:
    """Give someone a role the way the operator does (CLI path)."""
    async with db.unit_of_work() as session:
        await staff.grant_role_as_operator(
            session,
            team_id=team_id,
            target_user_id=user_id,
            new_role=role,
            timezone="UTC",
            now=datetime.now(UTC),
        )


async def grant_staff(db: Database) -> None:
    """One person in each role, and an approvals channel."""
    await grant(db, OWNER, Role.OWNER)
    await grant(db, ADMIN, Role.ADMIN)
    await grant(db, APPROVER, Role.APPROVER)
    await grant(db, MEMBER, Role.MEMBER)
    await grant(db, VIEWER, Role.VIEWER)
    await set_msp(db, approvals_channel=APPROVALS)


async def staff_with_home_open(
    db: Database, roles: dict[str, Role], *, opened_at: datetime | None
) -> None:
    """Grant roles; `opened_at` marks them as having opened the Home tab then."""
    for user_id, role in roles.items():
        await grant(db, user_id, role)
    async with db.unit_of_work() as session:
        await session.execute(
            update(StaffMember)
            .where(StaffMember.slack_user_id.in_(list(roles)))
            .values(home_opened_at=opened_at)
        )


async def set_msp(db: Database, team_id: str = TEAM_ID, **values: Any) -> None:
    async with db.unit_of_work() as session:
        await session.execute(update(Msp).where(Msp.team_id == team_id).values(**values))


async def set_max_customers(db: Database, maximum: int) -> None:
    async with db.unit_of_work() as session:
        await session.execute(update(Msp).values(max_customers=maximum))


# ---------------------------------------------------------------- customers


async def seed_customer(
    db: Database,
    *,
    name: str,
    status: str = "paid",
    team_id: str = TEAM_ID,
    users: int = 0,
    trial_end: date | None = None,
    agents: tuple[int, int] = (0, 0),  # (reporting, total)
    locations: int = 0,
    mau: int | None = None,
    month: date = date(2026, 11, 1),
    assigned: list[str] | None = None,
    max_mau: int | None = None,  # R20: None never blocks
    **columns: Any,
) -> int:
    """A customer with its figures; `mau` adds a usage row for `month`; `columns`
    sets any other column (plan, licences, renewal_date, past_due...)."""
    number = next(_numbers)
    plan = {"active_trial": "trial", "expired_trial": "free", "free": "free"}.get(
        status, "essentials"
    )
    async with db.unit_of_work() as session:
        msp_id = await session.scalar(select(Msp.id).where(Msp.team_id == team_id))
        customer = Customer(
            msp_id=msp_id,
            account_number=f"T{number:03d}-{number:04d}"[:9],
            name=name,
            name_key=name.casefold(),
            admin_email=f"admin{number}@example.com",
            admin_email_key=f"admin{number}@example.com",
            plan=plan,
            status=status,
            trial_end=trial_end,
            users=users,
            max_mau_threshold=max_mau,
            agents_reporting=agents[0],
            agents_total=agents[1],
            created_by="U0001",
            created_at=SEEDED_AT,
            updated_at=SEEDED_AT,
        )
        for column, value in columns.items():
            setattr(customer, column, value)
        session.add(customer)
        await session.flush()
        for position in range(locations):
            session.add(
                CustomerLocation(
                    customer_id=customer.id, position=position, name=f"Site {position}"
                )
            )
        for user_id in assigned or []:
            session.add(CustomerAssignment(customer_id=customer.id, slack_user_id=user_id))
        if mau is not None:
            session.add(
                CustomerUsage(
                    msp_id=msp_id,
                    customer_id=customer.id,
                    month=month,
                    mau=mau,
                    users=users,
                    agents_total=agents[1],
                    agents_reporting=agents[0],
                    data_gb=0.0,
                    reported_at=SEEDED_AT,
                )
            )
        return customer.id


# A paid Essentials customer: 10 licences at $75 each a month ($750), an annual term
# renewing on RENEWAL.
PAID_COLUMNS: dict[str, Any] = {
    "status": "paid",
    "plan": "essentials",
    "licences": 10,
    "users": 8,
    "unit_price_cents": 7_500,
    "term": "annual",
    "contract_start": date(2026, 3, 1),
    "renewal_date": RENEWAL,
}


async def paid(db: Database, name: str = "Northwind", **columns: Any) -> int:
    """A paid Essentials customer (PAID_COLUMNS), with `columns` changed."""
    values: dict[str, Any] = {**PAID_COLUMNS, **columns}
    return await seed_customer(db, name=name, status=values.pop("status", "paid"), **values)


# ---------------------------------------------------------------- an MSP for the ingest API


@dataclass
class Tenant:
    msp_id: int
    token: str
    token_id: int
    accounts: dict[str, str]  # customer name -> account number


async def make_tenant(
    db,
    clock: FakeClock,
    *,
    team_id: str = TEAM_ID,
    names: dict[str, int | None] | None = None,
    timezone: str = "UTC",
) -> Tenant:
    """An MSP with customers (name -> max-MAU threshold, None: never block) and an
    API token."""
    names = {"Acme Dental": None} if names is None else names
    async with db.unit_of_work() as session:
        msp_id = await ensure_msp(session, team_id=team_id, timezone=timezone, now=clock())
        owner = Requester(msp_id=msp_id, team_id=team_id, user_id="U0001", role=Role.OWNER)
        accounts = {}
        for name, threshold in names.items():
            card = await customers.create_customer(
                session,
                requester=owner,
                new=customers.NewCustomer(
                    name=name,
                    admin_email=f"admin@{team_id}-{name.replace(' ', '-').lower()}.example",
                    plan=Plan.TRIAL,
                    max_mau_threshold=threshold,
                ),
                now=clock(),
            )
            accounts[name] = card.account_number
        token = await api_tokens.create_token(
            session,
            team_id=team_id,
            name="rmm",
            timezone=timezone,
            created_by=OPERATOR_ACTOR,
            now=clock(),
        )
        await session.execute(update(Msp).values(home_stale_since=None))
    return Tenant(msp_id, token.token, token.id, accounts)


async def insert_bulk_customers(db, *, msp_id: int, now: datetime, count: int) -> None:
    """`count` free customers BULK-0000... named "Bulk 0"..., threshold 100, in one insert."""
    async with db.unit_of_work() as session:
        await session.execute(
            insert(Customer),
            [
                {
                    "msp_id": msp_id,
                    "account_number": f"BULK-{index:04d}",
                    "name": f"Bulk {index}",
                    "name_key": name_key(f"Bulk {index}"),
                    "admin_email": f"admin{index}@bulk.example",
                    "admin_email_key": email_key(f"admin{index}@bulk.example"),
                    "plan": "free",
                    "status": "free",
                    "max_mau_threshold": 100,
                    "created_by": "test",
                    "add_ons": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for index in range(count)
            ],
        )


# ---------------------------------------------------------------- many customers to export

CHUNK = 1_000  # rows per INSERT statement
# Names a database collation may order differently from code points (case,
# punctuation, accents), and ones a spreadsheet would run as a formula.
AWKWARD_NAMES = ("a-b", "ab", "A c", "Zeta", "éclair", "Émile", "=SUM(A1)", "-minus", "@home")


@dataclass(frozen=True, slots=True)
class Seeded:
    """What was written: the export's expected rows (each a dict by column), in the
    order the export must give them."""

    rows: list[dict[str, str]]


def long_notes(index: int, length: int) -> str:
    """Notes of `length` characters with what CSV must quote: quotes, commas, newlines."""
    head = f'Customer {index}: "quoted", with commas,\nand a second line. '
    return (head + "x" * length)[:length]


async def seed_customers(
    db: Database,
    *,
    count: int,
    notes_length: int = 2_000,
    member: str | None = None,
    team_id: str = TEAM_ID,
) -> Seeded:
    """`count` customers of the MSP of `team_id` (grant someone a role first): every
    third with two locations, every second with a primary contact, every fifth
    assigned to `member` (if given)."""
    async with db.unit_of_work() as session:
        msp_id = await session.scalar(select(Msp.id).where(Msp.team_id == team_id))
    if msp_id is None:
        raise AssertionError("grant someone a role first: that creates the MSP")
    rows = list(_customer_rows(msp_id, count, notes_length))
    for chunk in _chunks(rows, CHUNK):
        async with db.unit_of_work() as session:
            await session.execute(insert(Customer.__table__), [row for row, _ in chunk])
    async with db.unit_of_work() as session:
        result = await session.execute(select(Customer.account_number, Customer.id))
        ids = {account_number: customer_id for account_number, customer_id in result}
    expected = [
        _expected(row, extras, member if extras["index"] % 5 == 0 else None) for row, extras in rows
    ]
    children = list(_child_rows(ids, rows, member))
    for table, values in children:
        for chunk in _chunks(values, CHUNK):
            async with db.unit_of_work() as session:
                await session.execute(insert(table.__table__), chunk)
    expected.sort(key=lambda cells: name_key(cells["_name"]))
    for cells in expected:
        del cells["_name"]
    return Seeded(rows=expected)


def _customer_rows(msp_id: int, count: int, notes_length: int) -> Iterator[tuple[dict, dict]]:
    names = itertools.chain(AWKWARD_NAMES, (f"Customer {i:06d}" for i in itertools.count()))
    for index, name in zip(range(count), names, strict=False):
        paid = index % 2 == 0
        row = {
            "msp_id": msp_id,
            "account_number": f"EX{index:07d}",
            "name": name,
            "name_key": name_key(name),
            "admin_email": f"Admin{index}@Example.com",
            "admin_email_key": email_key(f"Admin{index}@Example.com"),
            "plan": "essentials" if paid else "trial",
            "status": "paid" if paid else "active_trial",
            "trial_start": None if paid else date(2026, 11, 2),
            "trial_end": None if paid else date(2026, 12, 1),
            "term": "annual" if paid else None,
            "contract_start": date(2026, 6, 1) if paid else None,
            "renewal_date": date(2027, 6, 1) if paid else None,
            "licences": 10 if paid else 0,
            "users": index % 7,
            "max_mau_threshold": 1_000_000,
            "unit_price_cents": 7_500 + index,  # a licence's, a month
            "notes": long_notes(index, notes_length),
            "created_by": "U0001",
            "created_at": SEEDED_AT,
            "updated_at": SEEDED_AT,
        }
        yield row, {"index": index}


def _child_rows(
    ids: dict[str, int], rows: list[tuple[dict, dict]], member: str | None
) -> Iterator[tuple[type, list[dict]]]:
    """Locations, contacts and assignments (`ids`: customer ids by account number)."""
    locations: list[dict] = []
    contacts: list[dict] = []
    assignments: list[dict] = []
    for row, extras in rows:
        customer_id, index = ids[row["account_number"]], extras["index"]
        if index % 3 == 0:
            locations += [
                {"customer_id": customer_id, "position": position, "name": f"Site {position}"}
                for position in range(2)
            ]
        if index % 2 == 0:
            contacts.append(
                {
                    "customer_id": customer_id,
                    "name": f"Contact {index}",
                    "email": f"contact{index}@example.com",
                    "is_primary": True,
                }
            )
        if member is not None and index % 5 == 0:
            assignments.append({"customer_id": customer_id, "slack_user_id": member})
    yield CustomerLocation, locations
    yield CustomerContact, contacts
    yield CustomerAssignment, assignments


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _expected(row: dict, extras: dict, assigned: str | None) -> dict[str, str]:
    index = extras["index"]
    cells = {
        "account_number": row["account_number"],
        "name": _defused(row["name"]),
        "admin_email": row["admin_email"],
        "plan": row["plan"],
        "status": row["status"],
        "licences": str(row["licences"]),
        "users": str(row["users"]),
        "trial_start": _iso(row["trial_start"]),
        "trial_end": _iso(row["trial_end"]),
        "contract_start": _iso(row["contract_start"]),
        "term": row["term"] or "",
        "renewal_date": _iso(row["renewal_date"]),
        "past_due": "false",
        "max_mau_threshold": str(row["max_mau_threshold"]),
        "unit_price": str(from_cents(row["unit_price_cents"])),
        "monthly_price": str(from_cents(row["unit_price_cents"] * row["licences"])),
        "locations": "Site 0 | Site 1" if index % 3 == 0 else "",
        "contact_name": f"Contact {index}" if index % 2 == 0 else "",
        "contact_email": f"contact{index}@example.com" if index % 2 == 0 else "",
        "assigned_staff": assigned or "",
        "notes": row["notes"],
        "_name": row["name"],
    }
    return cells


def _defused(cell: str) -> str:
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
