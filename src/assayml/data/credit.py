"""``credit_synthetic``: a seeded, generated credit-style table with a sensitive attribute.

Generating process (all draws from ``numpy.random.default_rng(generator_seed)``):

* ``group`` is A (60 %) or B (40 %), independent of every other feature, so any gap between
  the groups' labels is the injected one.
* ``age``, ``income`` (log-normal, 2 % missing), ``debt_to_income``, ``credit_history_years``
  (bounded by age), ``late_payments`` (Poisson), ``loan_amount``, ``employment`` and
  ``purpose`` are drawn independently of the group.
* The label ``repaid`` is Bernoulli with a logistic model of the features (about 70 %
  positive).
* Injected bias: a positive label of a group-B row is flipped to 0 with probability
  ``bias / P(repaid | B)``, so the difference in positive-label rates between A and B grows by
  ``bias`` in expectation. ``bias = 0`` leaves the labels alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EMPLOYMENT = ["employed", "self_employed", "unemployed", "student", "retired"]
PURPOSE = ["car", "home", "education", "business", "other"]
EMPLOYMENT_EFFECT = {
    "employed": 0.5,
    "self_employed": 0.2,
    "unemployed": -0.9,
    "student": -0.3,
    "retired": 0.3,
}
PURPOSE_EFFECT = {"car": 0.1, "home": 0.3, "education": -0.1, "business": -0.4, "other": 0.0}


def generate_credit(n_rows: int = 5000, bias: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Generate the table; same arguments, same bytes."""
    rng = np.random.default_rng(seed)
    frame = _draw_features(rng, n_rows)
    logit = _label_logit(frame)
    repaid = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    frame["repaid"] = _inject_bias(rng, repaid, frame["group"].to_numpy() == "B", bias)
    frame.loc[rng.random(n_rows) < 0.02, "income"] = np.nan
    return frame


def _draw_features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    age = rng.integers(18, 81, size=n)
    history = np.minimum(rng.gamma(2.0, 5.0, size=n).astype(np.int64), age - 18)
    frame = pd.DataFrame(
        {
            "age": age.astype(np.int64),
            "income": np.round(rng.lognormal(np.log(45_000), 0.5, size=n), 2),
            "debt_to_income": np.round(np.clip(rng.gamma(2.0, 0.18, size=n), 0, 5), 4),
            "credit_history_years": history,
            "late_payments": rng.poisson(1.2, size=n).astype(np.int64),
            "loan_amount": np.round(rng.lognormal(np.log(12_000), 0.7, size=n), 2),
            "employment": rng.choice(EMPLOYMENT, size=n, p=[0.6, 0.15, 0.08, 0.07, 0.1]),
            "purpose": rng.choice(PURPOSE, size=n, p=[0.3, 0.25, 0.15, 0.15, 0.15]),
            "group": rng.choice(["A", "B"], size=n, p=[0.6, 0.4]),
        }
    )
    return frame


def _label_logit(frame: pd.DataFrame) -> np.ndarray:
    log_income = np.log(frame["income"].to_numpy())
    return (
        1.0
        + 0.9 * (log_income - np.log(45_000))
        - 1.6 * (frame["debt_to_income"].to_numpy() - 0.36)
        + 0.04 * frame["credit_history_years"].to_numpy()
        - 0.45 * frame["late_payments"].to_numpy()
        - 0.25 * (np.log(frame["loan_amount"].to_numpy()) - np.log(12_000))
        + frame["employment"].map(EMPLOYMENT_EFFECT).to_numpy()
        + frame["purpose"].map(PURPOSE_EFFECT).to_numpy()
    )


def _inject_bias(
    rng: np.random.Generator, repaid: np.ndarray, in_group_b: np.ndarray, bias: float
) -> np.ndarray:
    flips = rng.random(repaid.shape[0])  # drawn whatever the bias, so features stay fixed
    if bias == 0.0:
        return repaid
    rate_b = repaid[in_group_b].mean()
    if bias >= rate_b:
        raise ValueError(f"bias {bias} must be below group B's positive rate {rate_b:.3f}")
    flip = in_group_b & (repaid == 1) & (flips < bias / rate_b)
    return np.where(flip, 0, repaid)
