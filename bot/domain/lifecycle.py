"""Where an account is in its life when it is added with a history (a CSV import of an
MSP's existing book): a trial half used or already expired, a free account, a paid
contract mid-term. Pure: which combinations of plan, status, dates, licences and
past-due flag can exist, and the values the account is stored with.

Errors are `InvalidInput` whose field is the attribute at fault (`status`,
`trial_end`, `renewal_date`...), the same names as the CSV columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.domain.customers import (
    PAID_PLANS,
    Plan,
    Status,
    cents,
    check_renewal_date,
    trial_active,
    trial_end,
)
from bot.domain.terms import Term, add_months, paid_term
from bot.errors import InvalidInput
from bot.sentences import sentence

# Users as a row may give them: the same bound as the usage API's counts.
MAX_USERS = 1_000_000_000
# The statuses an account can be added with. The others stand for a change under
# way (a cancellation or a deletion scheduled by a request) or an account gone: they
# come about through requests, which an import does not create.
ADDABLE_STATUSES: tuple[Status, ...] = (
    Status.ACTIVE_TRIAL,
    Status.EXPIRED_TRIAL,
    Status.FREE,
    Status.PAID,
)
# The plans each status can be on. R4: an expired trial is on the free plan; `trial`
# is accepted for it as the vendor portals write it, and stored as `free`.
_PLANS_OF: dict[Status, frozenset[Plan]] = {
    Status.ACTIVE_TRIAL: frozenset({Plan.TRIAL}),
    Status.EXPIRED_TRIAL: frozenset({Plan.FREE, Plan.TRIAL}),
    Status.FREE: frozenset({Plan.FREE}),
    Status.PAID: PAID_PLANS,
}
_STATUS_OF: dict[Plan, Status] = {
    Plan.TRIAL: Status.ACTIVE_TRIAL,
    Plan.FREE: Status.FREE,
    **{plan: Status.PAID for plan in PAID_PLANS},
}
_NOT_ADDABLE: dict[Status, str] = {
    Status.PENDING_CANCELLATION: (
        "A cancellation is asked for with a request: import the account as paid, then ask "
        "for the cancellation."
    ),
    Status.SCHEDULED_DELETION: (
        "A deletion is asked for with a request: import the account, then ask for its deletion."
    ),
    Status.DELETED: "A deleted account is not imported: leave the row out.",
}


_TERM_SPAN = {Term.MONTHLY: "month", Term.ANNUAL: "year"}


@dataclass(frozen=True, slots=True)
class Given:
    """What a row says about the account's life; None where it says nothing."""

    plan: Plan | None = None
    status: Status | None = None
    trial_start: date | None = None
    trial_end: date | None = None
    licences: int | None = None
    contract_start: date | None = None
    term: Term | None = None
    renewal_date: date | None = None
    past_due: bool = False


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The account's plan, status, dates and licences as stored."""

    plan: Plan
    status: Status
    trial_start: date | None
    trial_end: date | None
    licences: int
    contract_start: date | None
    term: Term | None
    renewal_date: date | None
    past_due: bool


def plan_and_status(plan: Plan | None, status: Status | None) -> tuple[Plan, Status]:
    """Either may be left out: a plan starts in its own status (a trial active, a paid
    plan paid), a status implies its plan (an expired trial is free); neither is a new
    trial. The pair must be one that exists."""
    if status is not None and status not in _PLANS_OF:
        raise InvalidInput(_NOT_ADDABLE[status], field="status")
    if status is None:
        plan = plan or Plan.TRIAL
        return plan, _STATUS_OF[plan]
    if plan is None:
        if status == Status.PAID:
            raise InvalidInput(
                "A paid account needs its plan: essentials, professional or enterprise.",
                field="plan",
            )
        return (Plan.TRIAL if status == Status.ACTIVE_TRIAL else Plan.FREE), status
    if plan not in _PLANS_OF[status]:
        allowed = " or ".join(sorted(p.value for p in _PLANS_OF[status]))
        raise InvalidInput(
            f"An account that is {status.value} is on the {allowed} plan, not {plan.value}.",
            field="status",
        )
    return (Plan.FREE if status == Status.EXPIRED_TRIAL else plan), status


def lifecycle(given: Given, *, today: date, trial_days: int | None) -> Lifecycle:
    """The account as it is stored, or `InvalidInput` naming the first attribute that
    cannot be. Nothing given is a trial starting today (the Add customer form's
    default). `today` is the MSP's date; `trial_days` its trial length (R4), None
    while it is not known (a file read before its MSP): the checks that need it wait
    for the check against the MSP."""
    plan, status = plan_and_status(given.plan, given.status)
    _check_trial_dates(given, today=today)
    if status == Status.PAID:
        return _paid(given, plan, today=today)
    _refuse_paid_fields(given, status)
    if status == Status.ACTIVE_TRIAL:
        start, end = _active_trial_dates(given, today=today, trial_days=trial_days)
    else:
        start, end = given.trial_start, given.trial_end
        if status == Status.EXPIRED_TRIAL and end is not None and trial_active(end, today=today):
            raise InvalidInput(
                sentence(
                    "An expired trial's last day has passed; this one's is {end}: give the "
                    "status active_trial, or its real last day.",
                    end=end,
                ),
                field="trial_end",
            )
    return Lifecycle(
        plan=plan,
        status=status,
        trial_start=start,
        trial_end=end,
        licences=0,
        contract_start=None,
        term=None,
        renewal_date=None,
        past_due=False,
    )


