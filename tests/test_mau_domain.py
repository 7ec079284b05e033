"""MAU maths (R19): months, overage, the allowance history and the projection."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain import mau
from bot.domain.mau import AllowanceChange
from bot.errors import InvalidInput

# ---------------------------------------------------------------- months


@pytest.mark.parametrize(
    ("month", "count", "expected"),
    [
        (date(2026, 11, 1), 1, date(2026, 12, 1)),
        (date(2026, 12, 1), 1, date(2027, 1, 1)),
        (date(2027, 1, 1), -1, date(2026, 12, 1)),
        (date(2026, 11, 1), -11, date(2025, 12, 1)),
        (date(2026, 11, 1), -23, date(2024, 12, 1)),
        (date(2026, 3, 1), 0, date(2026, 3, 1)),
        (date(2026, 1, 1), 24, date(2028, 1, 1)),
    ],
)
def test_add_months_crosses_years(month, count, expected):
    assert mau.add_months(month, count) == expected


def test_the_last_12_months_end_with_the_current_one():
    months = mau.last_months(date(2026, 11, 22))
    assert len(months) == 12
    assert months[0] == date(2025, 12, 1) and months[-1] == date(2026, 11, 1)
    assert all(m.day == 1 for m in months)
    assert months == sorted(set(months))


def test_the_last_12_months_across_new_year():
    months = mau.last_months(date(2027, 1, 1))
    assert [mau.month_key(m) for m in months[:2]] == ["2026-02", "2026-03"]
    assert [mau.month_key(m) for m in months[-2:]] == ["2026-12", "2027-01"]


@pytest.mark.parametrize(
    ("month", "days", "last"),
    [
        (date(2024, 2, 1), 29, date(2024, 2, 29)),  # leap year
        (date(2026, 2, 1), 28, date(2026, 2, 28)),
        (date(2000, 2, 1), 29, date(2000, 2, 29)),  # divisible by 400: leap
        (date(2100, 2, 1), 28, date(2100, 2, 28)),  # divisible by 100: not
        (date(2026, 4, 1), 30, date(2026, 4, 30)),
        (date(2026, 12, 1), 31, date(2026, 12, 31)),
    ],
)
def test_days_in_month_and_month_end(month, days, last):
    assert mau.days_in_month(month) == days
    assert mau.month_end(month) == last
    assert mau.month_start(last) == month


def test_month_keys_round_trip():
    assert mau.month_key(date(2026, 11, 1)) == "2026-11"
    assert mau.month_key(date(987, 3, 1)) == "0987-03"
    assert mau.parse_month_key("2026-11") == date(2026, 11, 1)
    assert mau.parse_month_key(" 2027-01 ") == date(2027, 1, 1)
    for bad in ("2026-13", "2026-00", "2026-1", "26-11", "november", "", "2026-11-01"):
        assert mau.parse_month_key(bad) is None, bad


def test_months_are_shown_to_people_as_jan_2026():
    assert [mau.readable_month(date(2026, m, 1)) for m in (1, 5, 9, 12)] == [
        "Jan 2026",
        "May 2026",
        "Sep 2026",
        "Dec 2026",
    ]
    assert mau.readable_month(date(2026, 12, 17)) == "Dec 2026"  # any day of the month
    assert mau.readable_month(date(2026, 12, 1), to_date=True) == "Dec 2026 (to date)"


# ---------------------------------------------------------------- overage and use


@pytest.mark.parametrize(
    ("used", "allowance", "expected"),
    [(12_000, 10_000, 2_000), (10_000, 10_000, 0), (9_999, 10_000, 0), (0, 0, 0), (1, 1, 0)],
)
def test_r19_overage_is_never_negative(used, allowance, expected):
    assert mau.overage(used, allowance) == expected


def test_r19_no_overage_without_an_allowance():
    """Before the first allowance was bought, a month's MAU is plain usage."""
    assert not mau.has_allowance(0)
    assert mau.overage(5, 0) == 0
    assert mau.overage(2_000_000_000, 0) == 0


def test_percent_used():
    assert mau.percent_used(5_000, 10_000) == 50
    assert mau.percent_used(10_000, 10_000) == 100
    assert mau.percent_used(12_345, 10_000) == pytest.approx(123.45)
    assert mau.percent_used(10, 0) is None


# ---------------------------------------------------------------- allowance history

MONTHS = mau.last_months(date(2026, 11, 22))
NOW = date(2026, 11, 1)


def _history(changes, current=50_000):
    return dict(
        zip(
            [mau.month_key(m) for m in MONTHS],
            mau.allowance_by_month(MONTHS, changes, current=current, current_month=NOW),
            strict=True,
        )
    )


def test_without_orders_every_month_has_the_current_allowance():
    assert set(_history([]).values()) == {50_000}


def test_each_month_has_the_allowance_after_the_last_order_by_its_end():
    history = _history(
        [
            AllowanceChange(day=date(2026, 3, 31), before=10_000, after=20_000),
            AllowanceChange(day=date(2026, 4, 1), before=20_000, after=30_000),
            AllowanceChange(day=date(2026, 8, 15), before=30_000, after=50_000),
        ]
    )
    assert history["2026-02"] == 10_000  # before the first order: its "before"
    assert history["2026-03"] == 20_000  # ordered on the last day of March
    assert history["2026-04"] == 30_000  # on the first day of April
    assert history["2026-07"] == 30_000
    assert history["2026-08"] == 50_000
    assert history["2026-11"] == 50_000


