"""Attributions checked against ground truth: exact linear SHAP, IG completeness, and
agreement with Captum's own KernelSHAP."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from assayml.explain.kernel_shap import kernel_shap
from assayml.explain.local import Background, LocalSettings, attribute

torch.manual_seed(0)
LINEAR = torch.nn.Linear(6, 3).double()
X = torch.randn(8, 6, dtype=torch.float64)
TRAIN = torch.randn(200, 6, dtype=torch.float64) + 0.5
MEAN = TRAIN.mean(dim=0, keepdim=True)
TARGET = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])


def exact_linear_shap(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """For f(x) = w.x + b with independent features: phi_i = w_i (x_i - E[x_i])."""
    return LINEAR.weight[target].detach() * (x - MEAN)


def test_kernel_shap_equals_exact_linear_shap() -> None:
    values = kernel_shap(LINEAR, X, MEAN, TARGET, samples=100, seed=1)
    assert torch.allclose(values, exact_linear_shap(X, TARGET), atol=1e-6)


def test_captum_kernel_shap_agrees_on_the_linear_model() -> None:
    from captum.attr import KernelShap

    torch.manual_seed(0)
    captum = KernelShap(LINEAR).attribute(X, baselines=MEAN, target=TARGET, n_samples=100)
    assert torch.allclose(captum.double(), exact_linear_shap(X, TARGET), atol=1e-4)


def test_grouped_players_get_the_sum_of_their_features() -> None:
    groups = [[0], [1], [2, 3, 4], [5]]
    values = kernel_shap(LINEAR, X, MEAN, TARGET, samples=64, groups=groups, seed=1)
    exact = exact_linear_shap(X, TARGET)
    summed = torch.stack([exact[:, g].sum(dim=1) for g in groups], dim=1)
    assert torch.allclose(values, summed, atol=1e-6)


def test_a_background_set_averages_over_its_rows() -> None:
    background = TRAIN[:5]
    values = kernel_shap(LINEAR, X, background, TARGET, samples=64, seed=1)
    expected = LINEAR.weight[TARGET].detach() * (X - background.mean(dim=0))
    assert torch.allclose(values, expected, atol=1e-6)


def mlp() -> torch.nn.Module:
    torch.manual_seed(3)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)
    ).double()


def test_integrated_gradients_completeness() -> None:
    net = mlp()
    settings = LocalSettings(steps=300, seed=0)
    groups = [[i] for i in range(6)]
    values, delta = attribute(
        "integrated_gradients", net, X, TARGET, Background(MEAN, MEAN), groups, settings
    )
    assert np.abs(delta).max() < 1e-3
    outputs = net(X).gather(1, TARGET[:, None]).squeeze(1) - net(MEAN)[0, TARGET]
    assert np.allclose(values.sum(axis=1), outputs.detach().numpy(), atol=1e-3)


@pytest.mark.parametrize("method", ["saliency", "deeplift", "gradient_shap", "lime"])
def test_every_method_gives_one_value_per_column(method: str) -> None:
    groups = [[0, 1], [2], [3, 4, 5]]
    values, _ = attribute(
        method,
        mlp(),
        X,
        TARGET,
        Background(MEAN, TRAIN[:4]),
        groups,
        LocalSettings(samples=60, seed=0),
    )
    assert values.shape == (8, 3) and np.isfinite(values).all()


def test_ours_agrees_with_captum_as_closely_as_captum_with_itself() -> None:
    """On a nonlinear model both are estimates; ours must be as close to Captum's as two
    Captum runs with different seeds are to each other."""
    from captum.attr import KernelShap

    net = mlp()

    def captum(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return KernelShap(net).attribute(X, baselines=MEAN, target=TARGET, n_samples=200)

    ours = kernel_shap(net, X, MEAN, TARGET, samples=200, seed=5)
    reference = captum(1)
    scale = reference.abs().mean()
    ours_gap = (ours - reference).abs().mean() / scale
    captum_gap = (captum(2) - reference).abs().mean() / scale
    assert ours_gap < 2 * captum_gap + 0.02
