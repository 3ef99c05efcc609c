"""MC dropout: T stochastic passes with dropout active, run as few large forwards.

The T passes run as one forward over the rows repeated T times, which beats a loop of T
small forwards when there are few rows (serving). For many rows one huge batch loses to the
loop (memory traffic), so the repeats go in groups of at most ``MAX_ROWS`` rows per forward:
one forward for a single row, about T forwards for 10,000 (benchmarks/uncertainty.py).
"""

from __future__ import annotations

import torch
from torch import nn

MAX_ROWS = 4096  # rows per forward pass (repeats x input rows)


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
    modes = {m: m.training for m in net.modules()}
    net.eval()
    for module in net.modules():
        if isinstance(module, nn.Dropout):
            module.train()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            parts = []
            for start in range(0, samples, per_pass):
                repeats = min(per_pass, samples - start)
                out = net(x.repeat(repeats, 1))  # [repeats * rows, out]
                parts.append(out.reshape(repeats, rows, -1))
    finally:
        for module, training in modes.items():
            module.train(training)
    return torch.cat(parts)


def has_dropout(net: nn.Module) -> bool:
    return any(isinstance(m, nn.Dropout) and m.p > 0 for m in net.modules())
