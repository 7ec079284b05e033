"""Customers in and out of CSV: the file format, every row check, the database rules
(R1-R3) on import, all-or-nothing, and the `msp-bot customers` commands."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select, update

from bot.domain.customers import Plan
from bot.domain.roles import Role
from bot.errors import NotAllowed, NotFound
from bot.sentences import readable_day
from bot.services import audit, customer_csv
from bot.services.customer_csv import (
    CSV_COLUMNS,
    WHOLE_ROW,
    ImportInterrupted,
    ImportReport,
    ImportRolledBack,
    RowProblem,
    UnreadableCsv,
    parse_customer_csv,
)
from bot.services.customers import EMAIL_TAKEN
from bot.services.tenancy import Requester
from storage.engine import Database
from storage.models import AuditEvent, Customer, Msp
from storage.repositories import customers as customer_repo
from tests.drive import invoke_cli
from tests.seed import grant
from tests.support import TEAM_ID

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
OTHER_TEAM = "T0002"
HEADER = "name,admin_email,plan,licences,renewal_date"
# Everything the bot keeps from a file; the rest is the bot's own (account numbers)
# or starts afresh on import (status, users, trial end: the same here, same clock).
SIGNIFICANT = [column for column in CSV_COLUMNS if column != "account_number"]


def csv_file(*rows: str, header: str = HEADER, bom: bool = False) -> bytes:
    text = "\r\n".join([header, *rows]) + "\r\n"
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def parse(*rows: str, header: str = HEADER) -> customer_csv.ParsedCsv:
    return parse_customer_csv(csv_file(*rows, header=header), today=TODAY)


def problems_of(*rows: str, header: str = HEADER) -> list[tuple[int, str]]:
    return [(problem.row, problem.field) for problem in parse(*rows, header=header).problems]


def reason(parsed: customer_csv.ParsedCsv) -> str:
    assert len(parsed.problems) == 1, parsed.problems
    return parsed.problems[0].reason


def table(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def run_import(
    db: Database,
    data: bytes,
    *,
    team_id: str = TEAM_ID,
    timezone: str = "UTC",
    now: datetime = NOW,
    **options: Any,
) -> ImportReport:
    """Import as the CLI does: the service opens its own transactions; a refused
    import or a dry run wrote nothing and carries its report."""
    parsed = parse_customer_csv(data, today=TODAY)
    try:
        return await customer_csv.import_customers_as_operator(
            db.unit_of_work, team_id=team_id, timezone=timezone, parsed=parsed, now=now, **options
        )
    except ImportRolledBack as rolled_back:
        return rolled_back.report


async def export(db: Database, *, team_id: str = TEAM_ID) -> bytes:
    async with db.unit_of_work() as session:
        return await customer_csv.export_customers_csv_as_operator(session, team_id=team_id)


async def customer_count(db: Database) -> int:
    async with db.unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(Customer)) or 0)


async def msp_id_of(db: Database, team_id: str = TEAM_ID) -> int:
    async with db.unit_of_work() as session:
        msp_id = await session.scalar(select(Msp.id).where(Msp.team_id == team_id))
    assert msp_id is not None
    return msp_id


# The file as a whole


def test_bom_and_windows_line_ends_are_read():
    parsed = parse_customer_csv(csv_file("Acme,admin@acme.com", bom=True), today=TODAY)
    assert parsed.problems == []
    assert [row.customer.name for row in parsed.rows] == ["Acme"]
    assert parsed.rows[0].customer.plan == Plan.TRIAL


def test_semicolon_separated_files_from_european_excel_are_read():
    data = b"name;admin_email;monthly_price\r\nAcme;admin@acme.com;75,50\r\n"
    parsed = parse_customer_csv(data, today=TODAY)
    assert "decimal point" in reason(parsed)  # 75,50 is not 7,550
    data = b"name;admin_email\nAcme;admin@acme.com\n"
    assert parse_customer_csv(data, today=TODAY).customers[0].admin_email == "admin@acme.com"


def test_latin1_bytes_are_refused_with_how_to_save_the_file():
    data = "name,admin_email\r\nAcme,a@acme.com\r\nCafé Müller,c@mueller.de\r\n".encode("latin-1")
    with pytest.raises(UnreadableCsv) as refused:
        parse_customer_csv(data, today=TODAY)
    assert "not UTF-8" in refused.value.message
    assert "line 3" in refused.value.message
    assert "CSV UTF-8" in refused.value.message


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n \r\n"])
def test_an_empty_file_is_refused(data):
    with pytest.raises(UnreadableCsv, match="The file is empty"):
        parse_customer_csv(data, today=TODAY)


@pytest.mark.parametrize("data", [b"name,admin_email", b"name,admin_email\r\n,\r\n\r\n"])
def test_a_header_without_customers_is_refused(data):
    with pytest.raises(UnreadableCsv, match="header row but no customers"):
        parse_customer_csv(data, today=TODAY)


def test_a_file_of_more_customers_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(customer_csv, "MAX_ROWS", 3)
    rows = [f"C{n},c{n}@example.com" for n in range(3)]
    assert parse_customer_csv(csv_file(*rows), today=TODAY).row_count == 3
    with pytest.raises(UnreadableCsv, match="at most 3 customers"):
        parse_customer_csv(csv_file(*rows, "C3,c3@example.com"), today=TODAY)


def test_unknown_columns_are_named_and_the_accepted_ones_listed():
    with pytest.raises(UnreadableCsv) as refused:
        parse_customer_csv(b"Nmae,admin_email,colour\r\nAcme,a@acme.com,red\r\n", today=TODAY)
    message = refused.value.message
    assert message.startswith("Unknown columns: Nmae, colour.")
    assert ", ".join(CSV_COLUMNS) in message


def test_missing_and_repeated_columns_are_refused():
    with pytest.raises(UnreadableCsv, match="missing: admin_email"):
        parse_customer_csv(b"name,plan\r\nAcme,trial\r\n", today=TODAY)
    with pytest.raises(UnreadableCsv, match="more than once: name"):
        parse_customer_csv(b"name,admin_email,Name\r\nA,a@a.com,A\r\n", today=TODAY)


def test_headers_ignore_case_and_spaces_and_every_exported_column_is_accepted():
    cells = {"account_number": "X1", "name": "Acme", "admin_email": "a@acme.com", "users": "12"}
    parsed = parse(
        ",".join(cells.get(column, "") for column in CSV_COLUMNS),
        header=",".join(f" {column.upper()} " for column in CSV_COLUMNS),
    )
    assert parsed.problems == []
    assert parsed.customers[0].name == "Acme"


# Row checks


def test_rows_are_numbered_as_a_spreadsheet_shows_them():
    """The header is row 1; blank rows and line breaks inside cells do not shift it."""
    parsed = parse(
        'Acme,a@acme.com,,,,"first line\r\nsecond line"',
        "",
        "Beta,not-an-email",
        header="name,admin_email,plan,licences,renewal_date,notes",
    )
    assert parsed.problems == [
        RowProblem(4, "admin_email", "That is not a valid email address (like admin@example.com).")
    ]
    assert parsed.rows[0].row == 2
    assert parsed.customers[0].notes == "first line\nsecond line"
    assert parsed.row_count == 2


def test_a_row_with_more_cells_than_the_header_is_refused():
    assert problems_of("Acme,a@acme.com,trial,,,surplus") == [(2, WHOLE_ROW)]
    assert problems_of("Acme,a@acme.com,trial,,,,") == []  # empty extra cells are harmless


def test_every_problem_of_a_row_is_reported_at_once():
    assert problems_of(",nope,gold,,") == [(2, "name"), (2, "admin_email"), (2, "plan")]


@pytest.mark.parametrize(
    ("email", "field"),
    [("", "admin_email"), ("admin@", "admin_email"), ("a b@acme.com", "admin_email")],
)
def test_invalid_admin_emails_are_refused(email, field):
    assert problems_of(f"Acme,{email}") == [(2, field)]


def test_the_same_email_twice_in_a_file_is_a_duplicate_whatever_its_case_and_spaces():
    parsed = parse("Acme,admin@acme.com", "Beta, ADMIN@Acme.COM ")
    assert parsed.problems == [
        RowProblem(
            3, "admin_email", "Duplicates row 2: the same admin email (compared ignoring case)."
        )
    ]
    assert parsed.customers[0].name == "Acme"


def test_the_same_name_twice_in_a_file_is_a_duplicate_whatever_its_case():
    parsed = parse("Acme Ltd,a@acme.com", "Beta,b@beta.com", "  ACME LTD ,c@acme.com")
    assert [(p.row, p.field) for p in parsed.problems] == [(4, "name")]
    assert "Duplicates row 2" in parsed.problems[0].reason


def test_a_repeat_of_an_invalid_row_is_still_a_duplicate():
    """Fixing the first row would not make the second one importable."""
    assert problems_of("Acme,a@acme.com,gold", "Acme,b@acme.com") == [(2, "plan"), (3, "name")]


@pytest.mark.parametrize("name", ["", "   ", "x" * 81])
def test_empty_or_overlong_names_are_refused(name):
    assert problems_of(f'"{name}",a@acme.com') == [(2, "name")]


@pytest.mark.parametrize(
    ("cell", "stored"),
    [
        ("Café Müller GmbH", "Café Müller GmbH"),
        ("Cafe\u0301 Mu\u0308ller GmbH", "Café Müller GmbH"),  # decomposed accents: NFC
        ("<!channel> & <@U123>", "<!channel> & <@U123>"),  # data; escaping is the views' job
        ("x" * 80, "x" * 80),
    ],
)
def test_names_are_accepted_as_data(cell, stored):
    assert parse(f'"{cell}",a@acme.com').customers[0].name == stored


@pytest.mark.parametrize(
    ("licences", "message"),
    [
        ("-3", "at least 0"),
        ("0", "1 or more"),
        ("ten", "whole number"),
        ("2.5", "whole number"),
        ("100001", "at most 100,000"),
        ("", "1 or more"),
    ],
)
def test_paid_plans_need_a_sensible_number_of_licences(licences, message):
    parsed = parse(f"Acme,a@acme.com,essentials,{licences},2027-06-30")
    assert [(p.row, p.field) for p in parsed.problems] == [(2, "licences")]
    assert message in reason(parsed)


def test_paid_plans_keep_their_licences_renewal_and_price():
    parsed = parse(
        'Acme,a@acme.com,Professional,"1,000",2027-06-30,"$80,500.00"',
        header=HEADER + ",monthly_price",
    )
    customer = parsed.customers[0]
    assert customer.history is not None
    assert (customer.plan, customer.licences, customer.history.renewal_date) == (
        Plan.PROFESSIONAL,
        1000,
        date(2027, 6, 30),
    )
    assert customer.unit_price == Decimal("80.50")  # the monthly price over 1,000 licences


def test_trials_take_no_licences_or_renewal_date():
    assert problems_of("Acme,a@acme.com,trial,5,") == [(2, "licences")]
    assert problems_of("Acme,a@acme.com,,,2027-06-30") == [(2, "renewal_date")]
    trial = parse("Acme,a@acme.com,trial,0,").customers[0]
    assert trial.history is not None
    assert (trial.licences, trial.history.renewal_date, trial.unit_price) == (0, None, None)


@pytest.mark.parametrize(
    ("renewal", "message"),
    [
        ("2026-11-21", "must be in the future"),
        ("2026-11-22", "must be in the future"),  # today
        ("2027-11-23", "renews within a year"),  # the renewal after the next one
        ("30/06/2027", "YYYY-MM-DD"),  # what a spreadsheet may save
        ("20270630", "YYYY-MM-DD"),
        ("2027-02-30", "YYYY-MM-DD"),
        ("2035-01-01", "five years"),
    ],
)
def test_paid_plans_need_a_renewal_date_in_the_future(renewal, message):
    parsed = parse(f"Acme,a@acme.com,enterprise,10,{renewal}")
    assert [(p.row, p.field) for p in parsed.problems] == [(2, "renewal_date")]
    assert message in reason(parsed)


def test_an_unknown_plan_is_refused():
    parsed = parse("Acme,a@acme.com,gold,,")
    assert "must be one of trial, free, essentials" in reason(parsed)


def test_optional_columns_are_checked_with_the_modal_rules():
    header = "name,admin_email,max_mau_threshold,monthly_price,contact_email,assigned_staff"
    assert problems_of("A,a@a.com,0,-5,nope,bob", header=header) == [
        (2, "max_mau_threshold"),
        (2, "monthly_price"),
        (2, "contact_email"),
        (2, "assigned_staff"),
    ]
    customer = parse("A,a@a.com,,,, u01abc U02DEF u01abc", header=header).customers[0]
    assert customer.max_mau_threshold is None  # the default: never block (R20)
    assert customer.assigned == ["U01ABC", "U02DEF"]


def test_locations_are_separated_by_bars():
    parsed = parse("A,a@a.com,HQ | Lab|| hq ", header="name,admin_email,locations")
    assert parsed.customers[0].locations == ["HQ", "Lab"]


def test_a_leading_quote_that_defused_a_formula_is_removed_and_others_are_kept():
    header = "name,admin_email,notes"
    assert parse("'-Minus Corp,a@a.com,'=1+1", header=header).customers[0].name == "-Minus Corp"
    assert parse("A,a@a.com,'=1+1", header=header).customers[0].notes == "=1+1"
    assert parse("'t Hooft BV,a@a.com,", header=header).customers[0].name == "'t Hooft BV"
    assert parse("=Raw Corp,a@a.com,", header=header).customers[0].name == "=Raw Corp"


# Import and export against the database

ROUND_TRIP_ROWS = [
    'Zeta Paid,zeta@example.com,essentials,25,2027-06-30,1000,80.50,"HQ | Lab",,,U0MEMBER,',
    '"Café Müller GmbH",cafe@example.de,,,,,,,Jürgen,j@example.de,,"line one\r\nline two"',
    "<!channel> Corp,channel@example.com,trial,,,500,,,,,,",
    '-Minus Corp,minus@example.com,,,,,,,+1 call first,,U0MEMBER U0OTHER,=HYPERLINK("x")',
    "@home Inc,home@example.com,professional,3,2027-01-31,,0,,,,,@here see the contract",
]
ROUND_TRIP_HEADER = (
    "name,admin_email,plan,licences,renewal_date,max_mau_threshold,monthly_price,"
    "locations,contact_name,contact_email,assigned_staff,notes"
)


async def test_export_then_import_gives_back_the_same_customers(db, backend):
    first = await run_import(db, csv_file(*ROUND_TRIP_ROWS, header=ROUND_TRIP_HEADER))
    assert first.written and first.problems == []
    exported = await export(db)
    async with db.unit_of_work() as session:
        await session.execute(delete(Customer))

    again = await run_import(db, exported)
    assert again.written and again.problems == [], again.problems
    assert sorted(row.name for row in again.accepted) == sorted(row.name for row in first.accepted)
    before, after = table(exported), table(await export(db))
    assert [{k: row[k] for k in SIGNIFICANT} for row in after] == [
        {k: row[k] for k in SIGNIFICANT} for row in before
    ]


async def test_the_export_is_excel_ready_and_defuses_formulas(db, backend):
    await run_import(db, csv_file(*ROUND_TRIP_ROWS, header=ROUND_TRIP_HEADER))
    data = await export(db)
    assert data.startswith(b"\xef\xbb\xbfaccount_number,name,admin_email,plan,status,")
    # Rows end in CRLF; a line break inside a cell is a bare LF, as Excel writes it.
    assert data.count(b"\r\n") == len(ROUND_TRIP_ROWS) + 1
    assert data.count(b"\n") == len(ROUND_TRIP_ROWS) + 2
    rows = {row["admin_email"]: row for row in table(data)}
    assert list(rows) == [  # by name, as R2 compares them, punctuation included
        "minus@example.com",
        "channel@example.com",
        "home@example.com",
        "cafe@example.de",
        "zeta@example.com",
    ]
    minus, home, zeta = (
        rows["minus@example.com"],
        rows["home@example.com"],
        rows["zeta@example.com"],
    )
    assert minus["name"] == "'-Minus Corp"
    assert minus["contact_name"] == "'+1 call first"
    assert minus["notes"] == '\'=HYPERLINK("x")'
    assert home["name"] == "'@home Inc"
    assert home["notes"] == "'@here see the contract"
    assert home["monthly_price"] == "0.00"
    assert minus["assigned_staff"] == "U0MEMBER U0OTHER"
    assert rows["channel@example.com"]["name"] == "<!channel> Corp"
    assert rows["cafe@example.de"]["notes"] == "line one\nline two"
    assert rows["cafe@example.de"]["status"] == "active_trial"
    assert rows["cafe@example.de"]["trial_end"] == "2026-12-21"  # day 30 (R4)
    # The MSP's default price (R18) is a licence's; a trial has none, so no total yet.
    assert (rows["cafe@example.de"]["unit_price"], rows["cafe@example.de"]["monthly_price"]) == (
        "75.00",
        "0.00",
    )
    assert zeta["locations"] == "HQ | Lab"
    assert (zeta["plan"], zeta["status"], zeta["licences"]) == ("essentials", "paid", "25")
    assert (zeta["renewal_date"], zeta["monthly_price"], zeta["max_mau_threshold"]) == (
        "2027-06-30",
        "80.50",
        "1000",
    )


async def test_a_members_export_has_only_their_customers(db, backend):
    await run_import(db, csv_file(*ROUND_TRIP_ROWS, header=ROUND_TRIP_HEADER))
    await grant(db, "U0MEMBER", Role.MEMBER)
    msp_id = await msp_id_of(db)

    async def export_as(user_id: str, role: Role | None) -> list[str]:
        requester = Requester(msp_id=msp_id, team_id=TEAM_ID, user_id=user_id, role=role)
        async with db.unit_of_work() as session:
            data = await customer_csv.export_customers_csv(session, requester=requester)
        return [row["admin_email"] for row in table(data)]

    assert await export_as("U0MEMBER", Role.MEMBER) == ["minus@example.com", "zeta@example.com"]
    assert await export_as("U0NOBODY", Role.MEMBER) == []
    assert len(await export_as("U0VIEWER", Role.VIEWER)) == len(ROUND_TRIP_ROWS)
    with pytest.raises(NotAllowed):
        await export_as("U0STRANGER", None)


async def test_another_msps_customers_are_never_exported(db):
    await run_import(db, csv_file("Acme,a@acme.com"))
    await run_import(db, csv_file("Beta,b@beta.com"), team_id=OTHER_TEAM)
    assert [row["name"] for row in table(await export(db, team_id=OTHER_TEAM))] == ["Beta"]
    with pytest.raises(NotFound):
        await export(db, team_id="T0NONE")


async def test_each_imported_customer_is_audited_as_the_operator(db, backend):
    report = await run_import(
        db, csv_file("Acme,a@acme.com", "Beta,b@beta.com,essentials,2,2027-01-31")
    )
    async with db.unit_of_work() as session:
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.created"))
        ).all()
    assert sorted(event.entity_id for event in events) == sorted(
        row.account_number for row in report.accepted
    )
    assert {event.actor for event in events} == {audit.OPERATOR_ACTOR}
    assert sorted(event.after["name"] for event in events) == ["Acme", "Beta"]


async def test_one_bad_row_means_nothing_is_written(db, backend):
    report = await run_import(
        db, csv_file("Acme,a@acme.com", "Beta,not-an-email", "Gamma,g@gamma.com")
    )
    assert not report.written
    assert [row.name for row in report.accepted] == ["Acme", "Gamma"]  # checked, not written
    assert report.problems == [
        RowProblem(3, "admin_email", "That is not a valid email address (like admin@example.com).")
    ]
    assert await customer_count(db) == 0
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 0


async def test_skip_invalid_imports_the_good_rows_and_reports_the_others(db, backend):
    done: list[int] = []
    report = await run_import(
        db,
        csv_file("Acme,a@acme.com", "Beta,not-an-email", "Gamma,g@gamma.com"),
        skip_invalid=True,
        progress=done.append,
    )
    assert done == [1, 1]  # the rows that reached the database
    assert report.written
    assert [(p.row, p.field) for p in report.problems] == [(3, "admin_email")]
    assert [row["name"] for row in table(await export(db))] == ["Acme", "Gamma"]


async def test_a_dry_run_checks_everything_and_writes_nothing(db, backend):
    report = await run_import(db, csv_file("Acme,a@acme.com", "Beta,b@beta.com"), dry_run=True)
    assert report.dry_run and not report.written
    assert [row.name for row in report.accepted] == ["Acme", "Beta"]
    assert await customer_count(db) == 0
    async with db.unit_of_work() as session:  # not even the MSP
        assert await session.scalar(select(func.count()).select_from(Msp)) == 0


async def test_an_admin_email_of_any_existing_account_is_refused(db, backend):
    """R1 is across all accounts, whatever their MSP, ignoring case and spaces."""
    await run_import(db, csv_file("Elsewhere,taken@example.com"), team_id=OTHER_TEAM)
    report = await run_import(db, csv_file("Acme,a@acme.com", "Beta, TAKEN@Example.com"))
    assert report.problems == [RowProblem(3, "admin_email", EMAIL_TAKEN)]
    assert await customer_count(db) == 1
    dry = await run_import(db, csv_file("Beta,taken@example.com"), dry_run=True)
    assert dry.problems == [RowProblem(2, "admin_email", EMAIL_TAKEN)]


async def test_another_msps_same_customer_is_not_already_imported_here(db, backend):
    """A row is already imported only when this MSP has it: the same name and email
    in another MSP is an email taken (R1), not a row to leave as it is."""
    await run_import(db, csv_file("Acme,a@acme.com"), team_id=OTHER_TEAM)
    report = await run_import(db, csv_file("Acme,a@acme.com", "Beta,b@beta.com"))
    assert report.already_there == []
    assert report.problems == [RowProblem(2, "admin_email", EMAIL_TAKEN)]
    again = await run_import(db, csv_file("Beta,b@beta.com"), skip_invalid=True)
    assert again.written and again.problems == [] and again.accepted
    rerun = await run_import(db, csv_file("Acme,a@acme.com", "Beta,b@beta.com"))
    assert [row.name for row in rerun.already_there] == ["Beta"]
    assert rerun.problems == [RowProblem(2, "admin_email", EMAIL_TAKEN)]


async def test_a_deleted_accounts_name_and_email_may_be_imported(db, backend):
    """R1, R2 among live accounts: a deleted account holds neither any more."""
    await run_import(db, csv_file("Acme,a@acme.com"))
    async with db.unit_of_work() as session:
        await session.execute(update(Customer).values(status="deleted"))
    report = await run_import(db, csv_file("ACME, A@acme.com"))
    assert report.written and report.problems == []
    assert await customer_count(db) == 2  # the deleted row stays, with its email


async def test_a_name_the_msp_already_has_is_refused(db, backend):
    """R2 within the MSP; another MSP may have a customer of the same name."""
    await run_import(db, csv_file("Acme,a@acme.com"))
    report = await run_import(db, csv_file("ACME,new@acme.com"))
    assert [(p.row, p.field) for p in report.problems] == [(2, "name")]
    elsewhere = await run_import(db, csv_file("ACME,new@acme.com"), team_id=OTHER_TEAM)
    assert elsewhere.written and elsewhere.problems == []


async def test_rows_past_the_msps_maximum_are_refused(db, backend):
    """R3: the import fills the MSP up to `max_customers` and says so for the rest."""
    await run_import(db, csv_file("Acme,a@acme.com"))
    async with db.unit_of_work() as session:
        await session.execute(update(Msp).values(max_customers=3))
    rows = [f"Customer {n},c{n}@example.com" for n in range(4)]

    refused = await run_import(db, csv_file(*rows))
    assert not refused.written and await customer_count(db) == 1
    assert [(p.row, p.field) for p in refused.problems] == [(4, WHOLE_ROW), (5, WHOLE_ROW)]
    assert "already manages 3 of its 3 customers" in refused.problems[0].reason

    skipped = await run_import(db, csv_file(*rows), skip_invalid=True)
    assert skipped.written and len(skipped.accepted) == 2
    assert await customer_count(db) == 3


async def test_the_renewal_date_is_checked_again_on_the_msps_own_calendar(db):
    """The file is parsed on the operator's date; in Kiritimati (UTC+14) it is
    already the 23rd, so a renewal on the 23rd is not in the future there."""
    noon = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    report = await run_import(
        db,
        csv_file("Acme,a@acme.com,essentials,5,2026-11-23"),
        timezone="Pacific/Kiritimati",
        now=noon,
    )
    assert [(p.row, p.field) for p in report.problems] == [(2, "renewal_date")]


async def test_an_import_that_loses_a_race_writes_nothing(db, backend, monkeypatch):
    """Someone adds the same admin email between the check and the write: the unique
    index refuses the flush, the transaction is gone, and the import says so."""
    await run_import(db, csv_file("Elsewhere,taken@example.com"), team_id=OTHER_TEAM)

    async def never_taken(*_args: object, **_kwargs: object) -> bool:
        return False

    async def none_in_use(*_args: object, **_kwargs: object) -> set[str]:
        return set()

    monkeypatch.setattr(customer_repo, "email_taken", never_taken)
    monkeypatch.setattr(customer_repo, "emails_in_use", none_in_use)
    with pytest.raises(ImportInterrupted, match="nothing was imported"):
        await run_import(
            db, csv_file("Acme,a@acme.com", "Beta,taken@example.com"), skip_invalid=True
        )
    assert await customer_count(db) == 1


# A book with its lifecycle: trials half used or expired, contracts mid-term

LIFE_HEADER = (
    "name,admin_email,plan,status,licences,users,trial_start,trial_end,contract_start,"
    "term,renewal_date,past_due,unit_price,monthly_price"
)
LIFE_ROWS = [
    "Half Trial,half@example.com,trial,active_trial,,4,2026-11-10,2026-12-09,,,,,,",
    "Old Trial,old@example.com,,expired_trial,,5,2026-09-01,2026-09-30,,,,,,",
    "Free Co,free@example.com,free,free,,2,,,,,,,,",
    "Mid Annual,annual@example.com,professional,paid,10,40,,,2026-03-15,annual,,true,12.50,",
    "Mid Monthly,monthly@example.com,essentials,paid,3,3,,,2025-01-31,monthly,,,,$60.00",
]


def life_file(*extra: str) -> bytes:
    return csv_file(*LIFE_ROWS, *extra, header=LIFE_HEADER)


async def stored(db: Database) -> dict[str, Customer]:
    async with db.unit_of_work() as session:
        return {c.admin_email: c for c in (await session.scalars(select(Customer))).all()}


async def audit_count(db: Database) -> int:
    async with db.unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def test_an_import_keeps_each_accounts_lifecycle(db, backend):
    report = await run_import(db, life_file())
    assert report.written and report.problems == [], report.problems
    accounts = await stored(db)
    half = accounts["half@example.com"]
    assert (half.status, half.trial_start, half.trial_end, half.users) == (
        "active_trial",
        date(2026, 11, 10),
        date(2026, 12, 9),
        4,
    )
    old = accounts["old@example.com"]
    assert (old.plan, old.status, old.trial_end, old.users) == (
        "free",
        "expired_trial",
        date(2026, 9, 30),
        5,
    )
    assert (accounts["free@example.com"].plan, accounts["free@example.com"].status) == (
        "free",
        "free",
    )
    annual = accounts["annual@example.com"]
    assert (annual.contract_start, annual.term, annual.renewal_date) == (
        date(2026, 3, 15),
        "annual",
        date(2027, 3, 15),
    )
    assert (annual.licences, annual.users, annual.past_due, annual.unit_price_cents) == (
        10,
        40,
        True,
        1250,
    )
    monthly = accounts["monthly@example.com"]
    # Anchored on the 31st: the next renewal is the last day of November.
    assert (monthly.contract_start, monthly.term, monthly.renewal_date) == (
        date(2025, 1, 31),
        "monthly",
        date(2026, 11, 30),
    )
    assert (monthly.unit_price_cents, monthly.past_due) == (2000, False)


async def test_impossible_lifecycles_are_refused_with_the_row_and_column(db, backend):
    report = await run_import(
        db,
        life_file(
            "Late,late@example.com,trial,active_trial,,,2026-10-01,2026-10-30,,,,,,",
            "Mixed,mixed@example.com,trial,paid,,,,,,,,,,",
            "Off Anchor,off@example.com,essentials,paid,2,,,,2026-03-15,annual,2027-03-01,,,",
            "Owing Trial,owing@example.com,,,,,,,,,,yes,,",
            "Cancelling,cancel@example.com,essentials,pending_cancellation,2,,,,,,,,,",
        ),
    )
    assert not report.written and await customer_count(db) == 0
    assert [(p.row, p.field) for p in report.problems] == [
        (7, "trial_end"),
        (8, "status"),
        (9, "renewal_date"),
        (10, "past_due"),
        (11, "status"),
    ]
    assert "expired_trial" in report.problems[0].reason  # what to write instead


async def test_export_then_import_keeps_the_lifecycle(db, backend):
    await run_import(db, life_file())
    exported = await export(db)
    rows = {row["admin_email"]: row for row in table(exported)}
    annual = rows["annual@example.com"]
    assert (annual["contract_start"], annual["term"], annual["renewal_date"]) == (
        "2026-03-15",
        "annual",
        "2027-03-15",
    )
    assert (annual["past_due"], annual["unit_price"], annual["monthly_price"]) == (
        "true",
        "12.50",
        "125.00",
    )
    assert (rows["old@example.com"]["status"], rows["old@example.com"]["plan"]) == (
        "expired_trial",
        "free",
    )
    async with db.unit_of_work() as session:
        await session.execute(delete(Customer))

    again = await run_import(db, exported)
    assert again.written and again.problems == [], again.problems
    assert [{k: row[k] for k in SIGNIFICANT} for row in table(await export(db))] == [
        {k: row[k] for k in SIGNIFICANT} for row in table(exported)
    ]


async def test_a_dry_run_reports_what_it_would_do_and_writes_nothing_not_even_audit(db, backend):
    await grant(db, "U0OWNER", Role.OWNER)
    await run_import(db, csv_file("Acme,a@acme.com"))
    customers_before, audit_before = await customer_count(db), await audit_count(db)
    report = await run_import(
        db,
        csv_file(
            "Acme,a@acme.com,,,,,,,,,,,,",  # imported before: left as it is
            *LIFE_ROWS,
            "Late,late@example.com,trial,active_trial,,,2026-10-01,2026-10-30,,,,,,",
            header=LIFE_HEADER,
        ),
        dry_run=True,
    )
    assert report.dry_run and not report.written
    assert [row.name for row in report.already_there] == ["Acme"]
    assert len(report.accepted) == len(LIFE_ROWS)  # would be created
    assert [(p.row, p.field) for p in report.problems] == [(8, "trial_end")]  # refused
    assert (await customer_count(db), await audit_count(db)) == (customers_before, audit_before)


async def test_each_imported_account_is_audited_with_its_lifecycle(db, backend):
    report = await run_import(db, life_file())
    async with db.unit_of_work() as session:
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.created"))
        ).all()
    numbers = {row.name: row.account_number for row in report.accepted}
    by_number = {event.entity_id: event for event in events}
    assert set(by_number) == set(numbers.values())
    old = by_number[numbers["Old Trial"]]
    assert (old.actor, old.after["status"], old.after["trial_end"]) == (
        audit.OPERATOR_ACTOR,
        "expired_trial",
        "2026-09-30",
    )
    annual = by_number[numbers["Mid Annual"]].after
    assert (annual["contract_start"], annual["past_due"], annual["unit_price"]) == (
        "2026-03-15",
        True,
        "12.50",
    )


async def test_a_chunk_is_written_in_a_few_statements_whatever_its_size(db, backend):
    """Bulk inserts: a chunk of 200 customers with sites, contacts and staff is a
    handful of statements, not several per customer (what made 10,000 rows slow)."""
    rows = [
        f"Customer {n},c{n}@example.com,HQ | Lab,Ann {n},ann{n}@example.com,U0STAFF{n % 3}"
        for n in range(200)
    ]
    await grant(db, "U0OWNER", Role.OWNER)
    async with db.unit_of_work() as session:
        await session.execute(update(Msp).values(max_customers=1000))
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            writes.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        report = await run_import(
            db,
            csv_file(
                *rows, header="name,admin_email,locations,contact_name,contact_email,assigned_staff"
            ),
        )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert report.written and len(report.accepted) == 200
    assert len(writes) <= 10, len(writes)


def test_each_batch_is_sized_on_how_long_the_last_one_held_the_database():
    """About CHUNK_SECONDS a batch: a fast machine gets fewer, larger batches (fewer
    pauses), a busy one smaller ones (others wait less); growth at most doubles."""
    size = customer_csv._next_chunk_rows
    assert size(200, customer_csv.CHUNK_SECONDS / 10) == 400
    assert size(200, customer_csv.CHUNK_SECONDS) == 200
    assert size(200, customer_csv.CHUNK_SECONDS * 2) == 100
    assert size(200, 60.0) == customer_csv.MIN_CHUNK_ROWS
    assert size(customer_csv.MAX_CHUNK_ROWS, 0.0) == customer_csv.MAX_CHUNK_ROWS


# The command line


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


invoke = invoke_cli


def write(path: Path, *rows: str) -> str:
    path.write_bytes(csv_file(*rows))
    return str(path)


def exported_names(env: dict[str, str], team: str = "T1") -> list[str]:
    result = invoke(["customers", "export", "--team", team], env)
    assert result.exit_code == 0, result.output
    return [row["name"] for row in table(result.stdout_bytes)]


def test_cli_import_then_export(env, tmp_path):
    file = write(tmp_path / "in.csv", "Acme,a@acme.com", "Beta,b@beta.com,essentials,2,")
    result = invoke(["customers", "import", file, "--team", "T1"], env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "2 customers imported into T1.\n"
    assert exported_names(env) == ["Acme", "Beta"]

    out = tmp_path / "out.csv"
    written = invoke(["customers", "export", "--team", "T1", "--output", str(out)], env)
    assert written.exit_code == 0, written.output
    assert out.read_bytes() == invoke(["customers", "export", "--team", "T1"], env).stdout_bytes


def test_cli_export_to_a_file_is_whole_or_not_there(env, tmp_path, monkeypatch):
    file = write(tmp_path / "in.csv", "Acme,a@acme.com", "Beta,b@beta.com")
    assert invoke(["customers", "import", file, "--team", "T1"], env).exit_code == 0
    out = tmp_path / "out.csv"
    unknown = invoke(["customers", "export", "--team", "T9", "--output", str(out)], env)
    assert unknown.exit_code == 1
    assert "no MSP for the workspace T9" in unknown.output
    assert not out.exists()

    out.write_bytes(b"the export before")
    real_row = customer_csv._export_row
    written: list[str] = []

    def failing_row(customer: Any) -> list[str]:
        written.append(customer.name)
        if len(written) == 2:
            raise OSError("disk full")
        return real_row(customer)

    monkeypatch.setattr(customer_csv, "_export_row", failing_row)
    failed = invoke(["customers", "export", "--team", "T1", "--output", str(out)], env)
    assert failed.exit_code != 0
    assert out.read_bytes() == b"the export before"
    assert sorted(path.name for path in tmp_path.iterdir() if "out" in path.name) == ["out.csv"]


def test_cli_refuses_the_whole_file_for_one_bad_row(env, tmp_path):
    invoke(["roles", "grant", "--team", "T1", "--user", "U1", "--role", "owner"], env)
    file = write(tmp_path / "in.csv", "Acme,a@acme.com", "Beta,nope", ",c@c.com")
    result = invoke(["customers", "import", file, "--team", "T1"], env)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "row 3, admin_email: That is not a valid email address (like admin@example.com).",
        "row 4, name: Enter the organization's name.",
        "Rows with problems: 2 of 3. NOTHING was imported (--skip-invalid would import the "
        "other 1).",
    ]
    assert exported_names(env) == []


def test_cli_skip_invalid_imports_the_good_rows_and_exits_1(env, tmp_path):
    file = write(tmp_path / "in.csv", "Acme,a@acme.com", "Beta,nope", "Gamma,g@gamma.com")
    result = invoke(["customers", "import", file, "--team", "T1", "--skip-invalid"], env)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        "Rows with problems: 1 of 3, skipped. 2 customers imported into T1."
    )
    assert exported_names(env) == ["Acme", "Gamma"]


def test_cli_dry_run_writes_nothing(env, tmp_path):
    file = write(tmp_path / "in.csv", "Acme,a@acme.com", "Beta,b@beta.com")
    result = invoke(["customers", "import", file, "--team", "T1", "--dry-run"], env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "2 customers would be imported into T1.",
        "Dry run: nothing was written.",
    ]
    bad = write(tmp_path / "bad.csv", "Acme,a@acme.com", "Beta,nope")
    failed = invoke(["customers", "import", bad, "--team", "T1", "--dry-run"], env)
    assert failed.exit_code == 1
    assert "so NOTHING would be imported" in failed.stdout
    unknown = invoke(["customers", "export", "--team", "T1"], env)
    assert unknown.exit_code == 1
    assert "no MSP for the workspace T1" in unknown.output


def test_cli_imports_a_book_with_its_lifecycle_and_a_dry_run_writes_nothing(env, tmp_path):
    today = datetime.now(UTC).date()  # the CLI's clock
    ended, started = today - timedelta(days=10), today - timedelta(days=40)
    book = tmp_path / "book.csv"
    book.write_bytes(
        csv_file(
            f"Old Trial,old@example.com,,expired_trial,,5,{started},{ended},,,,,,",
            f"Late Trial,late@example.com,,active_trial,,,{started},{ended},,,,,,",
            header=LIFE_HEADER,
        )
    )
    dry = invoke(["customers", "import", str(book), "--team", "T1", "--dry-run"], env)
    assert dry.exit_code == 1
    assert dry.stdout.splitlines()[0].startswith(
        f"row 3, trial_end: This trial's last day, {readable_day(ended)}, has passed"
    )
    assert "NOTHING would be imported" in dry.stdout
    skipped = invoke(["customers", "import", str(book), "--team", "T1", "--skip-invalid"], env)
    assert skipped.exit_code == 1
    [old] = table(invoke(["customers", "export", "--team", "T1"], env).stdout_bytes)
    assert (old["plan"], old["status"], old["trial_end"], old["users"]) == (
        "free",
        "expired_trial",
        ended.isoformat(),
        "5",
    )


def test_cli_reports_an_unreadable_file(env, tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,admin_email\nCafé,a@cafe.fr\n".encode("latin-1"))
    result = invoke(["customers", "import", str(latin), "--team", "T1"], env)
    assert result.exit_code == 1
    assert 'save it as "CSV UTF-8"' in result.output
    headers = tmp_path / "headers.csv"
    headers.write_bytes(b"nom,courriel\nA,a@a.fr\n")
    result = invoke(["customers", "import", str(headers), "--team", "T1"], env)
    assert result.exit_code == 1
    assert "Unknown columns: nom, courriel." in result.output


def test_cli_usage_errors_exit_2(env, tmp_path):
    file = write(tmp_path / "in.csv", "Acme,a@acme.com")
    assert (
        invoke(
            ["customers", "import", str(tmp_path / "missing.csv"), "--team", "T1"], env
        ).exit_code
        == 2
    )
    assert invoke(["customers", "import", file], env).exit_code == 2
    assert invoke(["customers", "export"], env).exit_code == 2
