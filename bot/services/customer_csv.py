"""Customers in and out of a spreadsheet: export them as CSV, and import a CSV of new
customers through the same rules as the Add customer modal (R1-R3, R22), each with
where it is in its life (status, trial dates, contract, price, users, past due:
bot.domain.lifecycle), so an MSP can move its existing book in.

The file format is described for people in docs/CSV.md. Every row is checked
against the database before anything is written, and if any row has a problem
nothing is written (unless asked to skip the bad rows). Every problem is reported
with the row and column to fix, so one pass over the file finds them all. The good
rows are then written in chunks, each its own short transaction, so a long import
never keeps other writers (Slack, the API) waiting past the busy timeout.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.customers import (
    DEFAULT_TRIAL_DAYS,
    MAX_ASSIGNED_STAFF,
    MAX_LICENCES,
    NEVER_BLOCK,
    SLACK_USER_ID,
    Capacity,
    CustomerField,
    Plan,
    Status,
    email_key,
    from_cents,
    name_key,
    parse_contact_name,
    parse_email,
    parse_locations,
    parse_name,
    parse_notes,
    parse_price,
    parse_threshold,
    parse_whole_number,
)
from bot.domain.lifecycle import MAX_USERS, Given, lifecycle, unit_price_cents
from bot.domain.roles import Role
from bot.domain.terms import parse_term
from bot.errors import BotError, InvalidInput, NotAllowed, NotFound
from bot.services import audit
from bot.services import customers as customer_service
from bot.services.customers import EMAIL_TAKEN, NAME_TAKEN, NewCustomer
from bot.services.tenancy import Requester, ensure_msp
from storage.engine import writers_turn_seconds
from storage.models import DEFAULT_MAX_CUSTOMERS, Msp
from storage.repositories import customer_export as export_repo
from storage.repositories import customers as customer_repo
from storage.repositories import msps as msp_repo
from storage.repositories.customer_export import ExportedCustomer

CSV_COLUMNS: tuple[str, ...] = (
    "account_number",
    "name",
    "admin_email",
    "plan",
    "status",
    "licences",
    "users",
    "trial_start",
    "trial_end",
    "contract_start",
    "term",
    "renewal_date",
    "past_due",
    "max_mau_threshold",
    "unit_price",
    "monthly_price",
    "locations",
    "contact_name",
    "contact_email",
    "assigned_staff",
    "notes",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("name", "admin_email")
# Exported for people to read: the bot gives every imported customer its own.
IGNORED_ON_IMPORT: frozenset[str] = frozenset({"account_number"})
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0", ""})
LOCATION_SEPARATOR = " | "
MAX_ROWS = 100_000
# Rows written per transaction. SQLite has one writer at a time: a chunk should hold
# the write lock about CHUNK_SECONDS, and the import pauses between chunks
# (storage.engine.writers_turn_seconds), so a Slack click or an API call waiting
# behind it gets through long before its deadline (2.5 s before the ack) and the
# busy timeout (5 s). PostgreSQL holds only the MSP's row that long. The first chunk
# has CHUNK_ROWS rows; each next one is sized on how long the last one took, between
# MIN_CHUNK_ROWS and MAX_CHUNK_ROWS (bench/import_csv.py: on an idle two-core machine
# a chunk of 1,000 rows takes about 0.1 s, so 10,000 rows need few pauses; on a busy
# one the chunks shrink and the pauses come more often).
CHUNK_ROWS = 200
MIN_CHUNK_ROWS = 50
MAX_CHUNK_ROWS = 2_000
CHUNK_SECONDS = 0.2
WRITE_ATTEMPTS = 2  # a chunk that lost a race with a unique index is tried once more
EXPORT_BATCH = 500  # customers read and written at a time (bench/export.py)
WHOLE_ROW = ""  # RowProblem.field when the row as a whole is refused (R3)

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A value that, after any leading quotes, starts a formula. Export adds one quote to
# exactly these values and import removes one from exactly these, so every value
# survives a round trip, including ones that really start with a quote ('t Hooft).
_NEEDS_QUOTE = re.compile(r"^'*[=+\-@\t\r]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_COLUMNS = ("trial_start", "trial_end", "contract_start", "renewal_date")

# Where a refusal from the customers service lands in the file.
_COLUMN_OF_FIELD: dict[str, str] = {
    CustomerField.NAME: "name",
    CustomerField.ADMIN_EMAIL: "admin_email",
    CustomerField.PLAN: "plan",
    CustomerField.LICENCES: "licences",
    CustomerField.RENEWAL_DATE: "renewal_date",
    CustomerField.THRESHOLD: "max_mau_threshold",
    CustomerField.PRICE: "monthly_price",
    CustomerField.LOCATIONS: "locations",
    CustomerField.CONTACT_NAME: "contact_name",
    CustomerField.CONTACT_EMAIL: "contact_email",
    CustomerField.ASSIGNED: "assigned_staff",
    CustomerField.NOTES: "notes",
}

Progress = Callable[[int], None]
"""Told how many more rows were done (a progress bar's `update`)."""
UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""Opens one transaction, committed when its block ends (`Database.unit_of_work`)."""


class UnreadableCsv(InvalidInput):
    """The file as a whole cannot be imported: not UTF-8, empty, or wrong columns."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="file")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row cannot be imported. `row` counts as a spreadsheet does (the header is
    row 1); `field` is the column, or empty when the whole row is refused."""

    row: int
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class CsvRow:
    row: int
    customer: NewCustomer


@dataclass(frozen=True, slots=True)
class ParsedCsv:
    """The rows that passed every check that needs no database, and the problems of
    the others. `row_count` counts the customers in the file (blank rows aside)."""

    rows: list[CsvRow]
    problems: list[RowProblem]
    row_count: int

    @property
    def customers(self) -> list[NewCustomer]:
        return [row.customer for row in self.rows]


@dataclass(frozen=True, slots=True)
class AcceptedRow:
    row: int
    name: str
    account_number: str | None  # None while not written (dry run, refused import)


_Row = TypeVar("_Row", RowProblem, AcceptedRow)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """`accepted` rows passed every check; they were created when `written`, and would
    have been otherwise (dry run, or an import refused because of `problems`).
    `already_there` rows name a customer of the MSP with the same name and admin
    email (an earlier run of the same file): left as they are, not a problem."""

    row_count: int
    accepted: list[AcceptedRow]
    problems: list[RowProblem]
    dry_run: bool
    written: bool
    already_there: list[AcceptedRow] = field(default_factory=list)

    @property
    def rows_with_problems(self) -> int:
        return len({problem.row for problem in self.problems})


class ImportRolledBack(BotError):
    """A dry run, or an import refused because some rows have problems: nothing was
    written. Carries the report."""

    def __init__(self, report: ImportReport) -> None:
        if report.dry_run:
            message = f"Dry run: {len(report.accepted):,} customers would be imported."
        else:
            message = f"Rows with problems: {report.rows_with_problems:,}. Nothing was imported."
        super().__init__(message)
        self.report = report


class ImportInterrupted(BotError):
    """The database refused a write midway, twice (someone added the same customer at
    the same time): the chunks before it stay written, the rest are not."""


class _ChunkLost(Exception):
    """A unique index refused a chunk's write: its transaction is rolled back."""


