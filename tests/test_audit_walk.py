"""R22 walked: every transaction that writes a customer also writes the audit log,
naming the account number and who changed it, whoever the writer is (the usage and
accounts APIs, every scheduler job). Watched at the SQL each transaction commits,
so a new writer that forgets its audit event fails here without a test of its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import event, select, update

from bot.notify.notifiers import outbox_notifiers
from scheduler.jobs import RUNNABLE
from storage.models import AuditEvent, Customer
from tests.drive import post_json
from tests.seed import make_tenant

WRITES_CUSTOMERS = re.compile(r"^\s*(UPDATE|INSERT INTO|DELETE FROM) customers\b", re.IGNORECASE)
# An audit event about a customer (its entity_type among the statement's parameters).
WRITES_AUDIT = re.compile(r"^\s*INSERT INTO audit_events\b.*'customer'", re.IGNORECASE | re.DOTALL)


@contextmanager
def committed_transactions(db) -> Iterator[list[list[str]]]:
    """The statements (with their parameters) of each transaction committed
    meanwhile, in commit order."""
    committed: list[list[str]] = []
    open_: dict[int, list[str]] = {}

    def executed(conn, _cursor, statement, parameters, *_rest: Any) -> None:
        open_.setdefault(id(conn), []).append(f"{statement} -- {parameters}")

    def commit(conn) -> None:
        committed.append(open_.pop(id(conn), []))

    def rollback(conn) -> None:
        open_.pop(id(conn), None)

    engine = db.engine.sync_engine
    listeners = (("before_cursor_execute", executed), ("commit", commit), ("rollback", rollback))
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield committed
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


async def test_every_writer_of_customers_audits_its_change(backend, client, db, clock):
    tenant = await make_tenant(db, clock, names={"Acme Dental": 500, "Harbor Clinic": 500})
    acme, harbor = tenant.accounts["Acme Dental"], tenant.accounts["Harbor Clinic"]
    async with db.unit_of_work() as session:  # Harbor pays monthly, renewing next month
        await session.execute(
            update(Customer)
            .where(Customer.account_number == harbor)
            .values(
                plan="essentials",
                status="paid",
                licences=5,
                term="monthly",
                contract_start=date(2026, 10, 10),
                renewal_date=date(2026, 12, 10),
            )
        )
    started = clock()
    notifiers = outbox_notifiers()
    with committed_transactions(db) as transactions:
        usage = {"customer": acme, "month": "2026-11", "users": 7}
        assert (
            await post_json(client, "/api/v1/usage", tenant.token, {"usage": [usage]})
        ).status == 200
        account = {"customer": harbor, "past_due": True, "licences": 6}
        answer = await post_json(client, "/api/v1/accounts", tenant.token, {"accounts": [account]})
        assert answer.status == 200, answer.json
        clock.advance(days=45)  # Acme's trial has ended, Harbor's term has renewed
        for job in RUNNABLE.values():  # every job the schedule runs
            await job(db=db, clock=clock, wake=lambda: None, notifiers=notifiers, only=None)
    writers = [statements for statements in transactions if _writes(WRITES_CUSTOMERS, statements)]
    assert len(writers) >= 3  # the usage report, the accounts update, the trial's end
    for statements in writers:
        assert _writes(WRITES_AUDIT, statements), statements
    async with db.unit_of_work() as session:
        events = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity_type == "customer", AuditEvent.created_at >= started
                )
            )
        ).all()
    assert {e.entity_id for e in events} <= {acme, harbor}
    actors = {e.actor for e in events}
    assert {f"api:token:{tenant.token_id}", "job:end_trials"} <= actors, actors
    assert all(re.fullmatch(r"api:token:\d+|job:[a-z_]+|U[A-Z0-9]+", actor) for actor in actors)


def _writes(pattern: re.Pattern[str], statements: list[str]) -> bool:
    return any(pattern.match(statement) for statement in statements)
