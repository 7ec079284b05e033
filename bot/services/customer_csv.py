"""Customers in and out of a spreadsheet: export them as CSV, and import a CSV of new
customers through the same rules as the Add customer modal (R1-R3, R22).

The file format is described for people in docs/CSV.md. An import is all or
nothing unless asked to skip the bad rows, and every problem is reported with the
row and column to fix, so one pass over the file finds them all.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.domain.customers import (
    MAX_ASSIGNED_STAFF,
    SLACK_USER_ID,
    Capacity,
    CustomerField,
    Plan,
    Status,
    check_renewal_date,
    email_key,
    from_cents,
    name_key,
    parse_contact_name,
    parse_email,
    parse_licences,
    parse_locations,
    parse_name,
    parse_notes,
    parse_price,
    parse_threshold,
)
from bot.domain.roles import Role
from bot.errors import BotError, InvalidInput, NotAllowed, NotFound, RuleBroken
from bot.services import audit
from bot.services import customers as customer_service
from bot.services.customers import NewCustomer
from bot.services.tenancy import Requester, ensure_msp
from storage.models import Customer
from storage.repositories import customers as customer_repo
from storage.repositories import msps as msp_repo

CSV_COLUMNS: tuple[str, ...] = (
    "account_number",
    "name",
    "admin_email",
    "plan",
    "status",
    "licences",
    "users",
    "trial_end",
    "renewal_date",
    "max_mau_threshold",
    "monthly_price",
    "locations",
    "contact_name",
    "contact_email",
    "assigned_staff",
    "notes",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("name", "admin_email")
# Exported for people to read; the bot assigns account numbers, and every imported
# customer starts today (a trial starts on import, a paid plan's contract too).
IGNORED_ON_IMPORT: frozenset[str] = frozenset({"account_number", "status", "users", "trial_end"})
IMPORTABLE_PLANS: tuple[Plan, ...] = (
    Plan.TRIAL,
    Plan.ESSENTIALS,
    Plan.PROFESSIONAL,
    Plan.ENTERPRISE,
)
LOCATION_SEPARATOR = " | "
MAX_ROWS = 10_000
WHOLE_ROW = ""  # RowProblem.field when the row as a whole is refused (R3)

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A value that, after any leading quotes, starts a formula. Export adds one quote to
# exactly these values and import removes one from exactly these, so every value
# survives a round trip, including ones that really start with a quote ('t Hooft).
_NEEDS_QUOTE = re.compile(r"^'*[=+\-@\t\r]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

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
    account_number: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """`accepted` rows passed every check; they were created when `written`, and would
    have been otherwise (dry run, or an import refused because of `problems`)."""

    row_count: int
    accepted: list[AcceptedRow]
    problems: list[RowProblem]
    dry_run: bool
    written: bool

    @property
    def rows_with_problems(self) -> int:
        return len({problem.row for problem in self.problems})


class ImportRolledBack(BotError):
    """Raised at the end of a dry run, or of an import refused because some rows have
    problems, so that the caller's unit of work writes nothing. Carries the report."""

    def __init__(self, report: ImportReport) -> None:
        if report.dry_run:
            message = f"Dry run: {len(report.accepted):,} customers would be imported."
        else:
            message = f"Rows with problems: {report.rows_with_problems:,}. Nothing was imported."
        super().__init__(message)
        self.report = report


class ImportInterrupted(BotError):
    """The database refused a write midway (someone added the same customer at the
    same time): the transaction is lost, so the import as a whole is."""


# Export


