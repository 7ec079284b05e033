"""Accounts added with a history (bot.domain.lifecycle): which combinations of plan,
status, dates, licences and past-due flag exist, and what is stored for them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.domain.customers import Plan, Status
from bot.domain.lifecycle import Given, lifecycle, plan_and_status, unit_price_cents
from bot.domain.terms import Term
from bot.errors import InvalidInput

TODAY = date(2026, 11, 22)


def life(**given: object):
    return lifecycle(Given(**given), today=TODAY, trial_days=30)  # type: ignore[arg-type]


def refusal(**given: object) -> tuple[str | None, str]:
    with pytest.raises(InvalidInput) as refused:
        life(**given)
    return refused.value.field, refused.value.message


def test_nothing_given_is_a_trial_starting_today():
    account = life()
    assert (account.plan, account.status, account.trial_start) == (
        Plan.TRIAL,
        Status.ACTIVE_TRIAL,
        TODAY,
    )
    assert account.trial_end is not None and account.trial_end > TODAY


@pytest.mark.parametrize(
    ("plan", "status", "stored"),
    [
        (None, Status.EXPIRED_TRIAL, (Plan.FREE, Status.EXPIRED_TRIAL)),
        (Plan.TRIAL, Status.EXPIRED_TRIAL, (Plan.FREE, Status.EXPIRED_TRIAL)),  # R4
        (Plan.FREE, None, (Plan.FREE, Status.FREE)),
        (Plan.ENTERPRISE, None, (Plan.ENTERPRISE, Status.PAID)),
        (None, Status.ACTIVE_TRIAL, (Plan.TRIAL, Status.ACTIVE_TRIAL)),
    ],
)
def test_a_plan_implies_its_status_and_a_status_its_plan(plan, status, stored):
    assert plan_and_status(plan, status) == stored


def test_a_half_used_trial_keeps_its_days():
    account = life(trial_start=date(2026, 11, 10), trial_end=date(2026, 12, 9))
    assert (account.trial_start, account.trial_end) == (date(2026, 11, 10), date(2026, 12, 9))
    started = life(trial_start=date(2026, 11, 10))  # its end from the MSP's trial length
    assert started.trial_end is not None and started.trial_end > date(2026, 12, 1)
    last_day = life(trial_end=TODAY)  # its last day is today: still active
    assert last_day.status == Status.ACTIVE_TRIAL


def test_a_trial_given_as_active_whose_last_day_has_passed_is_refused():
    field, message = refusal(status=Status.ACTIVE_TRIAL, trial_end=date(2026, 11, 21))
    assert field == "trial_end" and "has passed" in message and "expired_trial" in message
    field, _ = refusal(trial_start=date(2026, 9, 1))  # ended 30 days after it started
    assert field == "trial_start"


def test_an_expired_trial_is_stored_on_the_free_plan_with_its_dates():
    account = life(
        status=Status.EXPIRED_TRIAL, trial_start=date(2026, 9, 1), trial_end=date(2026, 9, 30)
    )
    assert (account.plan, account.status, account.trial_end) == (
        Plan.FREE,
        Status.EXPIRED_TRIAL,
        date(2026, 9, 30),
    )


def test_a_paid_contract_mid_term_keeps_its_start_and_gets_its_next_renewal():
    annual = life(
        plan=Plan.PROFESSIONAL,
        licences=10,
        contract_start=date(2026, 3, 15),
        term=Term.ANNUAL,
        past_due=True,
    )
    assert (annual.contract_start, annual.renewal_date, annual.past_due) == (
        date(2026, 3, 15),
        date(2027, 3, 15),
        True,
    )
    # Anchored on the 31st: November's renewal is its last day, December's the 31st.
    monthly = life(
        plan=Plan.ESSENTIALS, licences=3, contract_start=date(2025, 1, 31), term=Term.MONTHLY
    )
    assert monthly.renewal_date == date(2026, 11, 30)
    by_renewal = life(plan=Plan.ESSENTIALS, licences=3, renewal_date=date(2027, 6, 30))
    assert (by_renewal.term, by_renewal.contract_start) == (Term.ANNUAL, date(2026, 6, 30))


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        ({"plan": Plan.TRIAL, "status": Status.PAID}, "status", "not trial"),
        ({"plan": Plan.ESSENTIALS, "status": Status.ACTIVE_TRIAL}, "status", "not essentials"),
        ({"status": Status.PAID, "licences": 5}, "plan", "needs its plan"),
        ({"status": Status.PENDING_CANCELLATION}, "status", "request"),
        ({"status": Status.DELETED}, "status", "not imported"),
        ({"contract_start": date(2026, 1, 1)}, "contract_start", "A trial has no"),
        ({"plan": Plan.FREE, "licences": 5}, "licences", "A free account has no"),
        ({"past_due": True}, "past_due", "no bill"),
        ({"plan": Plan.ESSENTIALS}, "licences", "1 or more"),
        (
            {"plan": Plan.ESSENTIALS, "licences": 2, "contract_start": date(2026, 12, 1)},
            "contract_start",
            "future",
        ),
        (
            {
                "plan": Plan.ESSENTIALS,
                "licences": 2,
                "contract_start": date(2026, 3, 15),
                "renewal_date": date(2027, 3, 1),
            },
            "renewal_date",
            "renews on 15 Mar 2027",
        ),
        (
            {"plan": Plan.ESSENTIALS, "licences": 2, "renewal_date": date(2028, 1, 1)},
            "renewal_date",
            "within a year",
        ),
        (
            {"trial_start": date(2026, 11, 20), "trial_end": date(2026, 11, 19)},
            "trial_end",
            "before it starts",
        ),
        ({"trial_start": date(2026, 11, 23)}, "trial_start", "future"),
        (
            {"status": Status.EXPIRED_TRIAL, "trial_end": date(2026, 11, 30)},
            "trial_end",
            "active_trial",
        ),
    ],
)
def test_impossible_combinations_are_refused_on_the_attribute_at_fault(given, field, words):
    refused_field, message = refusal(**given)
    assert refused_field == field
    assert words in message


def test_the_unit_price_comes_from_either_price_and_both_must_agree():
    assert unit_price_cents(unit_price=Decimal("12.50"), monthly_price=None, licences=4) == 1250
    assert unit_price_cents(unit_price=None, monthly_price=Decimal("50"), licences=4) == 1250
    assert unit_price_cents(unit_price=None, monthly_price=Decimal("75"), licences=0) == 7500
    assert unit_price_cents(unit_price=Decimal("75"), monthly_price=Decimal("0"), licences=0)
    assert unit_price_cents(unit_price=None, monthly_price=None, licences=4) is None
    with pytest.raises(InvalidInput, match="make them agree") as disagree:
        unit_price_cents(unit_price=Decimal("12.50"), monthly_price=Decimal("40"), licences=4)
    assert disagree.value.field == "monthly_price"
    with pytest.raises(InvalidInput, match="whole number of cents"):
        unit_price_cents(unit_price=None, monthly_price=Decimal("10.00"), licences=3)
