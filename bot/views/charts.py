"""Charts as PNG bytes, drawn with matplotlib's object-oriented API.

Never pyplot: it keeps global figure state and picks a GUI backend, neither of
which belongs in a server. matplotlib is imported on first use, so processes that
never draw a chart do not pay for it. Rendering takes ~100 ms of CPU: call it with
`asyncio.to_thread`, after the ack.
"""

from __future__ import annotations

import io
import math
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.mau import has_allowance, overage

WIDTH_PX = 1200
HEIGHT_PX = 700
DPI = 100
TITLE_SIZE = 22
LABEL_SIZE = 18
TICK_SIZE = 15
LEGEND_SIZE = 15
CAPTION_SIZE = 14
MAX_TITLE = 90  # characters that fit across the chart at TITLE_SIZE
CAPTION_WIDTH = 115  # characters that fit across the chart at CAPTION_SIZE
CAPTION_LINES = 3
LEGEND_COLUMNS = 3  # more would run off a 1200 px chart at LEGEND_SIZE
TITLE_PAD = 70  # room for two rows of legend between the title and the bars
BAR_WIDTH = 0.7
PARTIAL_ALPHA = 0.45
MAU_COLOUR = "#457b9d"
OVERAGE_COLOUR = "#e63946"
ALLOWANCE_COLOUR = "#1d3557"

# matplotlib shares state between figures (the font cache, rcParams), and is not
# documented as thread-safe: charts are drawn one at a time.
_render_lock = threading.Lock()
_setup_lock = threading.Lock()
_matplotlib: dict[str, Any] = {}


def _mpl() -> dict[str, Any]:
    """The matplotlib classes used here, imported once with the non-interactive Agg
    backend (no display needed, nothing fetched from anywhere)."""
    with _setup_lock:
        if not _matplotlib:
            import matplotlib

            matplotlib.use("Agg")
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
            from matplotlib.patches import Patch
            from matplotlib.ticker import FuncFormatter, MaxNLocator

            _matplotlib.update(
                Figure=Figure,
                FigureCanvasAgg=FigureCanvasAgg,
                Patch=Patch,
                FuncFormatter=FuncFormatter,
                MaxNLocator=MaxNLocator,
            )
    return _matplotlib


def _thousands(value: float, _position: int) -> str:
    return f"{value:,.0f}"


@dataclass(frozen=True, slots=True)
class MauChart:
    """What the MAU chart draws, decided by the licence views (`mau_chart`) so it can
    be checked without reading pixels."""

    title: str
    labels: list[str]  # one per month, as people read them
    mau: list[int]
    allowance: list[int] | None  # the MSP's; 0 in a month before the first was bought
    partial: int | None = None  # the month still in progress: its figures are partial
    estimate: int | None = None  # that month's month-end estimate, drawn as an outline
    caption: str = ""  # under the chart: the estimate in words

    def over(self) -> list[bool]:
        """Which months are over their allowance; a month without one is plain usage."""
        if self.allowance is None:
            return [False] * len(self.mau)
        pairs = zip(self.mau, self.allowance, strict=True)
        return [overage(used, allowed) > 0 for used, allowed in pairs]

    def shows_estimate(self) -> bool:
        """Whether the month in progress gets its estimate drawn: only when there is
        one, and it is above what the month has so far."""
        return (
            self.partial is not None
            and self.estimate is not None
            and self.estimate > self.mau[self.partial]
        )

    def estimate_over(self) -> bool:
        """Whether the estimate is above the allowance of the month in progress."""
        if not self.shows_estimate() or self.allowance is None:
            return False
        assert self.partial is not None and self.estimate is not None
        return overage(self.estimate, self.allowance[self.partial]) > 0

    def check(self) -> None:
        if len(self.labels) != len(self.mau) or (
            self.allowance is not None and len(self.allowance) != len(self.mau)
        ):
            raise ValueError("labels, mau and allowance must have the same length")
        if self.partial is not None and not 0 <= self.partial < len(self.mau):
            raise ValueError("the partial month must be one of the months")