# Export


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """How many customers were written, and whether they are all the MSP's (not a
    member's assigned ones)."""

    count: int
    whole_msp: bool


async def write_customers_csv(
    session: AsyncSession, *, requester: Requester, out: TextIO
) -> ExportSummary:
    """Write every customer the requester may see (members: their assigned ones), by
    name, to `out` (a text stream opened with `newline=""`).

    UTF-8 with a byte order mark, so Excel shows accents right, and CRLF line ends
    (RFC 4180). Cells that a spreadsheet would run as a formula get a leading `'`.
    Customers are read and written a batch at a time, so memory stays the same
    whatever the size of the MSP: give a file to hold a large export.
    """
    assigned_to = _export_scope(requester)
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    written = 0
    batches = export_repo.in_name_order(
        session,
        msp_id=requester.msp_id,
        assigned_to=assigned_to,
        exclude_status=Status.DELETED.value,
        batch_size=EXPORT_BATCH,
    )
    async for batch in batches:
        writer.writerows(
            [_escape_formula(cell) for cell in _export_row(customer)] for customer in batch
        )
        written += len(batch)
    return ExportSummary(count=written, whole_msp=assigned_to is None)


async def export_customers_csv(session: AsyncSession, *, requester: Requester) -> bytes:
    """`write_customers_csv` into memory, for a small export."""
    out = io.StringIO(newline="")
    await write_customers_csv(session, requester=requester, out=out)
    return out.getvalue().encode("utf-8")


