"""``assay explain``: local attributions, stability, counterfactuals, global explanations
and bias, written to ``reports/explain/`` (``explain.json``, ``bias.json``, the figures as
PNGs and their data as JSON records for ``dvc plots``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from assayml.config.schema import AssayConfig
from assayml.explain import global_explain, plots
from assayml.explain.counterfactual import Space, counterfactual
from assayml.explain.kernel_shap import kernel_shap
from assayml.explain.local import LocalSettings, attribute
from assayml.explain.model import ExplainedNet, raw_estimator
from assayml.explain.selection import (
    background,
    column_groups,
    numpy_dtypes,
    plain,
    select_rows,
    targets,
)
from assayml.explain.stability import stability
from assayml.explain.threads import single_threaded
from assayml.features.transform import FeatureTransform
from assayml.mitigation import STATE_FILE
from assayml.models.artifact import SPEC_FILE, WEIGHTS_FILE, load_model
from assayml.models.inference import Sampling, predict
from assayml.records import StageRecord
from assayml.stages.common import (
    finish_record,
    read_json,
    read_parquet,
    train_rows_file,
    upstream_data,
    utc_now,
)
from assayml.stages.prepare import PROFILE_FILE
from assayml.stages.train import TRANSFORM_COPY
from assayml.utils import groups as typed
from assayml.utils.io import atomic_outputs

REPORT_DIR = "explain"


@dataclass
class Context:
    cfg: AssayConfig
    net: ExplainedNet
    transform: FeatureTransform
    estimator: Any  # the model over raw rows (scikit-learn)
    profile: dict[str, Any]
    train: pd.DataFrame
    split: pd.DataFrame
    x: np.ndarray  # the split, transformed
    seed: int


def run_explain(cfg: AssayConfig) -> StageRecord:
    """Explain the trained model on ``explain.split`` and audit it for bias."""
    from assayml.config.load import uses_datamodule

    if uses_datamodule(cfg):
        from assayml.stages.explain_module import run_explain_module

        return run_explain_module(cfg)
    from assayml.progress import Steps

    started = utc_now()
    with single_threaded(), Steps("explain", 4) as steps:
        steps.next("model and data")
        ctx, pred, y = load_context(cfg)
        rows = select_rows(cfg.explain, pred, y)
        target = targets(cfg.explain, pred, rows, ctx.transform)
        steps.next(f"local attributions, stability, counterfactuals ({len(rows)} rows)")
        report, figures = local_report(ctx, pred, rows, target)
        steps.next("global explanations")
        report["global"], global_figures = global_report(ctx, pred)
        robust = robustness_section(ctx) if cfg.explain.robustness.enabled else None
        if robust is not None:  # the summary in explain.json, every row in robustness.json
            report["robustness"] = {k: v for k, v in robust.items() if k != "per_row"}
        bias = None
        steps.next("bias")
        if pred.task != "regression" and ctx.profile.get("sensitive"):
            from assayml.stages.explain_bias import bias_section

            bias = bias_section(ctx, pred)
        elif ctx.profile.get("sensitive"):
            report["bias_skipped"] = (
                "no bias.json: the bias metrics compare favourable outcomes, and a regression "
                "target has none"
            )
    out_dir = Path(cfg.paths.reports_dir) / REPORT_DIR
    with atomic_outputs() as out:
        out.own_dir(out_dir)
        out.write_json(out_dir / "explain.json", report)
        if bias is not None:
            out.write_json(out_dir / "bias.json", bias)
        if robust is not None:
            out.write_json(out_dir / "robustness.json", robust)
        for name, content in {**figures, **global_figures}.items():
            if name.endswith(".png"):
                out.write_bytes(out_dir / name, content)
            else:
                out.write_json(out_dir / name, content)
        models, prepared = Path(cfg.paths.models_dir), Path(cfg.paths.prepared_dir)
        inputs = [
            models / WEIGHTS_FILE,
            models / SPEC_FILE,
            train_rows_file(cfg),
            prepared / f"{cfg.explain.split}.parquet",
        ]
        inputs += [p for p in [models / STATE_FILE] if p.is_file()]  # bias mitigation
        return finish_record(
            out, "explain", cfg, upstream_data(cfg, "train"), inputs, started, summary(report, bias)
        )


def load_context(cfg: AssayConfig):
    models, prepared = Path(cfg.paths.models_dir), Path(cfg.paths.prepared_dir)
    module, spec = load_model(models)
    sampling = Sampling.from_extras(spec.extras)
    transform = FeatureTransform.load(models / TRANSFORM_COPY)
    profile = read_json(prepared / PROFILE_FILE, "prepare")
    check_prepared_facets(cfg, profile)
    train = numpy_dtypes(read_parquet(train_rows_file(cfg), "prepare"))
    split = numpy_dtypes(read_parquet(prepared / f"{cfg.explain.split}.parquet", "prepare"))
    x = transform.transform(split)
    target_values = split[transform.target.name]
    y = (
        target_values.to_numpy(dtype=float)
        if transform.target.task == "regression"
        else transform.encode_target(target_values)
    )
    pred = predict(module, transform, x, cfg.evaluate.threshold, sampling)
    estimator = raw_estimator(module, transform, sampling, transform.input_columns)
    seed = cfg.seed if cfg.explain.seed is None else cfg.explain.seed
    ctx = Context(
        cfg,
        ExplainedNet(module, transform, sampling),
        transform,
        estimator,
        profile,
        train,
        split,
        x,
        seed,
    )
    return ctx, pred, y


def local_report(ctx: Context, pred, rows: list[int], target: torch.Tensor):
    """Per row: attributions by method, IG's convergence delta, stability, counterfactual."""
    ecfg = ctx.cfg.explain
    columns, groups = column_groups(ctx.transform)
    bg = background(ecfg, ctx.transform.transform(ctx.train), ctx.seed)
    settings = LocalSettings(samples=ecfg.samples, steps=ecfg.steps, seed=ctx.seed)
    x = torch.as_tensor(ctx.x[rows], dtype=torch.float64)
    results = {m: attribute(m, ctx.net, x, target, bg, groups, settings) for m in ecfg.methods}
    stable = stability(ctx.net, x, target, bg, groups, settings, ecfg.stability_noise)
    space = counterfactual_space(ctx)
    entries, figures, png = [], {}, draws_png(ecfg)
    for i, row in enumerate(rows):
        values = {m: results[m][0][i] for m in ecfg.methods}
        entry = {
            "row": row,
            "prediction": _label(ctx, pred, row),
            "explained_output": _output_name(ctx, int(target[i])),
            "attributions": {
                m: dict(zip(columns, np.round(v, 6).tolist(), strict=True))
                for m, v in values.items()
            },
            "stability": {k: round(float(v[i]), 6) for k, v in stable.items()},
        }
        entry["stability"]["unstable"] = (
            entry["stability"]["rank_correlation"] < ecfg.stability_threshold
        )
        if "integrated_gradients" in results:
            entry["integrated_gradients_delta"] = round(
                float(results["integrated_gradients"][1][i]), 8
            )
        if i < ecfg.counterfactual_rows:
            entry["counterfactual"] = _counterfactual(ctx, pred, row, space)
        entries.append(entry)
        figures[f"row_{row}.json"] = plots.attribution_data(values, columns)
        if png:
            figures[f"row_{row}.png"] = plots.attribution_bars(row, values, columns)
        # Heat maps over images are drawn whatever explain.figures says (as for a
        # DataModule's images): the report cannot draw pixels from the JSON.
        if ctx.profile.get("image_shape") and "integrated_gradients" in results:
            raw = ctx.split[ctx.transform.input_columns].iloc[row].to_numpy(dtype=float)
            figures[f"row_{row}_heatmap.png"] = plots.image_heatmap(
                row,
                raw,
                results["integrated_gradients"][0][i],
                ctx.profile["image_shape"],
                "integrated gradients",
            )
    return _local_summary(ecfg, entries), figures


