"""Small inline-SVG drawing for the report: a captioned figure, and line and scatter charts
on two axes. The report's figures are drawn from the stages' JSON this way rather than with
matplotlib: a matplotlib figure costs about 0.1 s to render (the first in a process more,
for its fonts), which was most of the explain and evaluate stages' own time, and the report
stays one self-contained file with no script."""

from __future__ import annotations

import html
import math
from typing import Any

CHART_W, CHART_H, PAD = 300, 220, 40  # CSS pixels; PAD leaves room for ticks and labels
COLOURS = (  # matplotlib's tab10, as the PNGs had: ten classes, ten colours
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def figure(title: str, width: float, height: float, parts: list[str], scale: str = "") -> str:
    """One ``<figure>``: the SVG of ``parts`` and a caption (``scale`` in small print)."""
    name = html.escape(title)
    small = f" <small>({html.escape(scale)})</small>" if scale else ""
    return (
        f"<figure><svg role='img' aria-label='{name}' width='{width:.0f}' "
        f"height='{height:.0f}' viewBox='0 0 {width:.0f} {height:.0f}'>{''.join(parts)}</svg>"
        f"<figcaption>{name}{small}</figcaption></figure>"
    )


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Axes:
    """Data coordinates ``x_range`` x ``y_range`` mapped onto a ``CHART_W`` x ``CHART_H``
    chart with a frame, end ticks and axis labels."""

    def __init__(self, x_range, y_range, x_label: str, y_label: str) -> None:
        self.x_low, self.x_high = widened(*x_range)
        self.y_low, self.y_high = widened(*y_range)
        self.x_span = self.x_high - self.x_low
        self.y_span = self.y_high - self.y_low
        self.labels = (x_label, y_label)

    def x(self, value: float) -> float:
        return PAD + (CHART_W - 1.5 * PAD) * (value - self.x_low) / self.x_span

    def y(self, value: float) -> float:
        return CHART_H - PAD - (CHART_H - 1.5 * PAD) * (value - self.y_low) / self.y_span

    def point(self, x: float, y: float) -> str:
        return f"{self.x(x):.1f},{self.y(y):.1f}"

    def frame(self) -> list[str]:
        left, right = self.x(self.x_low), self.x(self.x_high)
        top, bottom = self.y(self.y_high), self.y(self.y_low)
        x_label, y_label = (html.escape(label) for label in self.labels)
        parts = [
            f"<rect x='{left:.1f}' y='{top:.1f}' width='{right - left:.1f}' "
            f"height='{bottom - top:.1f}' class='frame'/>",
            f"<text x='{(left + right) / 2:.1f}' y='{CHART_H - 6}' text-anchor='middle'>"
            f"{x_label}</text>",
            f"<text x='10' y='{(top + bottom) / 2:.1f}' text-anchor='middle' "
            f"transform='rotate(-90 10 {(top + bottom) / 2:.1f})'>{y_label}</text>",
        ]
        for value in (self.x_low, self.x_high):
            parts.append(
                f"<text x='{self.x(value):.1f}' y='{bottom + 12:.1f}' text-anchor='middle'>"
                f"{value:.3g}</text>"
            )
        for value in (self.y_low, self.y_high):
            parts.append(
                f"<text x='{left - 3:.1f}' y='{self.y(value) + 3:.1f}' text-anchor='end'>"
                f"{value:.3g}</text>"
            )
        return parts

    def diagonal(self) -> str:
        low, high = max(self.x_low, self.y_low), min(self.x_high, self.y_high)
        return f"<polyline points='{self.point(low, low)} {self.point(high, high)}' class='ref'/>"


def line_chart(
    title: str,
    series: list[tuple[str, list[tuple[float, float]]]],
    labels: tuple[str, str],
    ranges: tuple[tuple[float, float], tuple[float, float]] | None = None,
    diagonal: bool = False,
    markers: bool = False,
) -> str:
    """Each named series as a polyline (in one colour of ``COLOURS``, named in a legend
    when there are several); ``ranges`` fixes the axes, else they span the data."""
    series = [(name, [p for p in points if all(map(finite, p))]) for name, points in series]
    series = [(name, points) for name, points in series if points]
    if not series:
        return ""
    axes = Axes(*(ranges or _spans(series)), *labels)
    parts = axes.frame() + ([axes.diagonal()] if diagonal else [])
    for i, (_, points) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        line = " ".join(axes.point(x, y) for x, y in points)
        parts.append(f"<polyline points='{line}' fill='none' stroke='{colour}'/>")
        if markers:
            parts += [
                f"<circle cx='{axes.x(x):.1f}' cy='{axes.y(y):.1f}' r='2.5' fill='{colour}'/>"
                for x, y in points
            ]
    if len(series) > 1:
        parts += legend([name for name, _ in series])
    many = len(series) > len(COLOURS)
    scale = f"{len(series)} curves: colours repeat, the key names the first ten" if many else ""
    return figure(title, CHART_W, CHART_H, parts, scale)


def legend(names: list[str], opacity: float = 1.0) -> list[str]:
    """A key in the chart's top-right corner: a swatch of each name's colour."""
    parts = []
    for i, name in enumerate(names[: len(COLOURS)]):  # past ten: the caption says so
        top = PAD / 2 + 4 + 12 * i
        colour = COLOURS[i % len(COLOURS)]
        parts.append(
            f"<rect x='{CHART_W - 100}' y='{top - 7}' width='8' height='8' fill='{colour}' "
            f"fill-opacity='{opacity}'/><text x='{CHART_W - 88}' y='{top}'>"
            f"{html.escape(str(name))}</text>"
        )
    return parts


def widened(low: float, high: float) -> tuple[float, float]:
    """``(low, high)``, or a range around a single value (every point equal: a perfect
    model's accuracy at every coverage, a constant prediction) so the frame keeps its size."""
    low, high = float(low), float(high)
    if high > low:
        return low, high
    pad = 0.05 * abs(low) or 0.5
    return low - pad, high + pad


def _spans(series: list[tuple[str, list[tuple[float, float]]]]):
    xs = [x for _, points in series for x, _ in points]
    ys = [y for _, points in series for _, y in points]
    return (min(xs), max(xs)), (min(ys), max(ys))


STYLE = """<style>
svg .frame { fill: none; stroke: #ccc; } svg .ref { stroke: grey; stroke-dasharray: 4 3; }
svg text { font-size: 10px; }
</style>"""
