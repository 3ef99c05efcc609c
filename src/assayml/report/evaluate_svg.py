"""The evaluation figures drawn from ``plots/evaluate/*.json`` and ``evaluate.json`` as
inline SVG, for a report whose evaluate stage wrote no PNGs (``evaluate.figures=data``, the
default): the ROC curves, the confusion matrix, the residuals of a regression, and the
uncertainty figures (reliability, predictive entropy of right and wrong rows, accuracy
against coverage)."""

from __future__ import annotations

import html
from typing import Any

from assayml.report.svg import (
    CHART_H,
    CHART_W,
    COLOURS,
    STYLE,
    Axes,
    figure,
    finite,
    legend,
    line_chart,
    widened,
)

SCATTER_POINTS = 2_000  # residuals drawn; past it, every k-th row (the JSON keeps 20,000)
HISTOGRAM_BINS = 20  # as the PNG
MATRIX_CLASSES = 40  # a confusion matrix is drawn up to this many classes (k^2 cells)


def evaluate_figures(plots: dict[str, Any], matrix: Any, classes: list[Any] | None) -> str:
    """HTML: ROC and confusion matrix (classification) or residuals (regression), from the
    plot files ``plots`` (by file name) and the exact ``matrix`` of evaluate.json."""
    parts = [
        _roc(_records(plots, "roc.json", "roc")),
        _confusion(matrix, classes),
        _residuals(_records(plots, "residuals.json", "residuals")),
    ]
    return _wrap(parts)


def uncertainty_figures(plots: dict[str, Any]) -> str:
    """HTML: the three uncertainty figures from their plot files, where present."""
    parts = [
        _reliability(_records(plots, "reliability.json", "reliability")),
        _entropy(_records(plots, "uncertainty.json", "uncertainty")),
        line_chart(
            "Accuracy vs coverage",
            [("", _xy(_records(plots, "coverage.json", "coverage"), "coverage", "accuracy"))],
            ("coverage (most confident fraction)", "accuracy"),
            markers=True,
        ),
    ]
    return _wrap(parts)


def _wrap(parts: list[str]) -> str:
    parts = [p for p in parts if p]
    return STYLE + '<div class="figures">' + "".join(parts) + "</div>" if parts else ""


def _records(plots: dict[str, Any], name: str, key: str) -> list[dict[str, Any]]:
    found = plots.get(name) if isinstance(plots.get(name), dict) else {}
    rows = found.get(key)
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _xy(rows: list[dict[str, Any]], x: str, y: str) -> list[tuple[float, float]]:
    return [(r.get(x), r.get(y)) for r in rows]


def _roc(rows: list[dict[str, Any]]) -> str:
    groups = list(dict.fromkeys(str(r.get("class", "")) for r in rows))
    series = [
        (g, _xy([r for r in rows if str(r.get("class", "")) == g], "fpr", "tpr")) for g in groups
    ]
    # ROC points come from the highest threshold down; drawn in fpr order whatever the file
    series = [(g, sorted(points, key=lambda p: (p[0], p[1]))) for g, points in series]
    return line_chart(
        "ROC", series, ("false positive rate", "true positive rate"), ((0, 1), (0, 1)), True
    )


