"""Bar charts drawn on the server as inline SVG (IE9+ shows it; no script in the browser).
Only geometry lives here; ``templates/reports/_charts.html`` draws it, and each chart has its
data table beside it for screen readers and copying."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 640
LABEL_WIDTH = 190
ROW = 26  # one line of a horizontal chart
BAR = 7  # one series' bar inside a line
TIME_HEIGHT = 180


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    value: int
    series: int = 0


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    labels: list[tuple[float, float, str, str]] = field(default_factory=list)  # x, y, text, anchor
    marks: list[tuple[float, float, float]] = field(default_factory=list)  # x, y1, y2

    @property
    def empty(self) -> bool:
        return not any(bar.value for bar in self.bars)


def _scale(values: Sequence[int]) -> int:
    return max([1, *values])


def horizontal(lines: Sequence[tuple[str, Sequence[int], int | None]]) -> Chart:
    """One line per (label, values of each series, target or None): bars of the values,
    a mark at the target, all on one scale."""
    top = _scale([v for _l, values, target in lines for v in (*values, target or 0)])
    area = WIDTH - LABEL_WIDTH - 10
    chart = Chart(width=WIDTH, height=max(ROW, ROW * len(lines)) + 4)
    for row, (label, values, target) in enumerate(lines):
        y = row * ROW + 2
        chart.labels.append((LABEL_WIDTH - 6, y + ROW / 2 + 4, _short(label), "end"))
        for series, value in enumerate(values):
            chart.bars.append(Bar(x=LABEL_WIDTH, y=y + 1 + series * (BAR + 1), value=value,
                                  w=round(area * value / top, 1), h=BAR, series=series))
        if target:
            x = round(LABEL_WIDTH + area * target / top, 1)
            chart.marks.append((x, y, y + ROW - 2))
    return chart


def vertical(points: Sequence[tuple[str, int]]) -> Chart:
    """Doses over time: one bar per day or week, the first and last labelled below."""
    top = _scale([value for _label, value in points])
    step = (WIDTH - 20) / max(1, len(points))
    chart = Chart(width=WIDTH, height=TIME_HEIGHT + 22)
    for index, (_label, value) in enumerate(points):
        h = round(TIME_HEIGHT * value / top, 1)
        chart.bars.append(Bar(x=round(10 + index * step, 1), y=round(TIME_HEIGHT - h, 1),
                              w=max(1.0, round(step * 0.8, 1)), h=h, value=value))
    if points:
        chart.labels.append((10, TIME_HEIGHT + 16, points[0][0], "start"))
        chart.labels.append((WIDTH - 10, TIME_HEIGHT + 16, points[-1][0], "end"))
    return chart


def _short(label: str, size: int = 30) -> str:
    return label if len(label) <= size else label[: size - 1] + "…"
