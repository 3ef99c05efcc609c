"""Temperature scaling: the fitted T is the NLL minimiser, keeps accuracy, lowers ECE."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from assayml.uncertainty.calibration import calibrated_probabilities, fit_temperature, nll
from assayml.uncertainty.metrics import classification_uncertainty
from assayml.uncertainty.summaries import entropy

RNG = np.random.default_rng(3)


def overconfident(n: int = 2000, classes: int = 3, scale: float = 4.0):
    """Labels from softmax(z); logits reported 4x too large: an overconfident model."""
    z = RNG.normal(size=(n, classes))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    y = np.array([RNG.choice(classes, p=row) for row in p])
    return (z * scale)[None], y  # [S=1, rows, classes]


def scipy_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    z, target = torch.as_tensor(logits), torch.as_tensor(y)
    result = minimize_scalar(
        lambda t: float(nll(z, target, t)),
        bounds=(0.01, 100),
        method="bounded",
        options={"xatol": 1e-8},
    )
    return result.x


def test_temperature_matches_scipy_minimiser() -> None:
    logits, y = overconfident()
    fitted = fit_temperature(logits, y)
    assert fitted == pytest.approx(scipy_temperature(logits, y), abs=1e-3)
    assert fitted == pytest.approx(4.0, rel=0.1)  # undoes the injected overconfidence


def test_ensemble_temperature_matches_scipy_minimiser() -> None:
    logits, y = overconfident()
    members = logits + RNG.normal(scale=0.5, size=(5, *logits.shape[1:]))
    assert fit_temperature(members, y) == pytest.approx(scipy_temperature(members, y), abs=1e-3)


def test_accuracy_is_unchanged_and_ece_falls() -> None:
    logits, y = overconfident()
    before = calibrated_probabilities(torch.as_tensor(logits), 1.0).numpy()
    after = calibrated_probabilities(torch.as_tensor(logits), fit_temperature(logits, y)).numpy()
    assert np.array_equal(before.argmax(axis=1), after.argmax(axis=1))
    ece_before = classification_uncertainty(before, y, entropy(before))["ece"]
    ece_after = classification_uncertainty(after, y, entropy(after))["ece"]
    assert ece_after < ece_before / 3