def _check_trial_dates(given: Given, *, today: date) -> None:
    if given.trial_start is not None and given.trial_start > today:
        raise InvalidInput(
            sentence("A trial cannot start in the future (today is {today}).", today=today),
            field="trial_start",
        )
    if (
        given.trial_start is not None
        and given.trial_end is not None
        and given.trial_end < given.trial_start
    ):
        raise InvalidInput("A trial cannot end before it starts.", field="trial_end")


def _active_trial_dates(
    given: Given, *, today: date, trial_days: int | None
) -> tuple[date | None, date | None]:
    """An active trial keeps the days it has left: the last day given, or its start
    plus the MSP's trial length; neither given, it starts today (R4). A trial whose
    last day has passed is refused rather than imported as expired: the file says it
    is active, and the operator decides (`expired_trial`, or a later `trial_end`)."""
    start, end = given.trial_start, given.trial_end
    if start is None and end is None:
        if trial_days is None:
            return today, None
        return today, trial_end(today, days=trial_days)
    if end is None:
        if trial_days is None:
            return start, None
        end = trial_end(start or today, days=trial_days)
        column = "trial_start"
    else:
        column = "trial_end"
    if not trial_active(end, today=today):
        raise InvalidInput(
            sentence(
                "This trial's last day, {end}, has passed: give the status expired_trial "
                "(it is imported on the free plan, R4), or a later trial_end.",
                end=end,
            ),
            field=column,
        )
    return start, end


def _refuse_paid_fields(given: Given, status: Status) -> None:
    """Trials and free accounts have no licences, contract, renewal or bill."""
    what = {
        Status.ACTIVE_TRIAL: "A trial",
        Status.EXPIRED_TRIAL: "An expired trial",
        Status.FREE: "A free account",
    }[status]
    for column, value in (
        ("licences", given.licences or None),
        ("contract_start", given.contract_start),
        ("term", given.term),
        ("renewal_date", given.renewal_date),
    ):
        if value is not None:
            raise InvalidInput(
                f"{what} has no {column.replace('_', ' ')}: leave this empty, or give a paid plan.",
                field=column,
            )
    if given.past_due:
        raise InvalidInput(f"{what} has no bill to be past due on.", field="past_due")


def _paid(given: Given, plan: Plan, *, today: date) -> Lifecycle:
    """A paid contract keeps its start and term; its renewal date is the contract's
    next one after today (R9-R14 count from it), and one given must be that date."""
    if not given.licences:
        raise InvalidInput(
            "A paid plan needs its number of licences (1 or more).", field="licences"
        )
    if given.contract_start is None and given.renewal_date is not None:
        check_renewal_date(given.renewal_date, today=today, field="renewal_date")
        term = given.term or Term.ANNUAL
        if given.renewal_date > add_months(today, term.months):
            # Its contract would have started whole terms before, and renewed since.
            raise InvalidInput(
                f"A {term.value} contract renews within a {_TERM_SPAN[term]} "
                f"(by {add_months(today, term.months)}): give the next renewal date, or "
                "the contract_start.",
                field="renewal_date",
            )
    term = paid_term(
        term=given.term,
        contract_start=given.contract_start,
        renewal=given.renewal_date,
        today=today,
        fields=("contract_start", "renewal_date"),
    )
    return Lifecycle(
        plan=plan,
        status=Status.PAID,
        trial_start=given.trial_start,
        trial_end=given.trial_end,
        licences=given.licences,
        contract_start=term.contract_start,
        term=term.term,
        renewal_date=term.renewal_date,
        past_due=given.past_due,
    )


def unit_price_cents(
    *, unit_price: Decimal | None, monthly_price: Decimal | None, licences: int
) -> int | None:
    """R18: the price of a licence a month, from either price. The monthly price is
    unit price x licences (for an account without licences, the price of one); given
    both, they must agree. None: neither given (the MSP's default)."""
    count = max(licences, 1)
    if unit_price is not None:
        unit = cents(unit_price)
        # Without licences, a monthly price is the price of the one licence it would have.
        agreeing = {unit * licences} | ({unit} if licences == 0 else set())
        if monthly_price is not None and cents(monthly_price) not in agreeing:
            raise InvalidInput(
                f"The monthly price is the unit price x {licences:,} licences "
                f"({Decimal(unit * count) / 100:.2f}): give one of them, or make them agree.",
                field="monthly_price",
            )
        return unit
    if monthly_price is None:
        return None
    total = cents(monthly_price)
    if total % count:
        raise InvalidInput(
            f"{monthly_price} does not split into a whole number of cents over {count:,} "
            "licences: give the unit_price instead.",
            field="monthly_price",
        )
    return total // count
