#!/usr/bin/env python
"""Customer lists and lookups over HTTP, with 10,000 and 100,000 customers in the database.

For each size (`--sizes`, default 10000,100000) the script

1. makes a fresh database (SQLite: a new file in a temporary directory; PostgreSQL with
   `--database-url`: schema `public` dropped and recreated) and migrates it
   (`storage.migrate.upgrade`);
2. seeds it with SQLAlchemy Core bulk inserts (executemany in batches): one MSP (T0001,
   `max_customers` above the size), U0001 `owner`, U0002 `member`, and SIZE customers: ~40 %
   active trials (trial end over the next 30 days, 0-3 users), ~40 % paid (essentials /
   professional / enterprise, 5-500 licences, users <= licences, renewal within a year),
   ~10 % expired trials, ~10 % free; unique names made of common words ("Harbor Dental
   Group"), unique admin emails and account numbers (`bot.domain.customers`); ~30 % of the
   customers are assigned to one of ten other staff and ~2 % to the member U0002. Seeding
   time is reported apart and is not part of any figure;
3. starts the fake Slack Web API (tests/fake_slack.py) and the bot, `build_app(settings).web`
   served by aiohttp in a child process exactly as bench/ack_latency.py does (it runs
   `bench/ack_latency.py --serve bot`), on 127.0.0.1;
4. sends N freshly signed requests per case, at each concurrency of `--concurrency`
   (default 1, i.e. latency), after W warm-up requests per case:

   * `/msp customers trials` as the owner (first page of 20 + totals);
   * `/msp customers trials` as the member (only customers assigned to them);
   * `/msp customers all WORD` (a text filter on name and account number);
   * `/msp customer ACCOUNT-NUMBER` (an existing account, random) -> the card;
   * `/msp customer PLACE TRADE` (part of a name shared by several) -> the picker;
   * `/msp customer FULL NAME` (part of exactly one name) -> the card;
   * the Find modal's type-ahead: a `block_suggestion` for action_id `customer_search` with
     the first 3-6 letters of a name -> up to 100 options.

   These all answer in the HTTP response (the ack), so a request is timed from just before
   it is sent to the end of reading the response body: that is the message the bot sends.
   Every reply is checked against the seeded data: HTTP 200, the list's header, totals and
   first row, the card's account number, the picker's and type-ahead's number of options.

Goal: with 10,000 customers on SQLite, every median under 100 ms.

    python bench/customers.py                                # SQLite, 10,000 and 100,000
    python bench/customers.py --sizes 10000 -n 500 --concurrency 1,10
    python bench/customers.py --explain                      # + query plans and DB times
    python bench/customers.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DB
    python bench/customers.py --profile-server /tmp/prof     # cProfile the server
    python bench/customers.py --json /tmp/customers.json

`--database-url` DROPS schema public of a PostgreSQL database (or overwrites a SQLite file):
never point it at a database that matters. Only 127.0.0.1 is contacted. Exit status: 0, or 1
when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import _harness as harness  # first: the repository on the import path

# bench/ack_latency.py: the server child process and timed requests
import ack_latency as ack
import aiohttp
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.engine import make_url

from bot.domain.customers import (
    CustomerFilter,
    account_number_key,
    email_key,
    name_key,
    new_account_number,
)
from bot.domain.roles import Role
from bot.domain.terms import add_months
from bot.ids import ActionId
from bot.services import customers as service
from bot.services import staff
from bot.services.tenancy import Requester
from bot.views import customers as views
from storage import migrate
from storage.engine import Database, is_sqlite
from storage.models import Customer, CustomerAssignment, Msp
from storage.repositories import msps as msp_repo
from tests.fake_slack import FakeSlack
from tests.slack_requests import SignedRequest, SlackRequests
from tests.support import reset_postgres

TEAM_ID = ack.TEAM_ID
OWNER_ID = "U0001"
MEMBER_ID = "U0002"
OTHER_STAFF = tuple(f"U{n:04d}" for n in range(3, 13))
ASSIGNED_SHARE = 0.30  # of customers assigned to one of OTHER_STAFF
MEMBER_SHARE = 0.02  # of customers (also) assigned to the member MEMBER_ID

DEFAULT_SIZES = (10_000, 100_000)
GOAL_SIZE = 10_000
GOAL_MEDIAN_MS = 100.0
PAGE_SIZE = 20  # handlers/customers.py PAGE_SIZE
PICKER_LIMIT = service.PICKER_LIMIT
BATCH_ROWS = 5_000
QUERIES_PER_CASE = 25  # distinct queries per case, used in turn
EXPLAIN_REPEATS = 5
PACKAGES = ("asyncpg",)
CASE_KEYS = (
    "trials-owner",
    "trials-member",
    "all-text",
    "customer-account",
    "customer-several",
    "customer-one",
    "typeahead",
)


def words(text_block: str) -> tuple[str, ...]:
    return tuple(text_block.split())


# Names are PLACE TRADE KIND ("Harbor Dental Group"): 70 x 63 x 30 = 132,300 combinations.
PLACES = words("""
Acorn Alder Alpine Amber Anchor Apex Arbor Ash Aspen Atlas Aurora Bay Beacon Birch Bluff
Boulder Bridge Brook Canyon Cascade Cedar Central Channel Coastal Cobalt Copper Coral Crest
Crown Cypress Delta Eagle Elm Ember Falcon Fern Fox Garnet Glacier Granite Harbor Hawk Heron
Highland Hill Iron Jade Juniper Lake Laurel Liberty Linden Maple Meadow Mesa Metro Mill
Oak Orchard Pacific Pine Pioneer Prairie Quarry Raven Redwood Ridge River Sage Summit
""")
TRADES = words("""
Accounting Advisory Aerospace Animal Architecture Auto Bakery Biotech Brewing Builders Cafe
Capital Cardiology Catering Chiropractic Clinic Construction Consulting Credit Dairy Dental
Design Dermatology Diagnostics Electric Energy Engineering Family Farms Fitness Florists
Freight Furniture Glass Hardware Health Heating Hospitality Insurance Interiors Kitchens
Landscaping Legal Logistics Machining Marine Media Medical Motors Optical Orthodontics
Packaging Pediatrics Pharmacy Physio Plumbing Printing Realty Roofing Software Surgical
Textiles Veterinary
""")
KINDS = words("""
Associates Brothers Center Collective Company Cooperative Corp Enterprises Group Holdings
Inc Labs Limited LLC Management Network Outfitters Partners Practice Pros Services Shop
Solutions Specialists Studio Supply Systems Trust Ventures Works
""")


# --------------------------------------------------------------------------- seeding


@dataclass
class SeededCustomer:
    id: int
    account_number: str
    name: str
    name_key: str
    status: str
    users: int
    trial_end: date | None


@dataclass
class Seeded:
    size: int
    msp_id: int
    migrate_s: float
    seed_s: float
    statuses: dict[str, int]
    assignments: int
    customers: list[SeededCustomer]
    member_ids: set[int]
    db_bytes: int | None = None


def company_names(size: int, rng: random.Random) -> list[str]:
    """`size` distinct "PLACE TRADE KIND" names; a number is appended past the word list."""
    combinations = [f"{p} {t} {k}" for p in PLACES for t in TRADES for k in KINDS]
    rng.shuffle(combinations)
    if size <= len(combinations):
        return combinations[:size]
    extra = (f"{name} {n}" for n in itertools.count(2) for name in combinations)
    return combinations + list(itertools.islice(extra, size - len(combinations)))


def account_numbers(size: int) -> list[str]:
    seen: set[str] = set()
    while len(seen) < size:
        seen.add(new_account_number())
    return list(seen)


def customer_row(
    name: str, account: str, rng: random.Random, *, msp_id: int, today: date, now: datetime
) -> dict[str, Any]:
    """One customers row, all columns given (executemany needs the same keys in every row)."""
    slug = "".join(ch for ch in name.lower() if ch.isalnum())
    email = f"it-admin@{slug}.example.com"
    row: dict[str, Any] = {
        "msp_id": msp_id,
        "account_number": account,
        "name": name,
        "name_key": name_key(name),
        "admin_email": email,
        "admin_email_key": email_key(email),
        "plan": "trial",
        "status": "active_trial",
        "trial_start": None,
        "trial_end": None,
        "licences": 0,
        "users": 0,
        "mau_this_month": 0,
        "max_mau_threshold": None,  # R20: never block
        "unit_price_cents": 7500,  # a licence's, a month
        "term": None,
        "contract_start": None,
        "renewal_date": None,
        "past_due": False,
        "data_used_gb": round(rng.uniform(0, 50), 2),
        "add_ons": [],
        "created_by": OWNER_ID,
        "notes": "",
        "version": 1,
        "created_at": now - timedelta(days=rng.randint(0, 900)),
        "updated_at": now,
    }
    kind = rng.random()
    if kind < 0.40:  # active trial
        end = today + timedelta(days=rng.randint(0, 30))
        users = rng.randint(0, 3)
        row.update(trial_start=end - timedelta(days=30), trial_end=end, users=users)
        row["mau_this_month"] = users
    elif kind < 0.80:  # paid
        licences = rng.randint(5, 500)
        users = rng.randint(0, licences)
        renewal = today + timedelta(days=rng.randint(1, 365))
        row.update(
            plan=rng.choices(("essentials", "professional", "enterprise"), (5, 3, 1))[0],
            status="paid",
            licences=licences,
            users=users,
            mau_this_month=rng.randint(0, users),
            unit_price_cents=rng.choice((4900, 7500, 9900, 15000, 25000)),
            term="annual",
            contract_start=add_months(renewal, -12),
            renewal_date=renewal,
            past_due=rng.random() < 0.05,
            add_ons=["backup"] if rng.random() < 0.2 else [],
        )
    elif kind < 0.90:  # expired trial
        end = today - timedelta(days=rng.randint(1, 365))
        row.update(
            status="expired_trial",
            trial_start=end - timedelta(days=30),
            trial_end=end,
            users=rng.randint(0, 3),
        )
    else:  # free
        row.update(plan="free", status="free", users=rng.randint(0, 10))
    return row


async def seed_customers(url: str, size: int, seed: int, extra_sql: Sequence[str]) -> Seeded:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    today = now.date()  # the MSP's time zone is UTC
    started = time.perf_counter()
    database = Database(url)
    try:
        async with database.unit_of_work() as session:
            for user_id, role in ((OWNER_ID, Role.OWNER), (MEMBER_ID, Role.MEMBER)):
                await staff.grant_role_as_operator(
                    session,
                    team_id=TEAM_ID,
                    target_user_id=user_id,
                    new_role=role,
                    timezone="UTC",
                    now=now,
                )
            msp = await msp_repo.get_by_team(session, TEAM_ID)
            assert msp is not None
            msp_id = msp.id
            await session.execute(
                update(Msp).where(Msp.id == msp_id).values(max_customers=size * 2 + 1000)
            )
        names = company_names(size, rng)
        accounts = account_numbers(size)
        rows = [
            customer_row(name, account, rng, msp_id=msp_id, today=today, now=now)
            for name, account in zip(names, accounts, strict=True)
        ]
        customers_table = Customer.__table__
        async with database.engine.begin() as connection:
            for start in range(0, size, BATCH_ROWS):
                await connection.execute(insert(customers_table), rows[start : start + BATCH_ROWS])
            ids = dict(
                (
                    await connection.execute(
                        select(Customer.account_number, Customer.id).where(
                            Customer.msp_id == msp_id
                        )
                    )
                ).all()
            )
            assignments: list[dict[str, Any]] = []
            member_ids: set[int] = set()
            for account in accounts:
                customer_id = ids[account]
                if rng.random() < ASSIGNED_SHARE:
                    user_id = rng.choice(OTHER_STAFF)
                    assignments.append({"customer_id": customer_id, "slack_user_id": user_id})
                if rng.random() < MEMBER_SHARE:
                    assignments.append({"customer_id": customer_id, "slack_user_id": MEMBER_ID})
                    member_ids.add(customer_id)
            for start in range(0, len(assignments), BATCH_ROWS):
                batch = assignments[start : start + BATCH_ROWS]
                await connection.execute(insert(CustomerAssignment.__table__), batch)
            # PostgreSQL's autovacuum would analyze a table this size within a minute; SQLite
            # is left as the bot leaves it (it never runs ANALYZE).
            if not is_sqlite(url):
                await connection.execute(text("ANALYZE"))
            for statement in extra_sql:
                await connection.execute(text(statement))
        if is_sqlite(url):
            async with database.engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await database.dispose()
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return Seeded(
        size=size,
        msp_id=msp_id,
        migrate_s=0.0,
        seed_s=time.perf_counter() - started,
        statuses=statuses,
        assignments=len(assignments),
        customers=[
            SeededCustomer(
                id=ids[row["account_number"]],
                account_number=row["account_number"],
                name=row["name"],
                name_key=row["name_key"],
                status=row["status"],
                users=row["users"],
                trial_end=row["trial_end"],
            )
            for row in rows
        ],
        member_ids=member_ids,
    )


def prepare(url: str, size: int, seed: int, extra_sql: Sequence[str]) -> Seeded:
    """Fresh database, migrated and seeded. Synchronous: alembic runs its own event loop."""
    if is_sqlite(url):
        database_file = make_url(url).database
        if database_file:
            for suffix in ("", "-wal", "-shm"):
                Path(database_file + suffix).unlink(missing_ok=True)
    else:
        asyncio.run(reset_postgres(url))
    started = time.perf_counter()
    migrate.upgrade(url)
    harness.quiet_logging()  # alembic may have touched logging
    migrate_s = time.perf_counter() - started
    seeded = asyncio.run(seed_customers(url, size, seed, extra_sql))
    seeded.migrate_s = migrate_s
    if is_sqlite(url) and make_url(url).database:
        seeded.db_bytes = Path(str(make_url(url).database)).stat().st_size
    return seeded


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Expected:
    """What a reply must show, computed from the seeded rows the way the queries select."""

    kind: str  # "list", "card", "picker", "options"
    query: str
    total: int = 0  # list: customers; picker/options: number of options
    trial_users: int = 0
    paid_users: int = 0
    first_account: str | None = None  # list: the first row; card: the account shown


@dataclass
class Case:
    key: str
    label: str
    user_id: str
    expected: list[Expected]  # used in turn
    command: str | None = None  # `/msp` text before the query; None: the type-ahead
    list_filter: CustomerFilter | None = None


def list_expected(
    customers: Sequence[SeededCustomer],
    which: CustomerFilter,
    text_query: str,
    *,
    only: set[int] | None = None,
) -> Expected:
    """service.list_page: statuses of the filter, name or account number contains the text;
    trials by (trial_end, name_key), others by name_key."""
    statuses = {"active_trial"} if which == CustomerFilter.TRIALS else None
    key = name_key(text_query)
    account_part = key.upper().replace("-", "")
    chosen = [
        c
        for c in customers
        if (only is None or c.id in only)
        and (statuses is None or c.status in statuses)
        and (not key or key in c.name_key or account_part in c.account_number.replace("-", ""))
    ]
    if which == CustomerFilter.TRIALS:
        chosen.sort(key=lambda c: (c.trial_end or date.max, c.name_key))
    else:
        chosen.sort(key=lambda c: c.name_key)
    paid = ("paid", "pending_cancellation")
    return Expected(
        kind="list",
        query=text_query,
        total=len(chosen),
        trial_users=sum(c.users for c in chosen if c.status == "active_trial"),
        paid_users=sum(c.users for c in chosen if c.status in paid),
        first_account=chosen[0].account_number if chosen else None,
    )


def search_matches(customers: Sequence[SeededCustomer], query: str) -> list[SeededCustomer]:
    """service.find: the account number is the query, or the name contains it."""
    key, account = name_key(query), account_number_key(query)
    return [
        c for c in customers if key in c.name_key or c.account_number.replace("-", "") == account
    ]


def build_cases(seeded: Seeded, seed: int) -> list[Case]:
    rng = random.Random(seed + 1)
    customers = seeded.customers
    sample = rng.sample(customers, min(len(customers), 400))

    def distinct(candidates: Sequence[str], accept: Callable[[str], Expected | None]) -> list:
        chosen: list[Expected] = []
        for query in dict.fromkeys(candidates):
            expected = accept(query)
            if expected is not None:
                chosen.append(expected)
            if len(chosen) == QUERIES_PER_CASE:
                break
        return chosen

    def picker(query: str) -> Expected | None:
        found = search_matches(customers, query)
        if len(found) < 2:
            return None
        return Expected("picker", query, total=min(len(found), PICKER_LIMIT))

    def card(query: str) -> Expected | None:
        found = search_matches(customers, query)
        if len(found) != 1:
            return None
        return Expected("card", query, first_account=found[0].account_number)

    def options(query: str) -> Expected | None:
        found = search_matches(customers, query)
        return Expected("options", query, total=min(len(found), PICKER_LIMIT)) if found else None

    words = rng.sample(TRADES, min(len(TRADES), QUERIES_PER_CASE))
    by_account = [
        Expected("card", c.account_number, first_account=c.account_number)
        for c in sample[:QUERIES_PER_CASE]
    ]
    return [
        Case(
            "trials-owner",
            "customers trials (owner)",
            OWNER_ID,
            [list_expected(customers, CustomerFilter.TRIALS, "")],
            command="customers trials",
            list_filter=CustomerFilter.TRIALS,
        ),
        Case(
            "trials-member",
            "customers trials (member)",
            MEMBER_ID,
            [list_expected(customers, CustomerFilter.TRIALS, "", only=seeded.member_ids)],
            command="customers trials",
            list_filter=CustomerFilter.TRIALS,
        ),
        Case(
            "all-text",
            "customers all WORD",
            OWNER_ID,
            [list_expected(customers, CustomerFilter.ALL, word.lower()) for word in words],
            command="customers all",
            list_filter=CustomerFilter.ALL,
        ),
        Case("customer-account", "customer ACCOUNT-NO", OWNER_ID, by_account, command="customer"),
        Case(
            "customer-several",
            "customer PLACE TRADE (picker)",
            OWNER_ID,
            distinct([" ".join(c.name.split()[:2]) for c in sample], picker),
            command="customer",
        ),
        Case(
            "customer-one",
            "customer FULL NAME (card)",
            OWNER_ID,
            distinct([c.name for c in sample], card),
            command="customer",
        ),
        Case(
            "typeahead",
            "type-ahead (3-6 letters)",
            OWNER_ID,
            distinct([c.name_key[: rng.randint(3, 6)].rstrip() for c in sample], options),
        ),
    ]


def build_request(case: Case, expected: Expected, signer: SlackRequests) -> SignedRequest:
    if case.command is None:
        return signer.block_suggestion(
            action_id=ActionId.CUSTOMER_SEARCH, value=expected.query, user_id=case.user_id
        )
    return signer.slash_command(f"{case.command} {expected.query}".strip(), user_id=case.user_id)


def check_reply(case: Case, expected: Expected, status: int, body: bytes) -> str | None:
    """None when the reply is what the seeded data says it must be, else why not."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    try:
        reply = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}"
    if expected.kind == "options":
        got = len(reply.get("options", []))
        return None if got == expected.total else f"{got} options, expected {expected.total}"
    blocks = reply.get("blocks") or []
    if not blocks:
        return f"no blocks: {body[:200]!r}"
    if expected.kind == "list":
        return check_list(case, expected, blocks)
    if expected.kind == "card":
        marker = f"Account `{expected.first_account}`"
        shown = json.dumps(blocks)
        return None if marker in shown else f"no card for {expected.first_account}: {shown[:200]}"
    accessory = blocks[0].get("accessory") or {}
    got = len(accessory.get("options", []))
    if accessory.get("action_id") != ActionId.PICK_CUSTOMER or got != expected.total:
        return f"picker with {got} options, expected {expected.total}: {json.dumps(blocks)[:200]}"
    return None