async def export_customers_csv(session: AsyncSession, *, requester: Requester) -> bytes:
    """Every customer the requester may see (members: their assigned ones), by name.

    UTF-8 with a byte order mark, so Excel shows accents right, and CRLF line ends
    (RFC 4180). Cells that a spreadsheet would run as a formula get a leading `'`.
    """
    customers = await _visible_customers(session, requester)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for customer in customers:
        writer.writerow([_escape_formula(cell) for cell in _export_row(customer)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


async def export_customers_csv_as_operator(session: AsyncSession, *, team_id: str) -> bytes:
    """The operator's export (CLI): every customer of the workspace's MSP."""
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is None:
        raise NotFound(f"There is no MSP for the workspace {team_id} yet.")
    return await export_customers_csv(session, requester=_operator(msp.id, team_id))


async def _visible_customers(session: AsyncSession, requester: Requester) -> Sequence[Customer]:
    if requester.role is None:
        raise NotAllowed("Only the MSP's staff can export customers.")
    # The same rule as the customer lists: members see only their assigned customers.
    assigned_to = customer_service.assigned_filter(requester)
    statement = (
        select(Customer)
        .where(
            *customer_repo.visible(requester.msp_id, assigned_to),
            Customer.status != Status.DELETED.value,
        )
        .options(
            selectinload(Customer.locations),
            selectinload(Customer.contacts),
            selectinload(Customer.assignments),
        )
    )
    customers = (await session.scalars(statement)).all()
    # Sorted here, not by the database: PostgreSQL's collation may ignore punctuation
    # where SQLite does not, and an export should read the same on both.
    return sorted(customers, key=lambda customer: (customer.name_key, customer.id))


def _export_row(customer: Customer) -> list[str]:
    primary = next((contact for contact in customer.contacts if contact.is_primary), None)
    return [
        customer.account_number,
        customer.name,
        customer.admin_email,
        customer.plan,
        customer.status,
        str(customer.licences),
        str(customer.users),
        _iso(customer.trial_end),
        _iso(customer.renewal_date),
        str(customer.max_mau_threshold),
        str(from_cents(customer.monthly_price_cents)),
        LOCATION_SEPARATOR.join(location.name for location in customer.locations),
        (primary.name if primary else None) or "",
        (primary.email if primary else None) or "",
        " ".join(sorted(a.slack_user_id for a in customer.assignments)),
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

    `today` is the MSP's date, for "the renewal date must be in the future".
    """
    records = _records(_decode(data))
    header = _header(records[0])
    rows: list[CsvRow] = []
    problems: list[RowProblem] = []
    first_with_name: dict[str, int] = {}
    first_with_email: dict[str, int] = {}
    row_count = 0
    for number, record in enumerate(records[1:], start=2):
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


def _records(text: str) -> list[list[str]]:
    first_line = text.split("\n", 1)[0]
    # Excel in many European locales saves "CSV" with semicolons.
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append([cell.replace("\r\n", "\n") for cell in record])
            if len(records) > MAX_ROWS + 1:
                raise UnreadableCsv(f"A file can have at most {MAX_ROWS:,} customers.")
    except csv.Error as error:
        raise UnreadableCsv(f"Row {len(records) + 1} cannot be read as CSV: {error}.") from None
    return records


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
    """Check every column on its own, so the report lists all of a row's problems."""
    problems: list[RowProblem] = []
    values: dict[str, Any] = {}

    def check(column: str, parse: Callable[[str], Any]) -> None:
        try:
            values[column] = parse(cells.get(column, ""))
        except InvalidInput as error:
            problems.append(RowProblem(number, column, error.message))

    check("name", lambda text: parse_name(text, field="name"))
    check("admin_email", lambda text: parse_email(text, field="admin_email"))
    check("plan", _parse_plan)
    plan = values.get("plan")
    if plan is not None and plan.is_paid:
        check(
            "licences",
            lambda text: parse_licences(text, field="licences"),
        )
        check("renewal_date", lambda text: _parse_renewal(text, today=today))
    elif plan == Plan.TRIAL:
        check("licences", _check_trial_licences)
        check("renewal_date", _check_trial_renewal)
    check(
        "max_mau_threshold",
        lambda text: parse_threshold(text, field="max_mau_threshold"),
    )
    check("monthly_price", _parse_price)
    check("locations", _parse_locations)
    check("contact_name", lambda text: parse_contact_name(text, field="contact_name"))
    check(
        "contact_email",
        lambda text: parse_email(text, field="contact_email", required=False),
    )
    check("assigned_staff", _parse_assigned)
    check("notes", lambda text: parse_notes(text, field="notes"))
    if problems:
        return None, problems
    customer = NewCustomer(
        name=values["name"],
        admin_email=values["admin_email"],
        plan=plan,
        licences=values["licences"] if plan.is_paid else 0,
        renewal_date=values["renewal_date"] if plan.is_paid else None,
        max_mau_threshold=values["max_mau_threshold"],
        monthly_price=values["monthly_price"],
        locations=values["locations"],
        contact_name=values["contact_name"],
        contact_email=values["contact_email"],
        assigned=values["assigned_staff"],
        notes=values["notes"],
    )
    return customer, []


def _parse_plan(text: str) -> Plan:
    cleaned = text.strip().lower()
    if not cleaned:
        return Plan.TRIAL
    if cleaned == Plan.FREE.value:
        raise InvalidInput(
            "New customers start on a trial or a paid plan, not on the free plan.", field="plan"
        )
    if cleaned not in {plan.value for plan in IMPORTABLE_PLANS}:
        choices = ", ".join(plan.value for plan in IMPORTABLE_PLANS)
        raise InvalidInput(f"The plan must be one of {choices} (empty: trial).", field="plan")
    return Plan(cleaned)


def _check_trial_licences(text: str) -> None:
    if text.strip() not in ("", "0"):
        raise InvalidInput(
            "A trial has no licences: leave this empty, or give a paid plan.", field="licences"
        )


def _check_trial_renewal(text: str) -> None:
    if text.strip():
        raise InvalidInput(
            "A trial has no renewal date: leave this empty, or give a paid plan.",
            field="renewal_date",
        )


def _parse_renewal(text: str, *, today: date) -> date:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("A paid plan needs its renewal date (YYYY-MM-DD).", field="renewal_date")
    try:
        if not _ISO_DATE.match(cleaned):
            raise ValueError(cleaned)
        renewal = date.fromisoformat(cleaned)
    except ValueError:
        raise InvalidInput(
            "Write dates as YYYY-MM-DD (like 2027-03-01). Spreadsheets may rewrite dates "
            "when saving: format the column as text.",
            field="renewal_date",
        ) from None
    return check_renewal_date(renewal, today=today, field="renewal_date")


def _parse_price(text: str) -> Decimal | None:
    """Empty means the MSP's default price (R18), decided when the customer is created."""
    if not text.strip():
        return None
    cleaned = text
    return parse_price(cleaned, field="monthly_price", default=Decimal(0))


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


async def import_customers(
    session: AsyncSession,
    *,
    requester: Requester,
    parsed: ParsedCsv,
    now: datetime,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Create the parsed rows' customers through `create_customer` (R1-R3, audit).

    All or nothing: when any row has a problem (from parsing or from the database
    checks), or on a dry run, every row is still checked, then `ImportRolledBack`
    is raised so the caller's unit of work writes nothing. With `skip_invalid`, the
    good rows are created and the report lists the others.
    """
    if requester.role not in customer_service.ADDS:
        raise NotAllowed("Approvers and viewers cannot add customers.")
    today = await customer_service.today(session, requester=requester, now=now)
    room = await customer_service.capacity(session, requester=requester)
    problems = list(parsed.problems)
    accepted: list[AcceptedRow] = []
    for row in parsed.rows:
        used = Capacity(used=room.used + len(accepted), maximum=room.maximum)
        outcome = await _import_row(session, requester, row, room=used, today=today, now=now)
        if isinstance(outcome, RowProblem):
            problems.append(outcome)
        else:
            accepted.append(outcome)
        if progress is not None:
            progress(1)
    report = ImportReport(
        row_count=parsed.row_count,
        accepted=accepted,
        problems=sorted(problems, key=lambda problem: problem.row),
        dry_run=dry_run,
        written=not dry_run and (skip_invalid or not problems),
    )
    if not report.written:
        raise ImportRolledBack(report)
    return report


async def import_customers_as_operator(
    session: AsyncSession,
    *,
    team_id: str,
    timezone: str,
    parsed: ParsedCsv,
    now: datetime,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """The operator's import (CLI): creates the MSP if needed, acts as an owner, and
    audits each customer as `operator:cli`."""
    msp_id = await ensure_msp(session, team_id=team_id, timezone=timezone, now=now)
    return await import_customers(
        session,
        requester=_operator(msp_id, team_id),
        parsed=parsed,
        now=now,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        progress=progress,
    )


async def _import_row(
    session: AsyncSession,
    requester: Requester,
    row: CsvRow,
    *,
    room: Capacity,
    today: date,
    now: datetime,
) -> AcceptedRow | RowProblem:
    if room.full:
        # R3 refuses the row, not its name (which is where the modal would show it).
        return RowProblem(row.row, WHOLE_ROW, room.refusal())
    try:
        _recheck_renewal(row.customer, today=today)
        card = await customer_service.create_customer(
            session, requester=requester, new=row.customer, now=now
        )
    except InvalidInput as error:
        _stop_if_transaction_lost(session)
        return RowProblem(row.row, _column(error.field), error.message)
    except RuleBroken as error:
        return RowProblem(row.row, WHOLE_ROW, error.message)
    return AcceptedRow(row.row, card.name, card.account_number)


def _recheck_renewal(customer: NewCustomer, *, today: date) -> None:
    """The file was parsed with the operator's date; the MSP's own time zone decides."""
    if customer.plan.is_paid:
        check_renewal_date(customer.renewal_date, today=today, field=CustomerField.RENEWAL_DATE)


def _operator(msp_id: int, team_id: str) -> Requester:
    return Requester(msp_id=msp_id, team_id=team_id, user_id=audit.OPERATOR_ACTOR, role=Role.OWNER)


def _column(field: str | None) -> str:
    return _COLUMN_OF_FIELD.get(field or "", field or WHOLE_ROW)


def _stop_if_transaction_lost(session: AsyncSession) -> None:
    """A unique index refused a flush (a concurrent add won the race): the
    transaction is rolled back, so no later row could be written either."""
    if not session.is_active:
        raise ImportInterrupted(
            "Someone added one of these customers while the import ran, so nothing was "
            "imported. Run the import again: it will report that customer."
        )
