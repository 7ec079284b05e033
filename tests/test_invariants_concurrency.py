"""Invariants the database keeps, however many people act at the same moment, on
SQLite and PostgreSQL: one open request per customer and type (the partial unique
index), and no more customers than the MSP's maximum (adds and imports wait for
each other on the MSP's row). A long CLI import writes in short chunks, so other
writers get their turn within SQLite's busy timeout. Upgrading a database that
already holds duplicate open requests closes them, in the audit log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.domain.roles import Role
from bot.ids import ActionId, BlockId
from bot.services import audit, customer_csv
from bot.services.customer_csv import CHUNK_ROWS, WHOLE_ROW, ImportReport, parse_customer_csv
from storage import migrate
from storage.engine import Database
from storage.models import AuditEvent, Customer
from tests.drive import (
    click,
    invoke_cli,
    messages_in,
    open_form,
    post_json,
    request_ref,
    submit,
    submit_add,
)
from tests.rows import audit_rows, customer_row, request_rows
from tests.seed import (
    ADMIN,
    APPROVALS,
    APPROVER,
    grant,
    grant_staff,
    make_tenant,
    seed_customer,
    set_max_customers,
)
from tests.support import TEAM_ID, TODAY
from tests.wait import settle

AT_ONCE = 6
OWNER = "U0001"
IMPORT_ROWS = 1_200


async def all_at_once(*calls: Any) -> list[Any]:
    return list(await asyncio.gather(*calls))


def refusal_of(reply) -> str:
    """The one field error of a modal submission the bot refused."""
    assert reply.json["response_action"] == "errors", reply.text
    [message] = reply.json["errors"].values()
    return message


async def customer_count(db: Database) -> int:
    async with db.unit_of_work() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Customer).where(Customer.status != "deleted")
            )
            or 0
        )


# ---------------------------------------------------------------- one open request


async def test_the_same_request_sent_six_times_at_once_is_stored_once(
    client, slack, db, fake_slack, bot, backend
):
    await grant_staff(db)
    customer_id = await seed_customer(
        db, name="Trial Co", status="active_trial", trial_end=TODAY + timedelta(days=3)
    )
    view = await open_form(client, slack, fake_slack, "extend Trial Co", user_id=ADMIN)

    replies = await all_at_once(
        *(
            submit(client, slack, view, user_id=ADMIN, **{BlockId.REQUEST_DAYS: "30"})
            for _ in range(AT_ONCE)
        )
    )

    stored = [reply for reply in replies if reply.json["response_action"] == "update"]
    refused = [refusal_of(reply) for reply in replies if reply not in stored]
    [request] = await request_rows(db)
    assert (len(stored), request.status) == (1, "pending")
    already = (
        f"This customer already has request #{request.id} (Extend trial) waiting for approval."
    )
    assert refused == [already] * (AT_ONCE - 1)
    # Someone sending it later gets the very same answer.
    later = await submit(client, slack, view, user_id=ADMIN, **{BlockId.REQUEST_DAYS: "30"})
    assert refusal_of(later) == already
    # Nothing half-written for the refused ones: one audit row, one approval message.
    assert len(await audit_rows(db, audit.AuditAction.REQUEST_CREATED)) == 1
    await settle(bot)
    assert len(messages_in(fake_slack, APPROVALS)) == 1
    # Approved, the trial is extended once.
    await click(client, slack, ActionId.REQUEST_APPROVE, request_ref(request.id), APPROVER)
    await settle(bot)
    assert (await customer_row(db, customer_id)).trial_end == TODAY + timedelta(days=3 + 30)


# ---------------------------------------------------------------- the maximum (R3)


async def test_six_adds_at_once_with_one_place_left_add_one_customer(client, slack, db, backend):
    await grant(db, OWNER, Role.OWNER)
    await seed_customer(db, name="First", status="active_trial", trial_end=TODAY)
    await seed_customer(db, name="Second", status="active_trial", trial_end=TODAY)
    await set_max_customers(db, 3)

    replies = await all_at_once(
        *(
            submit_add(client, slack, name=f"Racer {n}", email=f"racer{n}@example.com")
            for n in range(AT_ONCE)
        )
    )

    added = [reply for reply in replies if reply.json["response_action"] == "update"]
    refused = [refusal_of(reply) for reply in replies if reply not in added]
    assert (len(added), await customer_count(db)) == (1, 3)
    assert len(refused) == AT_ONCE - 1
    assert all("already manages 3 of its 3 customers" in message for message in refused)


# ---------------------------------------------------------------- R1 among live accounts


async def test_two_adds_of_a_deleted_accounts_email_at_once_add_one(client, slack, db, backend):
    """The deleted account no longer holds the email (R1), and the partial unique
    index still lets only one of two adds at once take it."""
    await grant(db, OWNER, Role.OWNER)
    await seed_customer(
        db,
        name="Removed Trial",
        status="deleted",
        admin_email="shared@example.com",
        admin_email_key="shared@example.com",
    )

    replies = await all_at_once(
        *(
            submit_add(client, slack, name=f"Racer {n}", email="Shared@example.com")
            for n in range(2)
        )
    )

    added = [reply for reply in replies if reply.json["response_action"] == "update"]
    refused = [refusal_of(reply) for reply in replies if reply not in added]
    assert (len(added), await customer_count(db)) == (1, 1)
    assert refused == ["This admin email is already used by another account."]


def csv_of(names: list[str]) -> bytes:
    lines = [
        "name,admin_email",
        *(f"{name},{name.lower().replace(' ', '.')}@x.com" for name in names),
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


async def run_import(db: Database, data: bytes, *, now: datetime, **options: Any) -> ImportReport:
    """As `msp-bot customers import` runs it (the service opens its transactions)."""
    parsed = parse_customer_csv(data, today=now.date())
    try:
        return await customer_csv.import_customers_as_operator(
            db.unit_of_work, team_id=TEAM_ID, timezone="UTC", parsed=parsed, now=now, **options
        )
    except customer_csv.ImportRolledBack as refused:
        return refused.report


async def test_two_imports_at_once_stop_at_the_maximum(db, clock, backend):
    """Both files fit when checked; written at once, in several chunks each, they
    would not: the rows that no longer fit are refused with the maximum."""
    await grant(db, OWNER, Role.OWNER)
    await set_max_customers(db, 500)
    first = csv_of([f"Alpha {n}" for n in range(400)])
    second = csv_of([f"Beta {n}" for n in range(400)])

    reports = await all_at_once(
        run_import(db, first, now=clock()), run_import(db, second, now=clock())
    )

    assert await customer_count(db) == 500
    assert sum(len(report.accepted) for report in reports) == 500
    refused = [problem for report in reports for problem in report.problems]
    assert len(refused) == 300
    assert {problem.field for problem in refused} == {WHOLE_ROW}
    assert all("already manages 500 of its 500 customers" in p.reason for p in refused)


async def test_an_import_and_adds_at_once_stop_at_the_maximum(client, slack, db, clock, backend):
    await grant(db, OWNER, Role.OWNER)
    await set_max_customers(db, 300)
    rows = csv_of([f"Imported {n}" for n in range(297)])

    report, *adds = await all_at_once(
        run_import(db, rows, now=clock()),
        *(
            submit_add(client, slack, name=f"Walk-in {n}", email=f"walkin{n}@example.com")
            for n in range(AT_ONCE)
        ),
    )

    added = [reply for reply in adds if reply.json["response_action"] == "update"]
    assert await customer_count(db) == 300
    assert len(report.accepted) + len(added) == 300
    refused = [refusal_of(reply) for reply in adds if reply not in added]
    assert all("already manages 300 of its 300 customers" in message for message in refused)


# ---------------------------------------------------------------- a long import


async def test_other_writers_get_through_while_a_long_import_runs(
    client, slack, db, clock, backend
):
    """An import of 1,200 rows, and meanwhile, one after the other, a Slack add and
    an API usage report, again and again: every one answered, none refused for a
    locked database; some of them landed between the import's chunks."""
    tenant = await make_tenant(db, clock)
    await grant(db, OWNER, Role.OWNER)
    await set_max_customers(db, 2_000)
    importing = asyncio.create_task(
        run_import(db, csv_of([f"Bulk {n}" for n in range(IMPORT_ROWS)]), now=clock())
    )
    acme = tenant.accounts["Acme Dental"]
    seen_mid_import: list[int] = []
    n = 0
    while not importing.done():
        n += 1
        added = await submit_add(client, slack, name=f"Walk-in {n}", email=f"w{n}@example.com")
        assert added.json["response_action"] == "update", added.text
        usage = await post_json(
            client,
            "/api/v1/usage",
            tenant.token,
            {"usage": [usage_of(acme, mau=n)]},
        )
        assert usage.status == 200, usage.json
        seen_mid_import.append(await imported_so_far(db))
    report = await importing
    assert len(report.accepted) == IMPORT_ROWS and report.problems == []
    assert any(0 < count < IMPORT_ROWS for count in seen_mid_import), seen_mid_import
    async with db.unit_of_work() as session:
        names = set((await session.scalars(select(Customer.name))).all())
    wanted = {"Acme Dental"} | {f"Walk-in {k}" for k in range(1, n + 1)}
    wanted |= {f"Bulk {k}" for k in range(IMPORT_ROWS)}
    assert names == wanted, (sorted(wanted - names), sorted(names - wanted), report)
    assert await customer_count(db) == 1 + n + IMPORT_ROWS


