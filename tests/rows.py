"""Reading back what the database holds: the rows a test checks after the bot (or the
command line) wrote them, and the SQL statements the code sends meanwhile."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event, select

from storage.engine import Database
from storage.models import AuditEvent, ChangeRequest, Customer, Msp
from tests.support import TEAM_ID


async def msp_id_of(db: Database, team_id: str = TEAM_ID) -> int:
    async with db.unit_of_work() as session:
        msp_id = await session.scalar(select(Msp.id).where(Msp.team_id == team_id))
    assert msp_id is not None, "grant someone a role first: that creates the MSP"
    return int(msp_id)


async def msp_row(db: Database) -> Msp:
    async with db.unit_of_work() as session:
        msp = await session.scalar(select(Msp))
        assert msp is not None
        session.expunge(msp)
        return msp


async def home_stale_since(db, msp_id: int) -> datetime | None:
    async with db.unit_of_work() as session:
        return (await session.get(Msp, msp_id)).home_stale_since


async def customers(db: Database) -> list[Customer]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(Customer).order_by(Customer.id))).all())


async def customer_row(db: Database, customer_id: int) -> Customer:
    async with db.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        session.expunge(customer)
        return customer


async def request_rows(db: Database) -> list[ChangeRequest]:
    async with db.unit_of_work() as session:
        rows = (await session.scalars(select(ChangeRequest).order_by(ChangeRequest.id))).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


async def audit_rows(db: Database, action: str) -> list[AuditEvent]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return list(rows.all())


def cli_rows(env: dict[str, str], model: type) -> list[Any]:
    """Every row of `model` in the database of a `msp-bot` environment, by id: what
    the command line left there (read in an event loop of its own, as the CLI runs)."""

    async def read() -> list[Any]:
        database = Database(env["DATABASE_URL"])
        try:
            async with database.unit_of_work() as session:
                return list((await session.scalars(select(model).order_by(model.id))).all())
        finally:
            await database.dispose()

    return asyncio.run(read())


@contextmanager
def statements_sent(db) -> Iterator[list[str]]:
    """The first word of each SQL statement the code executes meanwhile, but the
    delivery worker's (it polls the outbox on its own schedule, not for the request).

    Counted per execute call, as the code issues them: a long executemany is one
    statement even where the driver sends its rows in pages of 1,000 (a loop of
    queries per item would still show)."""
    statements: list[str] = []

    def count(_conn, clause, *_rest) -> None:
        statement = str(clause)
        if not re.search(r"\b(outbox|delivery_lanes)\b", statement):
            statements.append(statement.split()[0])

    event.listen(db.engine.sync_engine, "before_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_execute", count)
