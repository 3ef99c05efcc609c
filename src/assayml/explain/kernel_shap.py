"""KernelSHAP (Lundberg and Lee, 2017) with every perturbation of every row in one batch.

The estimator is Captum's (the same coalition sampling, the same weights, the same
weighted linear regression with an intercept): coalition sizes k are drawn with probability
proportional to (M - 1) / (k (M - k)), members uniformly, so the Shapley kernel becomes a
uniform weight; the empty and the full coalitions are always included with a weight of 10^6
so the fit honours f(baseline) and f(x). What differs is the execution: Captum evaluates a
row's perturbations one forward at a time and fits one regression per row in scikit-learn;
here all rows' perturbations go through the model in a few large forwards and all rows'
regressions are solved as one batched least-squares problem.

Features may be grouped (``groups``): a one-hot encoded column is one player of the game.
With several background rows the value of a coalition is the mean over them (the
interventional SHAP of KernelExplainer).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

ENDPOINT_WEIGHT = 1e6  # as Captum: "infinite" weight on the empty and full coalitions
MAX_BATCH_ROWS = 65_536  # perturbed rows per forward pass


def sample_coalitions(rows: int, players: int, samples: int, generator: torch.Generator):
    """Masks [rows, samples, players] (1 = the player keeps its value) and weights
    [rows, samples]: first the full and the empty coalition, then Shapley-kernel draws."""
    k = torch.arange(1, players, dtype=torch.float64)
    size_probs = (players - 1) / (k * (players - k))
    draws = samples - 2
    sizes = (
        torch.multinomial(size_probs, rows * draws, replacement=True, generator=generator).reshape(
            rows, draws
        )
        + 1
    )
    # A uniformly random subset of each size: the `size` smallest of random keys.
    keys = torch.rand(rows, draws, players, generator=generator, dtype=torch.float64)
    ranks = keys.argsort(dim=-1).argsort(dim=-1)
    drawn = (ranks < sizes.unsqueeze(-1)).to(torch.float64)
    ends = torch.stack([torch.ones(players), torch.zeros(players)]).to(torch.float64)
    masks = torch.cat([ends.expand(rows, 2, players), drawn], dim=1)
    weights = torch.ones(rows, samples, dtype=torch.float64)
    weights[:, :2] = ENDPOINT_WEIGHT
    return masks, weights


@torch.no_grad()
def kernel_shap(
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    baselines: torch.Tensor,
    target: torch.Tensor | None = None,
    samples: int = 200,
    groups: list[list[int]] | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Shapley values [rows, players] of output ``target[r]`` of ``forward`` for each row r.

    Args:
        forward: the model, inputs [n, features] -> outputs [n, outputs].
        x: rows to explain, [rows, features].
        target: the output explained for each row, [rows]; default output 0.
        baselines: background rows, [b, features] (b = 1 for a single baseline).
        samples: coalitions per row, the two end points included.
        groups: feature indices of each player; default one player per feature.
        seed: coalition sampling.
    """
    rows, features = x.shape
    groups = groups or [[i] for i in range(features)]
    players = len(groups)
    member = torch.zeros(players, features, dtype=x.dtype)
    for player, indices in enumerate(groups):
        member[player, indices] = 1.0
    generator = torch.Generator().manual_seed(seed)
    masks, weights = sample_coalitions(rows, players, samples, generator)
    feature_masks = (masks.to(x.dtype) @ member).unsqueeze(2)  # [rows, samples, 1, features]
    mixed = feature_masks * x[:, None, None, :] + (1 - feature_masks) * baselines[None, None]
    outputs = _evaluate(forward, mixed.reshape(-1, features))  # [rows * samples * b, outputs]
    outputs = outputs.reshape(rows, samples, len(baselines), -1).mean(dim=2)
    index = torch.zeros(rows, dtype=torch.long) if target is None else target.long()
    values = outputs.gather(-1, index.view(rows, 1, 1).expand(rows, samples, 1)).squeeze(-1)
    return _weighted_regression(masks, values, weights)


def _evaluate(forward: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor):
    parts = [forward(inputs[i : i + MAX_BATCH_ROWS]) for i in range(0, len(inputs), MAX_BATCH_ROWS)]
    return torch.cat(parts).to(torch.float64)


def _weighted_regression(masks: torch.Tensor, values: torch.Tensor, weights: torch.Tensor):
    """Per row, least squares of values on [1, masks] with weights; the slopes."""
    design = torch.cat([torch.ones_like(masks[..., :1]), masks], dim=-1)  # [rows, s, 1 + p]
    root = weights.sqrt().unsqueeze(-1)
    solution = torch.linalg.lstsq(design * root, values.unsqueeze(-1) * root).solution
    return solution[:, 1:, 0]
