"""What the ingest API's tests share (usage, alerts): an MSP with customers and a
token, JSON posts that keep the answer, many customers at once, and the SQL
statements a request sends."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, update

from bot.domain.customers import Plan, email_key, name_key
from bot.domain.roles import Role
from bot.services import api_tokens, customers
from bot.services.audit import OPERATOR_ACTOR
from bot.services.tenancy import Requester, ensure_msp
from storage.models import Customer, Msp
from tests.support import TEAM_ID, FakeClock


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


@dataclass
class Answer:
    status: int
    json: Any
    headers: Any


async def post_json(
    client,
    path: str,
    token: str | None,
    body: Any = None,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    sent = {"Content-Type": "application/json"}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    payload = data if data is not None else json.dumps(body).encode()
    response = await client.post(path, data=payload, headers=sent)
    text = await response.text()
    return Answer(response.status, json.loads(text) if text else None, response.headers)


def field_errors(answer: Answer) -> dict[str, str]:
    """A 422's errors, field -> message."""
    assert answer.status == 422, (answer.status, answer.json)
    assert answer.json["ok"] is False and answer.json["error"] == "invalid_request"
    return {error["field"]: error["message"] for error in answer.json["errors"]}


async def post_chunked_spaces(client, path: str, token: str, *, collection: str, kb: int) -> int:
    """POST a chunked body of `kb` KB of spaces (no Content-Length); its status."""

    async def chunks():
        yield f'{{"{collection}": ['.encode()
        for _ in range(kb // 64):
            yield b" " * 64 * 1024
        yield b"]}"

    response = await client.post(
        path,
        data=chunks(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return response.status


async def home_stale_since(db, msp_id: int) -> datetime | None:
    async with db.unit_of_work() as session:
        return (await session.get(Msp, msp_id)).home_stale_since


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