def mau_chart_png(chart: MauChart) -> bytes:
    """Bars of MAU per month, the months over the allowance in another colour, the
    month in progress lighter and hatched (with its month-end estimate as a dashed
    outline), the allowance as a line from the first month that had one, and the
    estimate in words below. ~1200x700 px, fonts large enough for a phone."""
    chart.check()
    mpl = _mpl()
    with _render_lock:
        figure = mpl["Figure"](figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
        canvas = mpl["FigureCanvasAgg"](figure)
        axes = figure.add_subplot()
        positions = list(range(len(chart.labels)))
        legend = _bars(axes, chart, positions, mpl)
        legend += _allowance_line(axes, chart, positions)
        _label(axes, chart.labels, positions, chart.title, mpl)
        axes.legend(
            handles=legend,
            fontsize=LEGEND_SIZE,
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncols=min(len(legend), LEGEND_COLUMNS),
            frameon=False,
        )
        peak = max([*chart.mau, *(chart.allowance or []), chart.estimate or 0, 0])
        axes.set_ylim(0, max(peak * 1.08, 10))
        caption = textwrap.wrap(chart.caption, CAPTION_WIDTH)[:CAPTION_LINES]
        if caption:
            figure.text(
                0.5,
                0.015,
                "\n".join(caption),
                ha="center",
                va="bottom",
                fontsize=CAPTION_SIZE,
                parse_math=False,
            )
        # The caption's lines are kept clear of the axes' month labels.
        bottom = (CAPTION_SIZE * 1.5 * len(caption) + 8) / HEIGHT_PX if caption else 0
        figure.tight_layout(rect=(0, bottom, 1, 1))
        buffer = io.BytesIO()
        canvas.print_png(buffer)
    return buffer.getvalue()


def _bars(axes: Any, chart: MauChart, positions: list[int], mpl: dict[str, Any]) -> list[Any]:
    """The bars, and the legend's patches for them: one per kind actually drawn."""
    over = chart.over()
    colours = [OVERAGE_COLOUR if is_over else MAU_COLOUR for is_over in over]
    legend = [mpl["Patch"](color=MAU_COLOUR, label="Monthly active users")]
    if any(over):
        legend.append(mpl["Patch"](color=OVERAGE_COLOUR, label="Over the allowance"))
    index = chart.partial
    if chart.shows_estimate():
        # Drawn first, behind the partial bar: the part still to come shows as an
        # outline, red when it would end over the allowance.
        axes.bar(
            [index],
            [chart.estimate],
            width=BAR_WIDTH,
            fill=False,
            edgecolor=OVERAGE_COLOUR if chart.estimate_over() else MAU_COLOUR,
            linestyle="--",
            linewidth=2,
        )
    bars = axes.bar(positions, chart.mau, color=colours, width=BAR_WIDTH)
    if index is not None:
        partial = bars[index]
        partial.set_alpha(PARTIAL_ALPHA)
        partial.set_hatch("//")
        partial.set_edgecolor(colours[index])
        legend.append(
            mpl["Patch"](
                facecolor=MAU_COLOUR,
                alpha=PARTIAL_ALPHA,
                hatch="//",
                edgecolor=MAU_COLOUR,
                label="Month in progress (to date)",
            )
        )
    if chart.shows_estimate():
        legend.append(
            mpl["Patch"](
                fill=False,
                edgecolor=OVERAGE_COLOUR if chart.estimate_over() else MAU_COLOUR,
                linestyle="--",
                linewidth=2,
                label="Month-end estimate",
            )
        )
    return legend


def _allowance_line(axes: Any, chart: MauChart, positions: list[int]) -> list[Any]:
    """The allowance as a step line, with a gap for the months that had none."""
    if chart.allowance is None or not any(has_allowance(a) for a in chart.allowance):
        return []
    heights = [allowed if has_allowance(allowed) else math.nan for allowed in chart.allowance]
    (line,) = axes.plot(
        positions,
        heights,
        color=ALLOWANCE_COLOUR,
        linewidth=3,
        marker="o",
        markersize=7,
        drawstyle="steps-mid",
        label="Allowance",
    )
    return [line]


def _label(
    axes: Any, labels: Sequence[str], positions: list[int], title: str, mpl: dict[str, Any]
) -> None:
    # parse_math off: a customer named "$5 Deals" is text, not a formula.
    axes.set_title(title[:MAX_TITLE], fontsize=TITLE_SIZE, pad=TITLE_PAD, parse_math=False)
    axes.set_xlabel("Month", fontsize=LABEL_SIZE, labelpad=10)
    axes.set_ylabel("Monthly active users", fontsize=LABEL_SIZE, labelpad=10)
    axes.set_xticks(positions, list(labels), rotation=45, ha="right")
    axes.tick_params(axis="both", labelsize=TICK_SIZE)
    axes.yaxis.set_major_locator(mpl["MaxNLocator"](integer=True))
    axes.yaxis.set_major_formatter(mpl["FuncFormatter"](_thousands))
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
