"""The post-processing applied from its JSON state against fairlearn's own
``ThresholdOptimizer``: the same positive probabilities as ``_pmf_predict``, the same
decisions as ``predict`` given the same draws, and group-wise positive rates that match
the probabilities' expectation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assayml.errors import DataError
from assayml.mitigation.postprocess import (
    fit_threshold_optimizer,
    positive_probability,
    postprocess,
    row_draws,
    thresholds_state,
)

GROUPS = ("A", "B", "C")


class GivenDraws(np.random.RandomState):
    """A RandomState whose ``rand(n)`` returns the draws we chose: fairlearn's ``predict``
    then decides with our per-row draws instead of its own."""

    def __init__(self, draws: np.ndarray) -> None:
        super().__init__(0)
        self.draws = draws

    def rand(self, *size):
        assert size == (len(self.draws),)
        return self.draws


def scored(rows: int = 3000, seed: int = 0):
    """One-hot groups A/B/C in x, a score biased against B and C, labels from the score."""
    rng = np.random.default_rng(seed)
    group = rng.choice(len(GROUPS), rows, p=[0.5, 0.3, 0.2])
    x = np.zeros((rows, 5), dtype=np.float32)
    x[:, 0] = rng.normal(size=rows)
    x[:, 1] = rng.normal(size=rows)
    x[np.arange(rows), 2 + group] = 1.0
    score = 1 / (1 + np.exp(-(x[:, 0] + 0.5 - 0.8 * (group > 0))))
    y = (rng.random(rows) < score).astype(np.int64)
    return x, score.astype(np.float64), y, np.array(GROUPS, dtype=object)[group]


def state_for(optimizer, unknown: str = "unmitigated", seed: int = 7) -> dict:
    state = {
        "column": "g",
        "encoding": {"kind": "one_hot", "column": "g", "features": {"A": 2, "B": 3, "C": 4}},
        "numeric_values": None,
        "groups": thresholds_state(optimizer),
        "seed": seed,
        "unknown_group": unknown,
    }
    return json.loads(json.dumps(state))  # through JSON, as it is stored


@pytest.fixture(scope="module", params=["demographic_parity", "equalized_odds"])
def fitted(request):
    x, score, y, groups = scored()
    optimizer = fit_threshold_optimizer(score, y, groups, request.param, "accuracy_score", 1000)
    return optimizer, state_for(optimizer), x, score, y, groups


def test_the_stored_state_is_plain_json_without_nan(fitted) -> None:
    _, state, *_ = fitted
    text = json.dumps(state, allow_nan=False)  # +-inf thresholds are stored as text
    assert set(json.loads(text)["groups"]) == set(GROUPS)


def test_positive_probabilities_equal_fairlearns_pmf(fitted) -> None:
    optimizer, state, _, score, _, groups = fitted
    expected = optimizer._pmf_predict(score[:, None], sensitive_features=groups)[:, 1]
    ours = np.zeros(len(score))
    for name, rule in state["groups"].items():
        ours[groups == name] = positive_probability(rule, score[groups == name])
    np.testing.assert_array_equal(ours, expected)


def test_decisions_equal_fairlearns_predict_with_the_same_draws(fitted) -> None:
    optimizer, state, x, score, _, groups = fitted
    draws = row_draws(x, state["seed"])
    theirs = optimizer.predict(
        score[:, None], sensitive_features=groups, random_state=GivenDraws(draws)
    )
    ours, applied = postprocess(state, score, x, 0.5)
    np.testing.assert_array_equal(ours, theirs)
    assert applied.min() == 1.0


def test_group_positive_rates_match_the_expected_rates(fitted) -> None:
    optimizer, state, x, score, _, groups = fitted
    ours, _ = postprocess(state, score, x, 0.5)
    pmf = optimizer._pmf_predict(score[:, None], sensitive_features=groups)[:, 1]
    for name in GROUPS:
        rows = groups == name
        expected, n = pmf[rows].mean(), rows.sum()
        # the draws are uniform: the rate lies within 4 binomial standard errors
        assert abs(ours[rows].mean() - expected) <= 4 * np.sqrt(0.25 / n)


def test_demographic_parity_holds_on_the_fitted_rows() -> None:
    from fairlearn.metrics import demographic_parity_difference

    x, score, y, groups = scored(rows=6000, seed=2)
    optimizer = fit_threshold_optimizer(
        score, y, groups, "demographic_parity", "accuracy_score", 1000
    )
    ours, _ = postprocess(state_for(optimizer), score, x, 0.5)
    before = demographic_parity_difference(y, score >= 0.5, sensitive_features=groups)
    after = demographic_parity_difference(y, ours, sensitive_features=groups)
    assert before > 0.15 and after < 0.05


def test_draws_are_per_row_and_repeatable() -> None:
    x, *_ = scored(rows=200)
    first, again = row_draws(x, 7), row_draws(x.copy(), 7)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, row_draws(x, 8))  # the seed is the key
    np.testing.assert_array_equal(row_draws(x[50:60], 7), first[50:60])  # batch-independent
    assert 0.0 <= first.min() and first.max() < 1.0
    assert abs(first.mean() - 0.5) < 0.1


def test_an_unknown_group_keeps_the_models_decision_and_is_flagged(fitted) -> None:
    _, state, x, score, *_ = fitted
    x = x.copy()
    x[:10, 2:] = 0.0  # an unseen category: all one-hot columns zero
    decided, applied = postprocess(state, score, x, 0.5)
    np.testing.assert_array_equal(applied[:10], 0.0)
    np.testing.assert_array_equal(decided[:10], (score[:10] >= 0.5).astype(np.int64))
    assert applied[10:].min() == 1.0


def test_an_unknown_group_is_refused_when_configured(fitted) -> None:
    optimizer, *_, x, score, _, _ = fitted
    x = x.copy()
    x[3, 2:] = 0.0
    with pytest.raises(DataError, match=r"column 'g': row 3 is in no group"):
        postprocess(state_for(optimizer, unknown="fail"), score, x, 0.5)


def test_a_malformed_state_file_is_refused(tmp_path, fitted) -> None:
    import copy

    from assayml.errors import ArtifactError
    from assayml.mitigation.state import postprocess_state

    state = copy.deepcopy(fitted[1])  # the fixture is shared
    assert postprocess_state(tmp_path) is None  # no file: no mitigation
    record = {"format_version": 1, "method": "threshold_optimizer", "postprocess": state}
    (tmp_path / "mitigation.json").write_text(json.dumps(record))
    assert postprocess_state(tmp_path) == state
    record["postprocess"]["groups"]["A"]["operation0"]["operator"] = "__import__"
    (tmp_path / "mitigation.json").write_text(json.dumps(record))
    with pytest.raises(ArtifactError, match="malformed post-processing state"):
        postprocess_state(tmp_path)
