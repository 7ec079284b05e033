"""SQLite's one writer at a time, within one process: the transactions waiting for
the write lock take their turn in arrival order (SQLite's own busy handler lets
whichever polls first go, so under load some waited their whole busy timeout while
later ones went through), a wait for the turn counts against the busy timeout and
ends as "database unavailable", and an API request answers within its budget even
when every connection is taken."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select, update

from bot.api import ingest
from bot.services.tenancy import ensure_msp
from storage.engine import Database, is_database_unavailable, wait_for_locks_until
from storage.models import Alert, Msp
from tests.drive import post_json
from tests.locked_database import SqliteWriteLock
from tests.seed import make_tenant

WRITERS = 12
HOLD_S = 0.03


async def _msp_id(db: Database, clock) -> int:
    async with db.unit_of_work() as session:
        return await ensure_msp(session, team_id="T_WRITERS", timezone="UTC", now=clock())


async def test_writers_of_one_process_take_their_turn_in_arrival_order(db: Database, clock):
    msp_id = await _msp_id(db, clock)
    order: list[int] = []

    async def read() -> None:
        async with db.unit_of_work() as session:
            await session.scalar(select(Msp.id).where(Msp.id == msp_id))
            await asyncio.sleep(0.05)

    # Every writer finds a connection ready: opening one takes longer than the
    # writers' spacing, and would reorder them before they ask for the lock.
    await asyncio.gather(*(read() for _ in range(WRITERS)))

    async def write(n: int) -> None:
        async with db.unit_of_work() as session:
            await session.execute(update(Msp).where(Msp.id == msp_id).values(max_customers=n))
            order.append(n)
            await asyncio.sleep(HOLD_S)  # keeps the write lock, as a longer transaction does

    writers = []
    for n in range(WRITERS):
        writers.append(asyncio.create_task(write(n)))
        await asyncio.sleep(0.01)  # each has asked for the lock before the next starts
    await asyncio.gather(*writers)

    assert order == list(range(WRITERS))


async def test_a_wait_for_the_writers_turn_ends_with_its_busy_timeout(db: Database, clock):
    msp_id = await _msp_id(db, clock)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with db.unit_of_work() as session:
            await session.execute(update(Msp).where(Msp.id == msp_id).values(max_customers=1))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()

    async def late_writer() -> None:
        wait_for_locks_until(time.monotonic() + 0.2)
        async with db.unit_of_work() as session:
            await session.execute(update(Msp).where(Msp.id == msp_id).values(max_customers=2))

    started = time.monotonic()
    with pytest.raises(Exception) as refused:
        await asyncio.create_task(late_writer())  # its deadline stays in its task
    waited = time.monotonic() - started
    release.set()
    await holder

    assert is_database_unavailable(refused.value), repr(refused.value)
    assert waited < 2.0  # its own 0.2 s, not the 5 s busy timeout
    # The turn was given back: the next writer goes through.
    async with db.unit_of_work() as session:
        await session.execute(update(Msp).where(Msp.id == msp_id).values(max_customers=3))
    async with db.unit_of_work() as session:
        assert await session.scalar(select(Msp.max_customers).where(Msp.id == msp_id)) == 3


async def test_an_api_request_is_answered_503_within_its_budget(
    client, db: Database, clock, monkeypatch, caplog
):
    tenant = await make_tenant(db, clock)
    # A budget shorter than the lock wait: what a pool with every connection taken
    # does to a request (it waits for a connection, then for the lock).
    monkeypatch.setattr(ingest, "ANSWER_BUDGET_S", 0.5)
    alert = {
        "customer": tenant.accounts["Acme Dental"],
        "kind": "backup_failed",
        "severity": "high",
        "title": "Nightly backup failed",
    }
    async with SqliteWriteLock(db):
        started = time.monotonic()
        answer = await post_json(client, "/api/v1/alerts", tenant.token, {"alerts": [alert]})
        took = time.monotonic() - started

    assert answer.status == 503, answer.json
    assert answer.headers["Retry-After"] == str(ingest.UNAVAILABLE_RETRY_AFTER_S)
    assert answer.json["error"] == "database_unavailable"
    assert took < ingest.LOCK_WAITS_S
    # The work was left to end on its own, not cancelled in the middle of a
    # statement; with the request answered, its body is gone, so it ends there,
    # having written nothing (as the 503 said).
    for _ in range(100):
        if any("failed while unwinding" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    assert any("failed while unwinding" in r.getMessage() for r in caplog.records)
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 0