def global_report(ctx: Context, pred):
    ecfg, regression = ctx.cfg.explain, pred.task == "regression"
    columns, groups = column_groups(ctx.transform)
    rng = np.random.default_rng(ctx.seed)
    chosen = np.sort(rng.permutation(len(ctx.x))[: ecfg.global_rows])
    bg = background(ecfg, ctx.transform.transform(ctx.train), ctx.seed)
    target = targets(ecfg, pred, list(chosen), ctx.transform)
    shap = kernel_shap(
        ctx.net,
        torch.as_tensor(ctx.x[chosen], dtype=torch.float64),
        bg.rows,
        target,
        ecfg.samples,
        groups,
        ctx.seed,
    ).numpy()
    ranking = global_explain.shap_ranking(shap, columns)
    raw = ctx.split[ctx.transform.input_columns]
    y_raw = ctx.split[ctx.transform.target.name]
    permutation = global_explain.permutation(
        ctx.estimator, raw, y_raw.to_numpy(), ecfg.permutation_repeats, ctx.seed, regression
    )
    top = [r["column"] for r in ranking[: ecfg.dependence_columns]]
    categorical = [c.name for c in ctx.transform.categorical]
    curves = global_explain.dependence(ctx.estimator, raw.iloc[chosen], top, categorical, ctx.seed)
    tree = global_explain.surrogate(
        ctx.estimator,
        ctx.train[ctx.transform.input_columns],
        raw,
        ecfg.surrogate_depth,
        ctx.seed,
        regression,
    )
    fitted = tree.pop("tree")
    figures: dict[str, Any] = {"importance.json": plots.importance_data(ranking, permutation)}
    figures |= {f"dependence_{c}.json": plots.dependence_data(c, curves[c]) for c in top}
    if draws_png(ecfg):
        figures["global_importance.png"] = plots.global_importance(ranking, permutation)
        figures["surrogate_tree.png"] = plots.surrogate_tree(fitted, list(fitted.feature_names_in_))
        figures |= {f"dependence_{c}.png": plots.dependence_plot(c, curves[c]) for c in top}
    return {
        "rows": len(chosen),
        "mean_abs_shap": ranking,
        "permutation_importance": permutation,
        "partial_dependence": curves,
        "surrogate": tree,
    }, figures


