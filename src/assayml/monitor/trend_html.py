"""The part of an execution's report that looks back: the list of the last
``monitor.history`` executions (as SageMaker lists a schedule's executions) and, per
statistic, its value over them with its threshold, violations in red."""

from __future__ import annotations

import html
from typing import Any

WIDTH, HEIGHT, PAD = 240, 90, 8  # one trend plot, in CSS pixels
SVG_STYLE = """<style>
svg .frame { fill: none; stroke: #ccc; } svg .trend { fill: none; stroke: #1f77b4; }
svg .threshold { stroke: grey; stroke-dasharray: 4 3; } svg .dot { fill: #1f77b4; }
svg .bad { fill: #b00020; }
</style>"""


def trends(history: list[dict[str, Any]], current: dict[str, Any]) -> str:
    """HTML: the execution table and one small plot per statistic (oldest left)."""
    rows = "".join(_execution_row(line, line is current) for line in reversed(history))
    names = sorted({name for line in history for name in line["statistics"]}, key=_order)
    plots = "".join(_plot(name, history) for name in names)
    return f"""<h2>Executions (last {len(history)})</h2>
<table><tr><th>execution</th><th>rows</th><th>labelled</th><th>violations</th>
<th>checks</th><th>recommendation</th><th>alert</th></tr>{rows}</table>
<h2>Trends over the executions</h2>
<p>Each statistic per execution, oldest left; a red point is a violation, the dashed line
its threshold (for a model-quality metric: the baseline's value). Drift statistics tested by
p-value have no fixed threshold line.</p>
{SVG_STYLE}<div class="features">{plots}</div>"""


def _execution_row(line: dict[str, Any], this: bool) -> str:
    name = html.escape(line["execution"])
    link = name if this else f"<a href='../{name}/report.html'>{name}</a>"
    status = "bad" if line["violations"] else "ok"
    alert = (line.get("alerts") or {}).get("status", "-")
    cells = [
        f"<b>{link}</b>" if this else link,
        line["rows"],
        line.get("labelled_rows", 0),
        f"<span class='{status}'>{line['violations']}</span>",
        html.escape(", ".join(line["checks"])) or "-",
        html.escape(line["recommendation"]),
        html.escape(alert),
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _order(name: str) -> tuple[int, str]:
    kind = name.split(":")[0]
    return ({"quality": 0, "prediction_drift": 1}.get(kind, 2), name)


def _plot(name: str, history: list[dict[str, Any]]) -> str:
    """One statistic over the executions as an inline SVG line (drawn here: matplotlib
    took 0.3 s a plot, and a report shows dozens); the threshold dashed, violations red."""
    points = [
        (i, line["statistics"][name])
        for i, line in enumerate(history)
        if name in line["statistics"] and line["statistics"][name]["value"] is not None
    ]
    thresholds = [s["threshold"] for _, s in points if s.get("threshold") is not None]
    values = [s["value"] for _, s in points] + thresholds[-1:]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = (high - low) or max(abs(high), 1.0)
    low, high = low - 0.08 * span, high + 0.08 * span

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i + 0.5) / max(len(history), 1)

    def y(v: float) -> float:
        return PAD + (HEIGHT - 2 * PAD) * (high - v) / (high - low)

    parts = [f"<rect x='0.5' y='0.5' width='{WIDTH - 1}' height='{HEIGHT - 1}' class='frame'/>"]
    if thresholds:
        level = y(thresholds[-1])
        parts.append(f"<line x1='{PAD}' x2='{WIDTH - PAD}' y1='{level:.1f}' y2='{level:.1f}' "
                     "class='threshold'/>")  # fmt: skip
    line = " ".join(f"{x(i):.1f},{y(s['value']):.1f}" for i, s in points)
    parts.append(f"<polyline points='{line}' class='trend'/>")
    for i, s in points:
        kind = "bad" if s["violation"] else "dot"
        title = html.escape(f"{history[i]['execution']}: {s['value']:.4g}")
        parts.append(
            f"<circle cx='{x(i):.1f}' cy='{y(s['value']):.1f}' r='3' class='{kind}'>"
            f"<title>{title}</title></circle>"
        )
    latest = points[-1][1]["value"] if points else None
    caption = html.escape(name) + ("" if latest is None else f": latest {latest:.4g}")
    scale = f"{high:.3g} to {low:.3g}" if values else ""
    return (
        f"<figure><svg role='img' aria-label='{html.escape(name)} trend' width='{WIDTH}' "
        f"height='{HEIGHT}' viewBox='0 0 {WIDTH} {HEIGHT}'>{''.join(parts)}</svg>"
        f"<figcaption>{caption} <small>(axis {scale})</small></figcaption></figure>"
    )
