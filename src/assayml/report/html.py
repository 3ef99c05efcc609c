"""The report page: plain HTML and CSS, images inline as data URIs, no scripts and no
external assets, so it opens anywhere (an email attachment, an audit folder) and prints.
Each section appears when the stage that makes it has run."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

import yaml

from assayml.report.sources import ReportInputs, lineage_text, read_output

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0; }
td, th { border: 1px solid #ccc; padding: 3px 8px; font-size: 13px; text-align: left; }
th { background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; padding: .8rem; overflow-x: auto; font-size: 12px; }
.bad { color: #b00020; font-weight: bold; } .ok { color: #1b5e20; font-weight: bold; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; } figure img { max-width: 380px; } figcaption { font-size: 12px; }
nav a { margin-right: .8rem; font-size: 14px; }
"""
SECTIONS = (
    ("overview", "Overview"),
    ("config", "Configuration"),
    ("data", "Data"),
    ("training", "Training debugger"),
    ("metrics", "Metrics"),
    ("uncertainty", "Calibration and uncertainty"),
    ("explain", "Explanations"),
    ("bias", "Bias"),
    ("robustness", "Robustness"),
    ("lineage", "Lineage"),
    ("audit", "Audit trail"),
    ("monitor", "Monitoring"),
)
UNCERTAINTY_PLOTS = ("reliability", "uncertainty_hist", "coverage")


