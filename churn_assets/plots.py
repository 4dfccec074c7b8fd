"""Small PNG plots embedded as markdown (base64) in asset metadata and in the monthly report.

matplotlib is imported on first use (it would add ~0.5 s to every code-location load).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np


def _figure(width=5.0, height=3.0):
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=80)
    return plt, fig, ax


def _png_markdown(plt, fig, title: str) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"![{title}](data:image/png;base64,{encoded})"


def score_histogram(scores: np.ndarray, title: str = "Score distribution") -> str:
    plt, fig, ax = _figure()
    ax.hist(np.asarray(scores, dtype=float), bins=40, color="#4f6bed")
    ax.set_xlabel("score")
    ax.set_ylabel("customers")
    ax.set_title(title)
    return _png_markdown(plt, fig, title)


def roc_curve(points: dict, title: str = "ROC curve (holdout)") -> str:
    plt, fig, ax = _figure(4, 4)
    ax.plot(points["fpr"], points["tpr"], color="#4f6bed")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    return _png_markdown(plt, fig, title)


def feature_importance(importance: dict[str, float], top: int = 15, title: str = "Feature importance (gain)") -> str:
    items = sorted(importance.items(), key=lambda kv: kv[1])[-top:]
    plt, fig, ax = _figure(5, 0.3 * len(items) + 1)
    ax.barh([k for k, _ in items], [v for _, v in items], color="#4f6bed")
    ax.set_title(title)
    return _png_markdown(plt, fig, title)


def overlap_over_time(
    months: Sequence[str], values: Sequence[float], minimum: float, title: str = "Top-K overlap with the previous list"
) -> str:
    plt, fig, ax = _figure(6, 3)
    ax.plot(list(months), list(values), marker="o", color="#4f6bed")
    ax.axhline(minimum, linestyle="--", color="#d9534f", label=f"gate ({minimum})")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", rotation=45)
    ax.legend()
    ax.set_title(title)
    return _png_markdown(plt, fig, title)


def model_plots(metrics: dict, importance: dict[str, float]) -> dict[str, str]:
    """Markdown images for a model version: ROC curve (if stored) and feature importance."""
    from dagster import MetadataValue

    plots = {}
    if metrics.get("roc_curve"):
        plots["roc_curve"] = MetadataValue.md(roc_curve(metrics["roc_curve"]))
    if importance:
        plots["feature_importance_plot"] = MetadataValue.md(feature_importance(importance))
    return plots
