"""Explanation figures as PNG bytes: attribution bars per row, global importance, partial
dependence with ICE, the surrogate tree, and attribution heat maps over images."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

TOP = 12  # columns shown in a bar chart


def attribution_bars(row: int, attributions: dict[str, np.ndarray], columns: list[str]) -> bytes:
    from matplotlib.figure import Figure

    methods = list(attributions)
    fig = Figure(figsize=(4 * len(methods), 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(methods)))
    for ax, method in zip(axes, methods, strict=True):
        values = attributions[method]
        order = np.argsort(-np.abs(values))[:TOP][::-1]
        colours = ["tab:red" if values[i] < 0 else "tab:blue" for i in order]
        ax.barh([columns[i] for i in order], values[order], color=colours)
        ax.set_title(method, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"row {row}: attributions", fontsize=10)
    return _png(fig)


def global_importance(ranking: list[dict], permutation: list[dict]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4))
    left, right = fig.subplots(1, 2)
    top = ranking[:TOP][::-1]
    left.barh([r["column"] for r in top], [r["mean_abs_shap"] for r in top])
    left.set_title("mean |SHAP|", fontsize=9)
    top = permutation[:TOP][::-1]
    errors = [[r["mean"] - r["ci95"][0] for r in top], [r["ci95"][1] - r["mean"] for r in top]]
    right.barh([r["column"] for r in top], [r["mean"] for r in top], xerr=errors)
    right.set_title("permutation importance (95 % CI)", fontsize=9)
    for ax in (left, right):
        ax.tick_params(labelsize=7)
    return _png(fig)


def dependence_plot(column: str, curve: dict[str, Any]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 3.5))
    ax = fig.subplots()
    grid = curve["grid"]
    numeric = all(isinstance(v, (int, float)) for v in grid)
    positions = grid if numeric else list(range(len(grid)))
    for line in curve["individual"]:
        ax.plot(positions, line, color="grey", alpha=0.25, linewidth=0.7)
    ax.plot(positions, curve["average"], color="tab:orange", linewidth=2, label="average (PD)")
    if not numeric:
        ax.set_xticks(positions, [str(v) for v in grid], rotation=30, fontsize=7)
    ax.set(xlabel=column, ylabel="model output", title=f"PDP and ICE: {column}")
    ax.legend(fontsize=7)
    return _png(fig)


def surrogate_tree(tree, feature_names: list[str]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.tree import plot_tree

    fig = Figure(figsize=(12, 6))
    FigureCanvasAgg(fig)  # plot_tree measures text, which needs a real canvas
    plot_tree(tree, feature_names=feature_names, filled=True, fontsize=6, ax=fig.subplots())
    return _png(fig)


def image_heatmap(
    row: int, pixels: np.ndarray, attributions: np.ndarray, shape: list[int], method: str
) -> bytes:
    """The input image beside its attributions, and the attributions over the image."""
    from matplotlib.figure import Figure

    image, heat = pixels.reshape(shape), attributions.reshape(shape)
    bound = float(np.abs(heat).max()) or 1.0
    fig = Figure(figsize=(7.5, 2.8))
    axes = fig.subplots(1, 3)
    axes[0].imshow(image, cmap="gray_r")
    axes[0].set_title("input", fontsize=9)
    axes[1].imshow(heat, cmap="RdBu_r", vmin=-bound, vmax=bound)
    axes[1].set_title(method, fontsize=9)
    axes[2].imshow(image, cmap="gray_r")
    axes[2].imshow(heat, cmap="RdBu_r", vmin=-bound, vmax=bound, alpha=0.6)
    axes[2].set_title("overlay", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"row {row}", fontsize=10)
    return _png(fig)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    return buffer.getvalue()
