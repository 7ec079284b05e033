"""One MSP lived day by day for years: random actions through the services, as the
handlers call them with real roles, then the day's scheduler jobs as `msp-bot
scheduler run` runs them; after every step the database is held against the
test's own model (tests/simulation/model.py) and against the rules R1-R22 that a
state can break.

Why a plain `random.Random` with a fixed seed rather than hypothesis's stateful
testing: a day is a fixed sequence (jobs, then actions), three years are about a
thousand days and a few thousand actions, and what fails must be replayed from two
numbers (seed, days) within the CI budget. Hypothesis would shrink a failure, but
its budget counts examples, not days, and shrinking a three-year history on a
real database would take far longer than the run. A failure prints the seed, the
day and the steps that led there instead.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select

from bot.domain.commercial import CommercialChange
from bot.domain.customers import CustomerFilter, Plan
from bot.domain.policy import Change
from bot.domain.requests import RequestType
from bot.domain.roles import Role
from bot.domain.terms import Term
from bot.errors import BotError, RuleBroken
from bot.notify.notifiers import Notifiers, outbox_notifiers
from bot.services import commercial, customer_csv, dashboard, requests, settings, usage
from bot.services import customers as customer_service
from bot.services.customers import NewCustomer
from bot.services.tenancy import Requester
from scheduler.jobs import RUNNABLE
from storage.engine import Database
from storage.models import AuditEvent, ChangeRequest, Customer, Msp
from tests.seed import grant
from tests.simulation.model import PAYING, RANK, Account, Book, Request, add_months
from tests.support import TEAM_ID, FakeClock

# Pieces other work may not have landed yet: an action whose service is missing is
# left out of the action set by turning its switch off (none is off today).
PIECES: dict[str, bool] = {
    "paid_terms": True,  # contract start, term, renewal job (add_paid, renewals)
    "billing_api": True,  # commercial.update_accounts (past_due_flip)
    "owner_corrections": True,  # commercial.correct_billing (price_correction)
    "partial_usage": True,  # usage reports carrying only some figures
    "csv_lifecycle": True,  # customer_csv import of trials and paid accounts
}

OWNER, ADMIN, APPROVER, MEMBER, VIEWER = "UOWNER1", "UADMIN1", "UAPPROVE1", "UMEMBER1", "UVIEW1"
ROLES = {OWNER: Role.OWNER, ADMIN: Role.ADMIN, APPROVER: Role.APPROVER}
ROLES |= {MEMBER: Role.MEMBER, VIEWER: Role.VIEWER}
BILLING_ACTOR = "api:billing-sim"
USAGE_ACTOR = "api:usage-sim"
TRIAL_DAYS = 21  # not the default 30, so R4 is proved for any length
MAX_CUSTOMERS = 30
START = date(2027, 1, 1)
JOBS_AT = time(0, 5)
ACTIONS_FROM = time(10, 0)
# Jobs that change state, in the order of the schedule's sweeps, every day; then
# the notice jobs, which must change nothing a check sees (every `notices_every`
# days: the default run keeps its CI budget with them weekly).
LIFECYCLE_JOBS = (
    "apply_scheduled_changes",
    "end_trials",
    "expire_pending_requests",
)
NOTICE_JOBS = (
    # apply_scheduled_changes rolls the terms due first; the renewals job (the same
    # roll on its own) runs with the notices, after it, and must find nothing left.
    "renewals",
    "trial_expiry_notices",
    "renewal_window_notices",
    "mau_notices",
    "request_reminders",
    "max_mau_alerts",
    "digests",
    "wake_snoozed_alerts",
)
NOTHING_TO_ACT_ON = frozenset({"no_account", "none_pending", "none_scheduled", "none_deleted"})
ADD_ONS = ("activconnect", "screen_details")

# Every action kind, with its weight in the daily draw.
ACTION_WEIGHTS: dict[str, int] = {
    "add_trial": 6,
    "add_paid": 4,
    "add_duplicate": 1,
    "add_reusing_deleted": 1,
    "viewer_add": 1,
    "trial_extension": 3,
    "upgrade": 4,
    "add_licences": 4,
    "decrease_licences": 3,
    "downgrade": 2,
    "add_addon": 2,
    "remove_addon": 2,
    "cancel": 4,
    "reactivate": 2,
    "delete_account": 5,
    "remove_expired_trial": 2,
    "approve": 18,
    "deny": 3,
    "reverse_deletion": 2,
    "delete_record": 1,
    "usage_report": 6,
    "past_due_flip": 2,
    "price_correction": 1,
    "import_csv": 1,
}
NEEDS: dict[str, str] = {
    "add_paid": "paid_terms",
    "past_due_flip": "billing_api",
    "price_correction": "owner_corrections",
    "import_csv": "csv_lifecycle",
}
CUSTOMER_COLUMNS = (
    Customer.id,
    Customer.account_number,
    Customer.name,
    Customer.name_key,
    Customer.admin_email_key,
    Customer.status,
    Customer.plan,
    Customer.trial_end,
    Customer.licences,
    Customer.unit_price_cents,
    Customer.term,
    Customer.contract_start,
    Customer.renewal_date,
    Customer.users,
    Customer.data_used_gb,
    Customer.past_due,
    Customer.add_ons,
)
COMPARED = (
    "status",
    "plan",
    "trial_end",
    "licences",
    "unit_price_cents",
    "term",
    "contract_start",
    "renewal_date",
    "users",
    "data_used_gb",
    "past_due",
    "add_ons",
)


class SimulationFailed(AssertionError):
    pass


@dataclass
class Simulation:
    db: Database
    clock: FakeClock
    seed: int
    days: int
    actions_per_day: int  # at most, on a weekday
    notices_every: int = 1  # days between runs of the notice jobs
    check_each_job: bool = True  # or once after the day's jobs
    notifiers: Notifiers = field(default_factory=outbox_notifiers)
    rng: random.Random = field(init=False)
    book: Book = field(init=False)
    msp_id: int = 0
    day: int = 0
    history: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    last_audit_id: int = 0
    last_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_requests: dict[int, str] = field(default_factory=dict)
    serial: int = 0
    checks: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.book = Book(trial_days=TRIAL_DAYS, max_customers=MAX_CUSTOMERS)

    # ------------------------------------------------------------ running

    @property
    def today(self) -> date:
        return self.clock.now.date()

    def requester(self, user: str) -> Requester:
        return Requester(msp_id=self.msp_id, team_id=TEAM_ID, user_id=user, role=ROLES[user])

    async def run(self) -> None:
        self.clock.set(datetime.combine(START, JOBS_AT, UTC))
        for user, role in ROLES.items():
            await grant(self.db, user, role)
        async with self.db.unit_of_work() as session:
            await settings.change_grants_as_operator(
                session,
                team_id=TEAM_ID,
                change=settings.GrantsChange(max_customers=MAX_CUSTOMERS, trial_days=TRIAL_DAYS),
                now=self.clock.now,
            )
            msp = (await session.execute(select(Msp).where(Msp.team_id == TEAM_ID))).scalar_one()
            self.msp_id = msp.id
        await self.check("set-up")
        kinds = [k for k in ACTION_WEIGHTS if PIECES.get(NEEDS.get(k, ""), True)]
        weights = [ACTION_WEIGHTS[k] for k in kinds]
        for day in range(self.days):
            self.day = day
            moment = datetime.combine(START + timedelta(days=self.day), JOBS_AT, UTC)
            self.clock.set(moment)
            await self.run_jobs()
            self.clock.set(datetime.combine(self.today, ACTIONS_FROM, UTC))
            # Staff work on weekdays, 1 to `actions_per_day` actions; the jobs run daily.
            actions = self.rng.randint(1, self.actions_per_day) if self.today.weekday() < 5 else 0
            for _ in range(actions):
                kind = self.rng.choices(kinds, weights)[0]
                self.clock.advance(minutes=self.rng.randint(1, 40))
                outcome = await getattr(self, f"act_{kind}")()
                self.counts[kind] += 1
                self.outcomes[f"{kind}:{outcome}"] += 1
                if outcome not in NOTHING_TO_ACT_ON:  # no service was called
                    await self.check(f"{kind} -> {outcome}")

    def summary(self) -> str:
        acted = sum(
            n for key, n in self.outcomes.items() if key.split(":")[1] not in NOTHING_TO_ACT_ON
        )
        return (
            f"seed {self.seed}: {self.days} days, {sum(self.counts.values())} actions drawn "
            f"({acted} acted), {len(self.book.requests)} requests, "
            f"{len(self.book.accounts)} accounts ({len(self.book.live())} live at the end), "
            f"{self.checks} checks; outcomes: {dict(sorted(self.outcomes.items()))}"
        )

    async def run_jobs(self) -> None:
        now = self.clock.now
        jobs = LIFECYCLE_JOBS + (NOTICE_JOBS if self.day % self.notices_every == 0 else ())
        changed = False
        for job in jobs:
            done = await RUNNABLE[job](
                db=self.db,
                clock=lambda: now,
                wake=lambda: None,
                notifiers=self.notifiers,
                only=None,
            )
            if job == "renewals" and done:
                raise self.fail("renewals", [f"{done} terms were left to roll after the sweep"])
            if job == "apply_scheduled_changes":
                self.book.roll_renewals(self.today)
                self.book.complete_deletions(self.today)
            elif job == "end_trials":
                self.book.end_trials(self.today)
            elif job == "expire_pending_requests":
                self.book.expire_requests(now)
            if done:
                self.log(f"job {job}: {done}")
            changed = changed or bool(done)
            if self.check_each_job or job == jobs[-1]:
                last = job == jobs[-1]
                await self.check(f"job {job}", after_jobs=last, figures=last and changed)
        for account in self.book.live():
            if account.status == "active_trial" and account.trial_days_seen:
                account.trial_days_seen += 1

    def log(self, line: str) -> None:
        self.history.append(f"day {self.day} {self.clock.now:%Y-%m-%d %H:%M} {line}")

    def fail(self, step: str, problems: list[str]) -> SimulationFailed:
        """The seed, the day, what is wrong, and the steps that led there: every step
        about the accounts and requests named, then the last ones."""
        named = set(re.findall(r"[0-9A-Z]{4}-[0-9A-Z]{4}|#\d+", " ".join(problems)))
        about = [line for line in self.history[:-40] if any(n in line for n in named)]
        tail = "\n  ".join([*about, "...", *self.history[-40:]])
        return SimulationFailed(
            f"seed {self.seed}, day {self.day} ({self.today}), after {step}:\n- "
            + "\n- ".join(problems)
            + f"\nReplay: MSPBOT_SIM_SEED={self.seed} MSPBOT_SIM_DAYS={self.day + 1} "
            "pytest tests/simulation -k replay\nLast steps:\n  " + tail
        )

    # ------------------------------------------------------------ picking

    def pick(
        self, *statuses: str, where: Callable[[Account], bool] | None = None
    ) -> Account | None:
        found = [
            a
            for a in self.book.accounts.values()
            if a.status in statuses and (where is None or where(a))
        ]
        return self.rng.choice(sorted(found, key=lambda a: a.id)) if found else None

    def new_identity(self) -> tuple[str, str]:
        self.serial += 1
        return f"Org {self.serial:04d}", f"admin{self.serial}@org{self.serial}.example"

    # ------------------------------------------------------------ adding

    async def _add(self, new: NewCustomer, user: str) -> tuple[int, str] | BotError:
        try:
            async with self.db.unit_of_work() as session:
                card = await customer_service.create_customer(
                    session, requester=self.requester(user), new=new, now=self.clock.now
                )
                return card.id, card.account_number
        except BotError as error:
            return error

    def _full(self) -> bool:
        return len(self.book.live()) >= self.book.max_customers

    async def _expect_add(self, new: NewCustomer, user: str, what: str) -> tuple[Any, str]:
        full = self._full()
        result = await self._add(new, user)
        self.log(f"{what} {new.name!r} <{new.admin_email}> by {user}: {_said(result)}")
        if full:
            if not isinstance(result, BotError):
                raise self.fail(what, ["R3: a customer was added past the maximum"])
            return None, "refused_full"
        if isinstance(result, BotError):
            raise self.fail(what, [f"an add with a free name and email was refused: {result}"])
        return result, "added"

    async def act_add_trial(self) -> str:
        name, email = self.new_identity()
        user = self.rng.choice([OWNER, ADMIN, MEMBER])
        threshold = self.rng.choice([None, None, 500, 2000])
        new = NewCustomer(name=name, admin_email=email, max_mau_threshold=threshold)
        added, outcome = await self._expect_add(new, user, "add trial")
        if added is not None:
            account = Account(*added, name, email, "", "", 7500)
            self.book.add_trial(account, self.today)
        return outcome

    async def act_add_paid(self) -> str:
        name, email = self.new_identity()
        term = self.rng.choice(["monthly", "annual"])
        start = self.today - timedelta(days=self.rng.randint(0, 400))
        plan = self.rng.choice([Plan.ESSENTIALS, Plan.PROFESSIONAL])
        licences = self.rng.randint(1, 30)
        price = Decimal(self.rng.choice(["75.00", "19.99", "33.33", "12.50"]))
        new = NewCustomer(
            name=name,
            admin_email=email,
            plan=plan,
            licences=licences,
            term=Term(term),
            contract_start=start,
            unit_price=price,
        )
        added, outcome = await self._expect_add(new, ADMIN, "add paid")
        if added is not None:
            cents = int(price * 100)
            account = Account(*added, name, email, "", plan.value, cents, licences=licences)
            self.book.add_paid(account, term=term, start=start, today=self.today)
        return outcome

    async def act_add_duplicate(self) -> str:
        """R1/R2: a live account's name or email, in another case, is refused."""
        other = self.pick("active_trial", "expired_trial", "paid", "free", "pending_cancellation")
        if other is None:
            return "no_account"
        fresh_name, fresh_email = self.new_identity()
        if self.rng.random() < 0.5:
            new = NewCustomer(name=other.name.upper(), admin_email=fresh_email)
        else:
            new = NewCustomer(name=fresh_name, admin_email=f"  {other.email.upper()} ")
        result = await self._add(new, ADMIN)
        self.log(f"add duplicate of {other.number}: {_said(result)}")
        if not isinstance(result, BotError):
            raise self.fail("add duplicate", [f"R1/R2: a duplicate of {other.number} was added"])
        return "refused"

    async def act_add_reusing_deleted(self) -> str:
        """R1/R2: a deleted account frees its name and email at once."""
        gone = [a for a in self.book.accounts.values() if a.status == "deleted"]
        taken = {a.name.casefold() for a in self.book.live()} | {
            a.email.casefold() for a in self.book.live()
        }
        gone = [a for a in gone if a.name.casefold() not in taken and a.email not in taken]
        if not gone:
            return "none_deleted"
        old = self.rng.choice(sorted(gone, key=lambda a: a.id))
        new = NewCustomer(name=old.name.lower(), admin_email=old.email.upper())
        added, outcome = await self._expect_add(new, OWNER, f"add reusing {old.number}")
        if added is not None:
            account = Account(*added, new.name, new.admin_email, "", "", 7500)
            self.book.add_trial(account, self.today)
        return outcome

    async def act_viewer_add(self) -> str:
        name, email = self.new_identity()
        result = await self._add(NewCustomer(name=name, admin_email=email), VIEWER)
        self.log(f"viewer adds {name}: {_said(result)}")
        if not isinstance(result, BotError):
            raise self.fail("viewer add", ["a viewer added a customer"])
        return "refused"

    async def act_import_csv(self) -> str:
        """A small file through the operator's import: a trial and a paid account."""
        (n1, e1), (n2, e2) = self.new_identity(), self.new_identity()
        start = self.today - timedelta(days=self.rng.randint(0, 200))
        lines = [
            "name,admin_email,plan,licences,term,contract_start,unit_price",
            f"{n1},{e1},,,,,",
            f"{n2},{e2},essentials,4,monthly,{start.isoformat()},20.00",
        ]
        data = ("\n".join(lines) + "\n").encode()
        room = self.book.max_customers - len(self.book.live())
        try:
            parsed = customer_csv.parse_customer_csv(data, today=self.today)
            report = await customer_csv.import_customers_as_operator(
                self.db.unit_of_work,
                team_id=TEAM_ID,
                timezone="UTC",
                parsed=parsed,
                now=self.clock.now,
            )
        except BotError as error:
            self.log(f"import {n1}, {n2}: {_said(error)}")
            if room >= 2:
                raise self.fail("import", [f"a good file was refused with room: {error}"]) from None
            return "refused_full"
        self.log(f"import {n1}, {n2}: {len(report.accepted)} accepted")
        if room < 2:
            raise self.fail("import", ["R3: an import went past the maximum"])
        ids = await self._ids_by_name([n1, n2])
        trial = Account(ids[n1][0], ids[n1][1], n1, e1, "", "", 7500)
        self.book.add_trial(trial, self.today)
        paid = Account(ids[n2][0], ids[n2][1], n2, e2, "", "essentials", 2000, licences=4)
        self.book.add_paid(paid, term="monthly", start=start, today=self.today)
        return "imported"

    async def _ids_by_name(self, names: list[str]) -> dict[str, tuple[int, str]]:
        async with self.db.unit_of_work() as session:
            rows = await session.execute(
                select(Customer.name, Customer.id, Customer.account_number).where(
                    Customer.msp_id == self.msp_id,
                    Customer.name.in_(names),
                    Customer.status != "deleted",
                )
            )
            return {name: (id_, number) for name, id_, number in rows}

    # ------------------------------------------------------------ requests

    async def _submit(
        self,
        kind: str,
        account: Account,
        change: Change,
        *,
        user: str = ADMIN,
        schedule: bool = False,
    ) -> tuple[Any, BotError | None]:
        try:
            async with self.db.unit_of_work() as session:
                submitted = await requests.submit(
                    session,
                    requester=self.requester(user),
                    kind=RequestType(kind),
                    customer_id=account.id,
                    change=change,
                    reason="simulated",
                    schedule=schedule,
                    now=self.clock.now,
                    notifier=self.notifiers.requests,
                )
                row = await session.get(ChangeRequest, submitted.info.id)
                assert row is not None
                details = dict(row.details)
        except BotError as error:
            self.log(f"ask {kind} for {account.number} ({account.status}): refused: {error}")
            return None, error
        info = submitted.info
        self.book.requests[info.id] = Request(
            id=info.id,
            kind=kind,
            account_id=account.id,
            requested_by=user,
            expires_at=self.clock.now + timedelta(days=7),
            details=details,
            effective=info.effective_on,
        )
        self.log(f"ask {kind} for {account.number}: #{info.id} effective {info.effective_on}")
        return info, None

    async def act_trial_extension(self) -> str:
        account = self.pick("active_trial", "expired_trial")
        if account is None:
            return "no_account"
        days = self.rng.choice([None, 7, 14, 30])
        info, _ = await self._submit("trial_extension", account, Change(extension_days=days or 14))
        return "asked" if info else "refused"

    async def act_upgrade(self) -> str:
        account = self.pick(
            "active_trial", "expired_trial", "free", "paid", where=lambda a: RANK[a.plan] < 2
        )
        if account is None:
            return "no_account"
        higher = [p for p in ("essentials", "professional") if RANK[p] > _rank(account)]
        seats = self.rng.choice([None, None, self.rng.randint(1, 20)])
        change = Change(target_plan=Plan(self.rng.choice(higher)), licence_count=seats)
        info, _ = await self._submit("upgrade", account, change)
        return "asked" if info else "refused"

    async def act_reactivate(self) -> str:
        account = self.pick("free", "pending_cancellation")
        if account is None:
            return "no_account"
        target = None if account.status == "pending_cancellation" else Plan.ESSENTIALS
        info, _ = await self._submit("reactivate", account, Change(target_plan=target))
        return "asked" if info else "refused"

    async def act_add_licences(self) -> str:
        account = self.pick(*PAYING)
        if account is None:
            return "no_account"
        count = self.rng.randint(1, 12)
        quote = account.quote_cents(count, self.today)
        info, _ = await self._submit("add_licences", account, Change(licence_count=count))
        if info is None:
            return "refused"
        asked = self.book.requests[info.id].details.get("prorated_amount")
        if asked is None or int(Decimal(str(asked)) * 100) != quote:
            raise self.fail(
                "add_licences",
                [
                    f"R9: {count} licences at {account.unit_cents}c on {account.number} "
                    f"(renewal {account.renewal}) quoted {asked}, expected {quote / 100:.2f}"
                ],
            )
        return "asked"

    async def _at_renewal(self, kind: str, account: Account, change: Change, allowed: bool) -> str:
        """R10, R12, R13, R14: asked in the window it is scheduled for the renewal;
        too late, it is refused or, asked for a later window, scheduled for the first
        renewal whose window is still open."""
        renewal = account.renewal
        assert renewal is not None
        in_window = self.today <= renewal - timedelta(days=30)
        schedule = self.rng.random() < 0.5
        free = not self.book.open_kinds(account.id)
        info, error = await self._submit(kind, account, change, schedule=schedule)
        expected = account.notice_renewal(self.today)
        problems = []
        if info is not None:
            if not allowed:
                problems.append(f"{kind} was accepted though the rules refuse it")
            elif info.effective_on != expected:
                problems.append(
                    f"{kind} on {account.number} (renewal {renewal}) takes effect on "
                    f"{info.effective_on}, expected {expected}"
                )
            elif not in_window and not schedule:
                problems.append(f"{kind} was accepted {(renewal - self.today).days} days before")
        elif allowed and free and (in_window or schedule):
            problems.append(f"{kind} asked in time on {account.number} was refused: {error}")
        if problems:
            raise self.fail(kind, problems)
        return "asked" if info else "refused"

    async def act_decrease_licences(self) -> str:
        account = self.pick("paid")
        if account is None:
            return "no_account"
        total = self.rng.randint(1, max(1, account.licences))
        allowed = total < account.licences
        return await self._at_renewal(
            "decrease_licences", account, Change(licence_count=total), allowed
        )

    async def act_downgrade(self) -> str:
        account = self.pick("paid", where=lambda a: a.plan in ("professional", "enterprise"))
        if account is None:
            return "no_account"
        return await self._at_renewal(
            "downgrade", account, Change(target_plan=Plan.ESSENTIALS), True
        )

    async def act_add_addon(self) -> str:
        account = self.pick(*PAYING)
        if account is None:
            return "no_account"
        add_on = self.rng.choice(ADD_ONS)
        info, _ = await self._submit("add_addon", account, Change(add_on=add_on))
        if info is not None and add_on in account.add_ons:
            raise self.fail("add_addon", [f"R13: {add_on} asked twice on {account.number}"])
        return "asked" if info else "refused"

    async def act_remove_addon(self) -> str:
        account = self.pick("paid", where=lambda a: bool(a.add_ons))
        if account is None:
            return "no_account"
        add_on = self.rng.choice(sorted(account.add_ons))
        return await self._at_renewal("remove_addon", account, Change(add_on=add_on), True)

    async def act_cancel(self) -> str:
        account = self.pick("paid")
        if account is None:
            return "no_account"
        return await self._at_renewal("cancel", account, Change(), not account.past_due)

    async def act_delete_account(self) -> str:
        """R16: never during a paid term."""
        if self.rng.random() < 0.2:
            account = self.pick(*PAYING)
        else:
            account = self.pick("active_trial", "expired_trial", "free")
        if account is None:
            return "no_account"
        info, _ = await self._submit("delete_account", account, Change())
        if info is not None and account.status in PAYING:
            raise self.fail(
                "delete_account",
                [f"R16: deletion of {account.number} asked during its paid term was accepted"],
            )
        return "asked" if info else "refused"

    async def act_remove_expired_trial(self) -> str:
        account = self.pick("expired_trial", "active_trial")
        if account is None:
            return "no_account"
        info, _ = await self._submit("remove_expired_trial", account, Change())
        if info is not None and account.status == "active_trial":
            raise self.fail("remove_expired_trial", ["R8: an active trial's removal was accepted"])
        return "asked" if info else "refused"

    def _pending(self) -> Request | None:
        pending = [r for r in self.book.requests.values() if r.status == "pending"]
        return self.rng.choice(sorted(pending, key=lambda r: r.id)) if pending else None

    async def act_approve(self) -> str:
        request = self._pending()
        if request is None:
            return "none_pending"
        account = self.book.accounts.get(request.account_id)
        decider = APPROVER if request.requested_by != APPROVER else OWNER
        try:
            async with self.db.unit_of_work() as session:
                info = await requests.approve(
                    session,
                    requester=self.requester(decider),
                    request_id=request.id,
                    typed_name=account.name if account else None,
                    now=self.clock.now,
                    notifier=self.notifiers.requests,
                )
        except BotError as error:
            self.log(f"approve #{request.id} {request.kind}: refused: {error}")
            r16 = isinstance(error, RuleBroken) and error.rule == "R16"
            if r16 and account is not None and account.status not in PAYING:
                raise self.fail("approve", [f"R16 refused outside a paid term: {error}"]) from None
            return "refused"
        self.log(f"approve #{request.id} {request.kind} for {info.account_number}: {info.status}")
        if account is not None and request.kind == "delete_account" and account.status in PAYING:
            raise self.fail("approve", [f"R16: deletion of {account.number} approved in a term"])
        expected_on = self.today + timedelta(days=30) if request.kind == "delete_account" else None
        if expected_on is not None and info.effective_on != expected_on:
            raise self.fail(
                "approve", [f"R16: deletion takes effect {info.effective_on}, not {expected_on}"]
            )
        self.book.approve(request, self.today, info.effective_on)
        return "approved"

    async def act_deny(self) -> str:
        request = self._pending()
        if request is None:
            return "none_pending"
        decider = APPROVER if request.requested_by != APPROVER else OWNER
        async with self.db.unit_of_work() as session:
            await requests.deny(
                session,
                requester=self.requester(decider),
                request_id=request.id,
                note="not now",
                now=self.clock.now,
                notifier=self.notifiers.requests,
            )
        self.log(f"deny #{request.id} {request.kind}")
        request.status = "denied"
        return "denied"

    async def act_reverse_deletion(self) -> str:
        account = self.pick("scheduled_deletion")
        if account is None:
            return "none_scheduled"
        async with self.db.unit_of_work() as session:
            await requests.reverse_deletion(
                session,
                requester=self.requester(self.rng.choice([OWNER, ADMIN])),
                customer_id=account.id,
                now=self.clock.now,
                notifier=self.notifiers.requests,
            )
        self.log(f"reverse deletion of {account.number}")
        self.book.reverse_deletion(account)
        return "reversed"

    async def act_delete_record(self) -> str:
        """R21 (and R16: refused during a paid term)."""
        account = self.pick("active_trial", "expired_trial", "free", "paid", "scheduled_deletion")
        if account is None:
            return "no_account"
        try:
            async with self.db.unit_of_work() as session:
                await customer_service.delete_customer(
                    session,
                    requester=self.requester(ADMIN),
                    customer_id=account.id,
                    typed_name=f" {account.name} ",
                    now=self.clock.now,
                )
        except BotError as error:
            self.log(f"delete record {account.number} ({account.status}): refused: {error}")
            if account.status != "paid":
                raise self.fail("delete_record", [f"refused outside a term: {error}"]) from None
            return "refused"
        self.log(f"delete record {account.number} ({account.status})")
        if account.status == "paid":
            raise self.fail("delete_record", [f"R16: {account.number} deleted in a paid term"])
        self.book.forget(account)
        self.last_rows.pop(account.id, None)
        return "deleted"

    # ------------------------------------------------------------ figures from other systems

    async def act_usage_report(self) -> str:
        live = sorted(self.book.live(), key=lambda a: a.id)
        if not live:
            return "no_account"
        chosen = self.rng.sample(live, min(len(live), self.rng.randint(1, 4)))
        reports = []
        for account in chosen:
            partial = PIECES["partial_usage"] and self.rng.random() < 0.3
            users = None if partial else self.rng.randint(0, 8)
            data = self.rng.choice([None, 0.5, 2.5, 3.0, 4.25]) if partial else 1.0
            reports.append(
                usage.UsageReport(
                    customer=account.number,
                    month=self.today.replace(day=1),
                    mau=self.rng.randint(0, 3000),
                    users=users,
                    data_gb=data,
                )
            )
        async with self.db.unit_of_work() as session:
            await usage.record_usage(
                session,
                msp_id=self.msp_id,
                reports=reports,
                actor=USAGE_ACTOR,
                now=self.clock.now,
                notifier=self.notifiers.alerts,
            )
        for account, report in zip(chosen, reports, strict=True):
            if report.users is not None:
                account.users = report.users
            if report.data_gb is not None:
                account.data_gb = report.data_gb
        self.log(
            "usage "
            + ", ".join(
                f"{a.number} u={r.users} gb={r.data_gb}"
                for a, r in zip(chosen, reports, strict=True)
            )
        )
        return "reported"

    async def act_past_due_flip(self) -> str:
        account = self.pick(*PAYING)
        if account is None:
            return "no_account"
        flag = not account.past_due
        change = CommercialChange(past_due=flag)
        async with self.db.unit_of_work() as session:
            await commercial.update_accounts(
                session,
                msp_id=self.msp_id,
                updates=[commercial.AccountUpdate(customer=account.number, change=change)],
                actor=BILLING_ACTOR,
                now=self.clock.now,
            )
        self.log(f"billing: {account.number} past_due={flag}")
        account.past_due = flag
        return "flipped"

    async def act_price_correction(self) -> str:
        account = self.pick(*PAYING)
        if account is None:
            return "no_account"
        cents = self.rng.choice([1999, 2500, 7500, 8333])
        async with self.db.unit_of_work() as session:
            version = (await session.get(Customer, account.id)).version  # type: ignore[union-attr]
            await commercial.correct_billing(
                session,
                requester=self.requester(OWNER),
                customer_id=account.id,
                expected_version=version,
                change=CommercialChange(unit_price=Decimal(cents) / 100),
                reason="price list",
                now=self.clock.now,
            )
        self.log(f"owner corrects {account.number} unit price to {cents}c")
        account.unit_cents = cents
        return "corrected"

    # ------------------------------------------------------------ checks

    async def check(self, step: str, *, after_jobs: bool = False, figures: bool = False) -> None:
        """The database against the model. `figures` adds what the Home tab and the
        lists show (R5, R15), which only usage reports, approvals and jobs that did
        something can change."""
        async with self.db.unit_of_work() as session:
            # Deleted rows never change again: read the live ones, those the model
            # holds live, and any the model has never seen.
            expected_live = [a.id for a in self.book.live()]
            known = max(self.book.accounts, default=0)
            rows = {
                row.id: row._asdict()
                for row in await session.execute(
                    select(*CUSTOMER_COLUMNS).where(
                        Customer.msp_id == self.msp_id,
                        or_(
                            Customer.status != "deleted",
                            Customer.id.in_(expected_live),
                            Customer.id > known,
                        ),
                    )
                )
            }
            tracked = [
                r.id for r in self.book.requests.values() if r.status in ("pending", "scheduled")
            ]
            newest = max(self.book.requests, default=0)
            request_rows = dict(
                (
                    await session.execute(
                        select(ChangeRequest.id, ChangeRequest.status).where(
                            ChangeRequest.msp_id == self.msp_id,
                            or_(ChangeRequest.id.in_(tracked), ChangeRequest.id > newest),
                        )
                    )
                ).all()
            )
            events = (
                await session.execute(
                    select(AuditEvent.id, AuditEvent.entity_type, AuditEvent.entity_id).where(
                        AuditEvent.msp_id == self.msp_id, AuditEvent.id > self.last_audit_id
                    )
                )
            ).all()
            billable: int | None = None
            flags: dict[int, bool] | None = None
            if figures or step.startswith(("usage_report", "approve")):
                billable = await dashboard.billable_users(session, msp_id=self.msp_id)
                page = await customer_service.list_page(
                    session,
                    requester=self.requester(OWNER),
                    which=CustomerFilter.ALL,
                    text="",
                    page=1,
                    page_size=1000,
                    now=self.clock.now,
                )
                flags = {row.id: row.over_free_limits for row in page.rows}
        problems = self._compare(rows, request_rows, billable, flags, after_jobs=after_jobs)
        problems += self._audited(rows, request_rows, events)
        if problems:
            raise self.fail(step, problems)
        self.checks += 1
        self.last_rows = rows
        self.last_requests.update(request_rows)
        if events:
            self.last_audit_id = max(event.id for event in events)

    def _compare(
        self,
        rows: dict[int, dict[str, Any]],
        request_rows: dict[int, str],
        billable: int | None,
        flags: dict[int, bool] | None,
        *,
        after_jobs: bool,
    ) -> list[str]:
        problems: list[str] = []
        read = {a.id for a in self.book.accounts.values() if a.live or a.id in rows}
        if set(rows) != read:
            problems.append(f"accounts {sorted(rows)} in the database, {sorted(read)} expected")
        live = [row for row in rows.values() if row["status"] != "deleted"]
        for key in ("name_key", "admin_email_key"):
            seen = Counter(row[key] for row in live)
            problems += [
                f"R1/R2: {key} {k!r} on {n} live accounts" for k, n in seen.items() if n > 1
            ]
        names = Counter(a.name.casefold() for a in self.book.live())
        emails = Counter(a.email.strip().casefold() for a in self.book.live())
        problems += [f"R2 (model): {k!r} twice" for k, n in names.items() if n > 1]
        problems += [f"R1 (model): {k!r} twice" for k, n in emails.items() if n > 1]
        if len(live) > self.book.max_customers:
            problems.append(f"R3: {len(live)} live customers, maximum {self.book.max_customers}")
        for account_id in set(rows) & set(self.book.accounts):
            problems += self._account(rows[account_id], self.book.accounts[account_id], after_jobs)
            if flags is not None and account_id in flags:
                expected = self.book.accounts[account_id].over_free_limits
                if flags[account_id] != expected:
                    problems.append(
                        f"R15: {rows[account_id]['account_number']} flagged "
                        f"{flags[account_id]}, expected {expected}"
                    )
        if billable is not None and billable != self.book.billable_users():
            problems.append(f"R5: billable users {billable}, expected {self.book.billable_users()}")
        for request_id, status in request_rows.items():
            model = self.book.requests.get(request_id)
            if model is None:
                problems.append(f"request #{request_id} ({status}) that no step asked for")
            elif model.status != status:
                problems.append(
                    f"request #{request_id} {model.kind} is {status}, expected {model.status}"
                )
        return problems

    def _account(self, row: dict[str, Any], account: Account, after_jobs: bool) -> list[str]:
        today = self.today
        expected = {
            "status": account.status,
            "plan": account.plan,
            "trial_end": account.trial_end,
            "licences": account.licences,
            "unit_price_cents": account.unit_cents,
            "term": account.term,
            "contract_start": account.contract_start,
            "renewal_date": account.renewal,
            "users": account.users,
            "data_used_gb": account.data_gb,
            "past_due": account.past_due,
            "add_ons": account.add_ons,
        }
        found = dict(row)
        found["add_ons"] = {_add_on_key(name) for name in row["add_ons"] or []}
        number = row["account_number"]
        problems = [
            f"{number}: {name} is {found[name]!r}, expected {expected[name]!r}"
            for name in COMPARED
            if found[name] != expected[name]
        ]
        if account.status in PAYING:
            renewal = row["renewal_date"]
            start = row["contract_start"]
            if renewal is None or start is None or row["term"] is None:
                problems.append(f"{number}: a live paid account without a term")
            else:
                if renewal < today or (after_jobs and renewal <= today):
                    problems.append(f"{number}: renewal {renewal} is not in the future ({today})")
                if not _anchored(start, {"monthly": 1, "annual": 12}[row["term"]], renewal):
                    problems.append(f"{number}: renewal {renewal} is off the contract day {start}")
        if row["licences"] * row["unit_price_cents"] != account.licences * account.unit_cents:
            problems.append(f"{number}: monthly total is not unit price x licences")
        if after_jobs and account.trial_end is not None:
            active = today <= account.trial_end
            if (row["status"] == "active_trial") != active and account.status in (
                "active_trial",
                "expired_trial",
            ):
                problems.append(
                    f"R4: {number} is {row['status']} on {today}, last day {account.trial_end}"
                )
            if account.status == "expired_trial" and account.trial_days_seen:
                if account.trial_days_seen != account.trial_days_granted:
                    problems.append(
                        f"R4: {number}'s trial was active {account.trial_days_seen} days, "
                        f"granted {account.trial_days_granted}"
                    )
                account.trial_days_seen = 0  # counted once
        return problems

    def _audited(
        self,
        rows: dict[int, dict[str, Any]],
        request_rows: dict[int, str],
        events: list[Any],
    ) -> list[str]:
        """R22: every customer or request that changed since the last check has an
        audit event since then, by its account number or request id."""
        entities = {(event.entity_type, event.entity_id) for event in events}
        problems = []
        for account_id, row in rows.items():
            before = self.last_rows.get(account_id)
            changed = before is None or any(before[name] != row[name] for name in COMPARED)
            if changed and ("customer", row["account_number"]) not in entities:
                problems.append(f"R22: {row['account_number']} changed without an audit event")
        for request_id, status in request_rows.items():
            if self.last_requests.get(request_id) != status and (
                ("request", str(request_id)) not in entities
            ):
                problems.append(
                    f"R22: request #{request_id} became {status} without an audit event"
                )
        for account_id, before in self.last_rows.items():
            if account_id not in rows and ("customer", before["account_number"]) not in entities:
                problems.append(f"R22: {before['account_number']} removed without an audit event")
        return problems


def _said(result: object) -> str:
    return f"refused: {result}" if isinstance(result, BotError) else "ok"


def _rank(account: Account) -> int:
    return RANK[account.plan] if account.status in PAYING else 0


def _add_on_key(name: str) -> str:
    return name.strip().casefold().replace(" ", "_")


def _anchored(start: date, months: int, renewal: date) -> bool:
    """Whether `renewal` is the contract start plus a whole number of terms."""
    diff = (renewal.year - start.year) * 12 + renewal.month - start.month
    return any(
        n > 0 and n % months == 0 and add_months(start, n) == renewal
        for n in (diff - 1, diff, diff + 1)
    )