def check_list(case: Case, expected: Expected, blocks: list[dict[str, Any]]) -> str | None:
    assert case.list_filter is not None
    title = views.FILTER_TITLES[case.list_filter]
    header = blocks[0].get("text", {}).get("text", "")
    if not header.startswith(title):
        return f"header {header!r}, expected {title!r}"
    totals = blocks[1]["elements"][0]["text"]
    pages = max(1, -(-expected.total // PAGE_SIZE))
    wanted = [f"*{expected.total:,}* customer", f"page 1 of {pages}"]
    if case.list_filter in (CustomerFilter.TRIALS, CustomerFilter.ALL):
        wanted.append(f"*{expected.trial_users:,}* trial users")
    if case.list_filter == CustomerFilter.ALL:
        wanted.append(f"*{expected.paid_users:,}* active (billed) users")
    missing = [part for part in wanted if part not in totals]
    if missing:
        return f"totals {totals!r} lack {missing}"
    if expected.first_account is not None:
        first = blocks[2].get("fields", [{}])[0].get("text", "")
        if not first.endswith(expected.first_account):
            return f"first row {first!r}, expected account {expected.first_account}"
    return None


# --------------------------------------------------------------------------- load


@dataclass
class CaseResult:
    case: str
    label: str
    concurrency: int
    requests: int
    failures: int
    first_failure: str | None
    wall_s: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    reply_bytes: int
    server_cpu_us_per_request: float | None


async def run_case(
    session: aiohttp.ClientSession,
    served: ack.Served,
    signer: SlackRequests,
    case: Case,
    *,
    requests: int,
    concurrency: int,
) -> CaseResult:
    latencies: list[float] = []
    failures: list[str] = []
    sizes: list[int] = []
    remaining = iter(range(requests))

    async def worker() -> None:
        for number in remaining:
            expected = case.expected[number % len(case.expected)]
            signed = build_request(case, expected, signer)  # signed now
            timed = await ack.timed_post(session, served.url, signed)
            latencies.append(timed.seconds)
            if timed.error:
                failures.append(timed.error)
                continue
            sizes.append(len(timed.body))
            problem = check_reply(case, expected, timed.status, timed.body)
            if problem:
                failures.append(f"{expected.query!r}: {problem}")

    gc.collect()
    server_cpu_before = harness.process_cpu_s(served.pid)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    server_cpu_after = harness.process_cpu_s(served.pid)
    server_cpu = (
        None
        if server_cpu_before is None or server_cpu_after is None
        else (server_cpu_after - server_cpu_before) / requests * 1e6
    )
    ordered = sorted(latencies)
    return CaseResult(
        case=case.key,
        label=case.label,
        concurrency=concurrency,
        requests=requests,
        failures=len(failures),
        first_failure=failures[0] if failures else None,
        wall_s=wall,
        rps=requests / wall,
        p50_ms=harness.percentile_ms(ordered, 0.50),
        p95_ms=harness.percentile_ms(ordered, 0.95),
        p99_ms=harness.percentile_ms(ordered, 0.99),
        max_ms=ordered[-1] * 1000.0,
        mean_ms=statistics.fmean(ordered) * 1000.0,
        reply_bytes=int(statistics.median(sizes)) if sizes else 0,
        server_cpu_us_per_request=server_cpu,
    )


async def measure(
    args: argparse.Namespace, url: str, cases: list[Case], size: int
) -> tuple[list[CaseResult], dict[str, int]]:
    results: list[CaseResult] = []
    profile_dir = None
    if args.profile_server:
        profile_dir = args.profile_server / f"{make_url(url).get_backend_name()}-{size}"
        profile_dir.mkdir(parents=True, exist_ok=True)
    async with FakeSlack(team_id=TEAM_ID, bot_token=ack.BOT_TOKEN) as fake:
        signer = SlackRequests(
            signing_secret=ack.SIGNING_SECRET, team_id=TEAM_ID, hooks_base_url=fake.hooks_base_url
        )
        connector = aiohttp.TCPConnector(limit=max(args.concurrency))
        timeout = aiohttp.ClientTimeout(total=ack.REQUEST_TIMEOUT_S)
        served = await ack.start_subprocess("bot", fake.base_url, url, profile_dir=profile_dir)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                for concurrency in args.concurrency:
                    for case in cases:
                        if args.warmup:
                            warm = await run_case(
                                session,
                                served,
                                signer,
                                case,
                                requests=args.warmup,
                                concurrency=concurrency,
                            )
                            if warm.failures:
                                print(f"  warm-up {case.key}: {warm.first_failure}", flush=True)
                        result = await run_case(
                            session,
                            served,
                            signer,
                            case,
                            requests=args.requests,
                            concurrency=concurrency,
                        )
                        results.append(result)
                        print_result(result)
        finally:
            await served.stop()
        return results, ack.count_calls(fake)


# --------------------------------------------------------------------------- explain


async def explain(url: str, seeded: Seeded, cases: list[Case]) -> dict[str, Any]:
    """Each case's service call in this process: its time (median of a few, warm), the time of
    rendering the reply's blocks, and each statement with its plan (SQLite: EXPLAIN QUERY PLAN;
    PostgreSQL: EXPLAIN ANALYZE)."""
    database = Database(url)
    captured: list[tuple[str, Any, float]] = []
    postgres = not is_sqlite(url)

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        started = conn.info["bench_started"].pop()
        captured.append((statement, parameters, time.perf_counter() - started))

    event.listen(database.engine.sync_engine, "before_cursor_execute", before)
    event.listen(database.engine.sync_engine, "after_cursor_execute", after)
    report: dict[str, Any] = {}
    try:
        for case in cases:
            expected = case.expected[0]
            role = Role.MEMBER if case.user_id == MEMBER_ID else Role.OWNER
            requester = Requester(seeded.msp_id, TEAM_ID, case.user_id, role)

            async def call(case: Case = case, expected: Expected = expected, r=requester) -> Any:
                now = datetime.now(UTC)
                async with database.unit_of_work() as session:
                    if case.list_filter is not None:
                        return await service.list_page(
                            session,
                            requester=r,
                            which=case.list_filter,
                            text=expected.query,
                            page=1,
                            page_size=PAGE_SIZE,
                            now=now,
                        )
                    rows = await service.find(session, requester=r, query=expected.query, now=now)
                    if case.command is not None and len(rows) == 1:
                        return await service.show(
                            session, requester=r, customer_id=rows[0].id, now=now
                        )
                    return rows

            def render(result: Any, case: Case = case, expected: Expected = expected) -> Any:
                if case.list_filter is not None:
                    return views.list_message(result).as_kwargs()
                if case.command is None:
                    return views.picker_options(result)
                if isinstance(result, list):
                    return views.picker_message(query=expected.query, rows=result).as_kwargs()
                return views.card_message(result).as_kwargs()

            service_s, render_s = [], []
            for _ in range(EXPLAIN_REPEATS):
                captured.clear()
                started = time.perf_counter()
                result = await call()
                service_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                render(result)
                render_s.append(time.perf_counter() - started)
            statements = list(captured)
            plans = []
            async with database.engine.connect() as connection:
                for statement, parameters, seconds in statements:
                    if not statement.lstrip().upper().startswith("SELECT"):
                        continue
                    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
                    rows = (await connection.exec_driver_sql(prefix + statement, parameters)).all()
                    plan = [str(row[0]) if postgres else f"{row[1]:>3} {row[3]}" for row in rows]
                    plans.append({"sql": statement, "ms": seconds * 1000.0, "plan": plan})
            report[case.key] = {
                "query": expected.query,
                "service_ms": statistics.median(service_s) * 1000.0,
                "render_ms": statistics.median(render_s) * 1000.0,
                "statements": plans,
            }
    finally:
        await database.dispose()
    return report


def print_explain(report: dict[str, Any]) -> None:
    for key, entry in report.items():
        print(
            f"\n-- {key} ({entry['query']!r}): service call {entry['service_ms']:.1f} ms,"
            f" rendering the reply {entry['render_ms']:.1f} ms (in this process, warm)"
        )
        for statement in entry["statements"]:
            sql = " ".join(statement["sql"].split())
            print(f"   {statement['ms']:7.2f} ms  {sql[:160]}{'...' if len(sql) > 160 else ''}")
            for line in statement["plan"]:
                print(f"              {line}")


# --------------------------------------------------------------------------- report


@dataclass
class SizeReport:
    size: int
    backend: str
    migrate_s: float
    seed_s: float
    statuses: dict[str, int]
    assignments: int
    member_customers: int
    member_trials: int
    db_bytes: int | None
    results: list[CaseResult] = field(default_factory=list)
    fake_slack_calls: dict[str, int] = field(default_factory=dict)
    explain: dict[str, Any] | None = None
    queries: dict[str, list[str]] = field(default_factory=dict)


def print_header(machine: dict[str, Any], args: argparse.Namespace, database: str) -> None:
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    print(
        f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']!r}"
        f" load average before: {machine['load_average_before']}"
    )
    print(f"         {machine['python']} on {machine['platform']}")
    print(f"         {packages}")
    print("setup:   the bot in a child process (bench/ack_latency.py --serve bot),")
    print("         the load generator in this one (same cores); timing = request sent ->")
    print("         response body read (the reply is in the ack)")
    concurrency = ",".join(str(c) for c in args.concurrency)
    print(
        f"load:    {args.requests} requests per case at concurrency {concurrency},"
        f" after {args.warmup} warm-up request(s) per case"
    )
    print(f"db:      {database}")


def print_seeded(report: SizeReport) -> None:
    statuses = report.statuses
    size_text = f", file {report.db_bytes / 1e6:.1f} MB" if report.db_bytes else ""
    print(
        f"\n== {report.size:,} customers on {report.backend} ==\n"
        f"seeded in {report.seed_s:.1f} s (migrations {report.migrate_s:.1f} s, not measured):"
        f" {statuses.get('active_trial', 0):,} active trials, {statuses.get('paid', 0):,} paid,"
        f" {statuses.get('expired_trial', 0):,} expired trials, {statuses.get('free', 0):,} free;"
        f"\n  {report.assignments:,} assignments, the member sees {report.member_customers:,}"
        f" customers ({report.member_trials:,} trials){size_text}"
    )
    print(
        f"{'case':31} {'C':>3} {'N':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
        f" {'max ms':>7} {'req/s':>6} {'srv CPU us':>10} {'bytes':>6}  failures"
    )


def print_result(result: CaseResult) -> None:
    cpu = result.server_cpu_us_per_request
    failed = f"{result.failures} ({result.first_failure})" if result.failures else "0"
    print(
        f"{result.label:31} {result.concurrency:>3} {result.requests:>5} {result.p50_ms:7.1f}"
        f" {result.p95_ms:7.1f} {result.p99_ms:7.1f} {result.max_ms:7.1f} {result.rps:6.0f}"
        f" {(f'{cpu:.0f}' if cpu is not None else '-'):>10} {result.reply_bytes:>6}  {failed}",
        flush=True,
    )


def judge_goal(reports: list[SizeReport]) -> dict[str, Any]:
    at_goal = [r for r in reports if r.size == GOAL_SIZE and r.backend == "sqlite"]
    if not at_goal:
        return {"evaluated": False, "why": f"needs {GOAL_SIZE:,} customers on SQLite"}
    latency = [r for r in at_goal[0].results if r.concurrency == 1]
    if not latency:
        return {"evaluated": False, "why": "needs concurrency 1"}
    failures = sum(r.failures for r in latency)
    slow = {r.case: round(r.p50_ms, 1) for r in latency if r.p50_ms >= GOAL_MEDIAN_MS}
    worst = max(latency, key=lambda r: r.p50_ms)
    return {
        "evaluated": failures == 0,
        "met": failures == 0 and not slow,
        "slowest_case": worst.case,
        "slowest_p50_ms": round(worst.p50_ms, 1),
        "too_slow": slow,
        **({"why": f"{failures} request(s) failed"} if failures else {}),
    }


def print_goal(goal: dict[str, Any]) -> None:
    target = f"{GOAL_SIZE:,} customers on SQLite, C=1: every median < {GOAL_MEDIAN_MS:.0f} ms"
    if not goal.get("evaluated"):
        print(f"\ngoal ({target}): not evaluated: {goal['why']}")
        return
    verdict = "MET" if goal["met"] else f"NOT MET (too slow: {goal['too_slow']})"
    print(
        f"\ngoal ({target}): {verdict}; slowest median: {goal['slowest_case']}"
        f" {goal['slowest_p50_ms']} ms"
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Latency of /msp customers, /msp customer and the customer type-ahead"
        " with many customers in the database."
    )
    parser.add_argument(
        "--sizes",
        type=harness.whole_numbers,
        default=list(DEFAULT_SIZES),
        help="customers to seed, one fresh database each (10000,100000)",
    )
    parser.add_argument(
        "--requests", "-n", type=harness.positive, default=200, help="per case (200)"
    )
    parser.add_argument(
        "--concurrency", "-c", type=harness.whole_numbers, default=[1], help="comma-separated (1)"
    )
    parser.add_argument("--warmup", "-w", type=int, default=20, help="per case (20)")
    parser.add_argument(
        "--cases",
        type=lambda value: [key.strip() for key in value.split(",") if key.strip()],
        help=f"comma-separated subset of: {', '.join(CASE_KEYS)} (all)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data (1)")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL (schema public is DROPPED and recreated) or a SQLite file URL;"
        " default: fresh SQLite files in a temporary directory",
    )
    parser.add_argument(
        "--after-seed-sql",
        action="append",
        default=[],
        metavar="SQL",
        help="run this statement after seeding (repeatable), e.g. to try an index",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also time each case's service call in this process and print query plans",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument(
        "--profile-server",
        type=Path,
        metavar="DIR",
        help="run the server under cProfile; writes DIR/<backend>-<size>/bot.prof"
        " (inflates the timings; for finding hot spots only)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.cases or ()) - set(CASE_KEYS)
    if unknown or args.cases == []:
        parser.error(f"--cases: choose from {', '.join(CASE_KEYS)}")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    return args


def machine_info() -> dict[str, Any]:
    machine = harness.machine_info()
    for package in PACKAGES:
        try:
            machine["packages"][package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            machine["packages"][package] = None
    return machine


def run_size(args: argparse.Namespace, url: str, size: int) -> SizeReport:
    seeded = prepare(url, size, args.seed, args.after_seed_sql)
    cases = build_cases(seeded, args.seed)
    if args.cases:
        cases = [case for case in cases if case.key in args.cases]
    member_trials = sum(
        1 for c in seeded.customers if c.id in seeded.member_ids and c.status == "active_trial"
    )
    report = SizeReport(
        size=size,
        backend=make_url(url).get_backend_name(),
        migrate_s=seeded.migrate_s,
        seed_s=seeded.seed_s,
        statuses=seeded.statuses,
        assignments=seeded.assignments,
        member_customers=len(seeded.member_ids),
        member_trials=member_trials,
        db_bytes=seeded.db_bytes,
        queries={case.key: [e.query for e in case.expected] for case in cases},
    )
    print_seeded(report)
    report.results, report.fake_slack_calls = asyncio.run(measure(args, url, cases, size))
    if args.explain:
        report.explain = asyncio.run(explain(url, seeded, cases))
        print_explain(report.explain)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.quiet_logging()
    machine = machine_info()
    reports: list[SizeReport] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="msp-bench-customers-") as tmp:
        shown = (
            make_url(args.database_url).render_as_string(hide_password=True)
            if args.database_url
            else f"sqlite+aiosqlite:///{tmp}/customers-SIZE.db (a fresh file per size)"
        )
        print_header(machine, args, shown)
        for size in args.sizes:
            url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / f'customers-{size}.db'}"
            reports.append(run_size(args, url, size))
            if not args.database_url:
                for suffix in ("", "-wal", "-shm"):
                    Path(tmp, f"customers-{size}.db{suffix}").unlink(missing_ok=True)
    elapsed = time.perf_counter() - started
    goal = judge_goal(reports)
    print_goal(goal)
    machine["load_average_after"] = harness.load_average()
    print(f"total time: {elapsed:.1f} s; load average after: {machine['load_average_after']}")
    if args.json:
        payload = {
            "machine": machine,
            "settings": {
                key: (str(value) if isinstance(value, Path) else value)
                for key, value in vars(args).items()
                if key != "database_url"
            }
            | {
                "database": shown,
                "page_size": PAGE_SIZE,
            },
            "sizes": [asdict(report) for report in reports],
            "goal": goal,
            "total_s": elapsed,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    failed = any(result.failures for report in reports for result in report.results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
