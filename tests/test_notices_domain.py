"""The notice rules (bot/domain/notices.py): each notice on its day and not the day
before, the latest relevant one after downtime, and 09:00 local across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.notices import (
    digest_day,
    mau_threshold_reached,
    parse_trial_notice_days,
    renewal_window_due,
    renewal_window_range,
    trial_threshold,
    weekly_period,
)

DAYS = (7, 3, 1)


@pytest.mark.parametrize(
    ("days_left", "threshold"),
    [(8, None), (7, 7), (6, 7), (4, 7), (3, 3), (2, 3), (1, 1), (0, 1), (-1, None)],
)
def test_a_trial_is_in_the_smallest_threshold_at_or_above_its_days_left(days_left, threshold):
    assert trial_threshold(days_left, DAYS) == threshold


def test_thresholds_are_parsed_largest_first_and_mistakes_explained():
    assert parse_trial_notice_days("1, 7,3,3") == (7, 3, 1)
    assert parse_trial_notice_days("14") == (14,)
    for bad in ("", "0", "61", "seven", "3,-1"):
        with pytest.raises(ValueError, match=r"e\.g\. 7,3,1"):
            parse_trial_notice_days(bad)


def test_the_renewal_window_notice_is_due_the_last_week_before_the_cut_off():
    renewal = date(2027, 3, 1)  # cut-off (30 days before): 2027-01-30
    assert not renewal_window_due(date(2027, 1, 22), renewal)  # the day before
    assert renewal_window_due(date(2027, 1, 23), renewal)  # a week before the cut-off
    assert renewal_window_due(date(2027, 1, 30), renewal)  # the cut-off itself
    assert not renewal_window_due(date(2027, 1, 31), renewal)  # too late to ask
    for today in (date(2027, 1, 23), date(2027, 1, 30)):
        first, last = renewal_window_range(today)
        assert first <= renewal <= last
    assert (
        not renewal_window_range(date(2027, 1, 22))[0]
        <= renewal
        <= renewal_window_range(date(2027, 1, 22))[1]
    )


@pytest.mark.parametrize(
    ("mau", "allowance", "reached"),
    [(799, 1000, None), (800, 1000, 80), (999, 1000, 80), (1000, 1000, 100), (5000, 1000, 100)],
)
def test_the_highest_mau_threshold_reached_is_the_one_due(mau, allowance, reached):
    assert mau_threshold_reached(mau, allowance) == reached


def test_no_allowance_means_no_mau_notice():
    assert mau_threshold_reached(10**6, 0) is None


NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 3, 8),  # clocks go forward at 02:00 that Sunday
        date(2026, 3, 9),
        date(2026, 11, 1),  # clocks go back at 02:00 that Sunday
        date(2026, 11, 2),
    ],
)
def test_the_daily_digest_is_due_at_nine_local_on_dst_change_days(day):
    nine = datetime(day.year, day.month, day.day, 9, 0, tzinfo=NEW_YORK)
    assert digest_day(nine - timedelta(minutes=1)) is None
    assert digest_day(nine) == day
    # The same moment seen from UTC: the offset differs across the change, the local
    # hour does not.
    assert digest_day(nine.astimezone(UTC).astimezone(NEW_YORK)) == day


def test_nine_local_is_a_different_utc_hour_before_and_after_the_change():
    before = datetime(2026, 10, 31, 9, 0, tzinfo=NEW_YORK).astimezone(UTC)
    after = datetime(2026, 11, 2, 9, 0, tzinfo=NEW_YORK).astimezone(UTC)
    assert (before.hour, after.hour) == (13, 14)


def test_the_weekly_summary_is_due_on_monday_from_nine_and_keyed_by_iso_week():
    monday = datetime(2026, 11, 30, 8, 59, tzinfo=NEW_YORK)
    assert weekly_period(monday) is None
    assert weekly_period(monday + timedelta(minutes=1)) == "2026-W49"
    assert weekly_period(monday + timedelta(hours=15)) == "2026-W49"  # 23:59 Monday
    assert weekly_period(monday + timedelta(days=3)) is None  # not on Thursday
    assert weekly_period(monday - timedelta(days=1)) is None
