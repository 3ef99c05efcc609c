"""Bias metrics against hand counts and against fairlearn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from assayml.explain import bias

# Group a: 6 rows, group d: 4 rows. Labels y and predictions y_hat (1 = favourable).
FACET = np.array(list("aaaaaadddd"))
Y = np.array([1, 1, 1, 0, 0, 1, 1, 0, 0, 0])
Y_HAT = np.array([1, 1, 0, 0, 1, 1, 0, 0, 1, 0])


def test_pre_training_by_hand() -> None:
    m = bias.pre_training(Y, FACET, "a", "d")
    qa, qd = 4 / 6, 1 / 4
    assert m["CI"] == pytest.approx((6 - 4) / 10)
    assert m["DPL"] == pytest.approx(qa - qd)
    pa, pd_ = np.array([1 - qa, qa]), np.array([1 - qd, qd])
    assert m["KL"] == pytest.approx(np.sum(pa * np.log(pa / pd_)))
    mid = (pa + pd_) / 2
    js = 0.5 * (np.sum(pa * np.log(pa / mid)) + np.sum(pd_ * np.log(pd_ / mid)))
    assert m["JS"] == pytest.approx(js)
    assert m["LP"] == pytest.approx(np.sqrt(2) * (qa - qd))
    assert m["TVD"] == pytest.approx(qa - qd) and m["KS"] == pytest.approx(qa - qd)
    # d's share of rejections (3 of 5) minus its share of acceptances (1 of 5)
    assert m["CDDL"] == pytest.approx(3 / 5 - 1 / 5)


def test_post_training_by_hand() -> None:
    m = bias.post_training(Y, Y_HAT, FACET, "a", "d")
    # a: tp 3, tn 1, fp 1, fn 1 (predicted 1: 4 of 6). d: tp 0, tn 2, fp 1, fn 1 (1 of 4).
    assert m["DPPL"] == pytest.approx(4 / 6 - 1 / 4)
    assert m["DI"] == pytest.approx((1 / 4) / (4 / 6))
    assert m["DCAcc"] == pytest.approx(4 / 4 - 1 / 1)  # observed / predicted positives
    assert m["DCR"] == pytest.approx(3 / 3 - 2 / 2)  # observed / predicted negatives
    assert m["RD"] == pytest.approx(3 / 4 - 0 / 1)
    assert m["SD"] == pytest.approx(2 / 3 - 1 / 2)
    assert m["AD"] == pytest.approx(4 / 6 - 2 / 4)
    assert m["TE"] == pytest.approx(1 / 1 - 1 / 1)
    assert m["DAR"] == pytest.approx(3 / 4 - 0 / 1)
    assert m["DRR"] == pytest.approx(2 / 3 - 1 / 2)


def test_fairlearn_agrees_for_two_groups() -> None:
    m = bias.post_training(Y, Y_HAT, FACET, "a", "d")
    assert abs(m["DPPL"]) == pytest.approx(
        demographic_parity_difference(Y, Y_HAT, sensitive_features=FACET)
    )
    fpr = {g: Y_HAT[(FACET == g) & (Y == 0)].mean() for g in "ad"}
    assert max(abs(m["RD"]), abs(fpr["a"] - fpr["d"])) == pytest.approx(
        equalized_odds_difference(Y, Y_HAT, sensitive_features=FACET)
    )


def test_conditional_disparity_averages_over_strata() -> None:
    strata = np.array([0, 0, 0, 1, 1, 1, 0, 0, 1, 1])
    per = [
        bias.conditional_disparity(
            Y[strata == s], (FACET == "d")[strata == s], np.ones((strata == s).sum(), bool), None
        )
        for s in (0, 1)
    ]
    expected = (5 * per[0] + 5 * per[1]) / 10
    assert bias.conditional_disparity(Y, FACET == "d", np.ones(10, bool), strata) == (
        pytest.approx(expected)
    )


def test_generalized_entropy_is_zero_for_perfect_predictions() -> None:
    assert bias.generalized_entropy(Y, Y) == 0.0
    assert bias.generalized_entropy(Y, Y_HAT) > 0


def test_flip_test_counts_changes_of_the_attribute_alone() -> None:
    rows = pd.DataFrame({"group": ["d", "d", "d", "d"], "x": [1, 2, 3, 4]})

    def favourable(frame: pd.DataFrame) -> np.ndarray:  # a biased model
        return ((frame["group"] == "a") & (frame["x"] > 1)).to_numpy().astype(int)

    assert bias.flip_test(favourable, rows, "group", "a") == pytest.approx(3 / 4)