def usage_of(customer: str, *, mau: int) -> dict[str, Any]:
    return {
        "customer": customer,
        "month": "2026-11",  # the clock's month
        "mau": mau,
        "users": 1,
        "agents_total": 1,
        "agents_reporting": 1,
        "data_gb": 0.5,
    }


async def imported_so_far(db: Database) -> int:
    async with db.unit_of_work() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Customer)
                .where(Customer.created_by == audit.OPERATOR_ACTOR)
            )
            or 0
        )


class Killed(Exception):
    """The import's process dies (a Ctrl-C during the progress bar, say)."""


async def test_an_import_that_died_midway_is_finished_by_running_it_again(db, clock, backend):
    await grant(db, OWNER, Role.OWNER)
    await set_max_customers(db, 1_000)
    data = csv_of([f"Chunked {n}" for n in range(CHUNK_ROWS * 2 + 50)])
    done: list[int] = []

    def die_after_the_first_chunk(rows: int) -> None:
        done.append(rows)
        if len(done) == CHUNK_ROWS:
            raise Killed

    with pytest.raises(Killed):
        await run_import(db, data, now=clock(), progress=die_after_the_first_chunk)
    assert await imported_so_far(db) == CHUNK_ROWS  # that chunk is written, whole

    again = await run_import(db, data, now=clock())

    assert (len(again.already_there), len(again.accepted), again.problems) == (
        CHUNK_ROWS,
        CHUNK_ROWS + 50,
        [],
    )
    assert await imported_so_far(db) == CHUNK_ROWS * 2 + 50
    created = await audit_rows(db, audit.AuditAction.CUSTOMER_CREATED)
    assert len(created) == CHUNK_ROWS * 2 + 50  # each customer audited once


