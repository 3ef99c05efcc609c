"""``assay explain`` on a user's LightningDataModule: Captum on the module's ``forward``.

Inputs of any shape (images ``[channels, height, width]`` above all) are explained with the
gradient and perturbation methods that need no table: Integrated Gradients (with its
completeness error), saliency, occlusion, GradientSHAP and DeepLift; each explained row gets
its attribution image (input, attributions, overlay). Methods that perturb table columns
(KernelSHAP, LIME) and the global table explanations do not apply to such inputs: asking
for them exits 2 saying so.

Bias (``bias.json``, the table report's metrics) needs sensitive attributes: with
``data.sensitive`` the batches carry them as a third item, ``{name: values}``. Pre-training
metrics read the train split's labels and attributes, post-training ones the explained
split's predictions. The flip test (FT) is null: the attributes are not inputs of the
model, so setting them otherwise cannot change a prediction. Without ``data.sensitive``
``explain.json`` says in ``bias_skipped`` why there is no ``bias.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from assayml.config.schema import AssayConfig
from assayml.errors import ConfigError
from assayml.models.artifact import SPEC_FILE, WEIGHTS_FILE, load_model
from assayml.records import StageRecord
from assayml.stages.common import finish_record, upstream_data, utc_now
from assayml.utils.io import atomic_outputs

TENSOR_METHODS = ("integrated_gradients", "saliency", "occlusion", "gradient_shap", "deeplift")
REPORT_DIR = "explain"


def run_explain_module(cfg: AssayConfig) -> StageRecord:
    """Write ``reports/explain/`` (explain.json, one attribution PNG per row and method)."""
    from assayml.explain.plots import image_heatmap
    from assayml.stages.datamodule import build_datamodule, module_profile
    from assayml.stages.evaluate_module import LOADERS, predictions, split_outputs

    started = utc_now()
    ecfg = cfg.explain
    unusable = [m for m in ecfg.methods if m not in TENSOR_METHODS]
    if unusable:
        raise ConfigError(
            f"explain.methods {unusable}: these perturb table columns; a DataModule's inputs "
            f"are tensors (images): choose from {list(TENSOR_METHODS)}"
        )
    module, spec = load_model(Path(cfg.paths.models_dir))
    profile = module_profile(cfg)
    data = build_datamodule(cfg, "fit" if ecfg.split != "test" else "test")
    x, y, facets = split_inputs(getattr(data, LOADERS[ecfg.split])(), cfg)
    from assayml.models.inference import Sampling

    sampling = Sampling(members=int(spec.extras.get("members") or 0))
    outputs, _ = split_outputs(module, [(x, torch.as_tensor(y))], sampling, cfg)
    pred = predictions(outputs, spec.task, cfg.evaluate.threshold, sampling)
    explained = Explained(module, sampling.members > 0)
    from assayml.models.user_module import single_logit

    # One logit z for two classes is read as [0, z]: class 0's column is constant, so its
    # attributions would all be zero. Such a model is explained through z (class 1) for
    # every row; a negative attribution then argues for class 0.
    one_logit = spec.task == "binary" and single_logit(module, x)
    rows = chosen_rows(ecfg.rows, pred, y)
    seed = cfg.seed if ecfg.seed is None else ecfg.seed
    baseline = torch.zeros_like(x[:1]) if ecfg.baseline == "zeros" else x.mean(0, keepdim=True)
    shape = list(x.shape[1:])
    entries, pngs = [], {}
    for row in rows:
        target = int(pred.predicted[row]) if spec.task != "regression" else 0
        target = 1 if one_logit else target
        maps = attribute(explained, x[row : row + 1], baseline, target, ecfg, seed)
        entry: dict[str, Any] = {
            "row": row,
            "label": _number(y[row]),
            "predicted": _number(pred.predicted[row]),
            "target_class": target if spec.task != "regression" else None,
            "methods": {},
        }
        if pred.probabilities is not None:
            entry["probability"] = float(pred.probabilities[row, target])
        for method, (values, extra) in maps.items():
            entry["methods"][method] = {
                "sum": float(values.sum()),
                "abs_sum": float(np.abs(values).sum()),
                "top": top_positions(values, 5),
                **extra,
            }
            image = x[row].numpy()
            plane = _plane(image, shape)
            pngs[f"row_{row}_{method}.png"] = image_heatmap(
                row, plane, _plane(values, shape), list(plane.shape), method
            )
        entries.append(entry)
    report = {
        "kind": "tensor",
        "input_shape": shape,
        "split": ecfg.split,
        "methods": list(ecfg.methods),
        "baseline": ecfg.baseline,
        "one_logit": bool(one_logit),  # binary through its one logit: target class 1
        "rows": entries,
        "classes": profile["classes"],
    }
    if ecfg.robustness.enabled:
        report["robustness_skipped"] = (
            "no robustness.json: its perturbations are drawn per table column, within the "
            f"column's training sd, and {cfg.data._target_}'s batches are tensors"
        )
    bias = None
    if cfg.data.sensitive:
        bias = module_bias(cfg, profile, data, y, facets, pred)
    else:
        report["bias_skipped"] = (
            "no bias.json: bias metrics read sensitive attributes, and data.sensitive names "
            f"none of {cfg.data._target_}'s (batches (inputs, labels, {{name: values}}))"
        )
    out_dir = Path(cfg.paths.reports_dir) / REPORT_DIR
    with atomic_outputs() as out:
        out.own_dir(out_dir)
        out.write_json(out_dir / "explain.json", report)
        if bias is not None:
            out.write_json(out_dir / "bias.json", bias)
        for name, blob in pngs.items():
            out.write_bytes(out_dir / name, blob)
        models = Path(cfg.paths.models_dir)
        details = {"rows": len(rows), "methods": list(ecfg.methods)}
        details |= {"bias_flags": len(bias["flags"])} if bias else {"bias": "skipped"}
        ig = [
            e["methods"]["integrated_gradients"]["completeness_error"]
            for e in entries
            if "integrated_gradients" in e["methods"]
        ]
        if ig:
            details["ig_completeness_error_max"] = max(ig)
        inputs = [models / WEIGHTS_FILE, models / SPEC_FILE]
        return finish_record(
            out, "explain", cfg, upstream_data(cfg, "train"), inputs, started, details
        )


class Explained(torch.nn.Module):
    """The module as Captum sees it: in float64 (Integrated Gradients' completeness then
    holds to ~1e-6, not float32's ~1e-3), an ensemble's members averaged."""

    def __init__(self, module: torch.nn.Module, ensemble: bool) -> None:
        super().__init__()
        import copy

        self.module = copy.deepcopy(module).double().eval()
        self.ensemble = ensemble

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.module(x.double())
        return out.mean(dim=0) if self.ensemble else out


def split_inputs(loader, cfg: AssayConfig):
    """Every input and label of a dataloader, stacked, and the rows' sensitive attributes
    (a frame, empty without ``data.sensitive``)."""
    from assayml.stages.datamodule import batch_facets, batch_parts, facet_frame

    xs, ys, facets = [], [], []
    where = f"{cfg.data._target_} dataloader"
    for batch in loader:
        x, y = batch_parts(batch, where)
        facets.append(batch_facets(batch, list(cfg.data.sensitive), where))
        xs.append(torch.as_tensor(x).float())
        ys.append(torch.as_tensor(y).reshape(len(y), -1).squeeze(-1))
    return torch.cat(xs), torch.cat(ys).numpy(), facet_frame(facets)


def module_bias(cfg: AssayConfig, profile: dict[str, Any], data, y, facets, pred):
    """``bias.json`` from the train split's labels and attributes and the explained split's
    labels, attributes and predictions (no flip test: see the module's docstring)."""
    from assayml.explain.bias_report import bias_report, favourable_label
    from assayml.stages.datamodule import build_datamodule, loader_labels
    from assayml.stages.explain import check_prepared_facets
    from assayml.utils.groups import index_of

    check_prepared_facets(cfg, profile)
    if pred.probabilities is None:
        raise ConfigError("data.sensitive: bias metrics need a classifier's predictions")
    sensitive = list(cfg.data.sensitive)
    # The train split as prepare read it: a DataModule set up for "fit" (the one explaining
    # the test split may have built only that split in setup("test")).
    fit = data if cfg.explain.split != "test" else build_datamodule(cfg, "fit")
    labels, _, train_facets = loader_labels(
        fit.train_dataloader(), f"{cfg.data._target_}.train_dataloader()", sensitive
    )
    classes = profile["classes"]
    favourable = favourable_label(classes, cfg.explain.bias)
    train = train_facets.assign(label=labels.numpy())
    split = facets.assign(label=y)
    predicted = np.asarray(classes, dtype=object)[pred.predicted]
    score = pred.probabilities[:, index_of(classes, favourable)]
    return bias_report(
        train,
        split,
        predicted,
        "label",
        sensitive,
        profile.get("reference_groups") or {},
        favourable,
        None,
        cfg.explain.bias,
        score,
    ) | {"flip_test": "not computed: the sensitive attributes are not inputs of the model"}


def chosen_rows(selector: Any, pred, y: np.ndarray) -> list[int]:
    """The rows ``explain.rows`` names: indices, first:k, most_uncertain:k, misclassified:k."""
    n = len(y)
    if isinstance(selector, (list, tuple)):
        bad = [i for i in selector if not 0 <= int(i) < n]
        if bad:
            raise ConfigError(f"explain.rows: {bad} outside the split's {n} rows")
        return [int(i) for i in selector]
    kind, _, count = str(selector).partition(":")
    k = int(count or 5)
    if kind == "most_uncertain" and "predictive_entropy" in pred.uncertainty:
        return [
            int(i) for i in np.argsort(-pred.uncertainty["predictive_entropy"], kind="stable")[:k]
        ]
    if kind == "misclassified" and pred.probabilities is not None:
        return [int(i) for i in np.flatnonzero(pred.predicted != y)[:k]]
    return list(range(min(k, n)))


def attribute(module, x: torch.Tensor, baseline: torch.Tensor, target, ecfg, seed: int):
    """``{method: (attributions like x[0] as numpy, extra facts)}`` for one input ``x``."""
    from captum import attr

    from assayml.explain.local import integrated_gradients

    torch.manual_seed(seed)
    target = None if target is None else int(target)
    results: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
    x = x.double().clone().requires_grad_(True)
    baseline = baseline.double()
    for method in ecfg.methods:
        extra: dict[str, Any] = {}
        if method == "integrated_gradients":
            values, delta = integrated_gradients(module).attribute(
                x,
                baselines=baseline,
                target=target,
                n_steps=ecfg.steps,
                return_convergence_delta=True,
            )
            extra["completeness_error"] = float(delta.abs().max())
        elif method == "saliency":
            values = attr.Saliency(module).attribute(x, target=target, abs=True)
        elif method == "occlusion":
            if x.dim() == 2:  # flat inputs: one feature at a time
                window, strides = (1,), (1,)
            else:  # images: all channels, a quarter of each side, half-window strides
                window = tuple([x.shape[1]] + [max(1, s // 4) for s in x.shape[2:]])
                strides = tuple([x.shape[1]] + [max(1, s // 8) for s in x.shape[2:]])
            values = attr.Occlusion(module).attribute(
                x,
                sliding_window_shapes=window,
                strides=strides,
                baselines=baseline,
                target=target,
            )
        elif method == "gradient_shap":
            values = attr.GradientShap(module).attribute(
                x,
                baselines=torch.cat([baseline, torch.zeros_like(baseline)]),
                target=target,
                n_samples=min(ecfg.samples, 50),
            )
        else:  # deeplift
            values = attr.DeepLift(module).attribute(x, baselines=baseline, target=target)
        results[method] = (values.detach()[0].numpy().astype(np.float64), extra)
    return results


def top_positions(values: np.ndarray, k: int) -> list[dict[str, Any]]:
    """The ``k`` positions (index tuples) with the largest |attribution|."""
    flat = np.argsort(-np.abs(values).ravel(), kind="stable")[:k]
    return [
        {
            "position": [int(i) for i in np.unravel_index(j, values.shape)],
            "value": float(values.ravel()[j]),
        }
        for j in flat
    ]


def _plane(values: np.ndarray, shape: list[int]) -> np.ndarray:
    """A 2-D picture of an input or its attributions: channels summed for images, a row
    for flat inputs."""
    if len(shape) >= 3:
        return values.reshape(shape).sum(axis=0)
    if len(shape) == 2:
        return values.reshape(shape)
    return values.reshape(1, -1)


def _number(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return int(value) if float(value).is_integer() else float(value)