async def write_customers_csv_as_operator(
    session: AsyncSession, *, team_id: str, out: TextIO
) -> ExportSummary:
    """The operator's export (CLI): every customer of the workspace's MSP, written to
    `out` a batch at a time. Nothing is written when there is no such MSP."""
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is None:
        raise NotFound(f"There is no MSP for the workspace {team_id} yet.")
    return await write_customers_csv(session, requester=_operator(msp.id, team_id), out=out)


async def export_customers_csv_as_operator(session: AsyncSession, *, team_id: str) -> bytes:
    """`write_customers_csv_as_operator` into memory, for a small export."""
    text = io.StringIO(newline="")
    await write_customers_csv_as_operator(session, team_id=team_id, out=text)
    return text.getvalue().encode("utf-8")


def _export_scope(requester: Requester) -> str | None:
    """The same rule as the customer lists: members see only their assigned customers."""
    if requester.role is None:
        raise NotAllowed("Only the MSP's staff can export customers.")
    return customer_service.assigned_filter(requester)


def _export_row(customer: ExportedCustomer) -> list[str]:
    contact_name, contact_email = customer.contact or ("", None)
    return [
        customer.account_number,
        customer.name,
        customer.admin_email,
        customer.plan,
        customer.status,
        str(customer.licences),
        str(customer.users),
        _iso(customer.trial_start),
        _iso(customer.trial_end),
        _iso(customer.contract_start),
        customer.term or "",
        _iso(customer.renewal_date),
        "true" if customer.past_due else "false",
        NEVER_BLOCK if customer.max_mau_threshold is None else str(customer.max_mau_threshold),
        str(from_cents(customer.unit_price_cents)),
        str(from_cents(customer.unit_price_cents * customer.licences)),
        LOCATION_SEPARATOR.join(customer.locations),
        contact_name or "",
        contact_email or "",
        " ".join(customer.assigned),
        customer.notes,
    ]


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def _escape_formula(cell: str) -> str:
    return "'" + cell if _NEEDS_QUOTE.match(cell) else cell


