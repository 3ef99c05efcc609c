"""Per-prediction summaries of S sampled predictions (ensemble members or MC-dropout passes).

Classification, from probabilities ``[S, rows, classes]``: the mean probabilities; the
predictive entropy H[mean p] (total uncertainty); the expected entropy E_s H[p_s]
(aleatoric); their difference, the mutual information between the prediction and the
model (epistemic, 0 for a single network). Regression, from means and variances
``[S, rows]``: the mixture mean and variance and a central interval (Gaussian).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12  # keeps log(0) finite in entropies


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) over the last axis."""
    return -np.sum(probabilities * np.log(probabilities + EPS), axis=-1)


def classification_summary(samples: np.ndarray) -> dict[str, np.ndarray]:
    """``samples`` [S, rows, classes] -> mean probabilities and the three entropies."""
    mean = samples.mean(axis=0)
    predictive = entropy(mean)
    expected = entropy(samples).mean(axis=0)
    return {
        "probabilities": mean,
        "predictive_entropy": predictive,
        "expected_entropy": expected,
        "mutual_information": np.maximum(predictive - expected, 0.0),  # >= 0 up to rounding
    }


def regression_summary(
    means: np.ndarray, variances: np.ndarray | None, level: float
) -> dict[str, np.ndarray]:
    """``means`` (and per-sample ``variances``) [S, rows] -> mixture mean, variance and the
    central interval at ``level``. Without variances (a point head) the variance is the
    spread of the samples' means (epistemic only)."""
    mean = means.mean(axis=0)
    if variances is None:
        variance = means.var(axis=0)
    else:
        variance = np.maximum((variances + means**2).mean(axis=0) - mean**2, 0.0)
    # Imported here: scipy.stats costs ~1 s to import, and every process that loads a model
    # (predict, serve, monitor) reaches this module; only regression pays it.
    from scipy.stats import norm

    half = norm.ppf(0.5 + level / 2) * np.sqrt(variance)
    return {"mean": mean, "variance": variance, "lower": mean - half, "upper": mean + half}
