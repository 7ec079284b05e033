"""Storage on SQLite, and on PostgreSQL when MSPBOT_TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.domain.roles import Role
from bot.services import staff, tenancy
from storage import migrate
from storage.engine import Database
from storage.models import Base, Msp, StaffMember
from storage.repositories import msps as msp_repo

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _drift(connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


# SQLite's expression index is not compared here (the warnings say so); the
# test below compares it.
@pytest.mark.filterwarnings("ignore:.*expression-based index.*")
async def test_migrations_and_models_do_not_drift(db: Database, backend: str) -> None:
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_drift) == []
    assert await migrate.is_at_head(db.engine)


# Autogenerate compares neither a partial index's WHERE nor, on SQLite, an
# expression index: compare the databases' own definitions of every index instead.
_MODELS_SCHEMA = "models_only"
_INDEX_DEFINITIONS = {
    "sqlite": "SELECT name, sql FROM sqlite_master"
    " WHERE type = 'index' AND sql IS NOT NULL AND tbl_name != 'alembic_version'",
    "postgresql": "SELECT indexname, replace(indexdef, :schema || '.', 'public.')"
    " FROM pg_indexes WHERE schemaname = :schema AND tablename != 'alembic_version'",
}


async def _index_definitions(connection, backend: str, schema: str = "public") -> dict[str, str]:
    rows = await connection.execute(text(_INDEX_DEFINITIONS[backend]), {"schema": schema})
    return dict(rows.all())


async def test_migrated_indexes_are_the_models_indexes(db: Database, backend: str) -> None:
    async with db.engine.connect() as connection:
        migrated = await _index_definitions(connection, backend)
    if backend == "sqlite":
        models_only = create_async_engine("sqlite+aiosqlite://")
        try:
            async with models_only.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
                declared = await _index_definitions(connection, backend)
        finally:
            await models_only.dispose()
    else:
        async with db.engine.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA {_MODELS_SCHEMA}"))
            try:
                await connection.run_sync(
                    lambda sync: Base.metadata.create_all(
                        sync.execution_options(schema_translate_map={None: _MODELS_SCHEMA})
                    )
                )
                declared = await _index_definitions(connection, backend, _MODELS_SCHEMA)
            finally:
                await connection.execute(text(f"DROP SCHEMA {_MODELS_SCHEMA} CASCADE"))
    assert "ix_customers_silent_agents" in migrated
    assert migrated == declared


async def test_downgrade_to_base_and_back(db: Database, database_url: str, backend: str) -> None:
    await db.dispose()
    await migrate.downgrade_async(database_url, "base")
    async with db.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
    assert "msps" not in tables
    assert await migrate.current_revision(db.engine) is None
    await migrate.upgrade_async(database_url)
    assert await migrate.current_revision(db.engine) == migrate.head_revision()


async def test_unit_of_work_rolls_back_on_error(db: Database, backend: str) -> None:
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as session:
            await tenancy.ensure_msp(session, team_id="T1", timezone="UTC", now=NOW)
            raise RuntimeError("boom")
    async with db.unit_of_work() as session:
        assert await msp_repo.get_by_team(session, "T1") is None


async def test_first_contact_races_create_one_msp(db: Database, backend: str) -> None:
    async def contact(user: str) -> tenancy.Requester:
        async with db.unit_of_work() as session:
            return await tenancy.resolve_requester(
                session,
                team_id="T1",
                user_id=user,
                bootstrap_owners={"U1", "U2"},
                timezone="UTC",
                now=NOW,
            )

    requesters = await asyncio.gather(*(contact(f"U{i % 3}") for i in range(12)))
    assert len({r.msp_id for r in requesters}) == 1
    async with db.unit_of_work() as session:
        assert len((await session.scalars(select(Msp))).all()) == 1
        members = (await session.scalars(select(StaffMember))).all()
    # The first configured owner to arrive bootstraps the MSP, as if they had come one
    # after the other; every racing request of theirs sees the owner role.
    [(owner, role)] = [(m.slack_user_id, m.role) for m in members]
    assert owner in {"U1", "U2"} and role == "owner"
    assert {(r.user_id, r.role) for r in requesters} == {
        (user, Role.OWNER if user == owner else None) for user in ("U0", "U1", "U2")
    }


async def test_datetimes_come_back_aware_and_in_utc(db: Database, backend: str) -> None:
    berlin = timezone(timedelta(hours=1))
    async with db.unit_of_work() as session:
        await tenancy.ensure_msp(session, team_id="T1", timezone="UTC", now=NOW.astimezone(berlin))
    async with db.unit_of_work() as session:
        msp = await msp_repo.get_by_team(session, "T1")
    assert msp is not None
    assert msp.created_at == NOW
    assert msp.created_at.tzinfo is not None


async def test_naive_datetimes_are_refused(db: Database, backend: str) -> None:
    with pytest.raises(Exception, match="naive"):
        async with db.unit_of_work() as session:
            await tenancy.ensure_msp(
                session, team_id="T1", timezone="UTC", now=datetime(2026, 1, 1)
            )


async def test_roles_are_scoped_to_their_msp(db: Database, backend: str) -> None:
    async with db.unit_of_work() as session:
        await staff.grant_role_as_operator(
            session, team_id="T1", target_user_id="U1", new_role=Role.OWNER, timezone="UTC", now=NOW
        )
        await staff.grant_role_as_operator(
            session, team_id="T2", target_user_id="U2", new_role=Role.OWNER, timezone="UTC", now=NOW
        )
    async with db.unit_of_work() as session:
        first = await staff.list_staff_as_operator(session, team_id="T1")
        second = await staff.list_staff_as_operator(session, team_id="T2")
        stranger = await tenancy.resolve_requester(
            session, team_id="T1", user_id="U2", bootstrap_owners=(), timezone="UTC", now=NOW
        )
    assert [e.user_id for e in first] == ["U1"]
    assert [e.user_id for e in second] == ["U2"]
    assert stranger.role is None


async def test_deleting_an_msp_cascades_to_its_staff(db: Database, backend: str) -> None:
    async with db.unit_of_work() as session:
        await staff.grant_role_as_operator(
            session, team_id="T1", target_user_id="U1", new_role=Role.OWNER, timezone="UTC", now=NOW
        )
    async with db.unit_of_work() as session:
        await session.execute(text("DELETE FROM msps"))
    async with db.unit_of_work() as session:
        assert (await session.scalars(select(StaffMember))).all() == []


async def test_concurrent_demotions_keep_one_owner(db: Database, backend: str) -> None:
    """Two owners demoting each other at once: at least one owner must remain."""
    async with db.unit_of_work() as session:
        for user in ("U1", "U2"):
            await staff.grant_role_as_operator(
                session,
                team_id="T1",
                target_user_id=user,
                new_role=Role.OWNER,
                timezone="UTC",
                now=NOW,
            )

    async def demote(actor: str, target: str) -> None:
        async with db.unit_of_work() as session:
            requester = await tenancy.resolve_requester(
                session, team_id="T1", user_id=actor, bootstrap_owners=(), timezone="UTC", now=NOW
            )
            await staff.change_role(
                session, requester=requester, target_user_id=target, new_role=Role.ADMIN, now=NOW
            )

    await asyncio.gather(demote("U1", "U2"), demote("U2", "U1"), return_exceptions=True)
    async with db.unit_of_work() as session:
        roles = [m.role for m in (await session.scalars(select(StaffMember))).all()]
    assert roles.count("owner") >= 1


async def test_replicas_starting_together_migrate_once(database_url: str, backend: str) -> None:
    """Each replica's `msp-bot run` upgrades first; on PostgreSQL an advisory lock
    makes them take turns instead of racing to create the same tables."""
    if backend != "postgresql":
        pytest.skip("several replicas means PostgreSQL")
    code = "import sys; from storage import migrate; migrate.upgrade(sys.argv[1])"
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            database_url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(4)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in processes))
    for process, (output, _) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output.decode()[-2000:]
    database = Database(database_url)
    try:
        assert await migrate.is_at_head(database.engine)
    finally:
        await database.dispose()


async def test_upgrading_keeps_every_row_that_points_at_a_customer(
    database_url: str, backend: str
) -> None:
    """Migrations that rebuild `customers` (SQLite's batch mode copies, drops and
    renames it) must not fire ON DELETE on the rows pointing at it: a customer's
    locations, contacts and assignments stay, and its requests stay attached."""
    from tests.test_invariants_concurrency import _seed_before_upgrade

    await migrate.upgrade_async(database_url, "0011")
    await _seed_before_upgrade(database_url)
    engine = create_async_engine(database_url)
    related = {
        "customer_locations": "INSERT INTO customer_locations (customer_id, position, name) "
        "VALUES (1, 0, 'HQ')",
        "customer_contacts": "INSERT INTO customer_contacts (customer_id, name, is_primary) "
        "VALUES (1, 'Dana', true)",
        "customer_assignments": "INSERT INTO customer_assignments (customer_id, slack_user_id) "
        "VALUES (1, 'U0004')",
    }
    try:
        async with engine.begin() as connection:
            for insert in related.values():
                await connection.execute(text(insert))
        await migrate.upgrade_async(database_url)
        async with engine.connect() as connection:
            counts = {
                table: (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
                for table in related
            }
            attached = await connection.execute(
                text("SELECT count(*) FROM change_requests WHERE customer_id IS NOT NULL")
            )
            assert (counts, attached.scalar()) == (dict.fromkeys(related, 1), 9)
    finally:
        await engine.dispose()
