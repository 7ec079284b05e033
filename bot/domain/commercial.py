"""Commercial figures: plan, licences, term, contract start, renewal date, price per
licence and past due. They belong to the MSP's billing system (sent over the API)
or to an owner's correction with a reason; both change them through `apply`, which
checks the figures as they would stand after the change. Pure: no clock, no storage.

A change is partial: a figure it leaves out (None) stays as it is, and a figure it
gives with the value already stored is no change, so sending the same figures
again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from bot.domain import customers as customer_rules
from bot.domain.customers import MAX_LICENCES, MAX_PRICE, PAID_PLANS, Plan, Status
from bot.domain.terms import Term, add_months, check_contract_start
from bot.errors import InvalidInput
from bot.sentences import Sentence, sentence

MAX_REASON_LENGTH = 500


class CommercialField(StrEnum):
    """The commercial figures, named as the API's fields (and the correction form's
    block ids, so a refusal lands on its field)."""

    PLAN = "plan"
    LICENCES = "licences"
    TERM = "term"
    CONTRACT_START = "contract_start"
    RENEWAL_DATE = "renewal_date"
    UNIT_PRICE = "unit_price"
    PAST_DUE = "past_due"


# The plans an account of each status can be on. A move between these statuses is
# a request (upgrade, cancel, downgrade...), never a correction of figures.
PLANS_BY_STATUS: dict[Status, frozenset[Plan]] = {
    Status.ACTIVE_TRIAL: frozenset({Plan.TRIAL}),
    Status.EXPIRED_TRIAL: frozenset({Plan.FREE}),
    Status.FREE: frozenset({Plan.FREE}),
    Status.PAID: PAID_PLANS,
    Status.PENDING_CANCELLATION: PAID_PLANS,
    Status.SCHEDULED_DELETION: PAID_PLANS | {Plan.FREE},
    Status.DELETED: frozenset(),
}
# Figures only a paid plan has.
PAID_TERM_FIELDS = (
    CommercialField.LICENCES,
    CommercialField.TERM,
    CommercialField.CONTRACT_START,
    CommercialField.RENEWAL_DATE,
)


@dataclass(frozen=True, slots=True)
class Commercial:
    """An account's commercial figures as stored."""

    plan: Plan
    licences: int
    term: Term | None
    contract_start: date | None
    renewal_date: date | None
    unit_price: Decimal
    past_due: bool

    def as_json(self, names: tuple[CommercialField, ...]) -> dict[str, Any]:
        """These figures as plain JSON (the audit log's before and after, the API's answer)."""
        return {name.value: _json(getattr(self, name.value)) for name in names}


@dataclass(frozen=True, slots=True)
class CommercialChange:
    """The figures to set; None leaves a figure as it is."""

    plan: Plan | None = None
    licences: int | None = None
    term: Term | None = None
    contract_start: date | None = None
    renewal_date: date | None = None
    unit_price: Decimal | None = None
    past_due: bool | None = None

    def given(self) -> dict[CommercialField, Any]:
        return {
            CommercialField(item.name): value
            for item in fields(self)
            if (value := getattr(self, item.name)) is not None
        }


@dataclass(frozen=True, slots=True)
class Problem:
    field: CommercialField
    said: Sentence  # its dates as values

    @property
    def message(self) -> str:
        return self.said.plain()