def robustness_section(ctx: Context) -> dict[str, Any]:
    """Flip rates under small seeded perturbations (explain/robustness.py)."""
    from assayml.explain.robustness import robustness

    raw = ctx.split[ctx.transform.input_columns]
    settings, threshold = ctx.cfg.explain.robustness, ctx.cfg.evaluate.threshold
    return robustness(ctx.estimator, raw, ctx.train, settings, ctx.seed, threshold)


def draws_png(ecfg) -> bool:
    """``explain.figures``: ``data`` (the default) writes only the data (JSON records for
    ``dvc plots``; the report draws them), skipping matplotlib; ``png`` draws the PNG
    figures beside it."""
    figures = getattr(ecfg, "figures", "data")
    if figures not in ("png", "data"):
        from assayml.errors import ConfigError

        raise ConfigError(f"explain.figures must be png or data, not {figures!r}")
    return figures == "png"


def check_prepared_facets(cfg: AssayConfig, profile: dict[str, Any]) -> None:
    """Stop when the sensitive columns or reference groups configured now differ from those
    the data was prepared with: the bias report would silently follow the old ones.

    Raises:
        ConfigError: naming both settings and the stage to rerun.
    """
    from assayml.errors import ConfigError

    wanted = (sorted(cfg.data.sensitive), _plain_dict(cfg.data.reference_groups))
    prepared = (
        sorted(profile.get("sensitive") or []),
        _plain_dict(profile.get("reference_groups") or {}),
    )
    if wanted != prepared:
        raise ConfigError(
            f"data.sensitive={wanted[0]} and data.reference_groups={wanted[1]} are configured, "
            f"but {cfg.paths.prepared_dir} was prepared with data.sensitive={prepared[0]} and "
            f"data.reference_groups={prepared[1]}: rerun `assay prepare` (and the stages after "
            "it) with these settings, or `assay run`, before `assay explain`"
        )


def _plain_dict(mapping) -> dict[str, str]:
    return {
        str(k): typed.MISSING if typed.is_missing(v) else typed.value_name(v)
        for k, v in dict(mapping).items()
    }