def render(inputs: ReportInputs, generated_at: str) -> str:
    folder = inputs.folder
    metrics = read_output(folder / "metrics" / "evaluate.json")
    plots = _plot_files(folder / "plots" / "evaluate")
    bodies = {
        "overview": _overview(inputs, generated_at),
        "config": _config(inputs.config),
        "data": _data(read_output(folder / "data" / "prepared" / "profile.json")),
        "metrics": _metrics(metrics, folder, plots, (inputs.model_card or {}).get("classes")),
        "uncertainty": _uncertainty(metrics, folder, plots),
        "explain": _explain(read_output(folder / "reports" / "explain" / "explain.json"), folder),
        "bias": _bias(read_output(folder / "reports" / "explain" / "bias.json")),
        "training": _debugger((inputs.model_card or {}).get("debugger")),
        "robustness": _robustness(read_output(folder / "reports" / "explain" / "robustness.json")),
        "lineage": _pre(lineage_text(inputs.lineage)),
        "audit": _audit(inputs),
        "monitor": _monitor(inputs.monitor, inputs.monitor_source),
    }
    present = [(key, title) for key, title in SECTIONS if bodies[key]]
    nav = "".join(f'<a href="#{key}">{title}</a>' for key, title in present)
    sections = "".join(
        f'<section id="{key}"><h2>{title}</h2>{bodies[key]}</section>' for key, title in present
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>assay report: {_e(inputs.subject)}</title>
<style>{STYLE}</style></head><body>
<h1>{_e(inputs.title)}</h1>
<nav>{nav}</nav>
{sections}
</body></html>
"""


def _overview(inputs: ReportInputs, generated_at: str) -> str:
    rows = [(k, v) for k, v in inputs.facts.items() if v not in (None, "", [])]
    rows.append(("report generated", generated_at))
    return _table(["", ""], [[f"<b>{_e(k)}</b>", _e(v)] for k, v in rows], header=False)


def _config(config: dict[str, Any] | None) -> str:
    if not config:
        return ""
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    return (
        "<details><summary>The composed, resolved config this model was made with "
        f"({text.count(chr(10))} lines)</summary>{_pre(text)}</details>"
    )


def _data(profile: dict[str, Any] | None) -> str:
    if not profile:
        return ""
    data = profile.get("data") or {}
    version = ", ".join(f"{k} {v}" for k, v in data.items() if v is not None)
    rows = profile.get("rows") or {}
    counts = ", ".join(f"{k} {v}" for k, v in rows.items())
    head = (
        f"<p>Version: {_e(version)}.<br>Task {_e(profile.get('task'))}, target "
        f"<code>{_e(profile.get('target'))}</code>; rows: {_e(counts)}."
        + (
            f"<br>Sensitive columns: {_e(', '.join(profile['sensitive']))}."
            if profile.get("sensitive")
            else ""
        )
        + "</p>"
    )
    head += _card(profile.get("card"))
    sampled = (profile.get("sampled_rows") or {}).get("train")
    if sampled:
        head += (
            f"<p>Streamed data: the column statistics below are of a seeded sample of "
            f"{sampled} training rows; the row counts are exact.</p>"
        )
    train = (profile.get("splits") or {}).get("train") or {}
    keys = ("dtype", "missing", "min", "max", "mean", "std", "unique")
    table = _table(
        ["column (train split)", *keys],
        [[_e(name), *(_cell(stats.get(k)) for k in keys)] for name, stats in train.items()],
    )
    return head + table


def yes_no(value: Any) -> Any:
    return "yes" if value is True else "no" if value is False else value


def _card(card: dict[str, Any] | None) -> str:
    """The data card: who owns the data and how it may be used."""
    if not card:
        return "<p>Data card: none recorded.</p>"
    rows = [
        [_e(key.replace("_", " ")), _e(", ".join(map(str, value)) or "none named")]
        if isinstance(value, list)
        else [_e(key.replace("_", " ")), _e(yes_no(value))]
        for key, value in card.items()
    ]
    return "<p>Data card:</p>" + _table(["field", "value"], rows)


def _metrics(
    metrics: dict[str, Any] | None, folder: Path, plots: dict[str, Any], classes: Any
) -> str:
    if not metrics:
        return ""
    scalars = [(k, v) for k, v in metrics.items() if isinstance(v, int | float)]
    table = _table(["metric", "value"], [[_e(k), _cell(v)] for k, v in scalars])
    split = f"<p>On the {_e(metrics.get('split', 'test'))} split.</p>"
    pngs = sorted(
        p for p in (folder / "plots" / "evaluate").glob("*.png") if p.stem not in UNCERTAINTY_PLOTS
    )  # roc, confusion, residuals: drawn with evaluate.figures=png
    if pngs:
        return split + table + _figures(pngs)
    from assayml.report.evaluate_svg import evaluate_figures

    classes = classes if isinstance(classes, list) else None
    drawn = evaluate_figures(plots, metrics.get("confusion_matrix"), classes)
    return split + table + drawn


def _uncertainty(metrics: dict[str, Any] | None, folder: Path, plots: dict[str, Any]) -> str:
    found = (metrics or {}).get("uncertainty")
    pngs = [folder / "plots" / "evaluate" / f"{name}.png" for name in UNCERTAINTY_PLOTS]
    pngs = [p for p in pngs if p.is_file()]
    if not found and not pngs:
        return ""
    scalars = [(k, v) for k, v in (found or {}).items() if isinstance(v, int | float | str)]
    table = _table(["measure", "value"], [[_e(k), _cell(v)] for k, v in scalars])
    if pngs:
        return table + _figures(pngs)
    from assayml.report.evaluate_svg import uncertainty_figures

    return table + uncertainty_figures(plots)


# The evaluate stage's plot files the report draws (confusion.json is not read: the exact
# matrix is in evaluate.json); registry/collect.py stores these but residuals.json (targets).
PLOT_FILES = ("roc.json", "residuals.json", "reliability.json", "uncertainty.json", "coverage.json")


def _plot_files(plots: Path) -> dict[str, Any]:
    """The plot files the report draws, by name (absent ones left out)."""
    return {name: read_output(plots / name) for name in PLOT_FILES if (plots / name).is_file()}


TABLE_FIGURE = r"row_\d+|global_importance|surrogate_tree|dependence_.+"  # explain's PNGs


def _explain(explain: dict[str, Any] | None, folder: Path) -> str:
    if not explain:
        return ""
    ranking = ((explain.get("global") or {}).get("mean_abs_shap")) or []
    table = _table(
        ["column", "mean |SHAP|"],
        [[_e(r["column"]), _cell(r["mean_abs_shap"])] for r in ranking[:15]],
    )
    facts = (
        f"<p>Methods: {_e(', '.join(explain.get('methods') or []))} on the "
        f"{_e(explain.get('split'))} split (baseline {_e(explain.get('baseline'))}). "
        f"Unstable rows: {len(explain.get('unstable_rows') or [])}; counterfactual validity "
        f"{_cell(explain.get('counterfactual_validity'))}.</p>"
    )
    images = sorted((folder / "reports" / "explain").glob("*.png"))
    # The table figures' PNGs exist with explain.figures=png; without them the report draws
    # the same figures from explain.json. Any other PNG is a heat map over an image, drawn
    # whatever the setting (the JSON holds no pixels to draw).
    drawn = [p for p in images if re.fullmatch(TABLE_FIGURE, p.stem)]
    heat_maps = [p for p in images if p not in drawn]
    if drawn:
        return facts + table + _figures(drawn) + _figures(heat_maps)
    from assayml.report.explain_svg import explain_figures

    return facts + table + explain_figures(explain) + _figures(heat_maps)


def _bias(bias: dict[str, Any] | None) -> str:
    if not bias:
        return ""
    verdict = (
        '<p class="ok">No bias metric outside its allowed range.</p>'
        if bias.get("passed")
        else f'<p class="bad">{len(bias["flags"])} flags.</p>'
    )
    rows = []
    for column, facet in (bias.get("facets") or {}).items():
        for group, result in (facet.get("groups") or {}).items():
            flagged = set(result.get("flagged") or [])
            for kind in ("pre_training", "post_training"):
                for name, value in (result.get(kind) or {}).items():
                    mark = '<span class="bad">flagged</span>' if name in flagged else ""
                    group_name = f"{column}={group} vs {facet.get('reference')}"
                    rows.append([_e(group_name), _e(kind), _e(name), _cell(value), mark])
    return (
        verdict
        + _mitigation(bias.get("mitigation"))
        + _table(["group", "", "metric", "value", ""], rows)
    )


def _mitigation(section: dict[str, Any] | None) -> str:
    """bias.json's ``mitigation``: the method, and DPPL and accuracy before and after it."""
    if not section or section.get("method") in (None, "none"):
        return ""
    facet, accuracy = section["facet"], section.get("accuracy") or {}
    head = (
        f"<p>Mitigation: {_e(section['method'])} on <code>{_e(facet)}</code>"
        f" (fitted state in {_e(section.get('state_file'))}); accuracy "
        f"{_cell(accuracy.get('before'))} before, {_cell(accuracy.get('after'))} after, "
        f"cost {_cell(accuracy.get('cost'))}.</p>"
    )
    before = ((section.get("before") or {}).get(facet) or {}).get("groups") or {}
    after = ((section.get("after") or {}).get(facet) or {}).get("groups") or {}
    rows = [
        [_e(f"{facet}={group}"), _cell((before.get(group) or {}).get("DPPL")), _cell(m.get("DPPL"))]
        for group, m in after.items()
    ]
    return head + _table(["group", "DPPL before", "DPPL after"], rows)


def _debugger(rules: dict[str, Any] | None) -> str:
    """The training debugger's rules (model_card.json ``debugger``)."""
    if not rules:
        return ""
    fired = [name for name, entry in rules.items() if entry.get("fired")]
    verdict = (
        f'<p class="bad">{len(fired)} rules fired: {_e(", ".join(fired))}.</p>'
        if fired
        else '<p class="ok">No training-debugger rule fired.</p>'
    )
    rows = [
        [
            _e(name),
            '<span class="bad">fired</span>' if e.get("fired") else "",
            _e(e.get("action")),
            _cell(e.get("step")),
            _cell(e.get("epoch")),
            _cell(e.get("figure")),
            _cell(e.get("threshold")),
            _cell(e.get("worst")),
            _cell(e.get("checks")),
            _e(e.get("note")),
        ]
        for name, e in rules.items()
    ]
    head = ["rule", "", "action", "step", "epoch", "figure", "threshold", "worst", "checks", ""]
    return verdict + _table(head, rows)


def _robustness(report: dict[str, Any] | None) -> str:
    """Flip rates under small perturbations (reports/explain/robustness.json)."""
    if not report:
        return ""
    status, word = ("bad", "flagged") if report.get("flagged") else ("ok", "not flagged")
    verdict = (
        f'<p class="{status}">A share of {_cell(report.get("flipped_rows"))} of the '
        f"{_cell(report.get('rows'))} rows flip ({_e(report.get('measure'))}) at least once in "
        f"{_cell(report.get('repeats'))} perturbed copies (noise {_cell(report.get('noise'))} "
        f"training sd); {_cell(report.get('flip_rate'))} of all copies; threshold "
        f"{_cell(report.get('threshold'))}: {word}.</p>"
    )
    rows = [
        [_cell(e.get("row")), _cell(e.get("flip_rate")), _cell(e.get("prediction")),
         _e(e.get("flipped_to") or e.get("max_change"))]
        for e in report.get("least_robust") or []
    ]  # fmt: skip
    return verdict + (_table(["row", "flip rate", "prediction", "moved to"], rows) if rows else "")


def _audit(inputs: ReportInputs) -> str:
    if not inputs.audit:
        return ""
    status = "ok" if "intact" in inputs.audit_intact else "bad"
    rows = [
        [_cell(e["seq"]), _e(e["time"]), _e(e["user"]), _e(e["action"]), _e(e["subject"])]
        for e in inputs.audit[-50:]
    ]
    return (
        f'<p class="{status}">{_e(inputs.audit_intact)}</p><p>{len(inputs.audit)} entries '
        "concern this model (its config hash, or monitoring of its weights)"
        + ("; the last 50:" if len(inputs.audit) > 50 else ":")
        + "</p>"
        + _table(["seq", "time", "user", "action", "subject"], rows)
    )


def _monitor(report: dict[str, Any] | None, source: str | None) -> str:
    if not report:
        return ""
    found = report.get("violations") or []
    verdict = report.get("recommendation") or {}
    status = "bad" if found else "ok"
    rows = [
        [_e(v["feature_name"]), _e(v["constraint_check_type"]), _e(v["description"])] for v in found
    ]
    return (
        f"<p>Latest result ({_e(report.get('time'))}, <code>{_e(source)}</code>): "
        f"{_cell(report.get('rows'))} rows from <code>{_e(report.get('source'))}</code>.</p>"
        f'<p class="{status}">{len(found)} violations; recommendation: '
        f"{_e(verdict.get('action'))} ({_e(verdict.get('reason'))}).</p>"
        + (_table(["feature", "check", "description"], rows) if rows else "")
    )


def _figures(paths: list[Path]) -> str:
    items = "".join(
        f'<figure><img alt="{_e(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"><figcaption>{_e(p.stem)}</figcaption>'
        "</figure>"
        for p in paths
        if p.is_file()
    )
    return f'<div class="figures">{items}</div>' if items else ""


def _table(head: list[str], rows: list[list[str]], header: bool = True) -> str:
    top = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{top}{body}</table>"


def _pre(text: str | None) -> str:
    return f"<pre>{_e(text)}</pre>" if text else ""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return ""
    return _e(value)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))
