"""Small SVG charts embedded as markdown images (data URIs) in asset metadata and in the monthly report.

Written by hand rather than with matplotlib: four simple charts do not need it, and importing
and rendering with it cost ~1 s of every monthly run (0.6 s import, 0.1-0.3 s per figure;
bench/overhead.py). SVG also stays sharp at any zoom and is a few kB.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

import numpy as np

WIDTH, HEIGHT = 420, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 26, 30, 46
BLUE, GREY, RED = "#4f6bed", "#888888", "#d9534f"


class _Chart:
    """A plot area with data coordinates (x0..x1, y0..y1) mapped to pixels."""

    def __init__(self, title, x_range, y_range, width=WIDTH, height=HEIGHT, left=LEFT):
        self.width, self.height, self.left = width, height, left
        (self.x0, self.x1), (self.y0, self.y1) = x_range, y_range
        self.parts = [
            f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
            f'<rect x="{left}" y="{TOP}" width="{self.plot_w}" height="{self.plot_h}" fill="none" stroke="#ccc"/>',
        ]

    @property
    def plot_w(self) -> float:
        return self.width - self.left - RIGHT

    @property
    def plot_h(self) -> float:
        return self.height - TOP - BOTTOM

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / ((self.x1 - self.x0) or 1) * self.plot_w

    def y(self, value: float) -> float:
        return TOP + self.plot_h - (value - self.y0) / ((self.y1 - self.y0) or 1) * self.plot_h

    def line(self, xs, ys, color=BLUE, dash: bool = False, markers: bool = False) -> None:
        points = " ".join(f"{self.x(a):.1f},{self.y(b):.1f}" for a, b in zip(xs, ys))
        style = ' stroke-dasharray="5,4"' if dash else ""
        self.parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"{style}/>')
        if markers:
            self.parts += [
                f'<circle cx="{self.x(a):.1f}" cy="{self.y(b):.1f}" r="3" fill="{color}"/>' for a, b in zip(xs, ys)
            ]

    def text(self, x, y, label, anchor="middle", size=10, rotate=None) -> None:
        turn = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate else ""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{turn}>{escape(str(label))}</text>'
        )

    def axes(self, x_label: str, y_label: str, x_ticks=(), y_ticks=()) -> None:
        for value, label in x_ticks:
            self.text(self.x(value), TOP + self.plot_h + 14, label)
        for value, label in y_ticks:
            self.text(self.left - 4, self.y(value) + 3, label, anchor="end")
        self.text(self.left + self.plot_w / 2, self.height - 8, x_label, size=11)
        self.text(12, TOP + self.plot_h / 2, y_label, size=11, rotate=-90)

    def markdown(self, title: str) -> str:
        svg = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'font-family="sans-serif">{"".join(self.parts)}</svg>'
        )
        return f"![{title}](data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()})"


def _ticks(low: float, high: float, count: int = 5) -> list[tuple[float, str]]:
    values = np.linspace(low, high, count)
    return [(float(v), f"{v:,.2f}" if high - low < 10 else f"{v:,.0f}") for v in values]


def score_histogram(scores: np.ndarray, title: str = "Score distribution") -> str:
    counts, edges = np.histogram(np.asarray(scores, dtype=float), bins=40)
    chart = _Chart(title, (float(edges[0]), float(edges[-1])), (0, float(counts.max()) or 1))
    for count, left, right in zip(counts, edges[:-1], edges[1:]):
        x, top = chart.x(left), chart.y(count)
        chart.parts.append(
            f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(chart.x(right) - x - 1, 1):.1f}" '
            f'height="{chart.y(0) - top:.1f}" fill="{BLUE}"/>'
        )
    chart.axes("score", "customers", _ticks(edges[0], edges[-1]), _ticks(0, counts.max(), 3))
    return chart.markdown(title)


def roc_curve(points: dict, title: str = "ROC curve (holdout)") -> str:
    chart = _Chart(title, (0, 1), (0, 1), width=320, height=300)
    chart.line([0, 1], [0, 1], color=GREY, dash=True)
    chart.line(points["fpr"], points["tpr"])
    chart.axes("false positive rate", "true positive rate", _ticks(0, 1), _ticks(0, 1))
    return chart.markdown(title)


def feature_importance(importance: dict[str, float], top: int = 15, title: str = "Feature importance (gain)") -> str:
    items = sorted(importance.items(), key=lambda kv: kv[1])[-top:]
    highest = max((v for _, v in items), default=1.0) or 1.0
    chart = _Chart(title, (0, highest), (0, len(items)), height=22 * len(items) + TOP + BOTTOM, left=150)
    for row, (name, value) in enumerate(reversed(items)):
        top = TOP + row * 22 + 3
        chart.parts.append(
            f'<rect x="{chart.left}" y="{top}" width="{chart.x(value) - chart.left:.1f}" height="16" fill="{BLUE}"/>'
        )
        chart.text(chart.left - 4, top + 12, name, anchor="end")
    chart.axes("gain", "", _ticks(0, highest, 3))
    return chart.markdown(title)


def overlap_over_time(
    months: Sequence[str], values: Sequence[float], minimum: float, title: str = "Top-K overlap with the previous list"
) -> str:
    months, values = list(months), [float(v) for v in values]
    chart = _Chart(title, (0, max(len(months) - 1, 1)), (0, 1), width=520)
    chart.line([0, len(months) - 1], [minimum, minimum], color=RED, dash=True)
    chart.text(chart.x(len(months) - 1) - 2, chart.y(minimum) - 4, f"gate ({minimum})", anchor="end")
    chart.line(range(len(months)), values, markers=True)
    chart.axes("month", "overlap", [(i, str(m)[:7]) for i, m in enumerate(months)], _ticks(0, 1))
    return chart.markdown(title)


def model_plots(metrics: dict, importance: dict[str, float]) -> dict[str, str]:
    """Markdown images for a model version: ROC curve (if stored) and feature importance."""
    from dagster import MetadataValue

    plots = {}
    if metrics.get("roc_curve"):
        plots["roc_curve"] = MetadataValue.md(roc_curve(metrics["roc_curve"]))
    if importance:
        plots["feature_importance_plot"] = MetadataValue.md(feature_importance(importance))
    return plots


def _month_axis(months) -> list[tuple[int, str]]:
    # Every month labelled up to 12; beyond, every other one stays readable.
    step = 1 if len(months) <= 12 else 2
    return [(i, str(m)[:7]) for i, m in enumerate(months) if i % step == 0]


def lift_over_time(history, minimum: float, title: str = "Realised lift of each list") -> str:
    """Lift of every judged list by its month (`history`: outcome_history's frame), with the gate."""
    months, lifts = list(history["month"]), [float(v) for v in history["lift"].fillna(0.0)]
    high = max([*lifts, minimum, 1.0]) * 1.15
    chart = _Chart(title, (0, max(len(months) - 1, 1)), (0, high), width=520)
    chart.line([0, max(len(months) - 1, 1)], [minimum, minimum], color=RED, dash=True)
    chart.text(chart.x(max(len(months) - 1, 1)) - 2, chart.y(minimum) - 4, f"gate ({minimum})", anchor="end")
    chart.line([0, max(len(months) - 1, 1)], [1, 1], color=GREY, dash=True)
    chart.text(chart.x(0) + 2, chart.y(1) - 4, "random (1)", anchor="start")
    if months:
        chart.line(range(len(months)), lifts, markers=True)
    chart.axes("month of the list", "lift", _month_axis(months), _ticks(0, high))
    return chart.markdown(title)


def precision_over_time(history, title: str = "Precision of each list and the base rate") -> str:
    """Precision of every judged list (blue) against the base rate of its scored customers (grey)."""
    months = list(history["month"])
    precision = [float(v) for v in history["precision"].fillna(0.0)]
    base = [float(v) for v in history["base_rate"].fillna(0.0)]
    high = max([*precision, *base, 0.01]) * 1.15
    chart = _Chart(title, (0, max(len(months) - 1, 1)), (0, high), width=520)
    if months:
        chart.line(range(len(months)), base, color=GREY, dash=True, markers=True)
        chart.line(range(len(months)), precision, markers=True)
    chart.text(chart.x(0) + 2, TOP + 12, "blue: precision of the list; grey: base rate", anchor="start")
    chart.axes("month of the list", "share with the label", _month_axis(months), _ticks(0, high))
    return chart.markdown(title)
