"""Small server-rendered SVG charts: no JavaScript, nothing fetched at run time."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Series:
    label: Any
    values: Sequence[int]
    color: str


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5 x 10^n at or above ``value`` (at least 1), for the y axis."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)  # pragma: no cover  (the loop always returns)


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: Any,
    width: int = 760,
    height: int = 280,
) -> SafeString:
    """Grouped bars: one group per label, one bar per series, with a legend and y grid."""
    left, right, top, bottom = 44, 12, 34, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_ceiling(max((v for s in series for v in s.values), default=0))
    ticks = 5 if top_value % 5 == 0 and top_value >= 5 else (top_value if top_value < 5 else 4)
    group_w = plot_w / max(1, len(labels))
    bar_w = group_w * 0.8 / max(1, len(series))

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / top_value

    parts: list[str] = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" '
            'role="img" aria-labelledby="chart-title" class="sms-verify-chart" '
            'style="max-width:{}px;font:11px sans-serif">'
            '<title id="chart-title">{}</title>',
            width,
            height,
            width,
            title,
        )
    ]
    for i in range(ticks + 1):
        value = top_value * i / ticks
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="currentColor" stroke-opacity="{}"/>'
                '<text x="{}" y="{}" text-anchor="end" fill="currentColor">{}</text>',
                left,
                width - right,
                f"{y(value):.1f}",
                f"{y(value):.1f}",
                "0.5" if i == 0 else "0.12",
                left - 6,
                f"{y(value) + 4:.1f}",
                f"{value:g}",
            )
        )
    for index, label in enumerate(labels):
        group_x = left + index * group_w + group_w * 0.1
        for number, item in enumerate(series):
            value = item.values[index]
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} {}: {}</title></rect>',
                    f"{group_x + number * bar_w:.1f}",
                    f"{y(value):.1f}",
                    f"{max(bar_w - 1, 1):.1f}",
                    f"{top + plot_h - y(value):.1f}",
                    item.color,
                    label,
                    item.label,
                    value,
                )
            )
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" fill="currentColor">{}</text>',
                f"{left + index * group_w + group_w / 2:.1f}",
                height - bottom + 16,
                label,
            )
        )
    legend_x = left
    for item in series:
        parts.append(
            format_html(
                '<rect x="{}" y="10" width="12" height="12" fill="{}"/>'
                '<text x="{}" y="20" fill="currentColor">{}</text>',
                legend_x,
                item.color,
                legend_x + 16,
                item.label,
            )
        )
        legend_x += 16 + 7 * len(str(item.label)) + 18
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every part is escaped by format_html)


def sparkline(
    values: Sequence[int], *, color: str, label: Any, width: int = 112, height: int = 22
) -> SafeString:
    """Tiny bars for a table cell: the shape of a series, its numbers in the tooltips."""
    top_value = max(max(values, default=0), 1)
    bar_w = width / max(1, len(values))
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        (
            (
                f"{i * bar_w:.1f}",
                f"{height - max(1.0, height * v / top_value) if v else height - 1:.1f}",
                f"{max(bar_w - 1, 1):.1f}",
                f"{max(1.0, height * v / top_value) if v else 1:.1f}",
                color if v else "#9999",
                v,
            )
            for i, v in enumerate(values)
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" '
        'role="img" aria-label="{}">{}</svg>',
        width,
        height,
        width,
        height,
        label,
        bars,
    )
