"""The simulation's own model of an MSP's book: what every account and request
should look like after each step, worked out here from the rules as DOMAIN.md and
docs/RULES.md say them, never from the code under test (no import from bot.domain
or bot.services). Plain dates and integers; money in cents with exact fractions.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

NOTICE = 30  # days of notice before a renewal (R10, R12, R13, R14)
DELETION_DELAY = 30  # R16
FREE_USERS = 3  # R15
FREE_GB = 3.0
RANK = {"trial": 0, "free": 0, "essentials": 1, "professional": 2, "enterprise": 3}
TERM_MONTHS = {"monthly": 1, "annual": 12}
PAYING = ("paid", "pending_cancellation")
GONE = 0  # the account of a request whose customer record was deleted (R21)
AT_RENEWAL = ("decrease_licences", "downgrade", "remove_addon", "cancel")


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def first_renewal_after(start: date, months: int, after: date) -> tuple[int, date]:
    """(n, start + n terms): the first anchored renewal strictly after `after`."""
    n = 1
    while add_months(start, n * months) <= after:
        n += 1
    return n, add_months(start, n * months)


def half_up_cents(amount: Fraction) -> int:
    """An exact amount of cents rounded half up (amounts here are never negative)."""
    whole, rest = divmod(amount.numerator, amount.denominator)
    return whole + (1 if 2 * rest >= amount.denominator else 0)


@dataclass
class Account:
    id: int
    number: str
    name: str
    email: str
    status: str
    plan: str
    unit_cents: int
    trial_start: date | None = None
    trial_end: date | None = None
    licences: int = 0
    term: str | None = None
    contract_start: date | None = None
    renewal_index: int = 0  # renewal date = contract start + this many terms
    users: int = 0
    data_gb: float = 0.0
    past_due: bool = False
    add_ons: set[str] = field(default_factory=set)
    previous_status: str | None = None  # before a scheduled deletion
    # R4: active days seen by the day's checks (the day it starts counts as day 1)
    # and how many it was granted.
    trial_days_seen: int = 0
    trial_days_granted: int = 0

    @property
    def live(self) -> bool:
        return self.status != "deleted"

    @property
    def months(self) -> int:
        assert self.term is not None
        return TERM_MONTHS[self.term]

    @property
    def renewal(self) -> date | None:
        if self.contract_start is None or self.term is None:
            return None
        return add_months(self.contract_start, self.renewal_index * self.months)

    def start_term(self, term: str, start: date, today: date) -> None:
        self.term, self.contract_start = term, start
        self.renewal_index, _ = first_renewal_after(start, TERM_MONTHS[term], today)

    def end_term(self) -> None:
        self.term, self.contract_start, self.renewal_index = None, None, 0

    def quote_cents(self, count: int, today: date) -> int:
        """R9: unit price x licences x months of the term x days left / days of the term."""
        renewal = self.renewal
        assert renewal is not None and self.contract_start is not None
        start = add_months(self.contract_start, (self.renewal_index - 1) * self.months)
        left, days = (renewal - today).days, (renewal - start).days
        return half_up_cents(Fraction(self.unit_cents * count * self.months * left, days))

    def notice_renewal(self, today: date) -> date:
        """The first renewal whose notice window is still open today."""
        assert self.contract_start is not None
        n = self.renewal_index
        while today > add_months(self.contract_start, n * self.months) - timedelta(days=NOTICE):
            n += 1
        return add_months(self.contract_start, n * self.months)

    @property
    def over_free_limits(self) -> bool:
        on_free = self.status in ("free", "expired_trial")
        return on_free and (self.users > FREE_USERS or self.data_gb > FREE_GB)


@dataclass
class Request:
    id: int
    kind: str
    account_id: int
    requested_by: str
    expires_at: datetime
    details: dict[str, object]
    status: str = "pending"
    effective: date | None = None
    approved_order: int = 0


@dataclass
class Book:
    """Every account and request of the MSP, as they should be."""

    trial_days: int
    max_customers: int
    accounts: dict[int, Account] = field(default_factory=dict)
    requests: dict[int, Request] = field(default_factory=dict)
    approvals: int = 0

    def live(self) -> list[Account]:
        return [a for a in self.accounts.values() if a.live]

    def open_kinds(self, account_id: int) -> set[str]:
        return {
            r.kind
            for r in self.requests.values()
            if r.account_id == account_id and r.status in ("pending", "scheduled")
        }

    def billable_users(self) -> int:
        """R5: users of paid subscriptions only (cancellation pending included)."""
        return sum(a.users for a in self.accounts.values() if a.status in PAYING)

    # ------------------------------------------------------------ adding

    def add_trial(self, account: Account, today: date) -> None:
        account.status, account.plan = "active_trial", "trial"
        account.trial_start = today
        account.trial_end = today + timedelta(days=self.trial_days - 1)
        account.trial_days_seen, account.trial_days_granted = 1, self.trial_days
        self.accounts[account.id] = account

    def add_paid(self, account: Account, *, term: str, start: date, today: date) -> None:
        account.status = "paid"
        account.start_term(term, start, today)
        self.accounts[account.id] = account

    # ------------------------------------------------------------ approvals

    def approve(self, request: Request, today: date, effective: date | None) -> None:
        """What approving `request` does, at once or scheduled."""
        self.approvals += 1
        request.approved_order = self.approvals
        account = self.accounts[request.account_id]
        d = request.details
        if request.kind == "delete_account":
            request.status, request.effective = "scheduled", effective
            account.previous_status, account.status = account.status, "scheduled_deletion"
            account.trial_days_seen = 0  # a trial's days are not counted past this
            return
        if request.kind in AT_RENEWAL:
            request.status = "scheduled"
            if request.kind == "cancel":
                account.status = "pending_cancellation"
            return
        request.status = "applied"
        if request.kind == "trial_extension":
            days = int(str(d["extension_days"]))
            assert account.trial_end is not None
            if account.status == "active_trial":
                account.trial_days_granted += days
            else:  # an ended trial runs again from today, day 1
                account.trial_days_seen, account.trial_days_granted = 1, days
            account.trial_end = max(account.trial_end, today - timedelta(days=1)) + timedelta(
                days=days
            )
            account.status, account.plan = "active_trial", "trial"
        elif request.kind in ("upgrade", "reactivate"):
            self._move_up(account, d, today)
        elif request.kind == "add_licences":
            account.licences += int(str(d["licence_count"]))
        elif request.kind == "add_addon":
            account.add_ons.add(str(d["add_on"]))
        elif request.kind == "remove_expired_trial":
            account.status = "deleted"

    def _move_up(self, account: Account, d: dict[str, object], today: date) -> None:
        if account.status == "pending_cancellation":
            for other in self.requests.values():
                if (
                    other.account_id == account.id
                    and other.kind == "cancel"
                    and other.status == "scheduled"
                ):
                    other.status = "reversed"
            if "target_plan" not in d:
                account.status = "paid"
                return
        starting = account.status not in PAYING
        account.plan, account.status = str(d["target_plan"]), "paid"
        seats = d.get("licence_count")
        if seats:
            account.licences = max(account.licences, int(str(seats)))
        elif starting:
            account.licences = max(account.licences, account.users, 1)
        if starting:
            account.start_term("annual", today, today)

    def reverse_deletion(self, account: Account) -> None:
        for request in self.requests.values():
            if (
                request.account_id == account.id
                and request.kind == "delete_account"
                and request.status == "scheduled"
            ):
                request.status = "reversed"
        assert account.previous_status is not None
        account.status, account.previous_status = account.previous_status, None

    def forget(self, account: Account) -> None:
        """R21: the record is gone; its scheduled changes are reversed on their date.
        Its requests no longer point at it (a later account may get its id back)."""
        del self.accounts[account.id]
        for request in self.requests.values():
            if request.account_id == account.id:
                request.account_id = GONE

    # ------------------------------------------------------------ the day's jobs

    def roll_renewals(self, today: date) -> None:
        """Each paid term whose renewal date has come rolls one term forward, then the
        changes scheduled for that renewal apply in approval order, if still allowed."""
        for account in self.accounts.values():
            renewal = account.renewal
            if account.status not in PAYING or renewal is None or renewal > today:
                continue
            account.renewal_index += 1
            due = sorted(
                (
                    r
                    for r in self.requests.values()
                    if r.account_id == account.id
                    and r.status == "scheduled"
                    and r.kind in AT_RENEWAL
                    and r.effective is not None
                    and r.effective <= renewal
                ),
                key=lambda r: r.approved_order,
            )
            for request in due:
                request.status = "applied" if self._at_renewal(account, request) else "reversed"

    def _at_renewal(self, account: Account, request: Request) -> bool:
        d = request.details
        if request.kind == "cancel":
            if account.status != "pending_cancellation":
                return False
            if account.past_due:
                account.status = "paid"  # R14: not while a balance is past due
                return False
            account.status, account.plan = "free", "free"
            account.end_term()
            account.add_ons.clear()
            return True
        if account.status != "paid":
            return False
        if request.kind == "decrease_licences":
            total = int(str(d["licence_count"]))
            if not 1 <= total < account.licences:
                return False
            account.licences = total
        elif request.kind == "downgrade":
            target = str(d["target_plan"])
            if RANK[target] >= RANK[account.plan]:
                return False
            account.plan = target
        elif request.kind == "remove_addon":
            if str(d["add_on"]) not in account.add_ons:
                return False
            account.add_ons.discard(str(d["add_on"]))
        return True

    def complete_deletions(self, today: date) -> None:
        """Deletions 30 days after approval; a change whose record is gone is
        reversed on its date."""
        for request in self.requests.values():
            due = request.effective is not None and request.effective <= today
            if request.status != "scheduled" or not due:
                continue
            if request.account_id not in self.accounts:
                request.status = "reversed"
            elif request.kind == "delete_account":
                request.status = "applied"
                self.accounts[request.account_id].status = "deleted"

    def end_trials(self, today: date) -> None:
        for account in self.accounts.values():
            end = account.trial_end
            if account.status == "active_trial" and end is not None and end < today:
                account.status, account.plan = "expired_trial", "free"

    def expire_requests(self, now: datetime) -> None:
        for request in self.requests.values():
            if request.status == "pending" and request.expires_at <= now:
                request.status = "expired"
