"""The part of an execution's report that looks back: the list of the last
``monitor.history`` executions (as SageMaker lists a schedule's executions) and, per
statistic, its value over them with its threshold, violations in red."""

from __future__ import annotations

import html
from typing import Any

from assayml.monitor.report_html import _png


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
<div class="features">{plots}</div>"""


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
    from matplotlib.figure import Figure

    points = [
        (i, line["statistics"][name])
        for i, line in enumerate(history)
        if name in line["statistics"] and line["statistics"][name]["value"] is not None
    ]
    fig = Figure(figsize=(3.2, 1.9))
    ax = fig.subplots()
    xs = [i for i, _ in points]
    ax.plot(xs, [s["value"] for _, s in points], color="tab:blue", marker="o", markersize=3)
    bad = [(i, s["value"]) for i, s in points if s["violation"]]
    if bad:
        ax.scatter(*zip(*bad, strict=True), color="#b00020", zorder=3, s=18)
    thresholds = [s["threshold"] for _, s in points if s.get("threshold") is not None]
    if thresholds:
        ax.axhline(thresholds[-1], color="grey", linestyle="--", linewidth=1)
    ax.set_xlim(-0.5, max(len(history) - 0.5, 0.5))
    ax.set_xticks([])
    ax.set_title(name, fontsize=8)
    ax.tick_params(labelsize=7)
    latest = points[-1][1]["value"] if points else None
    caption = html.escape(name) + ("" if latest is None else f": latest {latest:.4g}")
    return (
        f"<figure><img alt='{html.escape(name)} trend' "
        f"src='data:image/png;base64,{_png(fig)}'><figcaption>{caption}</figcaption></figure>"
    )
