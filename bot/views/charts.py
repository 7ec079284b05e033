"""Charts as PNG bytes, drawn with matplotlib's object-oriented API.

Never pyplot: it keeps global figure state and picks a GUI backend, neither of
which belongs in a server. matplotlib is imported on first use, so processes that
never draw a chart do not pay for it. Rendering takes ~100 ms of CPU: call it with
`asyncio.to_thread`, after the ack.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from typing import Any

WIDTH_PX = 1200
HEIGHT_PX = 700
DPI = 100
TITLE_SIZE = 22
LABEL_SIZE = 18
TICK_SIZE = 15
LEGEND_SIZE = 15
MAX_TITLE = 90  # characters that fit across the chart at TITLE_SIZE
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


def mau_chart_png(
    labels: Sequence[str],
    mau: Sequence[int],
    allowance: Sequence[int] | None,
    title: str,
) -> bytes:
    """Bars of MAU per month, the allowance as a line (when given), the months over
    the allowance in another colour. ~1200x700 px, fonts large enough for a phone."""
    if len(labels) != len(mau) or (allowance is not None and len(allowance) != len(mau)):
        raise ValueError("labels, mau and allowance must have the same length")
    mpl = _mpl()
    with _render_lock:
        figure = mpl["Figure"](figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
        canvas = mpl["FigureCanvasAgg"](figure)
        axes = figure.add_subplot()
        positions = list(range(len(labels)))
        over = [allowance is not None and used > allowance[i] for i, used in enumerate(mau)]
        colours = [OVERAGE_COLOUR if is_over else MAU_COLOUR for is_over in over]
        axes.bar(positions, mau, color=colours, width=0.7)
        # Patches stand for the bars in the legend: one per colour actually used.
        legend = [mpl["Patch"](color=MAU_COLOUR, label="Monthly active users")]
        if any(over):
            legend.append(mpl["Patch"](color=OVERAGE_COLOUR, label="Over the allowance"))
        if allowance is not None:
            (line,) = axes.plot(
                positions,
                allowance,
                color=ALLOWANCE_COLOUR,
                linewidth=3,
                marker="o",
                markersize=7,
                drawstyle="steps-mid",
                label="Allowance",
            )
            legend.append(line)
        _label(axes, labels, positions, title, mpl)
        axes.legend(
            handles=legend,
            fontsize=LEGEND_SIZE,
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncols=len(legend),
            frameon=False,
        )
        peak = max([*mau, *(allowance or []), 0])
        axes.set_ylim(0, max(peak * 1.08, 10))
        figure.tight_layout()
        buffer = io.BytesIO()
        canvas.print_png(buffer)
    return buffer.getvalue()


def _label(
    axes: Any, labels: Sequence[str], positions: list[int], title: str, mpl: dict[str, Any]
) -> None:
    # parse_math off: a customer named "$5 Deals" is text, not a formula.
    axes.set_title(title[:MAX_TITLE], fontsize=TITLE_SIZE, pad=44, parse_math=False)
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