def _confusion(matrix: Any, classes: list[Any] | None) -> str:
    """Counts in a grid (rows actual, columns predicted), shaded by count."""
    valid = (
        isinstance(matrix, list)
        and matrix
        and all(isinstance(r, list) and len(r) == len(matrix) for r in matrix)
        and all(finite(v) for r in matrix for v in r)
    )
    if not valid or len(matrix) > MATRIX_CLASSES:  # past it: evaluate.json has the counts
        return ""
    k = len(matrix)
    labels = (
        [str(c) for c in classes] if classes and len(classes) == k else list(map(str, range(k)))
    )
    label_w = min(6 * max(len(label) for label in labels) + 12, 150)
    cell = max(16, min(40, 240 // k))
    top, most = 24, max(max(r) for r in matrix) or 1
    # at least wide enough for the note under the grid
    width, height = max(label_w + cell * k + 10, 200), top + cell * k + 20
    parts = []
    for i, row in enumerate(matrix):
        y = top + i * cell
        parts.append(
            f"<text x='{label_w - 4}' y='{y + cell / 2 + 3:.1f}' text-anchor='end'>"
            f"{html.escape(labels[i])}</text>"
        )
        for j, count in enumerate(row):
            x, shade = label_w + j * cell, count / most
            ink = "white" if shade > 0.5 else "black"
            parts.append(
                f"<rect x='{x}' y='{y}' width='{cell}' height='{cell}' fill='{COLOURS[0]}' "
                f"fill-opacity='{0.08 + 0.92 * shade:.3f}' stroke='white'>"
                f"<title>actual {html.escape(labels[i])}, predicted "
                f"{html.escape(labels[j])}: {count}</title></rect>"
            )
            if cell >= 20:
                parts.append(
                    f"<text x='{x + cell / 2:.1f}' y='{y + cell / 2 + 3:.1f}' "
                    f"text-anchor='middle' fill='{ink}'>{count:.0f}</text>"
                )
    for j, label in enumerate(labels):
        x = label_w + j * cell + cell / 2
        parts.append(
            f"<text x='{x:.1f}' y='{top - 6}' text-anchor='middle'>{html.escape(label)}</text>"
        )
    parts.append(
        f"<text x='{width / 2:.1f}' y='{height - 4}' text-anchor='middle'>"
        "rows: actual, columns: predicted</text>"
    )
    return figure("Confusion matrix", width, height, parts)


def _residuals(rows: list[dict[str, Any]]) -> str:
    points = [p for p in _xy(rows, "predicted", "residual") if all(map(finite, p))]
    if not points:
        return ""
    step = -(-len(points) // SCATTER_POINTS)  # ceil: at most SCATTER_POINTS drawn
    xs, ys = [x for x, _ in points], [y for _, y in points]
    low, high = min(0.0, *ys), max(0.0, *ys)
    axes = Axes((min(xs), max(xs)), (low, high), "predicted", "actual - predicted")
    parts = axes.frame()
    zero = f"{axes.point(axes.x_low, 0)} {axes.point(axes.x_high, 0)}"
    parts.append(f"<polyline points='{zero}' class='ref'/>")
    parts += [
        f"<circle cx='{axes.x(x):.1f}' cy='{axes.y(y):.1f}' r='2' fill='{COLOURS[0]}' "
        "fill-opacity='0.6'/>"
        for x, y in points[::step]
    ]
    scale = f"{len(points[::step])} of {len(points)} rows" if step > 1 else ""
    return figure("Residuals", CHART_W, CHART_H, parts, scale)


def _reliability(rows: list[dict[str, Any]]) -> str:
    groups = list(dict.fromkeys(str(r.get("calibration", "")) for r in rows))
    series = [
        (g, _xy([r for r in rows if str(r.get("calibration", "")) == g], "confidence", "accuracy"))
        for g in groups
    ]
    labels = ("confidence (top label)", "accuracy")
    return line_chart("Reliability", series, labels, ((0, 1), (0, 1)), True, True)


def _entropy(rows: list[dict[str, Any]]) -> str:
    """Histograms of the predictive entropy of right and wrong rows, on shared bins."""
    groups = {
        name: [r.get("predictive_entropy") for r in rows if r.get("correct") is flag]
        for flag, name in ((True, "correct"), (False, "incorrect"))
    }
    groups = {name: [float(v) for v in values if finite(v)] for name, values in groups.items()}
    everything = [v for values in groups.values() for v in values]
    if not everything:
        return ""
    low, high = widened(min(everything), max(everything))  # one value: a bin around it
    width = (high - low) / HISTOGRAM_BINS
    counts = {name: [0] * HISTOGRAM_BINS for name in groups}
    for name, values in groups.items():
        for v in values:
            counts[name][min(max(int((v - low) / width), 0), HISTOGRAM_BINS - 1)] += 1
    tallest = max(max(c) for c in counts.values()) or 1
    axes = Axes((low, high), (0, tallest), "predictive entropy (nats)", "rows")
    parts = axes.frame()
    names = []
    for i, (name, bins) in enumerate(counts.items()):
        names.append(f"{name} ({len(groups[name])})")
        for b, count in enumerate(bins):
            if count:
                left, right = axes.x(low + b * width), axes.x(low + (b + 1) * width)
                parts.append(
                    f"<rect x='{left:.1f}' y='{axes.y(count):.1f}' width='{right - left:.1f}' "
                    f"height='{axes.y(0) - axes.y(count):.1f}' fill='{COLOURS[i]}' "
                    f"fill-opacity='0.6'><title>{html.escape(name)}: {count}</title></rect>"
                )
    parts += legend(names, opacity=0.6)
    return figure("Uncertainty", CHART_W, CHART_H, parts)