async def test_the_same_file_imported_twice_at_once_is_imported_once(db, clock, backend):
    await grant(db, OWNER, Role.OWNER)
    await set_max_customers(db, 1_000)
    data = csv_of([f"Twice {n}" for n in range(CHUNK_ROWS + 100)])

    reports = await all_at_once(
        run_import(db, data, now=clock()), run_import(db, data, now=clock())
    )

    assert await imported_so_far(db) == CHUNK_ROWS + 100
    written = sorted(row.row for report in reports for row in report.accepted)
    found = sorted(row.row for report in reports for row in report.already_there)
    assert written == found == list(range(2, CHUNK_ROWS + 102))
    assert [report.problems for report in reports] == [[], []]


def test_the_cli_imports_the_same_file_again_without_error(cli_env, tmp_path):
    file = tmp_path / "in.csv"
    file.write_bytes(csv_of(["Acme", "Beta"]))
    command = ["customers", "import", str(file), "--team", "T1"]
    assert invoke_cli(command, cli_env).stdout == "2 customers imported into T1.\n"

    again = invoke_cli(command, cli_env)

    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [
        "Already imported: 2 rows name a customer with the same name and admin email; "
        "left as they are.",
        "0 customers imported into T1.",
    ]


# ---------------------------------------------------------------- the upgrade


