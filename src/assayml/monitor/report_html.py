"""``report.html``: one self-contained page (images inline as data URIs, no external assets):
the verdict, the violations, and per feature the baseline and current distributions."""

from __future__ import annotations

import base64
import html
import io
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
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.6, 2.4))
    ax = fig.subplots()
    name = feature["name"]
    if feature["inferred_type"] == "String":
        buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
        base = {b["value"]: b["count"] for b in buckets}
        current = pd.Series(typed.group_names(frame[name].dropna())).value_counts().to_dict()
        labels = sorted(set(base) | set(current))
        positions = np.arange(len(labels))
        total_b, total_c = max(sum(base.values()), 1), max(sum(current.values()), 1)
        ax.bar(positions - 0.2, [base.get(k, 0) / total_b for k in labels], 0.4, color="grey")
        ax.bar(
            positions + 0.2, [current.get(k, 0) / total_c for k in labels], 0.4, color="tab:blue"
        )
        ax.set_xticks(positions, labels, rotation=30, fontsize=7)
    else:
        hist = feature["numerical_statistics"].get("distribution", {}).get("histogram")
        if hist and hist["edges"]:
            edges = np.asarray(hist["edges"])
            values = pd.to_numeric(frame[name], errors="coerce").dropna().to_numpy()
            current, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
            widths = np.diff(edges)
            base = np.asarray(hist["counts"]) / max(sum(hist["counts"]), 1)
            ax.bar(edges[:-1], base, widths, align="edge", color="grey", alpha=0.6)
            ax.bar(
                edges[:-1],
                current / max(current.sum(), 1),
                widths,
                align="edge",
                color="tab:blue",
                alpha=0.5,
            )
    ax.set_title(name, fontsize=9)
    ax.tick_params(labelsize=7)
    caption = (
        ""
        if drift is None
        else (
            f"{drift['test']} statistic {drift['statistic']:.4g}"
            + (f", p {drift['p_value']:.3g}" if drift["p_value"] is not None else "")
            + (" <span class='bad'>drift</span>" if drift["drifted"] else "")
        )
    )
    return (
        f"<figure><img alt='{_e(name)}' src='data:image/png;base64,{_png(fig)}'>"
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=80, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode()


def _num(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else _e(value)


def _e(value: Any) -> str:
    return html.escape(str(value))
