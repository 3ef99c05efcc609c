"""Each uncertainty metric against a small NumPy reference on fixed inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from assayml.uncertainty import metrics as um
from assayml.uncertainty.summaries import classification_summary, entropy, regression_summary

RNG = np.random.default_rng(7)
N, C = 400, 4
LOGITS = RNG.normal(size=(N, C)) * 2
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
Y = np.where(RNG.random(N) < 0.7, PROBS.argmax(axis=1), RNG.integers(0, C, N))


def reference_ece(probs, y, bins=15, norm_="l1"):
    """Top-label calibration error with equal-width bins (Guo et al. 2017)."""
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    gaps, weights = [], []
    for lo, hi in itertools.pairwise(edges):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            gaps.append(abs(confidence[inside].mean() - correct[inside].mean()))
            weights.append(inside.mean())
    return np.max(gaps) if norm_ == "max" else np.sum(np.array(gaps) * np.array(weights))


def test_ece_and_mce() -> None:
    result = um.classification_uncertainty(PROBS, Y, entropy(PROBS))
    assert result["ece"] == pytest.approx(reference_ece(PROBS, Y), abs=1e-6)
    assert result["mce"] == pytest.approx(reference_ece(PROBS, Y, norm_="max"), abs=1e-6)


def test_nll_and_brier() -> None:
    assert um.nll(PROBS, Y) == pytest.approx(-np.mean(np.log(PROBS[np.arange(N), Y])))
    onehot = np.eye(C)[Y]
    assert um.brier(PROBS, Y) == pytest.approx(np.mean(((PROBS - onehot) ** 2).sum(axis=1)))


def test_aurc_and_accuracy_coverage() -> None:
    confidence, correct = PROBS.max(axis=1), PROBS.argmax(axis=1) == Y
    order = np.argsort(-confidence, kind="stable")
    risks = [np.mean(~correct[order[:k]]) for k in range(1, N + 1)]
    assert um.aurc(confidence, correct) == pytest.approx(np.mean(risks))
    curve = um.accuracy_coverage(confidence, correct)
    assert curve[-1] == {"coverage": 1.0, "accuracy": pytest.approx(correct.mean(), abs=1e-6)}
    assert curve[0]["accuracy"] == pytest.approx(correct[order[:40]].mean(), abs=1e-6)
    assert curve[0]["accuracy"] >= curve[-1]["accuracy"]  # confident rows are more often right


def test_misclassification_auroc() -> None:
    score, correct = entropy(PROBS), PROBS.argmax(axis=1) == Y
    assert um.misclassification_auroc(score, correct) == pytest.approx(
        roc_auc_score(~correct, score), abs=1e-6
    )
    assert um.misclassification_auroc(score, np.ones(N, dtype=bool)) is None


def test_gaussian_nll_and_interval_coverage() -> None:
    mean, var = RNG.normal(size=N), RNG.uniform(0.5, 2.0, size=N)
    y = mean + RNG.normal(size=N) * np.sqrt(var)
    assert um.gaussian_nll(mean, var, y) == pytest.approx(
        -np.mean(norm.logpdf(y, mean, np.sqrt(var)))
    )
    summary = regression_summary(mean[None], var[None], level=0.9)
    result = um.regression_uncertainty(
        summary["mean"], summary["variance"], summary["lower"], summary["upper"], y, 0.9
    )
    inside = np.abs(y - mean) <= norm.ppf(0.95) * np.sqrt(var)
    assert result["interval_coverage"] == pytest.approx(inside.mean(), abs=1e-6)
    assert result["interval_coverage"] == pytest.approx(0.9, abs=0.05)  # calibrated by design


def test_entropy_decomposition() -> None:
    same = np.repeat(PROBS[None], 5, axis=0)
    summary = classification_summary(same)
    assert np.allclose(summary["mutual_information"], 0, atol=1e-9)
    assert np.allclose(summary["predictive_entropy"], -(PROBS * np.log(PROBS)).sum(axis=1))
    disagree = np.stack([np.eye(C)[np.full(N, k)] * 0.97 + 0.01 for k in range(C)])
    summary = classification_summary(disagree)
    assert np.all(summary["mutual_information"] > 1.0)  # members certain, and all different
    assert np.allclose(
        summary["predictive_entropy"], summary["expected_entropy"] + summary["mutual_information"]
    )


def test_regression_mixture() -> None:
    means = RNG.normal(size=(5, N))
    variances = RNG.uniform(0.1, 1.0, size=(5, N))
    summary = regression_summary(means, variances, level=0.8)
    assert np.allclose(summary["mean"], means.mean(axis=0))
    assert np.allclose(summary["variance"], variances.mean(axis=0) + means.var(axis=0))
