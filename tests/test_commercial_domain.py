"""The commercial figures' rules (bot/domain/commercial.py), pure: a partial change
checked as the figures would stand after it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.domain.commercial import (
    Commercial,
    CommercialChange,
    CommercialField,
    CommercialRefused,
    apply,
)
from bot.domain.customers import Plan, Status
from bot.domain.terms import Term

TODAY = date(2026, 11, 22)
STORED = Commercial(
    plan=Plan.ESSENTIALS,
    licences=10,
    term=Term.ANNUAL,
    contract_start=date(2026, 3, 1),
    renewal_date=date(2027, 3, 1),
    unit_price=Decimal("75.00"),
    past_due=False,
)


def refused(change: CommercialChange, *, status: Status = Status.PAID) -> dict[str, str]:
    with pytest.raises(CommercialRefused) as refusal:
        apply(STORED, change, status=status, today=TODAY)
    return {problem.field.value: problem.message for problem in refusal.value.problems}


def test_only_what_differs_is_a_change():
    applied = apply(
        STORED,
        CommercialChange(plan=Plan.ESSENTIALS, licences=12, unit_price=Decimal("75")),
        status=Status.PAID,
        today=TODAY,
    )
    assert applied.changed == (CommercialField.LICENCES,)
    assert (applied.before_json, applied.after_json) == ({"licences": 10}, {"licences": 12})


def test_a_stored_figure_sent_again_is_not_checked_again():
    # A trial's licences of 0 would be refused as a change; sent as stored, it is none.
    trial = Commercial(Plan.TRIAL, 0, None, None, None, Decimal("75.00"), False)
    applied = apply(trial, CommercialChange(licences=0), status=Status.ACTIVE_TRIAL, today=TODAY)
    assert applied.changed == ()


def test_a_new_term_is_checked_against_the_stored_renewal_date():
    assert (
        "can be 22 Dec 2026 at the latest" in refused(CommercialChange(term=Term.MONTHLY))["term"]
    )


def test_each_figure_that_cannot_be_is_named():
    problems = refused(
        CommercialChange(plan=Plan.FREE, licences=0, renewal_date=TODAY, unit_price=Decimal("-1"))
    )
    assert set(problems) == {"plan", "licences", "renewal_date", "unit_price"}


def test_a_contract_cannot_start_after_its_renewal():
    stale = Commercial(**{**_fields(STORED), "renewal_date": date(2026, 11, 1)})
    with pytest.raises(CommercialRefused) as refusal:
        apply(
            stale,
            CommercialChange(contract_start=date(2026, 11, 10)),
            status=Status.PAID,
            today=TODAY,
        )
    [problem] = refusal.value.problems
    assert problem.field is CommercialField.CONTRACT_START
    assert "must come after the contract start (10 Nov 2026)" in problem.message


def _fields(figures: Commercial) -> dict[str, object]:
    return {name.value: getattr(figures, name.value) for name in CommercialField}


@pytest.mark.parametrize(
    ("status", "plan", "allowed"),
    [
        (Status.PAID, Plan.PROFESSIONAL, True),
        (Status.PAID, Plan.FREE, False),
        (Status.PENDING_CANCELLATION, Plan.ENTERPRISE, True),
        (Status.ACTIVE_TRIAL, Plan.TRIAL, True),
        (Status.ACTIVE_TRIAL, Plan.ESSENTIALS, False),
        (Status.EXPIRED_TRIAL, Plan.FREE, True),
        (Status.FREE, Plan.PROFESSIONAL, False),
    ],
)
def test_a_plan_fits_the_status(status, plan, allowed):
    other = Plan.ENTERPRISE if plan is not Plan.ENTERPRISE else Plan.FREE
    stored = Commercial(other, 0, None, None, None, Decimal("75.00"), False)
    change = CommercialChange(plan=plan)
    if allowed:
        assert apply(stored, change, status=status, today=TODAY).after.plan is plan
    else:
        with pytest.raises(CommercialRefused):
            apply(stored, change, status=status, today=TODAY)
