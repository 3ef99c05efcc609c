"""The explanation figures drawn from ``explain.json`` as inline SVG, for a report whose
explain stage wrote no PNGs (``explain.figures=data``, the default): global importance,
each explained row's attributions, partial dependence with its ICE curves, and the
surrogate tree's rules.

Drawn here rather than with matplotlib, for the reasons ``report/svg.py`` gives."""

from __future__ import annotations

import html
from typing import Any

from assayml.report.svg import figure, finite

TOP = 12  # bars shown per panel, as in the PNG figures
BAR_H, LABEL_W, PLOT_W = 14, 150, 220  # CSS pixels
CURVE_W, CURVE_H, PAD = 300, 180, 30
STYLE = """<style>
svg .pos { fill: #1f77b4; } svg .neg { fill: #d62728; } svg .axis { stroke: #999; }
svg .ci { stroke: #333; } svg .ice { fill: none; stroke: grey; stroke-opacity: 0.25; }
svg .pd { fill: none; stroke: #ff7f0e; stroke-width: 2; } svg text { font-size: 10px; }
</style>"""


def explain_figures(explain: dict[str, Any]) -> str:
    """HTML: every figure the explain stage's data allows, or "" when it holds none."""
    glob = explain.get("global") or {}
    parts = []
    ranking = glob.get("mean_abs_shap") or []
    items = [(r.get("column"), r.get("mean_abs_shap"), None) for r in ranking]
    parts.append(_bars("global importance: mean |SHAP|", items))
    # As the PNG: the columns in the stage's order (largest mean first), not by |mean|
    permutation = glob.get("permutation_importance") or []
    items = [(r.get("column"), r.get("mean"), r.get("ci95")) for r in permutation]
    parts.append(_bars("permutation importance (95 % CI)", items, by_size=False))
    for row in explain.get("rows") or []:
        for method, values in (row.get("attributions") or {}).items():
            if isinstance(values, dict):  # tables; an image's attributions are pixels
                title = f"row {row.get('row')}: {method}"
                parts.append(_bars(title, [(c, v, None) for c, v in values.items()]))
    for column, curve in (glob.get("partial_dependence") or {}).items():
        parts.append(_dependence(column, curve) if isinstance(curve, dict) else "")
    surrogate = glob.get("surrogate") or {}
    if surrogate.get("rules"):
        fidelity = surrogate.get("fidelity")
        measure = html.escape(str(surrogate.get("fidelity_measure") or "fidelity"))
        score = f"{fidelity:.3g}" if finite(fidelity) else "n/a"
        parts.append(
            "<figure><pre>" + html.escape(str(surrogate["rules"])) + "</pre><figcaption>"
            f"surrogate tree ({measure} with the model {score})</figcaption></figure>"
        )
    parts = [p for p in parts if p]
    return STYLE + '<div class="figures">' + "".join(parts) + "</div>" if parts else ""


def _bars(title: str, items: list[tuple[Any, Any, Any]], by_size: bool = True) -> str:
    """Horizontal bars for ``TOP`` items (``by_size``: the largest |values| first, else in
    the given order); negative bars red; an interval as a whisker."""
    shown = [i for i in items if finite(i[1])]
    if by_size:
        shown.sort(key=lambda i: abs(float(i[1])), reverse=True)
    shown = shown[:TOP]
    if not shown:
        return ""
    # Room for the longest label (~6 px a character at 10 px), as the PNGs sized theirs
    label_w = min(max(LABEL_W, 6 * max(len(str(i[0])) for i in shown) + 10), 3 * LABEL_W)
    ends = [float(v) for _, v, _ in shown] + [
        float(e) for *_, ci in shown if _interval(ci) for e in ci
    ]
    low, high = min(0.0, *ends), max(0.0, *ends)
    span = (high - low) or 1.0

    def x(v: float) -> float:
        return label_w + PLOT_W * (v - low) / span

    height = BAR_H * len(shown) + 8
    parts = [f"<line x1='{x(0):.1f}' x2='{x(0):.1f}' y1='0' y2='{height}' class='axis'/>"]
    for i, (label, value, ci) in enumerate(shown):
        top, value = 4 + i * BAR_H, float(value)
        left, width = min(x(0), x(value)), abs(x(value) - x(0))
        kind = "neg" if value < 0 else "pos"
        tip = html.escape(f"{label}: {value:.4g}")
        parts.append(
            f"<text x='{label_w - 4}' y='{top + BAR_H - 4}' text-anchor='end'>"
            f"{html.escape(str(label))}</text><rect x='{left:.1f}' y='{top + 1}' "
            f"width='{max(width, 0.5):.1f}' height='{BAR_H - 3}' class='{kind}'>"
            f"<title>{tip}</title></rect>"
        )
        if _interval(ci):
            mid = top + BAR_H / 2
            parts.append(
                f"<line x1='{x(float(ci[0])):.1f}' x2='{x(float(ci[1])):.1f}' y1='{mid:.1f}' "
                f"y2='{mid:.1f}' class='ci'/>"
            )
    width = label_w + PLOT_W + 10
    scale = f"{low:.3g} to {high:.3g}"
    return figure(title, width, height, parts, scale)


def _dependence(column: str, curve: dict[str, Any]) -> str:
    """The partial dependence (orange) over its ICE curves (grey), on the curve's grid; a
    categorical grid is spaced evenly."""
    grid = curve.get("grid") or []
    average = curve.get("average") or []
    if not grid or len(average) != len(grid) or not all(finite(v) for v in average):
        return ""  # a null in the average (undefined): nothing honest to draw
    average = [float(v) for v in average]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in grid)
    positions = [float(v) for v in grid] if numeric else list(range(len(grid)))
    lines = [
        [float(v) for v in line]
        for line in curve.get("individual") or []
        if isinstance(line, list) and len(line) == len(grid) and all(map(finite, line))
    ]
    values = average + [v for line in lines for v in line]
    x_low, x_high = min(positions), max(positions)
    y_low, y_high = min(values), max(values)
    x_span, y_span = (x_high - x_low) or 1.0, (y_high - y_low) or 1.0

    def point(x: float, y: float) -> str:
        px = PAD + (CURVE_W - 2 * PAD) * (x - x_low) / x_span
        py = CURVE_H - PAD - (CURVE_H - 2 * PAD) * (y - y_low) / y_span
        return f"{px:.1f},{py:.1f}"

    def polyline(ys: list[float], kind: str) -> str:
        points = " ".join(point(x, y) for x, y in zip(positions, ys, strict=True))
        return f"<polyline points='{points}' class='{kind}'/>"

    parts = [polyline(line, "ice") for line in lines]
    parts.append(polyline(average, "pd"))
    ends = [x_low, x_high] if x_high > x_low else [x_low]  # one grid value: one label
    labels = [str(v) for v in grid] if not numeric else [f"{v:.4g}" for v in ends]
    at = positions if not numeric else ends
    for x, label in zip(at, labels, strict=True):
        px = point(x, y_low).split(",")[0]
        parts.append(
            f"<text x='{px}' y='{CURVE_H - 12}' text-anchor='middle'>{html.escape(label)}</text>"
        )
    scale = f"model output {y_low:.3g} to {y_high:.3g}"
    return figure(f"PDP and ICE: {column}", CURVE_W, CURVE_H, parts, scale)


def _interval(ci: Any) -> bool:
    return isinstance(ci, list | tuple) and len(ci) == 2 and all(finite(e) for e in ci)
