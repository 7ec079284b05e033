"""The MAU chart: a PNG of the expected size, drawn without pyplot."""

from __future__ import annotations

import struct
import sys
import zlib

import pytest

from bot.views.charts import HEIGHT_PX, WIDTH_PX, mau_chart_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = [f"2026-{month:02d}" for month in range(1, 13)]


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


def test_a_png_of_about_1200_by_700():
    png = mau_chart_png(LABELS, list(range(0, 12_000, 1_000)), [6_000] * 12, "MAU: whole MSP")
    assert png.startswith(PNG_SIGNATURE)
    assert png.rstrip().endswith(b"IEND\xaeB`\x82")
    assert _ihdr(png) == (WIDTH_PX, HEIGHT_PX) == (1200, 700)


def test_different_data_gives_different_images():
    base = mau_chart_png(LABELS, [1_000] * 12, [2_000] * 12, "MAU")
    assert mau_chart_png(LABELS, [1_000] * 12, [2_000] * 12, "MAU") == base  # deterministic
    assert mau_chart_png(LABELS, [1_500] * 12, [2_000] * 12, "MAU") != base
    assert mau_chart_png(LABELS, [1_000] * 12, None, "MAU") != base
    assert mau_chart_png(LABELS, [1_000] * 12, [2_000] * 12, "Other title") != base
    over = mau_chart_png(LABELS, [1_000] * 11 + [3_000], [2_000] * 12, "MAU")
    assert over != base


def test_edge_cases_still_draw():
    zeros = mau_chart_png(LABELS, [0] * 12, None, "Nothing reported yet")
    assert _ihdr(zeros) == (1200, 700)
    # Dollar signs are text, not mathtext; huge numbers and long titles fit.
    odd = mau_chart_png(LABELS, [2_000_000_000] * 12, [1] * 12, "$5 Deals <b> & " + "x" * 200)
    assert _ihdr(odd) == (1200, 700)
    assert _ihdr(mau_chart_png(["2026-11"], [5], [3], "One month")) == (1200, 700)


def test_mismatched_series_are_refused():
    with pytest.raises(ValueError):
        mau_chart_png(LABELS, [1] * 11, None, "MAU")
    with pytest.raises(ValueError):
        mau_chart_png(LABELS, [1] * 12, [1] * 3, "MAU")


def test_pyplot_is_never_imported():
    mau_chart_png(LABELS, [1] * 12, None, "MAU")
    assert "matplotlib.pyplot" not in sys.modules
