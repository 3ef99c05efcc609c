"""How far an explanation can be trusted: Captum's sensitivity (max) and infidelity, and the
rank correlation of attributions when the input moves a little."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr

from assayml.explain.local import Background, LocalSettings, attribute, feature_attributions


def stability(
    net: torch.nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    background: Background,
    groups: list[list[int]],
    settings: LocalSettings,
    noise: float,
    repeats: int = 5,
) -> dict[str, np.ndarray]:
    """Per row, for Integrated Gradients: ``sensitivity_max`` (the largest change of the
    attributions over perturbations of radius ``noise``), ``infidelity`` (how badly the
    attributions predict the output change under Gaussian noise of sd ``noise``), and
    ``rank_correlation`` (mean Spearman correlation with the attributions of ``repeats``
    noisy copies). Inputs are transformed features (standardised units)."""
    from captum.metrics import infidelity, sensitivity_max

    def explain(inputs, target: torch.Tensor = target, **_) -> tuple[torch.Tensor]:
        # Captum's metrics pass and expect tuples of tensors.
        inputs = inputs[0] if isinstance(inputs, tuple) else inputs
        return (
            feature_attributions("integrated_gradients", net, inputs, target, background, settings)[
                0
            ],
        )

    def perturb(inputs: torch.Tensor):
        shift = torch.randn_like(inputs) * noise
        return shift, inputs - shift

    torch.manual_seed(settings.seed)
    sens = sensitivity_max(explain, x, perturb_radius=noise, n_perturb_samples=10, target=target)
    attributions = explain(x)[0]
    infid = infidelity(net, perturb, x, attributions, target=target, n_perturb_samples=10)
    base, _ = attribute("integrated_gradients", net, x, target, background, groups, settings)
    generator = torch.Generator().manual_seed(settings.seed)
    correlations = []
    for _ in range(repeats):
        noisy = x + torch.randn(x.shape, generator=generator, dtype=x.dtype) * noise
        moved, _ = attribute(
            "integrated_gradients", net, noisy, target, background, groups, settings
        )
        correlations.append([_spearman(a, b) for a, b in zip(base, moved, strict=True)])
    return {
        "sensitivity_max": sens.detach().double().numpy(),
        "infidelity": infid.detach().double().numpy(),
        "rank_correlation": np.mean(np.asarray(correlations), axis=0),
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 1.0 if np.allclose(a, b) else 0.0
    return float(spearmanr(a, b).statistic)
