"""Two explain benchmarks, each with its baseline in the same run.

1. KernelSHAP over 500 rows x 30 features: our batched evaluation against Captum's
   KernelShap on the same rows, model, baseline and number of samples. Both are estimates
   of the same Shapley values, so "matching" is judged as the gap between ours and
   Captum's, next to the gap between two Captum runs with different seeds (the estimator's
   own noise); on a linear model both are exact (see tests/explain).
2. ``assay explain`` on the default config (breast_cancer, MLP) beyond its imports: a fresh
   process times importing the stage's libraries; another imports the same, then times the
   stage (``run_explain``); the CLI's wall time is set against the bare import process's.
   In the stage's process, scikit-learn's ``permutation_importance`` (what the stage called
   before) and the batched one it calls now run on the same model and rows: same numbers?
   how much faster?

    python benchmarks/explain.py [--only shap|stage] [--rows 500] [--features 30]
        [--samples 200] [--repeats 3] [--project DIR]

``--project``: a folder already holding the default pipeline's prepare/features/train
outputs (else they are made in a temporary folder, which takes a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
# What `assay explain` imports (found from sys.modules after a run), heaviest first.
LIBRARIES = (
    "torch",
    "captum.attr",
    "captum.metrics",
    "sklearn.tree",
    "sklearn.inspection",
    "sklearn.metrics",
    "scipy.stats",
    "pandas",
    "pyarrow.parquet",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "hydra",
    "omegaconf",
)
IMPORTS = "import " + ", ".join(LIBRARIES)
FIGURES = ("attribution_bars", "global_importance", "dependence_plot", "surrogate_tree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("shap", "stage"))
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="stage runs (best of)")
    parser.add_argument("--project", type=Path, help="a prepared default project")
    parser.add_argument("--child", choices=("png", "data"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return stage_child(args.child)
    if args.only != "stage":
        kernel_shap_benchmark(args)
    if args.only != "shap":
        stage_benchmark(args)


def kernel_shap_benchmark(args) -> None:
    from captum.attr import KernelShap

    from assayml.explain.kernel_shap import kernel_shap
    from assayml.models.networks import build_mlp

    torch.manual_seed(0)
    net = build_mlp(args.features, 2, hidden=64, layers=2).eval()
    x = torch.randn(args.rows, args.features)
    baseline = torch.zeros(1, args.features)
    target = net(x).argmax(dim=1)

    def captum(seed: int) -> tuple[torch.Tensor, float]:
        torch.manual_seed(seed)
        start = time.perf_counter()
        values = torch.cat(
            [
                KernelShap(net).attribute(
                    x[i : i + 1],
                    baselines=baseline,
                    target=target[i : i + 1],
                    n_samples=args.samples,
                )
                for i in range(args.rows)
            ]
        )
        return values, time.perf_counter() - start

    kernel_shap(net, x[:10], baseline, target[:10], samples=args.samples)  # warm-up
    start = time.perf_counter()
    ours = kernel_shap(net, x, baseline, target, samples=args.samples, seed=0).float()
    ours_time = time.perf_counter() - start
    reference, captum_time = captum(1)
    again, _ = captum(2)
    scale = reference.abs().mean()
    ours_gap = float((ours - reference).abs().mean() / scale)
    captum_gap = float((again - reference).abs().mean() / scale)
    print(
        f"KernelSHAP, {args.rows} rows x {args.features} features, {args.samples} samples, "
        f"MLP {args.features}-64-64-2, {torch.get_num_threads()} threads:"
    )
    print(
        f"  batched (ours) {ours_time:.2f} s ({1e3 * ours_time / args.rows:.2f} ms a row), "
        f"Captum {captum_time:.2f} s ({1e3 * captum_time / args.rows:.2f} ms a row), "
        f"speed-up {captum_time / ours_time:.1f}x (target >= 10x)"
    )
    print(
        f"  mean |ours - Captum| / mean |Captum| = {ours_gap:.3f}; "
        f"between two Captum seeds = {captum_gap:.3f}"
    )
    print(
        f"  sign agreement of the largest attribution per row: "
        f"{_top_sign_agreement(ours, reference):.3f}"
    )


def stage_benchmark(args) -> None:
    """`assay explain` (default config) beyond the import of its libraries."""
    with tempfile.TemporaryDirectory(prefix="assay-explain-bench-") as tmp:
        project = args.project or make_project(Path(tmp))
        runs = []
        for _ in range(args.repeats):  # interleaved: imports, stage, CLI
            imports = run_python(
                [
                    "-c",
                    f"import time; t = time.perf_counter(); {IMPORTS}; "
                    "print(time.perf_counter() - t)",
                ],
                project,
            )
            child = run_python([__file__, "--child", "png"], project)
            data = run_python([__file__, "--child", "data"], project)
            cli = run_python(["-m", "assayml.cli.main", "explain"], project)
            runs.append((imports, last_json(child), cli, last_json(data)))
    load = os.getloadavg()
    best_import = min(float(r[0].out) for r in runs)
    best_import_wall = min(r[0].wall for r in runs)
    stage = min(r[1]["stage"] for r in runs)
    data_stage = min(r[3]["stage"] for r in runs)
    cli = min(r[2].wall for r in runs)
    child = min(runs, key=lambda r: r[1]["stage"])[1]
    data = min(runs, key=lambda r: r[3]["stage"])[3]
    print(
        f"assay explain, default config (breast_cancer, MLP), {torch.get_num_threads()} "
        f"threads, best of {args.repeats}, load average {load[0]:.2f} {load[1]:.2f}:"
    )
    print(
        f"  importing its libraries in a fresh process: {best_import:.2f} s "
        f"(process wall {best_import_wall:.2f} s)"
    )
    print(
        f"  the stage after those imports (run_explain): {stage:.2f} s with its PNG figures, "
        f"{data_stage:.2f} s with explain.figures=data (target <= 1.5 s)"
    )
    print(
        f"  `assay explain` process wall {cli:.2f} s, minus the import process's wall: "
        f"{cli - best_import_wall:.2f} s beyond imports"
    )
    for name, parts in (("PNG", child["parts"]), ("data", data["parts"])):
        print(f"  stage parts, {name} (s): " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    old, new = child["permutation_old"], child["permutation_new"]
    print(
        f"  permutation importance ({child['columns']} columns x {child['repeats']} repeats "
        f"on {child['rows']} rows): scikit-learn {old:.2f} s, batched {new:.3f} s, "
        f"{old / new:.0f}x; same numbers: {child['same']}"
    )


class Ran:
    def __init__(self, out: str, wall: float) -> None:
        self.out, self.wall = out, wall


def last_json(ran: Ran) -> dict:
    return json.loads(ran.out.splitlines()[-1])


def run_python(argv: list[str], cwd: Path) -> Ran:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{argv} failed:\n{done.stdout}\n{done.stderr}")
    return Ran(done.stdout.strip(), wall)


def make_project(root: Path) -> Path:
    shutil.copytree(ROOT / "conf", root / "conf")
    for stage in ("prepare", "features", "train"):
        run_python(["-m", "assayml.cli.main", stage], root)
    return root


def stage_child(figures: str) -> None:
    """In a fresh process: the libraries, then the stage (``explain.figures``), then, with
    PNGs, the two permutation importances; one JSON line."""
    exec(IMPORTS)
    from assayml.config.load import compose, to_typed
    from assayml.explain import global_explain, plots
    from assayml.explain.threads import single_threaded
    from assayml.stages import explain, explain_bias

    cfg = to_typed(compose([]))
    cfg.explain.figures = figures
    parts: dict[str, float] = {}
    for module, name, label in (
        (explain, "load_context", "load"),
        (explain, "attribute", "local attributions"),
        (explain, "stability", "stability"),
        (explain, "_counterfactual", "counterfactuals"),
        (explain, "kernel_shap", "global SHAP"),
        (global_explain, "permutation", "permutation"),
        (global_explain, "dependence", "PDP/ICE"),
        (global_explain, "surrogate", "surrogate"),
        (explain_bias, "bias_section", "bias"),  # imported by run_explain when it runs
        *((plots, name, "figures") for name in FIGURES),
    ):
        timed(module, name, parts, label)
    start = time.perf_counter()
    explain.run_explain(cfg)
    stage = time.perf_counter() - start
    parts = dict(parts)  # the stage's alone: what follows calls some of them again
    if figures != "png":
        print(json.dumps({"stage": stage, "parts": parts}))
        return
    ctx, _, _ = explain.load_context(cfg)
    raw = ctx.split[ctx.transform.input_columns]
    y = ctx.split[ctx.transform.target.name].to_numpy()
    repeats = cfg.explain.permutation_repeats
    with single_threaded():  # as in the stage
        start = time.perf_counter()
        new = global_explain.permutation(ctx.estimator, raw, y, repeats, ctx.seed, False)
        new_time = time.perf_counter() - start
        start = time.perf_counter()
        old = sklearn_permutation(ctx.estimator, raw, y, repeats, ctx.seed)
        old_time = time.perf_counter() - start
    print(
        json.dumps(
            {
                "stage": stage,
                "parts": parts,
                "permutation_old": old_time,
                "permutation_new": new_time,
                "same": new == old,
                "rows": len(raw),
                "columns": raw.shape[1],
                "repeats": repeats,
            }
        )
    )


def sklearn_permutation(estimator, raw, y, repeats: int, seed: int) -> list[dict]:
    """The stage's permutation importance before it was batched (scikit-learn's)."""
    import numpy as np
    from sklearn.inspection import permutation_importance

    result = permutation_importance(
        estimator, raw, y, n_repeats=repeats, random_state=seed, scoring="accuracy"
    )
    half = 1.96 * result.importances_std / np.sqrt(repeats)
    rows = [
        {
            "column": c,
            "mean": round(float(m), 6),
            "std": round(float(s), 6),
            "ci95": [round(float(m - h), 6), round(float(m + h), 6)],
        }
        for c, m, s, h in zip(
            raw.columns, result.importances_mean, result.importances_std, half, strict=True
        )
    ]
    return sorted(rows, key=lambda r: -r["mean"])


def timed(module, name: str, parts: dict[str, float], label: str) -> None:
    """Wrap ``module.name`` to add its time to ``parts[label]``."""
    function = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            parts[label] = parts.get(label, 0.0) + time.perf_counter() - start

    setattr(module, name, wrapper)


def _top_sign_agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    top = b.abs().argmax(dim=1, keepdim=True)
    return float((a.gather(1, top).sign() == b.gather(1, top).sign()).float().mean())


if __name__ == "__main__":
    main()
