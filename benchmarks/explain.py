"""KernelSHAP over 500 rows x 30 features: our batched evaluation against Captum's
KernelShap on the same rows, model, baseline and number of samples, in one run.

Both are estimates of the same Shapley values, so "matching" is judged as the gap between
ours and Captum's, next to the gap between two Captum runs with different seeds (the
estimator's own noise); on a linear model both are exact (see tests/explain).

    python benchmarks/explain.py [--rows 500] [--features 30] [--samples 200]
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

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


def _top_sign_agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    top = b.abs().argmax(dim=1, keepdim=True)
    return float((a.gather(1, top).sign() == b.gather(1, top).sign()).float().mean())


if __name__ == "__main__":
    main()
