"""Temperature scaling: one T > 0 dividing the logits, fitted by minimising the validation
negative log-likelihood of the (averaged) predictive distribution.

For S samples (ensemble members, MC passes) the calibrated prediction is the mean over s of
softmax(logits_s / T), so T is fitted on that mean. Dividing every logit by the same T
never changes a single network's argmax.
"""

from __future__ import annotations

import numpy as np
import torch

LOG_T_BOUNDS = (-5.0, 5.0)  # T within [0.0067, 148]: beyond that the model is broken


def calibrated_probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits`` [S, rows, classes] -> mean over S of softmax(logits / T): [rows, classes]."""
    return torch.softmax(logits / temperature, dim=-1).mean(dim=0)


def nll(logits: torch.Tensor, y: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
    """Mean negative log-likelihood of the averaged prediction at ``temperature``."""
    log_probs = torch.log_softmax(logits / temperature, dim=-1)  # [S, rows, classes]
    samples = logits.shape[0]
    mixture = torch.logsumexp(log_probs, dim=0) - np.log(samples)  # log mean_s p_s
    return -mixture.gather(-1, y.unsqueeze(-1)).mean()


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T minimising validation NLL, by L-BFGS on log T (so T stays positive).

    Args:
        logits: [S, rows, classes] (S = 1 for a single network).
        y: [rows] true class indices.
    """
    z = torch.as_tensor(logits, dtype=torch.float64)
    target = torch.as_tensor(y, dtype=torch.int64)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [log_t],
        lr=0.5,
        max_iter=200,
        tolerance_grad=1e-10,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = nll(z, target, log_t.exp())
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(np.exp(np.clip(log_t.item(), *LOG_T_BOUNDS)))