_msps = sa.table(
    "msps",
    *(sa.column(name) for name in ("id", "team_id", "name", "max_customers", "mau_allowance")),
    sa.column("timezone"),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_customers = sa.table(
    "customers",
    *(
        sa.column(name)
        for name in (
            "id",
            "msp_id",
            "account_number",
            "name",
            "name_key",
            "admin_email",
            "admin_email_key",
            "plan",
            "status",
            "licences",
            "users",
            "mau_this_month",
            "max_mau_threshold",
            "monthly_price_cents",
            "past_due",
            "data_used_gb",
            "created_by",
            "notes",
            "version",
        )
    ),
    sa.column("add_ons", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_requests = sa.table(
    "change_requests",
    *(sa.column(name) for name in ("id", "msp_id", "customer_id", "customer_name", "kind")),
    *(sa.column(name) for name in ("status", "requested_by", "reason", "decision_note")),
    sa.column("details", sa.JSON()),
    sa.column("message_keys", sa.JSON()),
    sa.column("requested_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
    sa.column("decided_at", sa.DateTime(timezone=True)),
)
ASKED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

# (id, customer, kind, status, days after ASKED): the open duplicates the upgrade
# must close, and rows it must leave alone.
OLD_REQUESTS = [
    (1, 1, "trial_extension", "pending", 2),
    (2, 1, "trial_extension", "pending", 1),  # the oldest: kept
    (3, 1, "trial_extension", "pending", 3),
    (4, 1, "trial_extension", "denied", 0),  # decided: not open
    (5, 1, "delete_account", "pending", 0),
    (6, 1, "delete_account", "scheduled", 1),  # approved: kept over an older pending one
    (7, 1, "cancel", "scheduled", 0),  # kept
    (8, 1, "cancel", "scheduled", 1),
    (9, 2, "trial_extension", "pending", 0),  # another customer
    (10, None, "mau_allowance_order", "pending", 0),  # MSP-wide: not limited
    (11, None, "mau_allowance_order", "pending", 1),
]


async def _seed_before_upgrade(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(_msps).values(
                    id=1,
                    team_id=TEAM_ID,
                    name="",
                    max_customers=100,
                    mau_allowance=0,
                    timezone="UTC",
                    created_at=ASKED,
                    updated_at=ASKED,
                )
            )
            for customer_id in (1, 2):
                await connection.execute(
                    sa.insert(_customers).values(
                        id=customer_id,
                        msp_id=1,
                        account_number=f"AAAA-000{customer_id}",
                        name=f"C{customer_id}",
                        name_key=f"c{customer_id}",
                        admin_email=f"c{customer_id}@x.com",
                        admin_email_key=f"c{customer_id}@x.com",
                        plan="trial",
                        status="active_trial",
                        licences=0,
                        users=0,
                        mau_this_month=0,
                        max_mau_threshold=1_000_000,
                        monthly_price_cents=0,
                        past_due=False,
                        data_used_gb=0,
                        created_by=OWNER,
                        notes="",
                        version=1,
                        add_ons=[],
                        created_at=ASKED,
                        updated_at=ASKED,
                    )
                )
            for request_id, customer_id, kind, status, days in OLD_REQUESTS:
                await connection.execute(
                    sa.insert(_requests).values(
                        id=request_id,
                        msp_id=1,
                        customer_id=customer_id,
                        customer_name="C",
                        kind=kind,
                        status=status,
                        requested_by="U0004",
                        reason="",
                        details={"summary": kind},
                        message_keys=[],
                        requested_at=ASKED + timedelta(days=days),
                        expires_at=ASKED + timedelta(days=days + 7),
                    )
                )
    finally:
        await engine.dispose()


async def test_upgrading_closes_duplicate_open_requests_in_the_audit_log(database_url, backend):
    await migrate.upgrade_async(database_url, "0011")
    await _seed_before_upgrade(database_url)

    await migrate.upgrade_async(database_url)

    db = Database(database_url)
    try:
        statuses = {row.id: (row.status, row.decision_note) for row in await request_rows(db)}
        assert {request_id: status for request_id, (status, _) in statuses.items()} == {
            1: "expired",
            2: "pending",
            3: "expired",
            4: "denied",
            5: "expired",
            6: "scheduled",
            7: "scheduled",
            8: "reversed",
            9: "pending",
            10: "pending",
            11: "pending",
        }
        for closed, kept in ((1, 2), (3, 2), (5, 6), (8, 7)):
            assert f"duplicate of request #{kept}" in statuses[closed][1]
        async with db.unit_of_work() as session:
            events = (
                await session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "request"))
            ).all()
        assert sorted((e.entity_id, e.action, e.actor) for e in events) == [
            ("1", "request.expired", "system"),
            ("3", "request.expired", "system"),
            ("5", "request.expired", "system"),
            ("8", "request.reversed", "system"),
        ]
        # From now on the database refuses a second open request of a type.
        with pytest.raises(IntegrityError) as refused:
            async with db.unit_of_work() as session:
                await session.execute(
                    sa.insert(_requests).values(
                        id=100,
                        msp_id=1,
                        customer_id=1,
                        customer_name="C",
                        kind="trial_extension",
                        status="pending",
                        requested_by="U0004",
                        reason="",
                        details={},
                        message_keys=[],
                        requested_at=ASKED,
                        expires_at=ASKED,
                    )
                )
        assert "kind" in str(refused.value.orig)  # the index on (customer_id, kind)
    finally:
        await db.dispose()