def test_several_orders_in_a_month_count_the_last_one():
    history = _history(
        [
            AllowanceChange(day=date(2026, 6, 2), before=10_000, after=15_000),
            AllowanceChange(day=date(2026, 6, 2), before=15_000, after=18_000),
            AllowanceChange(day=date(2026, 6, 20), before=18_000, after=25_000),
        ],
        current=25_000,
    )
    assert history["2026-05"] == 10_000
    assert history["2026-06"] == 25_000


def test_orders_before_the_window_set_its_first_months():
    history = _history([AllowanceChange(day=date(2024, 1, 5), before=0, after=40_000)])
    assert history["2025-12"] == 40_000
    assert history["2026-10"] == 40_000
    assert history["2026-11"] == 50_000  # the current allowance is what holds now


def test_orders_in_a_leap_february():
    months = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    changes = [AllowanceChange(day=date(2024, 2, 29), before=1_000, after=2_000)]
    assert mau.allowance_by_month(
        months, changes, current=2_000, current_month=date(2024, 4, 1)
    ) == [1_000, 2_000, 2_000]


# ---------------------------------------------------------------- projection


def test_linear_projection_from_the_month_to_date():
    projection = mau.project_month_end(1_200, today=date(2026, 11, 22), allowance=1_500)
    assert (projection.days_elapsed, projection.days_in_month) == (22, 30)
    assert projection.month_end == 1_636  # 1,200 / 22 * 30 = 1,636.36
    assert projection.projected_overage == 136 and projection.warns
    assert projection.sentence == (
        "Estimate: at this month's pace so far (1,200 active users in 22 of 30 days), "
        "about 1,636 by the end of the month, 136 over the allowance of 1,500."
    )


def test_projection_rounds_half_up_and_is_exact_on_big_numbers():
    assert mau.project_month_end(10, today=date(2026, 11, 10)).month_end == 30  # 30.0
    assert mau.project_month_end(1, today=date(2026, 11, 12)).month_end == 3  # 2.5 -> 3
    big = mau.project_month_end(1_000_000_007, today=date(2026, 11, 15))
    assert big.month_end == 2_000_000_014


@pytest.mark.parametrize("day", [1, 2, 6, 7, mau.ESTIMATE_FROM_DAY - 1])
def test_no_estimate_and_no_warning_early_in_the_month(day):
    """A few days' pace, multiplied by three or more, means little: no estimate, and
    so no warning, however far over the allowance it would point."""
    early = mau.project_month_end(10_000, today=date(2026, 12, day), allowance=12_000)
    assert early.month_end is None
    assert early.projected_overage == 0 and not early.warns
    days = "1 day" if day == 1 else f"{day} days"
    assert early.sentence == (
        f"No month-end estimate before day 10 of the month: 10,000 active users in {days} "
        "so far are too few to go on."
    )


def test_the_estimate_starts_on_day_10():
    ready = mau.project_month_end(5_000, today=date(2026, 12, 10), allowance=12_000)
    assert ready.month_end == 15_500 and ready.warns
    assert ready.sentence.endswith(
        "about 15,500 by the end of the month, 3,500 over the allowance of 12,000."
    )


def test_no_warning_within_the_allowance_or_without_one():
    within = mau.project_month_end(3_000, today=date(2026, 11, 15), allowance=6_000)
    assert within.month_end == 6_000 and not within.warns  # exactly at it is within
    assert within.sentence.endswith(
        "about 6,000 by the end of the month, within the allowance of 6,000."
    )
    none = mau.project_month_end(3_000, today=date(2026, 11, 15))
    assert none.month_end == 6_000 and none.projected_overage == 0 and not none.warns
    assert none.sentence.endswith("about 6,000 by the end of the month.")
    assert "allowance" not in none.sentence


def test_projection_on_the_last_day():
    last = mau.project_month_end(4_321, today=date(2026, 1, 31), allowance=4_000)
    assert last.month_end == 4_321 and last.projected_overage == 321
    assert "(4,321 active users in 31 of 31 days), about 4,321" in last.sentence


def test_projection_in_february():
    assert mau.project_month_end(280, today=date(2024, 2, 10)).month_end == 812  # 29 days
    assert mau.project_month_end(280, today=date(2026, 2, 10)).month_end == 784  # 28 days
    assert mau.project_month_end(0, today=date(2026, 2, 10)).month_end == 0


# ---------------------------------------------------------------- orders


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "at least 1"),
        ("-5", "at least 1"),
        ("ten", "whole number"),
        ("1.5", "whole number"),
        ("", "whole number"),
        (None, "whole number"),
        ("10000001", "at most 10,000,000"),
    ],
)
def test_order_quantity_is_refused_on_its_field(text, message):
    with pytest.raises(InvalidInput) as refused:
        mau.parse_order_quantity(text, field="quantity")
    assert message in refused.value.message
    assert refused.value.field == "quantity"


def test_order_quantity_accepts_whole_numbers():
    assert mau.parse_order_quantity(" 5000 ", field="q") == 5_000
    assert mau.parse_order_quantity("5,000", field="q") == 5_000
    assert mau.parse_order_quantity("10000000", field="q") == 10_000_000