def counterfactual_space(ctx: Context) -> Space:
    schema, immutable = ctx.profile["schema"], ctx.cfg.explain.immutable
    numeric = {}
    for col in ctx.transform.numeric:
        values = ctx.train[col.name].dropna().to_numpy(dtype=float)
        spec = schema.get(col.name, {})
        low = spec.get("min") if spec.get("min") is not None else float(values.min())
        high = spec.get("max") if spec.get("max") is not None else float(values.max())
        integer = spec.get("dtype") == "int"
        numeric[col.name] = (low, high, float(values.std()) or 1.0, integer)
    # Real categories only: not the placeholder a constant imputation adds ("__missing__").
    categories = {
        c.name: [v for v in c.categories if not str(v).startswith("__")]
        for c in ctx.transform.categorical
    }
    frozen = set(ctx.profile.get("sensitive") or []) if immutable is None else set(immutable)
    return Space(numeric, categories, frozen)


def _counterfactual(ctx: Context, pred, row: int, space: Space) -> dict[str, Any]:
    original = ctx.split[ctx.transform.input_columns].iloc[[row]].reset_index(drop=True)
    # A missing value starts from what the model sees in its place: the imputed value.
    missing = [c.name for c in ctx.transform.numeric if original[c.name].isna().any()]
    original = original.fillna(
        {c.name: c.fill for c in ctx.transform.numeric if c.name in missing and c.fill is not None}
    )
    if pred.task == "regression":
        goal = float(pred.predicted[row]) + ctx.transform.target.std

        def reached(frame):
            return ctx.estimator.predict(frame) >= goal

        aim = f"prediction >= {goal:.6g} (one target sd up)"
    else:
        current = ctx.estimator.predict(original)[0]

        def reached(frame):
            return ctx.estimator.predict(frame) != current

        aim = f"any class but {plain(current)}"
    found = counterfactual(original, reached, space, ctx.seed + row)
    return {"goal": aim, "imputed": missing, **found}


def _local_summary(ecfg, entries: list[dict[str, Any]]) -> dict[str, Any]:
    deltas = [
        abs(e["integrated_gradients_delta"]) for e in entries if "integrated_gradients_delta" in e
    ]
    found = [e["counterfactual"]["valid"] for e in entries if "counterfactual" in e]
    return {
        "split": ecfg.split,
        "methods": list(ecfg.methods),
        "baseline": ecfg.baseline,
        "rows": entries,
        "integrated_gradients_max_abs_delta": max(deltas) if deltas else None,
        "unstable_rows": [e["row"] for e in entries if e["stability"]["unstable"]],
        "counterfactual_validity": round(sum(found) / len(found), 6) if found else None,
    }


def summary(report: dict[str, Any], bias: dict[str, Any] | None) -> dict[str, Any]:
    details = {
        "rows": len(report["rows"]),
        "ig_max_delta": report["integrated_gradients_max_abs_delta"],
        "unstable": len(report["unstable_rows"]),
        "counterfactual_validity": report["counterfactual_validity"],
        "top_column": report["global"]["mean_abs_shap"][0]["column"],
        "surrogate_fidelity": report["global"]["surrogate"]["fidelity"],
    }
    if "robustness" in report:
        details["robustness_flagged"] = report["robustness"]["flagged"]
    if bias is not None:
        details["bias_flags"] = len(bias["flags"])
        if "mitigation" in bias:  # reaches the audit trail (stages/table.py)
            from assayml.mitigation.report import mitigation_summary

            details["mitigation"] = mitigation_summary(bias["mitigation"])
    elif report.get("bias_skipped"):
        details["bias"] = "skipped (regression target)"
    return details


def _label(ctx: Context, pred, row: int) -> Any:
    if pred.task == "regression":
        return round(float(pred.predicted[row]), 6)
    return plain(ctx.transform.target.classes[int(pred.predicted[row])])


def _output_name(ctx: Context, index: int) -> Any:
    if ctx.transform.target.task == "regression":
        return ctx.transform.target.name
    return plain(ctx.transform.target.classes[index])
