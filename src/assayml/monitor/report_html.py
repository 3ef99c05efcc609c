"""``report.html``: one self-contained page (figures inline as SVG, no external assets or
script): the verdict, the violations, and per feature the baseline and current
distributions."""

from __future__ import annotations

import html
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from assayml.utils import groups as typed

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { border: 1px solid #ccc; padding: 4px 8px; font-size: 14px; text-align: left; }
.bad { color: #b00020; font-weight: bold; } .ok { color: #1b5e20; font-weight: bold; }
.features { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; } figcaption { font-size: 13px; }
.features svg text { font-size: 9px; } .features svg .name { font-size: 11px; }
.features svg .base { fill: grey; fill-opacity: 0.6; }
.features svg .now { fill: #1f77b4; fill-opacity: 0.5; } .features svg .axis { stroke: #999; }
"""


def render(
    report: dict[str, Any], statistics: dict[str, Any], frame: pd.DataFrame, trends: str = ""
) -> str:
    """The page; ``trends`` (from trend_html.py) is a watched folder's execution list and
    statistic trends, shown after the verdict."""
    verdict = report["recommendation"]
    rows = "".join(
        f"<tr><td>{_e(v['feature_name'])}</td><td>{_e(v['constraint_check_type'])}</td>"
        f"<td>{_e(v['description'])}</td><td>{_num(v['statistic'])}</td>"
        f"<td>{_num(v['threshold'])}</td></tr>"
        for v in report["violations"]
    )
    figures = "".join(
        _figure(f, frame, report["drift"].get(f["name"]))
        for f in statistics["features"]
        if f["name"] in frame.columns
    )
    status = "bad" if report["violations"] else "ok"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>assay monitor report</title>
<style>{STYLE}</style></head><body>
<h1>Monitoring report</h1>
<p>{report["rows"]} rows from <code>{_e(report["source"])}</code> against the baseline of
{statistics["dataset"]["item_count"]} training rows, {_e(report["time"])}.</p>
<p class="{status}">{len(report["violations"])} violations. Recommendation:
{_e(verdict["action"])} ({_e(verdict["reason"])}).</p>
<table><tr><th>feature</th><th>check</th><th>description</th><th>statistic</th>
<th>threshold</th></tr>{rows}</table>
{trends}
<h2>Model</h2>
<p>Model <code>{_e(report["model"])}</code>: {report["valid_rows"]} rows pass its schema,
{report.get("labelled_rows", 0)} carry labels.{_ground_truth(report.get("ground_truth"))}</p>
<table><tr><th>check</th><th>result</th></tr>{_model_rows(report)}</table>
<h2>Features: baseline (grey) and current (blue)</h2>
<div class="features">{figures}</div>
</body></html>
"""


def _model_rows(report: dict[str, Any]) -> str:
    rows = []
    drift = report["prediction_drift"]
    if drift:
        rows.append(
            (
                "prediction drift",
                f"{drift['test']} statistic {drift['statistic']:.4g}"
                + (f", p {drift['p_value']:.3g}" if drift["p_value"] is not None else "")
                + (" (drift)" if drift["drifted"] else ""),
            )
        )
    quality = report["model_quality"]
    for name, metric in ((quality or {}).get("metrics") or {}).items():
        rows.append((f"model quality ({name})", _metric_text(metric)))
    attribution = report["attribution_drift"]
    if attribution:
        rows.append(
            (
                "attribution ranking (NDCG)",
                f"{attribution['ndcg']:.3f} (threshold {attribution['threshold']}); top "
                f"now: {', '.join(attribution['current_top'][:3])}",
            )
        )
    for name, bias in (report["bias_drift"] or {}).items():
        rows.append((f"bias {name}", bias if name == "note" else _bias_text(bias)))
    if not rows:
        rows.append(("-", "no model checks ran (no row passed the model's schema)"))
    return "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)


def _metric_text(metric: dict[str, Any]) -> str:
    def number(value) -> str:
        return "-" if value is None else f"{value:.4f}"

    text = f"{number(metric['current'])} (baseline {number(metric['baseline'])}"
    if metric.get("ci95"):
        low, high = metric["ci95"]
        text += f"; 95% interval {low:.4f} to {high:.4f}"
    return text + (")" if not metric.get("violation") else "): violation")


def _ground_truth(summary: dict[str, Any] | None) -> str:
    if not summary:
        return ""
    window = (
        f" over the last {summary['window_executions']} executions ({summary['window_rows']} rows)"
        if "window_executions" in summary
        else ""
    )
    return _e(
        f" Ground truth {summary['file']}{window}: {summary['labels']} labels, "
        f"{summary['labelled_rows']} rows labelled, {summary['unlabelled_rows']} not, "
        f"{summary['unmatched_labels']} labels matched no row."
    )


def _bias_text(bias: dict[str, Any]) -> str:
    """One bias-drift entry: now and at baseline, the test of the change, the thresholds."""

    def number(value) -> str:
        return "-" if value is None else f"{value:.3f}"

    text = f"{number(bias['value'])} (baseline {number(bias['baseline'])}"
    if bias.get("p_value") is not None:
        low, high = bias["ci95"]
        text += f"; 95% interval {low:.3f} to {high:.3f}; change p = {bias['p_value']:.3g}"
    text += f"; allowed {bias['allowed']}"
    if bias.get("outside_allowed_at_baseline"):
        text += ", already outside at baseline"
    return f"{text}): {bias['status']}"


def _figure(feature: dict[str, Any], frame: pd.DataFrame, drift: dict | None) -> str:
    """The feature's baseline (grey) and current (blue) distributions as inline SVG: a
    histogram on the baseline's bins, or bars per category; each as a share of its rows."""
    name = feature["name"]
    if feature["inferred_type"] == "String":
        buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
        base = {b["value"]: b["count"] for b in buckets}
        current = pd.Series(typed.group_names(frame[name].dropna())).value_counts().to_dict()
        labels, base_counts, current_counts = _top_categories(base, current)
        drawn = _categories(name, labels, base_counts, current_counts)
    else:
        hist = feature["numerical_statistics"].get("distribution", {}).get("histogram")
        drawn = _svg(name, [])
        if hist and hist["edges"]:
            edges = np.asarray(hist["edges"], dtype=float)
            values = pd.to_numeric(frame[name], errors="coerce").dropna().to_numpy()
            current, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
            drawn = _histogram(name, edges, list(hist["counts"]), [int(c) for c in current])
    caption = (
        ""
        if drift is None
        else (
            f"{drift['test']} statistic {drift['statistic']:.4g}"
            + (f", p {drift['p_value']:.3g}" if drift["p_value"] is not None else "")
            + (" <span class='bad'>drift</span>" if drift["drifted"] else "")
        )
    )
    return f"<figure>{drawn}<figcaption>{caption}</figcaption></figure>"


CATEGORIES = 30  # bars per figure; the rest of a high-cardinality column summed as "other"


def _top_categories(base: dict, current: dict) -> tuple[list[str], list[int], list[int]]:
    """Labels (by name) with their baseline and current counts: every category, or past
    ``CATEGORIES`` the most frequent (by baseline plus current share) and one "other" bar
    summing the rest, so a column with thousands of values draws a readable figure."""
    labels = sorted(set(base) | set(current))
    base_total, current_total = max(sum(base.values()), 1), max(sum(current.values()), 1)
    if len(labels) > CATEGORIES:
        weight = {
            k: base.get(k, 0) / base_total + current.get(k, 0) / current_total for k in labels
        }
        kept = set(sorted(labels, key=lambda k: -weight[k])[: CATEGORIES - 1])
        rest = [k for k in labels if k not in kept]
        labels = [k for k in labels if k in kept]  # still by name
        base_counts = [base.get(k, 0) for k in labels] + [sum(base.get(k, 0) for k in rest)]
        current_counts = [int(current.get(k, 0)) for k in labels]
        current_counts.append(sum(int(current.get(k, 0)) for k in rest))
        return [*labels, f"other ({len(rest)} values)"], base_counts, current_counts
    return labels, [base.get(k, 0) for k in labels], [int(current.get(k, 0)) for k in labels]


# Inline SVG rather than matplotlib PNGs: one PNG a feature took ~0.2 s to lay out and
# encode (6 s of a 30-feature report, most of `assay monitor`'s own time on small tables)
W, H, LEFT, BOTTOM, TOP = 288, 192, 36, 42, 20  # CSS pixels (the PNGs' 3.6 x 2.4 in at 80 dpi)


def _histogram(name: str, edges: np.ndarray, base: list, current: list) -> str:
    low, span = float(edges[0]), float(edges[-1] - edges[0]) or 1.0

    def x(value: float) -> float:
        return LEFT + (W - LEFT - 8) * (float(value) - low) / span

    spans = [(x(a), x(b), f"{a:.4g} to {b:.4g}") for a, b in pairwise(edges)]
    ticks = [(x(edges[0]), f"{edges[0]:.4g}", "start"), (x(edges[-1]), f"{edges[-1]:.4g}", "end")]
    return _bars(name, spans, base, current, ticks, overlaid=True)


def _categories(name: str, labels: list[str], base: list, current: list) -> str:
    step = (W - LEFT - 8) / max(len(labels), 1)
    spans = [(LEFT + i * step, LEFT + (i + 1) * step, str(k)) for i, k in enumerate(labels)]
    ticks = [
        (a + step / 2, str(k)[:12], "rotated") for (a, _, _), k in zip(spans, labels, strict=True)
    ]
    return _bars(name, spans, base, current, ticks, overlaid=False)


def _bars(name, spans, base, current, ticks, overlaid: bool) -> str:
    """Each span's baseline and current share (overlaid on a histogram's bins, side by
    side for categories), a tooltip with the shares and counts, and the axis ticks."""
    base_total, current_total = max(sum(base), 1), max(sum(current), 1)
    shares = [(b / base_total, c / current_total) for b, c in zip(base, current, strict=True)]
    tallest = max((max(pair) for pair in shares), default=0.0) or 1.0

    def y(share: float) -> float:
        return H - BOTTOM - (H - BOTTOM - TOP) * share / tallest

    parts = []
    for (left, right, label), (b, c), nb, nc in zip(spans, shares, base, current, strict=True):
        tip = _e(f"{label}: baseline {b:.3g} ({nb} rows), current {c:.3g} ({nc} rows)")
        mid = (left + right) / 2
        places = ((left, right, b, "base"), (left, right, c, "now")) if overlaid else (
            (left + 1, mid, b, "base"), (mid, right - 1, c, "now"))  # fmt: skip
        for a, z, share, kind in places:
            parts.append(
                f"<rect x='{a:.1f}' y='{y(share):.1f}' width='{max(z - a, 0.5):.1f}' "
                f"height='{y(0) - y(share):.1f}' class='{kind}'><title>{tip}</title></rect>"
            )
    for at, text, how in ticks:
        anchor = {"start": "start", "end": "end", "rotated": "end"}[how]
        turn = f" transform='rotate(-30 {at:.1f} {H - BOTTOM + 10})'" if how == "rotated" else ""
        parts.append(
            f"<text x='{at:.1f}' y='{H - BOTTOM + 10}' text-anchor='{anchor}'{turn}>"
            f"{_e(text)}</text>"
        )
    parts.append(f"<text x='{LEFT - 3}' y='{TOP + 4}' text-anchor='end'>{tallest:.2g}</text>")
    parts.append(f"<text x='{LEFT - 3}' y='{H - BOTTOM}' text-anchor='end'>0</text>")
    return _svg(name, parts)


def _svg(name: str, parts: list[str]) -> str:
    frame = f"<line x1='{LEFT}' x2='{W - 8}' y1='{H - BOTTOM}' y2='{H - BOTTOM}' class='axis'/>"
    return (
        f"<svg role='img' aria-label='{_e(name)}' width='{W}' height='{H}' "
        f"viewBox='0 0 {W} {H}'><text x='{W / 2}' y='12' text-anchor='middle' "
        f"class='name'>{_e(name)}</text>{frame}{''.join(parts)}</svg>"
    )


def _num(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else _e(value)


def _e(value: Any) -> str:
    return html.escape(str(value))