def _unescape_formula(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and _NEEDS_QUOTE.match(cell) else cell


# Parsing (pure)


def parse_customer_csv(data: bytes, *, today: date) -> ParsedCsv:
    """Read and check a CSV of new customers. Raises `UnreadableCsv` when the file as
    a whole is unusable; otherwise returns the good rows and every row's problems.

    `today` is the MSP's date, for "the renewal date must be in the future". The file
    is read a record at a time: only the checked rows are kept, not every cell.
    """
    records = _records(_decode(data))
    header = _header(next(records))
    rows: list[CsvRow] = []
    problems: list[RowProblem] = []
    first_with_name: dict[str, int] = {}
    first_with_email: dict[str, int] = {}
    row_count = 0
    for number, record in enumerate(records, start=2):
        if not any(cell.strip() for cell in record):
            continue  # spreadsheets leave blank rows behind; they are not customers
        row_count += 1
        cells, row_problems = _cells(number, header, record)
        customer, field_problems = _customer(number, cells, today=today)
        row_problems += field_problems
        row_problems += _duplicates(number, cells, first_with_name, first_with_email)
        if row_problems:
            problems += row_problems
        elif customer is not None:
            rows.append(CsvRow(row=number, customer=customer))
    if row_count == 0:
        raise UnreadableCsv("The file has a header row but no customers.")
    return ParsedCsv(rows=rows, problems=problems, row_count=row_count)


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise UnreadableCsv(
            f"The file is not UTF-8 (line {line} has a character in another encoding); "
            'save it as "CSV UTF-8" and import it again.'
        ) from None
    if not text.strip():
        raise UnreadableCsv("The file is empty: it needs a header row and one row per customer.")
    return text


def _records(text: str) -> Iterator[list[str]]:
    """The file's records in order, the header first; a file past MAX_ROWS, or one
    that is not CSV, is refused when its reading gets there."""
    end = text.find("\n")
    first_line = text if end < 0 else text[:end]
    # Excel in many European locales saves "CSV" with semicolons.
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    read = 0
    try:
        for record in reader:
            read += 1
            if read > MAX_ROWS + 1:
                raise UnreadableCsv(f"A file can have at most {MAX_ROWS:,} customers.")
            yield [cell.replace("\r\n", "\n") for cell in record]
    except csv.Error as error:
        raise UnreadableCsv(f"Row {read + 1} cannot be read as CSV: {error}.") from None


def _header(record: list[str]) -> list[str]:
    header = [cell.strip().lower() for cell in record]
    accepted = ", ".join(CSV_COLUMNS)
    unknown = [
        record[index].strip() or f"(column {index + 1} has no name)"
        for index, name in enumerate(header)
        if name not in CSV_COLUMNS
    ]
    if unknown:
        raise UnreadableCsv(
            f"Unknown columns: {', '.join(unknown)}. The columns are: {accepted} "
            f"(only {' and '.join(REQUIRED_COLUMNS)} are required)."
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise UnreadableCsv(f"These columns appear more than once: {', '.join(repeated)}.")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise UnreadableCsv(
            f"The file needs the columns {' and '.join(REQUIRED_COLUMNS)}; "
            f"missing: {', '.join(missing)}. The columns are: {accepted}."
        )
    return header


def _cells(
    number: int, header: list[str], record: list[str]
) -> tuple[dict[str, str], list[RowProblem]]:
    """The row's cells by column. Missing trailing cells are empty; extra non-empty
    ones are a problem (usually a comma inside an unquoted cell)."""
    problems: list[RowProblem] = []
    extra = [cell for cell in record[len(header) :] if cell.strip()]
    if extra:
        problems.append(
            RowProblem(
                number,
                WHOLE_ROW,
                f"This row has {len(record)} cells but the header has {len(header)} columns; "
                "put cells that contain commas in double quotes.",
            )
        )
    padded = record[: len(header)] + [""] * (len(header) - len(record))
    cells = {name: _unescape_formula(cell) for name, cell in zip(header, padded, strict=True)}
    return cells, problems


def _customer(
    number: int, cells: dict[str, str], *, today: date
) -> tuple[NewCustomer | None, list[RowProblem]]:
    """Check every column on its own, so the report lists all of a row's problems;
    then, if each is fine, whether together they make an account that can exist
    (bot.domain.lifecycle), on `today` (the operator's date: the check against the
    MSP repeats it on the MSP's own)."""
    problems: list[RowProblem] = []
    values: dict[str, Any] = {}
    for column, parse in _COLUMN_PARSERS:
        text = cells.get(column, "")
        if not text and column in _EMPTY_VALUES:
            value = _EMPTY_VALUES[column]
            values[column] = [] if isinstance(value, list) else value
            continue
        try:
            values[column] = parse(text)
        except InvalidInput as error:
            problems.append(RowProblem(number, column, error.message))
    if problems:
        return None, problems
    history = Given(
        plan=values["plan"],
        status=values["status"],
        trial_start=values["trial_start"],
        trial_end=values["trial_end"],
        licences=values["licences"],
        contract_start=values["contract_start"],
        term=values["term"],
        renewal_date=values["renewal_date"],
        past_due=values["past_due"],
    )
    try:
        life = lifecycle(history, today=today, trial_days=None)
        unit_cents = unit_price_cents(
            unit_price=values["unit_price"],
            monthly_price=values["monthly_price"],
            licences=values["licences"] or 0,
        )
    except InvalidInput as error:
        return None, [RowProblem(number, _column(error.field), error.message)]
    customer = NewCustomer(
        name=values["name"],
        admin_email=values["admin_email"],
        plan=life.plan,
        licences=life.licences,
        history=history,
        users=values["users"],
        max_mau_threshold=values["max_mau_threshold"],
        unit_price=None if unit_cents is None else from_cents(unit_cents),
        locations=values["locations"],
        contact_name=values["contact_name"],
        contact_email=values["contact_email"],
        assigned=values["assigned_staff"],
        notes=values["notes"],
    )
    return customer, []


_Choice = TypeVar("_Choice", Plan, Status)


def _parse_choice(text: str, choices: type[_Choice], *, column: str) -> _Choice | None:
    """A plan or a status, any case; None when empty (bot.domain.lifecycle decides)."""
    cleaned = text.strip().lower()
    if not cleaned:
        return None
    try:
        return choices(cleaned)
    except ValueError:
        named = ", ".join(choice.value for choice in choices)
        raise InvalidInput(f"The {column} must be one of {named}.", field=column) from None


def _parse_licences(text: str) -> int | None:
    if not text.strip():
        return None
    return parse_whole_number(
        text, field="licences", what="number of licences", minimum=0, maximum=MAX_LICENCES
    )


def _parse_users(text: str) -> int:
    """Users in use: the product reports them; a file gives the figure they start with."""
    if not text.strip():
        return 0
    return parse_whole_number(
        text, field="users", what="number of users", minimum=0, maximum=MAX_USERS
    )


def _parse_past_due(text: str) -> bool:
    cleaned = text.strip().lower()
    if cleaned in _TRUE:
        return True
    if cleaned in _FALSE:
        return False
    raise InvalidInput("Past due is true or false (empty: false).", field="past_due")


def _parse_date(text: str, *, column: str) -> date | None:
    cleaned = text.strip()
    if not cleaned:
        return None
    try:
        if not _ISO_DATE.match(cleaned):
            raise ValueError(cleaned)
        return date.fromisoformat(cleaned)
    except ValueError:
        raise InvalidInput(
            "Write dates as YYYY-MM-DD (like 2027-03-01). Spreadsheets may rewrite dates "
            "when saving: format the column as text.",
            field=column,
        ) from None


def _parse_price(text: str, *, column: str) -> Decimal | None:
    """Empty means the MSP's default price (R18), decided when the customer is created."""
    if not text.strip():
        return None
    return parse_price(text, field=column, default=Decimal(0))


def _parse_locations(text: str) -> list[str]:
    return parse_locations("\n".join(text.split("|")), field="locations")


def _parse_assigned(text: str) -> list[str]:
    user_ids = list(dict.fromkeys(text.replace(",", " ").upper().split()))
    wrong = [user_id for user_id in user_ids if not SLACK_USER_ID.match(user_id)]
    if wrong:
        raise InvalidInput(
            f"Not Slack user ids: {', '.join(wrong)}. Give ids like U0123ABCD, "
            "separated by spaces.",
            field="assigned_staff",
        )
    if len(user_ids) > MAX_ASSIGNED_STAFF:
        raise InvalidInput(
            f"At most {MAX_ASSIGNED_STAFF} staff can be assigned to a customer.",
            field="assigned_staff",
        )
    return user_ids


def _date_parser(column: str) -> Callable[[str], date | None]:
    return lambda text: _parse_date(text, column=column)


# Each column's check, in the order a row's problems are reported.
_COLUMN_PARSERS: tuple[tuple[str, Callable[[str], Any]], ...] = (
    ("name", lambda text: parse_name(text, field="name")),
    ("admin_email", lambda text: parse_email(text, field="admin_email")),
    ("plan", lambda text: _parse_choice(text, Plan, column="plan")),
    ("status", lambda text: _parse_choice(text, Status, column="status")),
    ("licences", _parse_licences),
    ("users", _parse_users),
    *((column, _date_parser(column)) for column in _DATE_COLUMNS),
    ("term", lambda text: parse_term(text, field="term") if text.strip() else None),
    ("past_due", _parse_past_due),
    ("max_mau_threshold", lambda text: parse_threshold(text, field="max_mau_threshold")),
    ("unit_price", lambda text: _parse_price(text, column="unit_price")),
    ("monthly_price", lambda text: _parse_price(text, column="monthly_price")),
    ("locations", _parse_locations),
    ("contact_name", lambda text: parse_contact_name(text, field="contact_name")),
    ("contact_email", lambda text: parse_email(text, field="contact_email", required=False)),
    ("assigned_staff", _parse_assigned),
    ("notes", lambda text: parse_notes(text, field="notes")),
)


def _empty_values() -> dict[str, Any]:
    """What each optional column's check makes of an empty cell, worked out once: most
    cells of a large file are empty, and checking each again took a good part of the
    time to read it. A required column (its check refuses "") is not in it."""
    values: dict[str, Any] = {}
    for column, parse in _COLUMN_PARSERS:
        try:
            values[column] = parse("")
        except InvalidInput:
            continue
    return values


_EMPTY_VALUES: dict[str, Any] = _empty_values()


def _duplicates(
    number: int,
    cells: dict[str, str],
    first_with_name: dict[str, int],
    first_with_email: dict[str, int],
) -> list[RowProblem]:
    """A repeat of an earlier row's name or admin email, compared as R2 and R1 do.
    Every row counts as the first, valid or not: fixing it would not fix the repeat."""
    problems: list[RowProblem] = []
    name = cells.get("name", "").strip()
    email = cells.get("admin_email", "").strip()
    for column, key, first in (
        ("name", name_key(name), first_with_name),
        ("admin_email", email_key(email), first_with_email),
    ):
        if not key:
            continue
        if key in first:
            what = "name" if column == "name" else "admin email"
            problems.append(
                RowProblem(
                    number,
                    column,
                    f"Duplicates row {first[key]}: the same {what} (compared ignoring case).",
                )
            )
        else:
            first[key] = number
    return problems


# Import


async def import_customers_as_operator(
    units: UnitOfWork,
    *,
    team_id: str,
    timezone: str,
    parsed: ParsedCsv,
    now: datetime,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """The operator's import (CLI): every parsed row checked against the database
    (R1-R3) first; then, unless that found problems (and `skip_invalid` was not
    given) or this is a dry run, the MSP created if needed and the good rows
    written in chunks, each customer as if an owner had added it, audited as
    `operator:cli`. `units` opens one transaction (the CLI's `unit_of_work`).

    Nothing is written when `ImportRolledBack` is raised (it carries the report).
    A row that a concurrent change made invalid between the check and its chunk
    (its name or email taken, the MSP filled up) is reported and not written; a row
    already there (same name and admin email in this MSP) is left as it is, so
    running the same file again after an interruption finishes the job.
    """
    async with units() as session:
        checked = await _check(session, team_id=team_id, timezone=timezone, parsed=parsed, now=now)
        pause = writers_turn_seconds(session)
    if dry_run or (checked.problems and not skip_invalid):
        raise ImportRolledBack(checked.report(dry_run=dry_run, written=False))
    async with units() as session:
        msp_id = await ensure_msp(session, team_id=team_id, timezone=timezone, now=now)
    written = await _write(
        units,
        requester=_operator(msp_id, team_id),
        rows=checked.to_write,
        now=now,
        progress=progress,
        pause=pause,
        calendar=checked.calendar,
    )
    return ImportReport(
        row_count=parsed.row_count,
        accepted=written.accepted,
        problems=_by_row(checked.problems + written.problems),
        dry_run=False,
        written=True,
        already_there=_by_row(checked.already_there + written.already_there),
    )


@dataclass(frozen=True, slots=True)
class _Checked:
    """A file checked against the database, before anything is written."""

    row_count: int
    to_write: list[CsvRow]
    problems: list[RowProblem]
    already_there: list[AcceptedRow]
    calendar: tuple[date, int]  # the MSP's date and trial length the rows were checked on

    def report(self, *, dry_run: bool, written: bool) -> ImportReport:
        return ImportReport(
            row_count=self.row_count,
            accepted=[AcceptedRow(row.row, row.customer.name, None) for row in self.to_write],
            problems=_by_row(self.problems),
            dry_run=dry_run,
            written=written,
            already_there=self.already_there,
        )


@dataclass(slots=True)
class _Outcome:
    """What a chunk (or the whole write) did with its rows."""

    accepted: list[AcceptedRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    already_there: list[AcceptedRow] = field(default_factory=list)

    def add(self, other: _Outcome) -> None:
        self.accepted += other.accepted
        self.problems += other.problems
        self.already_there += other.already_there


@dataclass(frozen=True, slots=True)
class _Known:
    """What the database holds of a file's rows: the MSP's customer names (R2), the
    admin emails of any MSP (R1, yes or no only), and the MSP's customers with the
    same name and admin email as a row (imported before)."""

    names: set[str]
    emails: set[str]
    present: dict[tuple[str, str], str]

    @classmethod
    async def read(
        cls, session: AsyncSession, *, msp_id: int | None, rows: Sequence[CsvRow]
    ) -> _Known:
        email_keys = {email_key(row.customer.admin_email) for row in rows}
        if msp_id is None:  # the MSP is created by this import: it has no customers
            return cls(set(), await customer_repo.emails_in_use(session, email_keys=email_keys), {})
        return cls(
            names=await customer_repo.names_in_use(
                session, msp_id=msp_id, name_keys={name_key(row.customer.name) for row in rows}
            ),
            emails=await customer_repo.emails_in_use(session, email_keys=email_keys),
            present=await customer_repo.present_by_name_and_email(
                session, msp_id=msp_id, email_keys=email_keys
            ),
        )

    def already_there(self, row: CsvRow) -> AcceptedRow | None:
        key = (name_key(row.customer.name), email_key(row.customer.admin_email))
        number = self.present.get(key)
        return None if number is None else AcceptedRow(row.row, row.customer.name, number)

    def problems(
        self, row: CsvRow, *, today: date, trial_days: int, dates: bool = True
    ) -> list[RowProblem]:
        """The row's problems with what the database holds, all at once, and with the
        MSP's own date and trial length (the file was read on the operator's date)."""
        problems: list[RowProblem] = []
        if name_key(row.customer.name) in self.names:
            problems.append(RowProblem(row.row, "name", NAME_TAKEN))
        if email_key(row.customer.admin_email) in self.emails:
            problems.append(RowProblem(row.row, "admin_email", EMAIL_TAKEN))
        try:
            if dates and row.customer.history is not None:
                lifecycle(row.customer.history, today=today, trial_days=trial_days)
        except InvalidInput as error:
            problems.append(RowProblem(row.row, _column(error.field), error.message))
        return problems


async def _check(
    session: AsyncSession, *, team_id: str, timezone: str, parsed: ParsedCsv, now: datetime
) -> _Checked:
    """Every row against the database, reading only: names and emails taken, rows
    imported before, and the MSP's maximum (R3) filled in file order. An MSP that
    does not exist yet is checked as the new, empty MSP the import would create."""
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is None:
        today = now.astimezone(zoneinfo.ZoneInfo(timezone)).date()
        room = Capacity(used=0, maximum=DEFAULT_MAX_CUSTOMERS)
        trial_days = DEFAULT_TRIAL_DAYS
    else:
        today = customer_service.today_for(msp, now)
        trial_days = msp.trial_days
        used = await customer_repo.count_active(session, msp_id=msp.id)
        room = Capacity(used=used, maximum=msp.max_customers)
    known = await _Known.read(session, msp_id=msp.id if msp else None, rows=parsed.rows)
    problems = list(parsed.problems)
    to_write: list[CsvRow] = []
    already_there: list[AcceptedRow] = []
    for row in parsed.rows:
        present = known.already_there(row)
        if present is not None:
            already_there.append(present)
            continue
        row_problems = known.problems(row, today=today, trial_days=trial_days)
        if not row_problems:
            row_problems = _past_maximum(row, room, planned=len(to_write), team_id=team_id)
        if row_problems:
            problems += row_problems
        else:
            to_write.append(row)
    return _Checked(parsed.row_count, to_write, problems, already_there, (today, trial_days))


def _past_maximum(row: CsvRow, room: Capacity, *, planned: int, team_id: str) -> list[RowProblem]:
    """R3 refuses the row, not its name (which is where the modal would show it)."""
    filled = Capacity(used=room.used + planned, maximum=room.maximum)
    if not filled.full:
        return []
    return [RowProblem(row.row, WHOLE_ROW, filled.operator_refusal(team_id=team_id))]


async def _write(
    units: UnitOfWork,
    *,
    requester: Requester,
    rows: list[CsvRow],
    now: datetime,
    progress: Progress | None,
    pause: float,
    calendar: tuple[date, int],
) -> _Outcome:
    """The checked rows in chunks, each its own short transaction of about
    CHUNK_SECONDS, `pause` seconds apart, so other writers (Slack, the API) get their
    turn between chunks well within SQLite's busy timeout. A chunk that loses a race
    with a unique index is tried once more: its rows are checked again, and the one
    now taken is reported."""
    written = _Outcome()
    start, size = 0, CHUNK_ROWS
    while start < len(rows):
        if start and pause:
            await asyncio.sleep(pause)
        chunk = rows[start : start + size]
        began = time.monotonic()
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                outcome = await _write_chunk(
                    units, requester=requester, rows=chunk, now=now, calendar=calendar
                )
                break
            except _ChunkLost:
                if attempt == WRITE_ATTEMPTS:
                    raise ImportInterrupted(_interrupted(written, chunk)) from None
        written.add(outcome)
        if progress is not None:
            for _ in chunk:
                progress(1)
        start, size = start + len(chunk), _next_chunk_rows(size, time.monotonic() - began)
    return written


def _next_chunk_rows(rows: int, took: float) -> int:
    """The next chunk's rows, for it to take about CHUNK_SECONDS as the last one (of
    `rows` rows) took `took`: at most twice as many, within the bounds."""
    wanted = int(rows * CHUNK_SECONDS / took) if took > 0 else rows * 2
    return max(MIN_CHUNK_ROWS, min(MAX_CHUNK_ROWS, rows * 2, wanted))


async def _write_chunk(
    units: UnitOfWork,
    *,
    requester: Requester,
    rows: list[CsvRow],
    now: datetime,
    calendar: tuple[date, int],
) -> _Outcome:
    """One transaction: hold the MSP's right to add customers (so concurrent adds
    and imports count what this one wrote), check the rows again, write them. The
    dates are checked again only if the MSP's calendar (date, trial length) is no
    longer the one the check used."""
    outcome = _Outcome()
    async with units() as session:
        room = await customer_service.reserve_capacity(session, msp_id=requester.msp_id)
        msp = await session.get(Msp, requester.msp_id)
        assert msp is not None, "reserve_capacity found it"
        today = customer_service.today_for(msp, now)
        recheck_dates = (today, msp.trial_days) != calendar
        known = await _Known.read(session, msp_id=msp.id, rows=rows)
        to_insert: list[CsvRow] = []
        for row in rows:
            present = known.already_there(row)  # a concurrent import of the same file
            if present is not None:
                outcome.already_there.append(present)
                continue
            problems = known.problems(
                row, today=today, trial_days=msp.trial_days, dates=recheck_dates
            ) or _past_maximum(row, room, planned=len(to_insert), team_id=requester.team_id)
            if problems:
                outcome.problems += problems
            else:
                to_insert.append(row)
        if not to_insert:
            return outcome
        try:
            inserted = await customer_service.insert_checked(
                session,
                requester=requester,
                msp=msp,
                new=[row.customer for row in to_insert],
                today=today,
                now=now,
            )
        except InvalidInput:
            # A unique index refused the flush: an account of another MSP took an
            # email since the check above (this MSP's adds wait for this chunk).
            raise _ChunkLost() from None
    outcome.accepted += [
        AcceptedRow(row.row, row.customer.name, number)
        for row, (number, _) in zip(to_insert, inserted, strict=True)
    ]
    return outcome


def _interrupted(written: _Outcome, chunk: list[CsvRow]) -> str:
    if not written.accepted:
        done = "so nothing was imported"
    else:
        done = (
            f"so the import stopped at row {chunk[0].row}: the {len(written.accepted):,} "
            "customers before it were imported, the rest were not"
        )
    return (
        f"Someone added one of these customers while the import ran, {done}. Run the "
        "import again: it leaves the customers already imported as they are and reports "
        "that customer."
    )


def _by_row(rows: list[_Row]) -> list[_Row]:
    return sorted(rows, key=lambda row: row.row)


def _operator(msp_id: int, team_id: str) -> Requester:
    return Requester(msp_id=msp_id, team_id=team_id, user_id=audit.OPERATOR_ACTOR, role=Role.OWNER)


def _column(field: str | None) -> str:
    return _COLUMN_OF_FIELD.get(field or "", field or WHOLE_ROW)
