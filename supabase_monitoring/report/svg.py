"""Line charts as inline SVG, drawn here so the HTML report needs nothing external.

Every data point is a ``<circle class="pt">`` carrying ``data-series``,
``data-x`` (ISO time) and ``data-y`` (the exact value), so a browser test or a
script can read the plotted data back out of the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

WIDTH = 760
HEIGHT = 280
MARGIN_LEFT = 64
MARGIN_RIGHT = 18
MARGIN_TOP = 14
MARGIN_BOTTOM = 42

PALETTE = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#d97706",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#4b5563",
    "#65a30d",
    "#9333ea",
)


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, float]]


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_step(span: float, target_ticks: int = 4) -> float:
    """A 1/2/5 x 10^k step giving about ``target_ticks`` intervals over ``span``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)  # pragma: no cover - the loop always returns


def _fmt_attr(value: float) -> str:
    return repr(float(value))


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    value_format: Callable[[float], str] = lambda v: f"{v:g}",
) -> str:
    """Render one chart; series without points are left out, an empty chart says so."""
    plotted = [(i, s) for i, s in enumerate(series) if s.points]
    label = escape(title, quote=True)
    head = (
        f'<svg class="chart" id="chart-{escape(chart_id, quote=True)}" '
        f'data-chart="{escape(chart_id, quote=True)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">'
    )
    parts = [head, f"<title>{escape(title)}</title>"]
    if not plotted:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            "No data in this period</text></svg>"
        )
        return "".join(parts)

    xs = [p[0] for _, s in plotted for p in s.points]
    ys = [p[1] for _, s in plotted for p in s.points]
    x_min, x_max = min(xs), max(xs)
    if x_min == x_max:
        x_min, x_max = x_min - timedelta(minutes=30), x_max + timedelta(minutes=30)
    step = nice_step(max(ys))
    y_max = max(step, math.ceil(max(ys) / step) * step) if max(ys) > 0 else 1.0
    step = step if max(ys) > 0 else 0.25

    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    x_span = (x_max - x_min).total_seconds()

    def sx(t: datetime) -> float:
        return MARGIN_LEFT + (t - x_min).total_seconds() / x_span * plot_w

    def sy(v: float) -> float:
        return MARGIN_TOP + plot_h - v / y_max * plot_h

    parts.append('<g class="grid">')
    tick = 0.0
    while tick <= y_max + step / 1000:
        y = sy(tick)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="ytick" x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(value_format(tick))}</text>"
        )
        tick += step
    long_span = x_span > 36 * 3600
    for t in _time_ticks(x_min, x_max):
        x = sx(t)
        text = t.strftime("%m-%d %H:%M" if long_span else "%H:%M")
        parts.append(
            f'<line class="xgrid" x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" '
            f'y2="{MARGIN_TOP + plot_h}"/>'
            f'<text class="xtick" x="{x:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 18}" '
            f'text-anchor="middle">{escape(text)}</text>'
        )
    parts.append(
        f'<text class="xlabel" x="{MARGIN_LEFT + plot_w / 2}" y="{HEIGHT - 6}" '
        'text-anchor="middle">time (UTC)</text></g>'
    )

    for index, s in plotted:
        color = color_for(index)
        name = escape(s.name, quote=True)
        points = sorted(s.points, key=lambda p: p[0])
        coords = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in points)
        parts.append(f'<g class="series" data-series="{name}" style="color:{color}">')
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}"/>')
        for t, v in points:
            parts.append(
                f'<circle class="pt" data-series="{name}" data-x="{t.isoformat()}" '
                f'data-y="{_fmt_attr(v)}" cx="{sx(t):.1f}" cy="{sy(v):.1f}" r="3.5" '
                f'fill="{color}"><title>{escape(s.name)} @ {t:%Y-%m-%d %H:%M}: '
                f"{escape(value_format(v))}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _time_ticks(start: datetime, end: datetime, most: int = 7) -> list[datetime]:
    """Whole-hour ticks (every 1, 2, 3, 6, 12 or 24 h) when the span allows, else 5 even steps."""
    hours = (end - start).total_seconds() / 3600
    if hours < 2:
        return [start + (end - start) * i / 5 for i in range(6)]
    step = next((h for h in (1, 2, 3, 6, 12, 24) if hours / h <= most), math.ceil(hours / most))
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(hours=1)
    ticks = []
    t = first
    while t <= end:
        ticks.append(t)
        t += timedelta(hours=step)
    return ticks


def legend(chart_id: str, series: Sequence[Series]) -> str:
    """HTML legend whose buttons toggle their series (see the report's inline script)."""
    items = []
    for index, s in enumerate(series):
        if not s.points:
            continue
        name = escape(s.name, quote=True)
        items.append(
            f'<button type="button" class="legend-item" data-chart="{escape(chart_id, quote=True)}"'
            f' data-series="{name}" aria-pressed="true">'
            f'<span class="swatch" style="background:{color_for(index)}"></span>{escape(s.name)}'
            "</button>"
        )
    return f'<div class="legend">{"".join(items)}</div>'
