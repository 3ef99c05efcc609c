"""The credit_synthetic generator: seeded, and its injected bias is the gap it claims."""

from __future__ import annotations

import pytest

from assayml.data.credit import generate_credit
from assayml.data.sources import canonical_md5


def gap(frame) -> float:
    rates = frame.groupby("group")["repaid"].mean()
    return float(rates["A"] - rates["B"])


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert canonical_md5(generate_credit(500, 0.1, 1)) == canonical_md5(
        generate_credit(500, 0.1, 1)
    )
    assert canonical_md5(generate_credit(500, 0.1, 1)) != canonical_md5(
        generate_credit(500, 0.1, 2)
    )


@pytest.mark.parametrize("bias", [0.0, 0.1, 0.3])
def test_injected_bias_is_the_gap_in_positive_rates(bias: float) -> None:
    assert gap(generate_credit(40_000, bias, 0)) == pytest.approx(bias, abs=0.02)


def test_bias_changes_labels_only() -> None:
    fair, biased = generate_credit(2000, 0.0, 0), generate_credit(2000, 0.3, 0)
    features = [c for c in fair.columns if c != "repaid"]
    assert fair[features].equals(biased[features])
    flipped = fair["repaid"] != biased["repaid"]
    assert (biased.loc[flipped, "group"] == "B").all() and (
        biased.loc[flipped, "repaid"] == 0
    ).all()


def test_income_has_missing_values_for_imputation() -> None:
    assert generate_credit(5000, 0.0, 0)["income"].isna().mean() == pytest.approx(0.02, abs=0.01)
