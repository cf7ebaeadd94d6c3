"""Charts as SVG strings, drawn on the server: pages stay usable without JavaScript, and these functions are pure
(data in, markup out), so they are tested without a browser or a database.

Each chart is an `<svg role="img">` named by its `<title>` and described, value by value, by its `<desc>`, so
a screen reader gets the numbers the bars show; text is escaped, never trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

LABEL_WIDTH = 210
VALUE_WIDTH = 70
BAR_HEIGHT = 22
GAP = 10
PALETTE = ("#1f5f99", "#2f8f6f", "#b5651d", "#7a4fa0", "#a33a3a", "#4f6f7f", "#8a7a1f")


def number(value: float) -> str:
    """Whole numbers without a decimal point; others with one decimal."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def bar_chart(chart_id: str, title: str, bars: Sequence[tuple[str, float]], *, unit: str = "",
              width: int = 640, empty: str = "No data") -> str:
    """Horizontal bars, one per (label, value), scaled to the largest value; labels left, values right."""
    ident = escape(chart_id, quote=True)
    described = "; ".join(f"{label}: {number(value)}{unit}" for label, value in bars) or empty
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP) + GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{ident}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(described)}</desc>',
    ]
    if not bars:
        parts.append(f'<text x="{GAP}" y="{GAP + BAR_HEIGHT * 0.7:.0f}" class="chart-empty">{escape(empty)}</text>')
    largest = max((value for _, value in bars), default=0.0)
    room = width - LABEL_WIDTH - VALUE_WIDTH - GAP
    for index, (label, value) in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        length = 0.0 if largest <= 0 else max(0.0, value) / largest * room
        middle = y + BAR_HEIGHT * 0.7
        parts += [
            f'<text x="{LABEL_WIDTH - GAP}" y="{middle:.0f}" text-anchor="end" class="chart-label">'
            f"{escape(label)}</text>",
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{PALETTE[index % len(PALETTE)]}" class="chart-bar"/>',
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{middle:.0f}" class="chart-value">'
            f"{escape(number(value) + unit)}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)
