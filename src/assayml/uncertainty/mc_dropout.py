"""MC dropout: T stochastic passes with dropout active, run as few large forwards.

The T passes run as one forward over the rows repeated T times, which beats a loop of T
small forwards when there are few rows (serving). For many rows one huge batch loses to the
loop (memory traffic), so the repeats go in groups of at most ``MAX_ROWS`` rows per forward:
one forward for up to 20 rows, the plain loop from 1,024 rows (benchmarks/uncertainty.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

MAX_ROWS = 1024  # rows per forward pass (repeats x input rows), tuned on 2 CPU cores


@torch.no_grad()
def mc_dropout_samples(
    net: nn.Module, x: torch.Tensor, samples: int, seed: int, max_rows: int = MAX_ROWS
) -> torch.Tensor:
    """``samples`` stochastic outputs for ``x`` [rows, features]: [samples, rows, out].

    Dropout layers sample, every other layer (batch norm) runs in eval mode; the draws come
    from ``seed`` (the global RNG is left as it was), so the same seed gives the same samples.
    """
    rows = x.shape[0]
    per_pass = max(1, max_rows // max(rows, 1))
    with _dropout_only(net), _seeded(seed, x.device):
        if per_pass == 1:  # many rows: the plain loop is the fastest way
            return torch.stack([net(x) for _ in range(samples)])
        parts = []
        for start in range(0, samples, per_pass):
            repeats = min(per_pass, samples - start)
            out = net(x.repeat(repeats, 1))  # [repeats * rows, out]
            parts.append(out.reshape(repeats, rows, -1))
        return torch.cat(parts)


@contextmanager
def _dropout_only(net: nn.Module) -> Iterator[None]:
    """Dropout layers in training mode, the rest in eval mode; restored afterwards.
    Only modules whose mode changes are touched (each change costs an attribute set)."""
    modes = [(m, m.training) for m in net.modules()]
    # every dropout kind (Dropout1d/2d/3d, AlphaDropout, ...), not only nn.Dropout
    wanted = {m: isinstance(m, nn.modules.dropout._DropoutNd) for m, _ in modes}
    changed = [(m, was) for m, was in modes if was != wanted[m]]
    for module, _ in changed:
        module.training = wanted[module]
    try:
        yield
    finally:
        for module, was in changed:
            module.training = was


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Draws from ``seed`` on the input's device, leaving that generator as it was.
    (``torch.manual_seed`` would also reach for every accelerator backend, which costs
    more than a small network's forward pass.)"""
    generator = torch.cuda if device.type == "cuda" else torch
    state = generator.get_rng_state()
    if device.type == "cuda":
        torch.cuda.manual_seed(seed)
    else:
        torch.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        generator.set_rng_state(state)


def has_dropout(net: nn.Module) -> bool:
    return any(isinstance(m, nn.Dropout) and m.p > 0 for m in net.modules())
