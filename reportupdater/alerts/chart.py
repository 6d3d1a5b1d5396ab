"""Draw the chart of an alert: a series' last points as a PNG.

Input: the points of a message (date, value or None), its band (the
threshold, or the median and the change limits) and the date that fired.
Output: PNG bytes, 800 x 320 pixels, drawn with matplotlib's Agg backend
through a ``Figure`` of its own (no pyplot state: safe in any thread).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Sequence

WIDTH_INCHES, HEIGHT_INCHES, DPI = 8.0, 3.2, 100
POINTS = 90


def _date(label: str) -> dt.datetime:
    return dt.datetime.fromisoformat(label)


def draw_chart(title: str, points: Sequence[tuple[str, str | None]], *,
               low: str | None = None, high: str | None = None,
               baseline: str | None = None, marked: str | None = None) -> bytes:
    """A line of the last ``POINTS`` points; the band of passing values shaded
    between ``low`` and ``high`` (either may be open), the median dashed, and
    the point at date ``marked`` circled in red."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = list(points)[-POINTS:]
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    xs = [_date(label) for label, _ in points]
    ys = [float(value) if value is not None else float("nan") for _, value in points]
    axes.plot(xs, ys, color="#3366cc", linewidth=1.5, marker="." if len(xs) < 40 else None)
    finite = [y for y in ys if y == y]
    edges = [float(v) for v in (low, high) if v is not None]
    bottom = min(finite + edges, default=0.0)
    top = max(finite + edges, default=1.0)
    pad = (top - bottom) * 0.1 or 1.0
    lo = float(low) if low is not None else bottom - pad
    hi = float(high) if high is not None else top + pad
    if low is not None or high is not None:
        axes.axhspan(lo, hi, color="#2ca02c", alpha=0.12, label="passing values")
        for edge in (low, high):
            if edge is not None:
                axes.axhline(float(edge), color="#2ca02c", linewidth=1)
    if baseline is not None:
        axes.axhline(float(baseline), color="#555555", linewidth=1, linestyle="--",
                     label="baseline (median)")
    for (label, value), x in zip(points, xs):
        if label == marked and value is not None:
            axes.plot([x], [float(value)], "o", markersize=11, markerfacecolor="none",
                      markeredgecolor="#d62728", markeredgewidth=2, label="fired")
    axes.set_ylim(min(bottom, lo) - pad, max(top, hi) + pad)
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
