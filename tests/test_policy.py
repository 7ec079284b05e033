"""The request policy (R6-R17, R19), checked against tables written here rather than
read from the code: every request type on every status, the notice-window edges,
leap years, past-due, the free limits, quotes, add-ons, deletion and proration."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.customers import Plan, Status, trial_active, trial_days_left, trial_end
from bot.domain.policy import (
    ALLOWED_STATUSES,
    Account,
    Change,
    Timing,
    Verdict,
    current_renewal,
    decide,
    extended_trial_end,
    free_limit_warnings,
    notice_deadline,
    preview,
    require,
)
from bot.domain.requests import (
    ADD_ONS,
    DEFAULT_EXPIRY_DAYS,
    DEFAULT_EXTENSION_DAYS,
    DELETION_DELAY_DAYS,
    FREE_MAX_DATA_GB,
    FREE_MAX_USERS,
    MAX_EXTENSION_DAYS,
    NOTICE_DAYS,
    RequestStatus,
    RequestType,
    parse_add_on,
    parse_extension_days,
    parse_licence_count,
    parse_reason,
)
from bot.domain.terms import Term
from bot.errors import InvalidInput, RuleBroken

TODAY = date(2027, 1, 1)
RENEWAL = date(2027, 3, 1)  # 59 days on: every notice window is open
START = date(2026, 3, 1)  # a 12-month term
NEXT_RENEWAL = date(2028, 3, 1)
NEXT_DEADLINE = date(2028, 1, 31)  # 2028 is a leap year: 30 days before March 1

K = RequestType
S = Status
AT_RENEWAL_KINDS = [K.DECREASE_LICENCES, K.DOWNGRADE, K.REMOVE_ADDON, K.CANCEL]


def paid(**overrides: object) -> Account:
    """A paid Professional account, 10 licences at $75 a month each, ActivConnect on."""
    fields: dict[str, object] = {
        "status": S.PAID,
        "plan": Plan.PROFESSIONAL,
        "today": TODAY,
        "trial_end": None,
        "renewal_date": RENEWAL,
        "contract_start": START,
        "past_due": False,
        "licences": 10,
        "users": 3,
        "data_used_gb": 1.0,
        "add_ons": frozenset({"activconnect"}),
        "unit_price": Decimal("75.00"),
        "term": Term.ANNUAL,
    }
    return Account(**{**fields, **overrides})  # type: ignore[arg-type]


# What a customer in each status typically looks like.
TYPICAL: dict[Status, Account] = {
    S.ACTIVE_TRIAL: paid(
        status=S.ACTIVE_TRIAL, plan=Plan.TRIAL, trial_end=date(2027, 1, 20), renewal_date=None
    ),
    S.EXPIRED_TRIAL: paid(
        status=S.EXPIRED_TRIAL, plan=Plan.FREE, trial_end=date(2026, 12, 1), renewal_date=None
    ),
    S.PAID: paid(),
    S.FREE: paid(status=S.FREE, plan=Plan.FREE, renewal_date=None),
    S.PENDING_CANCELLATION: paid(status=S.PENDING_CANCELLATION),
    S.SCHEDULED_DELETION: paid(status=S.SCHEDULED_DELETION, plan=Plan.FREE, renewal_date=None),
    S.DELETED: paid(status=S.DELETED, plan=Plan.FREE, renewal_date=None),
}

# A request of each type that is fine whenever the status is.
TYPICAL_CHANGE: dict[RequestType, Change] = {
    K.TRIAL_EXTENSION: Change(),
    K.UPGRADE: Change(target_plan=Plan.ENTERPRISE, licence_count=20),
    K.ADD_LICENCES: Change(licence_count=2),
    K.DECREASE_LICENCES: Change(licence_count=5),
    K.DOWNGRADE: Change(target_plan=Plan.ESSENTIALS),
    K.ADD_ADDON: Change(add_on="screen_details"),
    K.REMOVE_ADDON: Change(add_on="activconnect"),
    K.CANCEL: Change(),
    K.REACTIVATE: Change(target_plan=Plan.ENTERPRISE, licence_count=20),
    K.DELETE_ACCOUNT: Change(),
    K.REMOVE_EXPIRED_TRIAL: Change(),
    K.MAU_ALLOWANCE_ORDER: Change(mau_quantity=1_000),
}

# Written from DOMAIN.md, not from ALLOWED_STATUSES: the statuses each type is allowed in.
EXPECTED_ALLOWED: dict[RequestType, set[str]] = {
    K.TRIAL_EXTENSION: {"active_trial", "expired_trial"},
    K.UPGRADE: {"active_trial", "expired_trial", "free", "paid", "pending_cancellation"},
    K.ADD_LICENCES: {"paid", "pending_cancellation"},
    K.DECREASE_LICENCES: {"paid"},
    K.DOWNGRADE: {"paid"},
    K.ADD_ADDON: {"paid", "pending_cancellation"},
    K.REMOVE_ADDON: {"paid"},
    K.CANCEL: {"paid"},
    K.REACTIVATE: {"free", "pending_cancellation"},
    K.DELETE_ACCOUNT: {"active_trial", "expired_trial", "free"},  # refused in a paid term
    K.REMOVE_EXPIRED_TRIAL: {"expired_trial"},
    K.MAU_ALLOWANCE_ORDER: {s.value for s in Status},  # the MSP's, not the customer's
}


def days_before_renewal(days: int, **overrides: object) -> Account:
    return paid(today=RENEWAL - timedelta(days=days), **overrides)


def assert_readable(verdict: Verdict) -> None:
    """A sentence a person can read: no Python values or raw enum names leak in."""
    assert verdict.reason.plain().strip()
    assert verdict.reason.plain()[0].isupper() and verdict.reason.plain().endswith(".")
    for leak in ("None", "_", "Plan.", "Status.", "Decimal"):
        assert leak not in verdict.reason.plain()


# ---------------------------------------------------------------- the matrix


@pytest.mark.parametrize(("kind", "status"), list(itertools.product(RequestType, Status)))
def test_every_type_on_every_status(kind, status):
    verdict = decide(kind, TYPICAL[status], TYPICAL_CHANGE[kind])
    assert verdict.allowed is (status.value in EXPECTED_ALLOWED[kind]), verdict.reason.plain()
    assert_readable(verdict)
    assert verdict.rule.startswith("R")


@pytest.mark.parametrize(("kind", "status"), list(itertools.product(RequestType, Status)))
def test_the_status_table_matches_the_rules(kind, status):
    in_table = status in ALLOWED_STATUSES[kind]
    if status.value in EXPECTED_ALLOWED[kind]:
        assert in_table
    elif kind is not K.DELETE_ACCOUNT:  # deletion refuses paid terms in its own rule
        assert not in_table


def test_every_type_has_a_status_entry():
    assert set(ALLOWED_STATUSES) == set(RequestType)


@pytest.mark.parametrize("kind", [k for k in RequestType if k is not K.MAU_ALLOWANCE_ORDER])
def test_deleted_accounts_refuse_everything(kind):
    verdict = decide(kind, TYPICAL[S.DELETED], TYPICAL_CHANGE[kind])
    assert not verdict.allowed
    assert "deleted" in verdict.reason.plain()


@pytest.mark.parametrize("kind", [k for k in RequestType if k is not K.MAU_ALLOWANCE_ORDER])
def test_scheduled_deletion_must_be_reversed_first(kind):
    verdict = decide(kind, TYPICAL[S.SCHEDULED_DELETION], TYPICAL_CHANGE[kind])
    assert not verdict.allowed
    assert "reverse the scheduled deletion first" in verdict.reason.plain()


def test_status_refusals_name_the_status_in_words():
    verdict = decide(K.TRIAL_EXTENSION, paid(), Change())
    assert (
        verdict.reason.plain()
        == "A trial extension needs an active or expired trial; this account is paid."
    )
    assert verdict.rule == "R7"


def test_changes_to_a_cancelled_plan_say_it_ends_anyway():
    verdict = decide(
        K.DECREASE_LICENCES, paid(status=S.PENDING_CANCELLATION), Change(licence_count=5)
    )
    assert not verdict.allowed
    assert (
        "pending cancellation" in verdict.reason.plain()
        and "1 Mar 2027 anyway" in verdict.reason.plain()
    )


def test_a_request_about_a_customer_needs_the_account():
    with pytest.raises(ValueError, match="account"):
        decide(K.CANCEL, None, Change())


# ---------------------------------------------------------------- the notice window


@pytest.mark.parametrize("kind", AT_RENEWAL_KINDS)
@pytest.mark.parametrize(("days", "allowed"), [(60, True), (31, True), (30, True), (29, False)])
def test_notice_is_thirty_days_before_renewal(kind, days, allowed):
    verdict = decide(kind, days_before_renewal(days), TYPICAL_CHANGE[kind])
    assert verdict.allowed is allowed, verdict.reason.plain()
    if allowed:
        assert verdict.timing is Timing.AT_RENEWAL
        assert verdict.effective == RENEWAL
        assert verdict.deadline == date(2027, 1, 30)
        assert verdict.schedule_for is None


@pytest.mark.parametrize("kind", AT_RENEWAL_KINDS)
@pytest.mark.parametrize("days", [29, 1])  # too late
def test_too_late_offers_the_next_renewal(kind, days):
    verdict = decide(kind, days_before_renewal(days), TYPICAL_CHANGE[kind])
    assert not verdict.allowed
    assert verdict.schedule_for == NEXT_RENEWAL
    assert verdict.earliest == NEXT_RENEWAL
    assert verdict.deadline == NEXT_DEADLINE
    assert verdict.effective is None and verdict.timing is None
    assert "30 days before renewal (1 Mar 2027)" in verdict.reason.plain()
    assert "the next window closes on 31 Jan 2028" in verdict.reason.plain()


@pytest.mark.parametrize("kind", AT_RENEWAL_KINDS)
@pytest.mark.parametrize("days", [0, -1])  # renewal today, renewal yesterday (job not run yet)
def test_a_renewal_date_that_has_come_is_read_as_the_next_one(kind, days):
    verdict = decide(kind, days_before_renewal(days), TYPICAL_CHANGE[kind])
    assert verdict.allowed, verdict.reason.plain()
    assert verdict.effective == NEXT_RENEWAL


def test_the_refusal_reads_like_the_domain_example():
    verdict = decide(K.DECREASE_LICENCES, days_before_renewal(10), Change(licence_count=5))
    assert verdict.reason.plain().startswith(
        "Licence decreases must be asked for 30 days before renewal (1 Mar 2027); "
        "the next window closes on 31 Jan 2028"
    )


def test_a_leap_day_renewal_moves_to_the_last_of_february():
    account = paid(
        renewal_date=date(2028, 2, 29), contract_start=date(2027, 2, 28), today=date(2028, 2, 10)
    )
    verdict = decide(K.CANCEL, account, Change())
    assert verdict.schedule_for == date(2029, 2, 28)
    assert verdict.deadline == date(2029, 1, 29)


def test_a_march_renewal_in_a_leap_year_closes_on_january_31():
    account = paid(
        renewal_date=date(2028, 3, 1), contract_start=date(2027, 3, 1), today=date(2028, 1, 31)
    )
    verdict = decide(K.DOWNGRADE, account, Change(target_plan=Plan.ESSENTIALS))
    assert verdict.allowed
    assert (verdict.deadline, verdict.effective) == (date(2028, 1, 31), date(2028, 3, 1))
    late = decide(
        K.DOWNGRADE, replace(account, today=date(2028, 2, 1)), Change(target_plan=Plan.ESSENTIALS)
    )
    assert not late.allowed


def test_a_monthly_term_offers_the_next_month():
    account = paid(contract_start=date(2027, 2, 1), today=date(2027, 2, 15), term=Term.MONTHLY)
    verdict = decide(K.CANCEL, account, Change())
    assert verdict.schedule_for == date(2027, 4, 1)
    assert verdict.deadline == date(2027, 3, 2)


def test_a_stale_renewal_date_offers_the_first_open_window():
    account = paid(renewal_date=date(2025, 3, 1), contract_start=date(2024, 3, 1), term=None)
    verdict = decide(K.CANCEL, account, Change())
    assert verdict.schedule_for == RENEWAL
    assert verdict.deadline >= TODAY


def test_a_stale_renewal_date_of_a_known_term_is_read_as_the_current_one():
    account = paid(renewal_date=date(2025, 3, 1), contract_start=date(2024, 3, 1))
    verdict = decide(K.CANCEL, account, Change())
    assert verdict.allowed and verdict.effective == RENEWAL


@pytest.mark.parametrize("kind", [*AT_RENEWAL_KINDS, K.ADD_LICENCES, K.ADD_ADDON])
def test_a_paid_account_needs_a_renewal_date_set_by_its_owners(kind):
    """The Edit form has no renewal date: the refusal names who sets it."""
    verdict = decide(kind, paid(renewal_date=None), TYPICAL_CHANGE[kind])
    assert not verdict.allowed
    assert "renewal date" in verdict.reason.plain() and "Edit" not in verdict.reason.plain()
    assert "POST /api/v1/accounts" in verdict.reason.plain()
    assert "Correct billing data" in verdict.reason.plain()
    assert_readable(verdict)


@pytest.mark.parametrize("kind", [K.ADD_LICENCES, K.ADD_ADDON])
@pytest.mark.parametrize("renewal", [TODAY, TODAY - timedelta(days=1)])
def test_prorating_needs_a_renewal_in_the_future(kind, renewal):
    verdict = decide(kind, paid(renewal_date=renewal, term=None), TYPICAL_CHANGE[kind])
    assert not verdict.allowed
    assert (
        "not in the future" in verdict.reason.plain()
        and "Correct billing data" in verdict.reason.plain()
    )


@pytest.mark.parametrize("kind", [K.ADD_LICENCES, K.ADD_ADDON])
@pytest.mark.parametrize("renewal", [TODAY, TODAY - timedelta(days=1)])
def test_a_renewing_term_prorates_to_its_next_renewal(kind, renewal):
    account = paid(renewal_date=renewal, contract_start=date(2026, 1, 1))
    verdict = decide(kind, account, TYPICAL_CHANGE[kind])
    assert verdict.allowed, verdict.reason.plain()
    assert "1 Jan 2028" in verdict.reason.plain()


def test_notice_deadline():
    assert notice_deadline(date(2028, 3, 1)) == date(2028, 1, 31)
    assert notice_deadline(date(2027, 3, 1)) == date(2027, 1, 30)


# ---------------------------------------------------------------- cancel and free limits


def test_past_due_accounts_cannot_cancel():
    verdict = decide(K.CANCEL, paid(past_due=True), Change())
    assert not verdict.allowed
    assert "settle the past-due balance first" in verdict.reason.plain()
    assert verdict.earliest is None and verdict.schedule_for is None


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        (K.DECREASE_LICENCES, Change(licence_count=5)),
        (K.DOWNGRADE, Change(target_plan=Plan.ESSENTIALS)),
        (K.ADD_LICENCES, Change(licence_count=1)),
    ],
)
def test_past_due_accounts_may_still_change_their_paid_plan(kind, change):
    assert decide(kind, paid(past_due=True), change).allowed


def test_a_cancellation_ends_the_term_and_becomes_free():
    verdict = decide(K.CANCEL, paid(), Change())
    assert verdict.allowed and verdict.effective == RENEWAL
    assert "becomes free" in verdict.reason.plain() and "no refunds" in verdict.reason.plain()


def test_an_already_cancelled_plan_says_when_it_ends():
    verdict = decide(K.CANCEL, paid(status=S.PENDING_CANCELLATION), Change())
    assert not verdict.allowed
    assert "already cancelled" in verdict.reason.plain() and "1 Mar 2027" in verdict.reason.plain()


@pytest.mark.parametrize(
    ("users", "gigabytes", "warned"),
    [(3, 3.0, False), (4, 3.0, True), (3, 3.1, True), (0, 0.0, False), (4, 3.1, True)],
)
def test_free_limit_warnings_on_cancel(users, gigabytes, warned):
    verdict = decide(K.CANCEL, paid(users=users, data_used_gb=gigabytes), Change())
    assert verdict.allowed
    assert bool(verdict.warnings) is warned
    if warned:
        (warning,) = verdict.warnings
        assert "over the free limits (3 users, 3 GB)" in warning
        assert f"{users} users" in warning
        assert f"{gigabytes:g} GB" in warning


def test_free_limit_warnings_come_with_a_late_cancel_too():
    verdict = decide(K.CANCEL, days_before_renewal(5, users=9), Change())
    assert not verdict.allowed and verdict.warnings


def test_free_limit_warning_alone():
    assert free_limit_warnings(paid(users=1, data_used_gb=12.25)) == (
        "Once free, the account will be over the free limits (3 users, 3 GB): it has 1 user "
        "and 12.25 GB of data. Remove users or data before the term ends, or it will stop "
        "showing data.",
    )


# ---------------------------------------------------------------- licences


def test_added_licences_show_the_prorated_charge():
    account = paid(today=RENEWAL - timedelta(days=73))
    verdict = decide(K.ADD_LICENCES, account, Change(licence_count=2))
    assert verdict.allowed and verdict.timing is Timing.NOW and verdict.effective is None
    assert verdict.proration is not None
    assert verdict.proration.amount == Decimal("360.00")  # 2 x $75 x 12 x 73/365
    assert "$360.00 for the 73 days left of the term, so all licences renew on 1 Mar 2027" in (
        verdict.reason.plain()
    )


def test_a_cancelled_plan_may_still_add_licences():
    assert decide(
        K.ADD_LICENCES, paid(status=S.PENDING_CANCELLATION), Change(licence_count=1)
    ).allowed


@pytest.mark.parametrize(("count", "allowed"), [(None, False), (0, False), (-1, False), (1, True)])
def test_added_licences_need_a_count(count, allowed):
    assert decide(K.ADD_LICENCES, paid(), Change(licence_count=count)).allowed is allowed


@pytest.mark.parametrize(("count", "allowed"), [(1, True), (2, False)])
def test_licences_stop_at_the_maximum(count, allowed):
    verdict = decide(K.ADD_LICENCES, paid(licences=99_999), Change(licence_count=count))
    assert verdict.allowed is allowed
    if not allowed:
        assert (
            "at most 100,000 licences" in verdict.reason.plain()
            and "at most 1 more" in verdict.reason.plain()
        )


@pytest.mark.parametrize("total", [10, 11, 0, None])
def test_a_decrease_must_decrease(total):
    verdict = decide(K.DECREASE_LICENCES, paid(licences=10), Change(licence_count=total))
    assert not verdict.allowed
    if total in (10, 11):
        assert "not a decrease" in verdict.reason.plain()


def test_a_decrease_below_the_users_in_use_warns():
    verdict = decide(K.DECREASE_LICENCES, paid(licences=10, users=8), Change(licence_count=6))
    assert verdict.allowed
    assert verdict.warnings == (
        "8 users are in use, more than the 6 licences asked for: remove users before the renewal.",
    )
    assert not decide(K.DECREASE_LICENCES, paid(users=6), Change(licence_count=6)).warnings


def test_a_decrease_says_there_are_no_refunds():
    verdict = decide(K.DECREASE_LICENCES, paid(), Change(licence_count=5))
    assert verdict.reason.plain() == (
        "The account goes from 10 to 5 licences on 1 Mar 2027, the renewal date; there are "
        "no refunds for the current term."
    )


# ---------------------------------------------------------------- plans


@pytest.mark.parametrize(
    ("status", "plan", "target", "allowed", "rule"),
    [
        (S.ACTIVE_TRIAL, Plan.TRIAL, Plan.ESSENTIALS, True, "R6"),
        (S.EXPIRED_TRIAL, Plan.FREE, Plan.PROFESSIONAL, True, "R6"),
        (S.EXPIRED_TRIAL, Plan.TRIAL, Plan.ESSENTIALS, True, "R6"),
        (S.FREE, Plan.FREE, Plan.ESSENTIALS, True, "R17"),
        (S.FREE, Plan.PROFESSIONAL, Plan.ESSENTIALS, True, "R17"),  # a stale plan on a free account
        (S.PAID, Plan.ESSENTIALS, Plan.PROFESSIONAL, True, "R11"),
        (S.PAID, Plan.PROFESSIONAL, Plan.PROFESSIONAL, False, "R11"),
        (S.PAID, Plan.PROFESSIONAL, Plan.ESSENTIALS, False, "R11"),
        (S.PAID, Plan.ENTERPRISE, Plan.ENTERPRISE, False, "R11"),
        (S.PENDING_CANCELLATION, Plan.ESSENTIALS, Plan.PROFESSIONAL, True, "R17"),
        (S.PAID, Plan.ESSENTIALS, Plan.FREE, False, "R11"),
        (S.ACTIVE_TRIAL, Plan.TRIAL, Plan.TRIAL, False, "R6"),
        (S.ACTIVE_TRIAL, Plan.TRIAL, None, False, "R6"),
    ],
)
def test_upgrades(status, plan, target, allowed, rule):
    account = paid(status=status, plan=plan)
    verdict = decide(K.UPGRADE, account, Change(target_plan=target))
    assert (verdict.allowed, verdict.rule) == (allowed, rule), verdict.reason.plain()
    if allowed:
        assert verdict.timing is Timing.NOW and verdict.effective is None
        assert not verdict.quote_needed


def test_an_upgrade_to_the_same_plan_points_to_a_downgrade_for_lower():
    verdict = decide(K.UPGRADE, paid(), Change(target_plan=Plan.PROFESSIONAL))
    assert verdict.reason.plain().startswith("This account is already on Professional")
    lower = decide(K.UPGRADE, paid(), Change(target_plan=Plan.ESSENTIALS))
    assert "downgrade request" in lower.reason.plain() and "renewal" in lower.reason.plain()


@pytest.mark.parametrize("status", [S.ACTIVE_TRIAL, S.FREE, S.PAID])
def test_enterprise_needs_a_quote_with_the_seat_count(status):
    account = TYPICAL[status]
    verdict = decide(K.UPGRADE, account, Change(target_plan=Plan.ENTERPRISE, licence_count=25))
    assert verdict.allowed and verdict.quote_needed and verdict.rule == "R11"
    assert "quote" in verdict.reason.plain() and "25 seats" in verdict.reason.plain()
    without = decide(K.UPGRADE, account, Change(target_plan=Plan.ENTERPRISE))
    assert not without.allowed and "number of seats" in without.reason.plain()


@pytest.mark.parametrize("seats", [0, -5, 100_001])
def test_a_seat_count_must_be_sensible(seats):
    verdict = decide(
        K.UPGRADE,
        paid(plan=Plan.ESSENTIALS),
        Change(target_plan=Plan.PROFESSIONAL, licence_count=seats),
    )
    assert not verdict.allowed


def test_an_upgrade_may_carry_a_seat_count():
    verdict = decide(
        K.UPGRADE,
        paid(plan=Plan.ESSENTIALS),
        Change(target_plan=Plan.PROFESSIONAL, licence_count=12),
    )
    assert (
        verdict.reason.plain()
        == "The account moves to Professional with 12 licences as soon as the request is approved."
    )


def test_reactivating_a_cancelled_plan_withdraws_the_cancellation():
    verdict = decide(K.REACTIVATE, paid(status=S.PENDING_CANCELLATION), Change())
    assert verdict.allowed and verdict.timing is Timing.NOW and verdict.rule == "R17"
    assert (
        "cancellation is withdrawn" in verdict.reason.plain()
        and "1 Mar 2027" in verdict.reason.plain()
    )
    upgraded = decide(
        K.REACTIVATE,
        paid(status=S.PENDING_CANCELLATION, plan=Plan.ESSENTIALS),
        Change(target_plan=Plan.PROFESSIONAL),
    )
    assert upgraded.allowed and "withdrawn too" in upgraded.reason.plain()


@pytest.mark.parametrize(
    ("target", "allowed"), [(None, False), (Plan.FREE, False), (Plan.ESSENTIALS, True)]
)
def test_reactivating_a_free_account_is_an_upgrade(target, allowed):
    verdict = decide(K.REACTIVATE, TYPICAL[S.FREE], Change(target_plan=target))
    assert (verdict.allowed, verdict.rule) == (allowed, "R17")


@pytest.mark.parametrize(
    ("plan", "target", "allowed", "says"),
    [
        (Plan.PROFESSIONAL, Plan.ESSENTIALS, True, "from Professional to Essentials on 1 Mar 2027"),
        (Plan.ENTERPRISE, Plan.PROFESSIONAL, True, "no refunds"),
        (Plan.PROFESSIONAL, Plan.FREE, False, "cancellation"),
        (Plan.PROFESSIONAL, Plan.PROFESSIONAL, False, "already on Professional"),
        (Plan.ESSENTIALS, Plan.ENTERPRISE, False, "upgrade"),
        (Plan.PROFESSIONAL, Plan.TRIAL, False, "Choose the paid plan"),
        (Plan.PROFESSIONAL, None, False, "Choose the paid plan"),
    ],
)
def test_downgrades(plan, target, allowed, says):
    verdict = decide(K.DOWNGRADE, paid(plan=plan), Change(target_plan=target))
    assert verdict.allowed is allowed
    assert says in verdict.reason.plain()


# ---------------------------------------------------------------- add-ons


def test_an_add_on_applies_at_once_and_co_terms():
    account = paid(today=RENEWAL - timedelta(days=73))
    verdict = decide(K.ADD_ADDON, account, Change(add_on="Screen Details"))
    assert verdict.allowed and verdict.timing is Timing.NOW
    assert verdict.proration is not None
    assert verdict.proration.amount is None  # the vendor prices it
    assert (verdict.proration.days_left, verdict.proration.fraction) == (73, Decimal("0.2"))
    assert "every user" in verdict.reason.plain() and "co-terms" in verdict.reason.plain()
    assert "1 Mar 2027" in verdict.reason.plain()


@pytest.mark.parametrize("stored", ["activconnect", "ActivConnect"])
@pytest.mark.parametrize("asked", ["activconnect", "ActivConnect", "ACTIVCONNECT"])
def test_an_add_on_already_present_is_refused(stored, asked):
    verdict = decide(K.ADD_ADDON, paid(add_ons=frozenset({stored})), Change(add_on=asked))
    assert not verdict.allowed
    assert verdict.reason.plain() == "ActivConnect is already on this account."


@pytest.mark.parametrize("kind", [K.ADD_ADDON, K.REMOVE_ADDON])
@pytest.mark.parametrize("name", [None, "", "Teleport"])
def test_an_add_on_must_be_in_the_catalog(kind, name):
    verdict = decide(kind, paid(), Change(add_on=name))
    assert not verdict.allowed
    assert "ActivConnect or Screen Details" in verdict.reason.plain()


def test_removing_an_add_on_needs_it_on_the_account():
    verdict = decide(K.REMOVE_ADDON, paid(add_ons=frozenset()), Change(add_on="activconnect"))
    assert not verdict.allowed and verdict.reason.plain() == "ActivConnect is not on this account."


def test_removing_an_add_on_is_at_renewal():
    verdict = decide(K.REMOVE_ADDON, paid(), Change(add_on="activconnect"))
    assert verdict.allowed and verdict.effective == RENEWAL and verdict.timing is Timing.AT_RENEWAL
    assert verdict.rule == "R13"


# ---------------------------------------------------------------- deletion


def test_deletion_is_refused_during_a_paid_term():
    verdict = decide(K.DELETE_ACCOUNT, paid(), Change())
    assert not verdict.allowed and verdict.rule == "R16"
    assert verdict.earliest == RENEWAL
    assert (
        "cancel the plan first" in verdict.reason.plain() and "1 Mar 2027" in verdict.reason.plain()
    )


def test_too_late_to_cancel_the_earliest_deletion_is_the_next_renewal():
    verdict = decide(K.DELETE_ACCOUNT, days_before_renewal(10), Change())
    assert not verdict.allowed and verdict.earliest == NEXT_RENEWAL


def test_a_cancelled_plan_can_be_deleted_after_its_term():
    verdict = decide(K.DELETE_ACCOUNT, paid(status=S.PENDING_CANCELLATION), Change())
    assert not verdict.allowed and verdict.earliest == RENEWAL
    assert "already cancelled" in verdict.reason.plain()


def test_deletion_of_a_paid_account_without_a_renewal_date():
    verdict = decide(K.DELETE_ACCOUNT, paid(renewal_date=None), Change())
    assert not verdict.allowed and "Correct billing data" in verdict.reason.plain()


def test_a_cancelled_term_that_has_ended_can_be_deleted():
    account = paid(status=S.PENDING_CANCELLATION, renewal_date=TODAY)
    assert decide(K.DELETE_ACCOUNT, account, Change()).allowed


@pytest.mark.parametrize("renewal", [TODAY, TODAY - timedelta(days=1)])
def test_a_paid_plan_past_its_renewal_date_renews_and_cannot_be_deleted(renewal):
    verdict = decide(K.DELETE_ACCOUNT, paid(renewal_date=renewal), Change())
    assert not verdict.allowed and verdict.rule == "R16"


@pytest.mark.parametrize("status", [S.ACTIVE_TRIAL, S.EXPIRED_TRIAL, S.FREE])
def test_deletion_is_completed_30_days_later_and_reversible(status):
    verdict = decide(K.DELETE_ACCOUNT, TYPICAL[status], Change())
    assert verdict.allowed and verdict.timing is Timing.AFTER_DELAY
    assert verdict.effective == date(2027, 1, 31)
    assert "any admin can reverse it" in verdict.reason.plain()


# ---------------------------------------------------------------- trials and the MSP


@pytest.mark.parametrize(
    ("status", "trial_end", "days", "ends"),
    [
        (S.ACTIVE_TRIAL, date(2027, 1, 20), None, "3 Feb 2027"),  # from the trial end
        (S.EXPIRED_TRIAL, date(2026, 12, 1), None, "14 Jan 2027"),  # today is day 1
        (S.ACTIVE_TRIAL, date(2027, 1, 20), 90, "20 Apr 2027"),
        (S.ACTIVE_TRIAL, date(2027, 1, 20), 1, "21 Jan 2027"),
    ],
)
def test_trial_extensions(status, trial_end, days, ends):
    account = paid(status=status, plan=Plan.TRIAL, trial_end=trial_end, renewal_date=None)
    verdict = decide(K.TRIAL_EXTENSION, account, Change(extension_days=days))
    assert verdict.allowed and verdict.timing is Timing.NOW and verdict.rule == "R7"
    assert f"ends on {ends}" in verdict.reason.plain()


@pytest.mark.parametrize("days", [0, -1, 91])
def test_trial_extensions_are_1_to_90_days(days):
    assert not decide(
        K.TRIAL_EXTENSION, TYPICAL[S.ACTIVE_TRIAL], Change(extension_days=days)
    ).allowed


def test_extended_trial_end_counts_from_the_later_day():
    assert extended_trial_end(date(2027, 1, 20), today=TODAY, days=14) == date(2027, 2, 3)
    # An ended trial gets 14 active days, today the first of them (R4).
    assert extended_trial_end(date(2026, 12, 1), today=TODAY, days=14) == date(2027, 1, 14)
    assert extended_trial_end(None, today=TODAY, days=14) == date(2027, 1, 14)


@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2031, 12, 31)),
    days=st.integers(min_value=1, max_value=400),
    extension=st.integers(min_value=1, max_value=MAX_EXTENSION_DAYS),
)
def test_a_trial_of_n_days_is_active_exactly_n_days_and_an_extension_adds_its_days(
    start, days, extension
):
    """R4: day 1 is the start; R7: an extension adds exactly its days, whether the
    trial is on its last day or ended the day before."""
    end = trial_end(start, days=days)
    window = [start + timedelta(days=n) for n in range(-2, days + 3)]
    active = [day for day in window if day >= start and trial_active(end, today=day)]
    assert len(active) == days and active[0] == start and active[-1] == end
    assert trial_days_left(end, today=start) == days
    assert trial_days_left(end, today=end) == 1
    assert trial_days_left(end, today=end + timedelta(days=1)) == 0
    on_last_day = extended_trial_end(end, today=end, days=extension)
    day_after = extended_trial_end(end, today=end + timedelta(days=1), days=extension)
    assert on_last_day == day_after == end + timedelta(days=extension)


def test_removing_an_expired_trial():
    verdict = decide(K.REMOVE_EXPIRED_TRIAL, TYPICAL[S.EXPIRED_TRIAL], Change())
    assert verdict.allowed and verdict.rule == "R8" and verdict.timing is Timing.NOW


@pytest.mark.parametrize(
    ("quantity", "allowed"),
    [(1, True), (10_000_000, True), (None, False), (0, False), (10_000_001, False)],
)
def test_mau_allowance_orders_ignore_the_account(quantity, allowed):
    change = Change(mau_quantity=quantity)
    for account in (None, TYPICAL[S.DELETED], paid()):
        verdict = decide(K.MAU_ALLOWANCE_ORDER, account, change)
        assert (verdict.allowed, verdict.rule) == (allowed, "R19")


# ---------------------------------------------------------------- previews (no details yet)


@pytest.mark.parametrize(("kind", "status"), list(itertools.product(RequestType, Status)))
def test_every_type_previews_on_every_status(kind, status):
    verdict = preview(kind, TYPICAL[status])
    assert verdict.allowed is (status.value in EXPECTED_ALLOWED[kind]), verdict.reason.plain()
    assert_readable(verdict)


@pytest.mark.parametrize(
    ("kind", "account", "says"),
    [
        (K.UPGRADE, paid(plan=Plan.ENTERPRISE), "already on Enterprise"),
        (K.REACTIVATE, paid(status=S.FREE, plan=Plan.FREE), None),
        (K.ADD_LICENCES, paid(licences=100_000), "the most licences allowed (100,000)"),
        (K.DECREASE_LICENCES, paid(licences=1), "none to decrease"),
        (K.DOWNGRADE, paid(plan=Plan.ESSENTIALS), "Essentials is the lowest paid plan"),
        (K.ADD_ADDON, paid(add_ons=frozenset({"ActivConnect", "screen_details"})), "Every add-on"),
        (K.REMOVE_ADDON, paid(add_ons=frozenset()), "no add-ons to remove"),
        (K.CANCEL, paid(past_due=True), "settle the past-due balance first"),
        (K.ADD_LICENCES, paid(renewal_date=None), "Correct billing data"),
        (K.DECREASE_LICENCES, paid(renewal_date=None), "Correct billing data"),
    ],
)
def test_previews_refuse_what_no_details_could_allow(kind, account, says):
    verdict = preview(kind, account)
    if says is None:
        assert verdict.allowed
        return
    assert not verdict.allowed and verdict.schedule_for is None
    assert says in verdict.reason.plain()


@pytest.mark.parametrize("kind", AT_RENEWAL_KINDS)
def test_a_late_preview_offers_the_next_renewal(kind):
    verdict = preview(kind, days_before_renewal(10))
    assert not verdict.allowed
    assert (verdict.schedule_for, verdict.deadline) == (NEXT_RENEWAL, NEXT_DEADLINE)
    in_time = preview(kind, paid())
    assert in_time.allowed and in_time.effective == RENEWAL and in_time.timing is Timing.AT_RENEWAL


def test_the_add_licences_preview_prices_one_licence():
    verdict = preview(K.ADD_LICENCES, paid(today=RENEWAL - timedelta(days=73)))
    assert verdict.proration is not None
    assert verdict.proration.amount == Decimal("180.00")  # $75 x 12 x 73/365


def test_the_cancel_preview_warns_about_the_free_limits():
    assert preview(K.CANCEL, paid(users=4)).warnings


def test_mau_previews_need_no_account():
    assert preview(K.MAU_ALLOWANCE_ORDER, None).allowed
    with pytest.raises(ValueError):
        preview(K.UPGRADE, None)


# ---------------------------------------------------------------- require


def test_require_passes_an_allowed_verdict_through():
    verdict = decide(K.CANCEL, paid(), Change())
    assert require(verdict) is verdict


def test_require_raises_with_the_rule_and_the_date():
    with pytest.raises(RuleBroken) as refused:
        require(decide(K.CANCEL, days_before_renewal(5), Change()))
    assert refused.value.rule == "R14"
    assert refused.value.earliest == NEXT_RENEWAL
    assert "31 Jan 2028" in refused.value.message
    with pytest.raises(RuleBroken) as in_term:
        require(decide(K.DELETE_ACCOUNT, paid(), Change()))
    assert in_term.value.earliest == RENEWAL


def test_require_without_a_date():
    with pytest.raises(RuleBroken) as refused:
        require(decide(K.CANCEL, paid(past_due=True), Change()))
    assert refused.value.earliest is None


# ---------------------------------------------------------------- any account


accounts = st.builds(
    Account,
    status=st.sampled_from(Status),
    plan=st.sampled_from(Plan),
    today=st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)),
    trial_end=st.none() | st.dates(min_value=date(2024, 1, 1), max_value=date(2031, 12, 31)),
    renewal_date=st.none() | st.dates(min_value=date(2023, 1, 1), max_value=date(2033, 12, 31)),
    contract_start=st.none() | st.dates(min_value=date(2020, 1, 1), max_value=date(2033, 12, 31)),
    past_due=st.booleans(),
    licences=st.integers(min_value=0, max_value=100_000),
    users=st.integers(min_value=0, max_value=200_000),
    data_used_gb=st.floats(min_value=0, max_value=10_000, allow_nan=False),
    add_ons=st.frozensets(st.sampled_from(["activconnect", "ActivConnect", "screen_details"])),
    unit_price=st.decimals(min_value=0, max_value=100_000, places=2),
    term=st.none() | st.sampled_from(Term),
)
changes = st.builds(
    Change,
    target_plan=st.none() | st.sampled_from(Plan),
    licence_count=st.none() | st.integers(min_value=-2, max_value=100_002),
    add_on=st.none() | st.sampled_from(["activconnect", "Screen Details", "other", ""]),
    extension_days=st.none() | st.integers(min_value=-1, max_value=91),
    mau_quantity=st.none() | st.integers(min_value=-1, max_value=10_000_001),
)


def assert_coherent(verdict: Verdict, account: Account) -> None:
    """Refused verdicts explain themselves; allowed ones say when, consistently."""
    assert_readable(verdict)
    if not verdict.allowed:
        assert verdict.timing is None and verdict.effective is None
        with pytest.raises(RuleBroken):
            require(verdict)
        if verdict.schedule_for is not None:
            assert verdict.schedule_for > account.today
            assert account.today <= verdict.deadline == notice_deadline(verdict.schedule_for)
        return
    assert verdict.timing is not None
    if verdict.timing is Timing.AT_RENEWAL:
        # A renewal date that has come is read as the next one (the term renews).
        renewal = current_renewal(account)
        assert renewal is not None and verdict.effective == renewal
        assert verdict.deadline is not None and account.today <= verdict.deadline
        assert verdict.deadline == renewal - timedelta(days=NOTICE_DAYS)
    elif verdict.timing is Timing.AFTER_DELAY:
        assert verdict.effective == account.today + timedelta(days=DELETION_DELAY_DAYS)
    else:
        assert verdict.effective is None
    if verdict.proration is not None and verdict.proration.amount is not None:
        assert verdict.proration.amount >= 0


@given(kind=st.sampled_from(RequestType), account=accounts, change=changes)
def test_a_closed_preview_means_no_details_help(kind, account, change):
    shown = preview(kind, account)
    assert_coherent(shown, account)
    if not shown.allowed and shown.schedule_for is None:
        assert not decide(kind, account, change).allowed


@given(kind=st.sampled_from(RequestType), account=accounts, change=changes)
def test_every_verdict_is_coherent(kind, account, change):
    assert_coherent(decide(kind, account, change), account)


# ---------------------------------------------------------------- vocabulary and parsers


@pytest.mark.parametrize(
    ("kind", "label", "rule"),
    [
        (K.TRIAL_EXTENSION, "Extend trial", "R7"),
        (K.UPGRADE, "Upgrade plan", "R11"),
        (K.ADD_LICENCES, "Add licences", "R9"),
        (K.DECREASE_LICENCES, "Decrease licences", "R10"),
        (K.DOWNGRADE, "Downgrade plan", "R12"),
        (K.ADD_ADDON, "Add an add-on", "R13"),
        (K.REMOVE_ADDON, "Remove an add-on", "R13"),
        (K.CANCEL, "Cancel subscription", "R14"),
        (K.REACTIVATE, "Reactivate subscription", "R17"),
        (K.DELETE_ACCOUNT, "Delete account", "R16"),
        (K.REMOVE_EXPIRED_TRIAL, "Remove expired trial", "R8"),
        (K.MAU_ALLOWANCE_ORDER, "Order MAU allowance", "R19"),
    ],
)
def test_request_types_have_a_label_and_a_rule(kind, label, rule):
    assert (kind.label, kind.rule) == (label, rule)


def test_every_label_says_what_it_does_once_and_fits_a_modal_title():
    labels = [kind.label for kind in RequestType]
    assert len(set(labels)) == len(labels)
    for label in labels:
        assert len(label) <= 24, label  # a modal's title
        words = label.casefold().split()
        assert len(words) >= 2 and len(set(words)) == len(words), label


@pytest.mark.parametrize(
    ("status", "is_open", "is_final"),
    [
        ("pending", True, False),
        ("scheduled", False, False),
        ("denied", False, True),
        ("expired", False, True),
        ("withdrawn", False, True),
        ("applied", False, True),
        ("reversed", False, True),
    ],
)
def test_request_statuses(status, is_open, is_final):
    assert (RequestStatus(status).is_open, RequestStatus(status).is_final) == (is_open, is_final)


def test_every_request_status_is_listed():
    assert {s.value for s in RequestStatus} == {
        "pending",
        "denied",
        "expired",
        "withdrawn",
        "applied",
        "scheduled",
        "reversed",
    }


def test_the_constants():
    assert (DEFAULT_EXTENSION_DAYS, MAX_EXTENSION_DAYS, NOTICE_DAYS) == (14, 90, 30)
    assert (DELETION_DELAY_DAYS, DEFAULT_EXPIRY_DAYS) == (30, 7)
    assert (FREE_MAX_USERS, FREE_MAX_DATA_GB) == (3, 3)
    assert ADD_ONS == {"activconnect": "ActivConnect", "screen_details": "Screen Details"}


REQUIRED_REASON = partial(parse_reason, required=True)
OPTIONAL_REASON = partial(parse_reason, required=False)

PARSED = [
    (parse_add_on, "activconnect", "activconnect"),
    (parse_add_on, "ActivConnect", "activconnect"),
    (parse_add_on, " screen details ", "screen_details"),
    (parse_add_on, "SCREEN_DETAILS", "screen_details"),
    (parse_extension_days, None, 14),
    (parse_extension_days, "", 14),
    (parse_extension_days, "  ", 14),
    (parse_extension_days, "7", 7),
    (parse_extension_days, "1", 1),
    (parse_extension_days, "90", 90),
    (parse_licence_count, "1", 1),
    (parse_licence_count, " 25 ", 25),
    (parse_licence_count, "1,000", 1000),
    (parse_licence_count, "100,000", 100_000),
    (REQUIRED_REASON, "  too late  ", "too late"),
    (REQUIRED_REASON, "x" * 500, "x" * 500),
    (OPTIONAL_REASON, "", ""),
    (OPTIONAL_REASON, None, ""),
]

REFUSED = [
    (parse_add_on, None, "ActivConnect or Screen Details"),
    (parse_add_on, "", "ActivConnect or Screen Details"),
    (parse_add_on, "Teleport", "ActivConnect or Screen Details"),
    (parse_add_on, "screen", "ActivConnect or Screen Details"),
    (parse_extension_days, "0", "at least 1"),
    (parse_extension_days, "-3", "at least 1"),
    (parse_extension_days, "91", "at most 90"),
    (parse_extension_days, "two", "whole number"),
    (parse_extension_days, "1.5", "whole number"),
    (parse_licence_count, "0", "at least 1"),
    (parse_licence_count, "100,001", "at most 100,000"),
    (parse_licence_count, "1,00", "commas only between thousands"),
    (parse_licence_count, "ten", "whole number"),
    (parse_licence_count, "", "whole number"),
    (parse_licence_count, None, "whole number"),
    (REQUIRED_REASON, "", "Give a reason"),
    (REQUIRED_REASON, "   ", "Give a reason"),
    (REQUIRED_REASON, "x" * 501, "at most 500"),
    (OPTIONAL_REASON, "x" * 501, "at most 500"),
]


@pytest.mark.parametrize(("parse", "text", "value"), PARSED)
def test_parsers_accept(parse, text, value):
    assert parse(text, field="the_field") == value


@pytest.mark.parametrize(("parse", "text", "says"), REFUSED)
def test_parsers_refuse_with_a_sentence_on_their_field(parse, text, says):
    with pytest.raises(InvalidInput, match=says) as error:
        parse(text, field="the_field")
    assert error.value.field == "the_field"
    assert error.value.message.endswith(".")