class CommercialRefused(InvalidInput):
    """The change would leave figures that cannot be; every problem, by field."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].said, field=problems[0].field)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Applied:
    before: Commercial
    after: Commercial
    changed: tuple[CommercialField, ...]  # in CommercialField order

    @property
    def before_json(self) -> dict[str, Any]:
        return self.before.as_json(self.changed)

    @property
    def after_json(self) -> dict[str, Any]:
        return self.after.as_json(self.changed)


def apply(current: Commercial, change: CommercialChange, *, status: Status, today: date) -> Applied:
    """The figures after `change`, checked; raises CommercialRefused naming every
    figure that cannot be. Figures given with their stored value are no change and
    are not checked again (a correction form sends every figure back)."""
    wanted = {
        name: value
        for name, value in change.given().items()
        if value != getattr(current, name.value)
    }
    after = replace(current, **{name.value: value for name, value in wanted.items()})
    problems = [
        Problem(name, _sentence(message))
        for name in CommercialField
        if name in wanted and (message := _problem(name, after, status=status, today=today))
    ]
    if problems:
        raise CommercialRefused(problems)
    return Applied(
        before=current, after=after, changed=tuple(n for n in CommercialField if n in wanted)
    )


def _sentence(message: Sentence | str) -> Sentence:
    return message if isinstance(message, Sentence) else Sentence.literal(message)


def _problem(
    name: CommercialField, after: Commercial, *, status: Status, today: date
) -> Sentence | str | None:
    """Why the figure `name` cannot be as it is in `after`, or None."""
    if status is Status.DELETED:
        return "This account is deleted: its figures cannot change."
    if name in PAID_TERM_FIELDS and not after.plan.is_paid:
        return (
            f"Only a paid plan has {_WORDS[name]}; this account is on the {after.plan.label} "
            "plan (a move to a paid plan is an upgrade request)."
        )
    return _CHECKS[name](after, status, today)


_WORDS = {
    CommercialField.LICENCES: "licences",
    CommercialField.TERM: "a term",
    CommercialField.CONTRACT_START: "a contract start",
    CommercialField.RENEWAL_DATE: "a renewal date",
}


def _check_plan(after: Commercial, status: Status, today: date) -> str | None:
    allowed = PLANS_BY_STATUS[status]
    if after.plan in allowed:
        return None
    plans = " or ".join(plan.label for plan in Plan if plan in allowed)
    return (
        f"An account that is {status.label.lower()} is on the {plans} plan: a move to "
        f"{after.plan.label} changes its status, so it is a request (upgrade, downgrade, "
        "cancel), not a correction."
    )


def _check_licences(after: Commercial, status: Status, today: date) -> str | None:
    if after.licences < 1:
        return "A paid plan has at least 1 licence."
    if after.licences > MAX_LICENCES:
        return f"At most {MAX_LICENCES:,} licences."
    return None


def _check_term(after: Commercial, status: Status, today: date) -> Sentence | None:
    return _renewal_within_term(after, today)


def _check_contract_start(after: Commercial, status: Status, today: date) -> Sentence | None:
    assert after.contract_start is not None  # a given figure is never None
    try:
        check_contract_start(after.contract_start, today=today, field="")
    except InvalidInput as refusal:
        return refusal.sentence
    return _renewal_against_start(after)


def _check_renewal_date(after: Commercial, status: Status, today: date) -> Sentence | None:
    renewal = after.renewal_date
    assert renewal is not None
    if renewal <= today:
        return sentence(
            "The renewal date must be after today ({today}): a term whose renewal has "
            "come has already rolled on to the next one.",
            today=today,
        )
    return _renewal_within_term(after, today) or _renewal_against_start(after)


def _renewal_within_term(after: Commercial, today: date) -> Sentence | None:
    """A term renews at least once a term: the renewal date is at most a term away."""
    if after.term is None or after.renewal_date is None:
        return None
    latest = add_months(today, after.term.months)
    if after.renewal_date <= latest:
        return None
    return sentence(
        "{term} term renews within {length}: the renewal date ({renewal}) can be "
        "{latest} at the latest.",
        term=after.term.a_term,
        length=_term_length(after.term),
        renewal=after.renewal_date,
        latest=latest,
    )


def _renewal_against_start(after: Commercial) -> Sentence | None:
    if after.contract_start and after.renewal_date and after.renewal_date <= after.contract_start:
        return sentence(
            "The renewal date ({renewal}) must come after the contract start ({start}).",
            renewal=after.renewal_date,
            start=after.contract_start,
        )
    return None


def _term_length(term: Term) -> str:
    return "a month" if term is Term.MONTHLY else "a year"


def _check_unit_price(after: Commercial, status: Status, today: date) -> str | None:
    price = after.unit_price
    if not price.is_finite() or price < 0:
        return "The price per licence cannot be negative."
    if price > MAX_PRICE:
        return f"The price per licence can be at most ${MAX_PRICE:,}."
    if price != price.quantize(Decimal("0.01")):
        return "The price per licence can have at most two decimals."
    return None


def _check_past_due(after: Commercial, status: Status, today: date) -> str | None:
    return None


_CHECKS = {
    CommercialField.PLAN: _check_plan,
    CommercialField.LICENCES: _check_licences,
    CommercialField.TERM: _check_term,
    CommercialField.CONTRACT_START: _check_contract_start,
    CommercialField.RENEWAL_DATE: _check_renewal_date,
    CommercialField.UNIT_PRICE: _check_unit_price,
    CommercialField.PAST_DUE: _check_past_due,
}


def parse_licences(text: str | None, *, field: str) -> int | None:
    """The form's number of licences, read as everywhere else; empty leaves it as it
    is. The bounds are `apply`'s, so that every figure's problem is said at once."""
    if not (text or "").strip():
        return None
    return customer_rules.read_whole_number(text, field=field, what="number of licences")


def parse_unit_price(text: str | None, *, field: str) -> Decimal | None:
    """The form's price per licence in dollars, read as everywhere else; empty leaves
    it as it is. The bounds are `apply`'s."""
    if not (text or "").strip():
        return None
    return customer_rules.read_amount(text, field=field)


def parse_reason(text: str | None, *, field: str) -> str:
    """An owner's correction says why (R22: the audit log keeps it)."""
    reason = (text or "").strip()
    if not reason:
        raise InvalidInput("Say why these figures are corrected.", field=field)
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"The reason can be at most {MAX_REASON_LENGTH} characters.", field=field
        )
    if "\x00" in reason:
        raise InvalidInput("This text has a NUL character in it: remove it.", field=field)
    return reason


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, StrEnum):
        return value.value
    return value
