"""The races of tests/test_invariants_concurrency.py, many rounds over, on SQLite and
PostgreSQL: the same request form sent 6 times at once (one stored, five told it
is already waiting), 6 adds at once with one place left (one added, five told the
maximum), and two imports at once past the maximum, with adds in between (never a
customer too many). Each test prints its counts. Figures: docs/RELIABILITY.md.

Marked `resilience`: `.ci/run` runs it after the default suite."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import timedelta

import pytest

from bot.domain.roles import Role
from bot.ids import BlockId
from bot.services.customer_csv import WHOLE_ROW
from tests.drive import open_form, submit, submit_add
from tests.rows import request_rows
from tests.seed import ADMIN, grant, grant_staff, seed_customer, set_max_customers
from tests.support import TODAY
from tests.test_invariants_concurrency import (
    AT_ONCE,
    OWNER,
    all_at_once,
    csv_of,
    customer_count,
    refusal_of,
    run_import,
)

pytestmark = pytest.mark.resilience
ROUNDS = int(os.environ.get("MSPBOT_RACE_ROUNDS", "50"))
IMPORT_ROUNDS = int(os.environ.get("MSPBOT_IMPORT_RACE_ROUNDS", "10"))


def _stored(reply) -> bool:
    return reply.json["response_action"] == "update"


async def test_the_same_request_sent_at_once_round_after_round(
    client, slack, db, fake_slack, backend
):
    await grant_staff(db)
    seen: Counter[str] = Counter()
    for round_number in range(ROUNDS):
        name = f"Round {round_number:03d} Co"
        await seed_customer(
            db, name=name, status="active_trial", trial_end=TODAY + timedelta(days=3)
        )
        view = await open_form(client, slack, fake_slack, f"extend {name}", user_id=ADMIN)
        replies = await all_at_once(
            *(
                submit(client, slack, view, user_id=ADMIN, **{BlockId.REQUEST_DAYS: "30"})
                for _ in range(AT_ONCE)
            )
        )
        stored = [reply for reply in replies if _stored(reply)]
        refused = {refusal_of(reply) for reply in replies if not _stored(reply)}
        seen["stored"] += len(stored)
        seen["already waiting"] += sum(1 for reply in replies if not _stored(reply))
        seen["rounds with one stored and one answer"] += len(stored) == 1 and len(refused) == 1
        assert len(stored) == 1, (round_number, [reply.text for reply in replies])
        assert len(refused) == 1 and "waiting for approval" in refused.pop()
    pending = [row for row in await request_rows(db) if row.status == "pending"]
    print(
        f"\n[{backend}] {ROUNDS} rounds of {AT_ONCE} identical requests at once: "
        f"{dict(seen)}; pending requests in the database: {len(pending)}"
    )
    assert len(pending) == ROUNDS


async def test_adds_at_once_with_one_place_left_round_after_round(client, slack, db, backend):
    await grant(db, OWNER, Role.OWNER)
    seen: Counter[str] = Counter()
    for round_number in range(ROUNDS):
        await set_max_customers(db, round_number + 1)
        replies = await all_at_once(
            *(
                submit_add(
                    client,
                    slack,
                    name=f"Round {round_number:03d} racer {n}",
                    email=f"r{round_number}.{n}@example.com",
                )
                for n in range(AT_ONCE)
            )
        )
        added = [reply for reply in replies if _stored(reply)]
        refused = [refusal_of(reply) for reply in replies if not _stored(reply)]
        seen["added"] += len(added)
        seen["refused naming the maximum"] += sum(
            f"of its {round_number + 1:,} customers" in message for message in refused
        )
        assert len(added) == 1, (round_number, [reply.text for reply in replies])
    total = await customer_count(db)
    print(
        f"\n[{backend}] {ROUNDS} rounds of {AT_ONCE} adds at once, one place left each: "
        f"{dict(seen)}; customers {total} of {ROUNDS} allowed"
    )
    assert total == ROUNDS
    assert seen["refused naming the maximum"] == ROUNDS * (AT_ONCE - 1)


async def test_imports_and_adds_at_once_past_the_maximum_round_after_round(
    client, slack, db, clock, backend
):
    """Each round: room for 300 more; two imports of 250 rows (two chunks each) and
    two adds, all at once."""
    await grant(db, OWNER, Role.OWNER)
    seen: Counter[str] = Counter()
    for round_number in range(IMPORT_ROUNDS):
        before = await customer_count(db)
        await set_max_customers(db, before + 300)
        files = [csv_of([f"R{round_number} {side} {n}" for n in range(250)]) for side in ("A", "B")]
        *reports, first_add, second_add = await all_at_once(
            *(run_import(db, data, now=clock()) for data in files),
            *(
                submit_add(
                    client,
                    slack,
                    name=f"R{round_number} walk-in {n}",
                    email=f"w{round_number}.{n}@x.com",
                )
                for n in range(2)
            ),
        )
        added = await customer_count(db) - before
        refused_rows = [problem for report in reports for problem in report.problems]
        seen["imported"] += sum(len(report.accepted) for report in reports)
        seen["added through Slack"] += _stored(first_add) + _stored(second_add)
        seen["import rows refused (R3)"] += len(refused_rows)
        seen["rounds over the maximum"] += added > 300
        assert added == 300, (round_number, added)
        assert {problem.field for problem in refused_rows} <= {WHOLE_ROW}
    print(
        f"\n[{backend}] {IMPORT_ROUNDS} rounds of 2 imports of 250 and 2 adds at once, room "
        f"for 300: {dict(seen)}"
    )
    assert seen["rounds over the maximum"] == 0


async def test_writers_during_long_imports_are_never_refused(client, slack, db, clock, backend):
    """Imports of 1,200 rows, one after another, while a Slack add runs back to back:
    every add answered; how many landed between chunks."""
    await grant(db, OWNER, Role.OWNER)
    await set_max_customers(db, 100_000)
    seen: Counter[str] = Counter()
    for round_number in range(max(1, IMPORT_ROUNDS // 2)):
        importing = asyncio.create_task(
            run_import(db, csv_of([f"Long {round_number} {n}" for n in range(1_200)]), now=clock())
        )
        n = 0
        while not importing.done():
            n += 1
            reply = await submit_add(
                client,
                slack,
                name=f"Long {round_number} walk-in {n}",
                email=f"l{round_number}.{n}@x.com",
            )
            seen["adds answered" if _stored(reply) else "adds refused"] += 1
            seen["adds while importing"] += not importing.done()
        report = await importing
        seen["imported"] += len(report.accepted)
    print(f"\n[{backend}] long imports with a Slack add running back to back: {dict(seen)}")
    assert seen["adds refused"] == 0
