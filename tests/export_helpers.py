"""Many customers with long notes, written straight into the database in bulk, and
the CSV rows their export must hold (tests/test_export_privacy.py, bench/export.py)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import insert, select

from bot.domain.customers import email_key, from_cents, name_key
from bot.services.customer_csv import CSV_COLUMNS
from storage.engine import Database
from storage.models import Customer, CustomerAssignment, CustomerContact, CustomerLocation, Msp
from tests.support import TEAM_ID

SEEDED_AT = datetime(2026, 11, 1, tzinfo=UTC)
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


def read_csv(data: bytes) -> list[dict[str, str]]:
    """An export's rows, by column, checking the header and the byte order mark."""
    text = data.decode("utf-8")
    assert text.startswith("\ufeff"), "the export starts with a byte order mark"
    records = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert tuple(records[0]) == CSV_COLUMNS
    return [dict(zip(CSV_COLUMNS, record, strict=True)) for record in records[1:]]


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
