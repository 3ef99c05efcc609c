"""Local attributions per row, through Captum (and our batched KernelSHAP), summed over the
transformed features of each raw column (a one-hot group is one column), so explanations
speak of the columns a user knows."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from assayml.errors import ConfigError
from assayml.explain.kernel_shap import kernel_shap

METHODS = ("integrated_gradients", "kernel_shap", "lime", "saliency", "deeplift", "gradient_shap")


@dataclass
class Background:
    single: torch.Tensor  # [1, features]: the baseline of IG, DeepLift and LIME
    rows: torch.Tensor  # [b, features]: the background of KernelSHAP and GradientSHAP


@dataclass
class LocalSettings:
    samples: int = 200  # KernelSHAP / LIME perturbations, GradientSHAP samples
    steps: int = 50  # Integrated Gradients steps
    seed: int = 0


def group_matrix(groups: list[list[int]], features: int) -> torch.Tensor:
    """[features, columns]: 1 where a transformed feature belongs to a raw column."""
    matrix = torch.zeros(features, len(groups), dtype=torch.float64)
    for column, indices in enumerate(groups):
        matrix[indices, column] = 1.0
    return matrix


def attribute(
    method: str,
    net: torch.nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    background: Background,
    groups: list[list[int]],
    settings: LocalSettings,
):
    """(attributions [rows, columns], convergence delta [rows] or None) of one method."""
    if method == "kernel_shap":
        values = kernel_shap(
            net, x, background.rows, target, settings.samples, groups, settings.seed
        )
        return values.numpy(), None
    if method == "lime":
        return _lime(net, x, target, background, groups, settings), None
    raw, delta = feature_attributions(method, net, x, target, background, settings)
    grouped = raw.double() @ group_matrix(groups, x.shape[1])
    return grouped.numpy(), None if delta is None else delta.detach().double().numpy()


def feature_attributions(
    method: str,
    net: torch.nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    background: Background,
    settings: LocalSettings,
):
    """Per transformed feature [rows, features] (and IG's delta) from a gradient method."""
    from captum.attr import DeepLift, GradientShap, Saliency

    x = x.clone().requires_grad_(True)
    if method == "integrated_gradients":
        attr, delta = integrated_gradients(net).attribute(
            x,
            baselines=background.single,
            target=target,
            n_steps=settings.steps,
            return_convergence_delta=True,
        )
        return attr.detach(), delta
    if method == "saliency":
        return Saliency(net).attribute(x, target=target, abs=True).detach(), None
    if method == "deeplift":
        return DeepLift(net).attribute(x, baselines=background.single, target=target).detach(), None
    if method == "gradient_shap":
        torch.manual_seed(settings.seed)  # GradientSHAP draws baselines and path points
        attr = GradientShap(net).attribute(
            x, baselines=background.rows, target=target, n_samples=min(settings.samples, 50)
        )
        return attr.detach(), None
    raise ConfigError(f"explain.methods: unknown method '{method}' ({', '.join(METHODS)})")


def integrated_gradients(net: torch.nn.Module):
    """Captum's IntegratedGradients, cheaper, same numbers: its Gauss-Legendre nodes and
    weights are computed once per number of steps (Captum solves an eigenvalue problem,
    30-200 ms at 300 steps, twice per call, and the stability checks call it a dozen
    times), and the gradient of the path's outputs is taken through their sum (Captum
    hands autograd one output tensor per path point: thousands at 300 steps x rows, each
    given its own grad tensor). d(sum)/d(output) is 1 for each output either way."""
    return _cached_integrated_gradients()(net)


@functools.cache
def _cached_integrated_gradients() -> type:
    from captum.attr import IntegratedGradients

    class CachedIntegratedGradients(IntegratedGradients):
        def __init__(self, forward_func, multiply_by_inputs: bool = True) -> None:
            super().__init__(forward_func, multiply_by_inputs)
            self.gradient_func = _summed_gradients

        # Captum's private hook (0.7-0.9): ``attribute`` calls ``_attribute`` without
        # nodes, and ``_attribute`` takes them precomputed.
        def _attribute(
            self,
            inputs,
            baselines,
            target=None,
            additional_forward_args=None,
            n_steps=50,
            method="gausslegendre",
            step_sizes_and_alphas=None,
        ):
            if step_sizes_and_alphas is None and method == "gausslegendre":
                step_sizes_and_alphas = _gauss_legendre(n_steps)
            return super()._attribute(
                inputs,
                baselines,
                target,
                additional_forward_args,
                n_steps,
                method,
                step_sizes_and_alphas,
            )

    return CachedIntegratedGradients


def _summed_gradients(forward_fn, inputs, target_ind=None, additional_forward_args=None):
    """Captum's ``compute_gradients`` with one backward from the outputs' sum."""
    from captum._utils.common import _run_forward

    with torch.autograd.set_grad_enabled(True):
        outputs = _run_forward(forward_fn, inputs, target_ind, additional_forward_args)
        if outputs[0].numel() != 1:
            raise ValueError("Integrated Gradients needs one output per row: give a target")
        return torch.autograd.grad(outputs.sum(), inputs)


@functools.lru_cache(maxsize=8)
def _gauss_legendre(steps: int) -> tuple[list[float], list[float]]:
    """(step sizes, alphas) on [0, 1] from one Gauss-Legendre rule, by the formulas of
    Captum's ``gauss_legendre_builders`` (which solves the rule once for each)."""
    points, weights = np.polynomial.legendre.leggauss(steps)
    return (0.5 * weights).tolist(), (0.5 * (1 + points)).tolist()


def _lime(net, x, target, background: Background, groups, settings: LocalSettings) -> np.ndarray:
    from captum.attr import Lime

    mask = torch.zeros(1, x.shape[1], dtype=torch.long)
    for column, indices in enumerate(groups):
        mask[0, indices] = column
    torch.manual_seed(settings.seed)
    rows = []
    for i in range(len(x)):  # Captum's LIME explains one row per call
        attr = Lime(net).attribute(
            x[i : i + 1],
            baselines=background.single,
            target=target[i : i + 1],
            feature_mask=mask,
            n_samples=settings.samples,
            perturbations_per_eval=settings.samples,
        )
        rows.append([attr[0, indices[0]].item() for indices in groups])
    return np.asarray(rows)
