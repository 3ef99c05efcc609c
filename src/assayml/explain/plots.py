"""Explanation figures as PNG bytes: attribution bars per row, global importance, partial
dependence with ICE, the surrogate tree, and attribution heat maps over images; and the
data behind the bar and curve figures as JSON records that ``dvc plots`` draws with its
own Vega-Lite templates (``bar_horizontal_sorted``, ``linear``), with no matplotlib.

Each figure is drawn once (no ``tight_layout``, which draws it a second time to measure):
at 90 dpi a bar figure still takes ~0.1 s, most of it in text, so ten of them are most of
the stage's time on the default config; ``explain.figures=data`` leaves them out."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

TOP = 12  # columns shown in a bar chart


def attribution_bars(row: int, attributions: dict[str, np.ndarray], columns: list[str]) -> bytes:
    methods = list(attributions)
    labels = max((len(c) for c in columns), default=1)
    fig, axes = _bar_panels(len(methods), 3.6, labels, title=f"row {row}: attributions")
    for ax, method in zip(axes, methods, strict=True):
        values = attributions[method]
        order = np.argsort(-np.abs(values))[:TOP][::-1]
        colours = ["tab:red" if values[i] < 0 else "tab:blue" for i in order]
        _barh(ax, [columns[i] for i in order], values[order], color=colours)
        _title(ax, method)
    return _png(fig)


def global_importance(ranking: list[dict], permutation: list[dict]) -> bytes:
    labels = max((len(r["column"]) for r in [*ranking[:TOP], *permutation[:TOP]]), default=1)
    fig, (left, right) = _bar_panels(2, 4.0, labels)
    top = ranking[:TOP][::-1]
    _barh(left, [r["column"] for r in top], [r["mean_abs_shap"] for r in top])
    _title(left, "mean |SHAP|")
    top = permutation[:TOP][::-1]
    errors = [[r["mean"] - r["ci95"][0] for r in top], [r["ci95"][1] - r["mean"] for r in top]]
    _barh(right, [r["column"] for r in top], [r["mean"] for r in top], xerr=errors)
    _title(right, "permutation importance (95 % CI)")
    return _png(fig)


def dependence_plot(column: str, curve: dict[str, Any]) -> bytes:
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 3.5))
    fig.subplots_adjust(left=0.17, right=0.96, bottom=0.2, top=0.9)  # fixed: one render
    ax = fig.subplots()
    grid = curve["grid"]
    numeric = all(isinstance(v, (int, float)) for v in grid)
    positions = np.asarray(grid if numeric else range(len(grid)), dtype=float)
    individual = np.asarray(curve["individual"], dtype=float).reshape(-1, len(grid))
    # The ICE curves as one artist, not one line each.
    lines = np.stack([np.broadcast_to(positions, individual.shape), individual], axis=-1)
    ax.add_collection(LineCollection(lines, colors="grey", alpha=0.25, linewidths=0.7))
    ax.plot(positions, curve["average"], color="tab:orange", linewidth=2, label="average (PD)")
    ax.autoscale_view()
    if not numeric:
        ax.set_xticks(positions, [str(v) for v in grid], rotation=30, fontsize=7)
    ax.set(xlabel=column, ylabel="model output")
    _title(ax, f"PDP and ICE: {column}", size=10)
    ax.legend(fontsize=7)
    return _png(fig)


def attribution_data(attributions: dict[str, np.ndarray], columns: list[str]) -> list[dict]:
    """One record per column: its attribution by each method (``row_<i>.json``)."""
    return [
        {"column": c, **{m: round(float(v[i]), 6) for m, v in attributions.items()}}
        for i, c in enumerate(columns)
    ]


def importance_data(ranking: list[dict], permutation: list[dict]) -> list[dict]:
    """One record per column: mean |SHAP| and permutation importance with its 95 % interval
    (``importance.json``)."""
    by_column = {r["column"]: r for r in permutation}
    return [
        {
            "column": r["column"],
            "mean_abs_shap": r["mean_abs_shap"],
            "permutation": by_column[r["column"]]["mean"],
            "permutation_ci95_low": by_column[r["column"]]["ci95"][0],
            "permutation_ci95_high": by_column[r["column"]]["ci95"][1],
        }
        for r in ranking
        if r["column"] in by_column
    ]


def dependence_data(column: str, curve: dict[str, Any]) -> list[dict]:
    """The partial dependence curve: one record per grid value (``dependence_<c>.json``)."""
    return [
        {column: value, "partial_dependence": average}
        for value, average in zip(curve["grid"], curve["average"], strict=True)
    ]


def _bar_panels(count: int, height: float, label_chars: int, title: str | None = None):
    """A figure of ``count`` side-by-side bar panels with room for their row labels, laid
    out by arithmetic (no ``tight_layout``, which draws the figure once more to measure)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    width = 4.5 if count > 1 else 4.0
    label = min(2.2, 0.058 * label_chars + 0.12)  # inches: ~0.058 in a character at 7 pt
    fig = Figure(figsize=(width * count, height))
    top = 1 - (0.62 if title else 0.35) / height
    axes = []
    for i in range(count):
        left = (i * width + label) / (width * count)
        ax = fig.add_axes(
            (left, 0.5 / height, (width - label - 0.2) / (width * count), top - 0.5 / height)
        )
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        axes.append(ax)
    if title:
        fig.text(0.5, 1 - 0.12 / height, title, ha="center", va="top", fontsize=10)
    return fig, axes


def _barh(ax, labels: list[str], values, **style) -> None:
    """Horizontal bars with their labels as plain text: a tick per bar would cost five
    artists each (two tick marks, a grid line, two labels), and they are most of a bar
    figure's drawing time."""
    from matplotlib.transforms import blended_transform_factory

    positions = np.arange(len(labels))
    ax.barh(positions, values, **style)
    ax.set_yticks([])
    ax.set_ylim(-0.6, len(labels) - 0.4)
    at = blended_transform_factory(ax.transAxes, ax.transData)
    for y, label in zip(positions, labels, strict=True):
        ax.text(-0.02, y, label, transform=at, ha="right", va="center", fontsize=7)


def _title(ax, text: str, size: float = 9) -> None:
    """A title as plain text above the axes: ``set_title`` measures the axes' tick labels
    on every draw to place itself (a third of a bar figure's drawing time)."""
    ax.text(0.5, 1.02, text, transform=ax.transAxes, ha="center", va="bottom", fontsize=size)


def surrogate_tree(tree, feature_names: list[str]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.tree import plot_tree

    fig = Figure(figsize=(12, 6))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99)
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
    return _png(fig, tight=True)


def _png(fig, tight: bool = False) -> bytes:
    """The figure drawn once, as PNG bytes (``tight``: laid out first, which draws twice)."""
    buffer = io.BytesIO()
    if tight:
        fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    return buffer.getvalue()
