"""The MAU chart: what it shows (the data the view hands it) and a PNG of the
expected size, drawn without pyplot."""

from __future__ import annotations

import calendar
import struct
import sys
import zlib
from datetime import date

import pytest

from bot.domain.mau import last_months, overage, project_month_end
from bot.results.licence import ChosenCustomer, MauSeries
from bot.views.charts import HEIGHT_PX, WIDTH_PX, MauChart, mau_chart_png
from bot.views.licence import mau_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = [f"{name} 2026" for name in calendar.month_abbr[1:]]  # the image tests' axis
TODAY = date(2026, 12, 14)  # 14 of 31 days: an estimate is made


def _chart(mau, allowance, title="MAU", **more) -> bytes:
    return mau_chart_png(MauChart(title=title, labels=LABELS, mau=mau, allowance=allowance, **more))


def _ihdr(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert png[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    data = png[16 : 16 + length]
    (crc,) = struct.unpack(">I", png[16 + length : 20 + length])
    assert crc == zlib.crc32(kind + data)
    width, height = struct.unpack(">II", data[:8])
    return width, height


def _whole_msp(mau: list[int], allowance: list[int], *, today: date = TODAY) -> MauSeries:
    return MauSeries(
        customer=None,
        months=last_months(today),
        mau=mau,
        allowance=allowance,
        overage=[overage(used, allowed) for used, allowed in zip(mau, allowance, strict=True)],
        projection=project_month_end(mau[-1], today=today, allowance=allowance[-1]),
    )


# ---------------------------------------------------------------- what the chart shows


def test_months_read_jan_2026_and_this_month_is_marked_partial():
    chart = mau_chart(_whole_msp([1_000] * 12, [2_000] * 12))
    assert chart.labels[:2] == ["Jan 2026", "Feb 2026"]
    assert chart.labels[-2:] == ["Nov 2026", "Dec 2026 (to date)"]
    assert chart.partial == 11  # drawn lighter and hatched, named in the legend
    assert all("-" not in label for label in chart.labels)


def test_months_before_the_first_allowance_are_plain_usage():
    """No allowance bought until May: January to April are not over anything, however
    much they used; from May, a month above its allowance is."""
    mau = [3_000, 3_500, 4_200, 5_000, 6_100, 7_000, 8_200, 9_100, 9_900, 10_800, 11_800, 3_800]
    allowance = [0, 0, 0, 0, 8_000, 8_000, 8_000, 10_000, 10_000, 10_000, 12_000, 12_000]
    chart = mau_chart(_whole_msp(mau, allowance))
    assert chart.over() == [False] * 6 + [True, False, False, True, False, False]
    everything_before = mau_chart(_whole_msp([5_000] * 12, [0] * 12))
    assert everything_before.over() == [False] * 12


def test_the_estimate_is_drawn_and_said_below_the_chart():
    series = _whole_msp([1_000] * 11 + [7_400], [12_000] * 12)
    chart = mau_chart(series)
    assert chart.estimate == 16_386 and chart.shows_estimate() and chart.estimate_over()
    assert chart.caption == series.projection.sentence
    assert chart.caption.startswith("Estimate: at this month's pace so far (7,400 active")
    within = mau_chart(_whole_msp([1_000] * 11 + [2_000], [12_000] * 12))
    assert within.shows_estimate() and not within.estimate_over()


def test_early_in_the_month_there_is_no_estimate_to_draw():
    chart = mau_chart(_whole_msp([1_000] * 11 + [9_000], [12_000] * 12, today=date(2026, 12, 7)))
    assert chart.estimate is None and not chart.shows_estimate() and not chart.estimate_over()
    assert chart.caption.startswith("No month-end estimate before day 10")


def test_a_customers_chart_has_no_allowance_and_no_overage():
    months = last_months(TODAY)
    series = MauSeries(
        customer=ChosenCustomer(id=1, name="Acme", account_number="K7QM-4TZP"),
        months=months,
        mau=[50] * 12,
        allowance=None,
        overage=None,
        projection=project_month_end(50, today=TODAY),
    )
    chart = mau_chart(series)
    assert chart.allowance is None and chart.over() == [False] * 12
    assert chart.labels[-1] == "Dec 2026 (to date)" and chart.estimate == 111
    assert chart.title == "Monthly active users: Acme (K7QM-4TZP)"


# ---------------------------------------------------------------- the image


def test_a_png_of_about_1200_by_700():
    png = _chart(list(range(0, 12_000, 1_000)), [6_000] * 12, "MAU: whole MSP")
    assert png.startswith(PNG_SIGNATURE)
    assert png.rstrip().endswith(b"IEND\xaeB`\x82")
    assert _ihdr(png) == (WIDTH_PX, HEIGHT_PX) == (1200, 700)


def test_different_data_gives_different_images():
    base = _chart([1_000] * 12, [2_000] * 12)
    assert _chart([1_000] * 12, [2_000] * 12) == base  # deterministic
    assert _chart([1_500] * 12, [2_000] * 12) != base
    assert _chart([1_000] * 12, None) != base
    assert _chart([1_000] * 12, [2_000] * 12, "Other title") != base
    assert _chart([1_000] * 11 + [3_000], [2_000] * 12) != base
    partial = _chart([1_000] * 12, [2_000] * 12, partial=11)
    assert partial != base
    assert _chart([1_000] * 12, [2_000] * 12, partial=11, estimate=2_500) != partial
    assert _chart([1_000] * 12, [2_000] * 12, caption="Estimate: about 2,500") != base
    # A month without an allowance is drawn as plain usage, not over.
    assert _chart([1_000] * 12, [0] * 6 + [2_000] * 6) != _chart([1_000] * 12, [500] * 12)


def test_edge_cases_still_draw():
    zeros = _chart([0] * 12, None, "Nothing reported yet")
    assert _ihdr(zeros) == (1200, 700)
    # Dollar signs are text, not mathtext; huge numbers and long titles fit.
    odd = _chart([2_000_000_000] * 12, [1] * 12, "$5 Deals <b> & " + "x" * 200)
    assert _ihdr(odd) == (1200, 700)
    one = MauChart(title="One month", labels=["Nov 2026"], mau=[5], allowance=[3], partial=0)
    assert _ihdr(mau_chart_png(one)) == (1200, 700)
    long_caption = _chart([5] * 12, [0] * 12, partial=11, estimate=9, caption="$x " * 200)
    assert _ihdr(long_caption) == (1200, 700)


def test_mismatched_series_are_refused():
    with pytest.raises(ValueError):
        _chart([1] * 11, None)
    with pytest.raises(ValueError):
        _chart([1] * 12, [1] * 3)
    with pytest.raises(ValueError):
        _chart([1] * 12, None, partial=12)


def test_pyplot_is_never_imported():
    _chart([1] * 12, None, partial=11, estimate=3, caption="Estimate")
    assert "matplotlib.pyplot" not in sys.modules
