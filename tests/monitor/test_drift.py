"""Drift statistics you can trust: KS equal to SciPy's; false alarms at or below the
configured rate; a half-standard-deviation shift found."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from assayml.config.schema import MonitorConfig
from assayml.monitor.drift import (
    DriftResult,
    NumericReference,
    categorical_test,
    control_false_alarms,
    default_rule,
    ks_test,
    numeric_drift,
    wasserstein,
)


@pytest.mark.parametrize("n_ref,n_cur", [(500, 300), (20_000, 15_000), (50_000, 3_000)])
@pytest.mark.parametrize("ties", [False, True])
def test_ks_equals_scipy(n_ref: int, n_cur: int, ties: bool) -> None:
    rng = np.random.default_rng(n_ref + n_cur)
    ref = rng.normal(size=n_ref).astype(np.float32)
    cur = (rng.normal(size=n_cur) + 0.05).astype(np.float32)
    if ties:
        ref, cur = np.round(ref, 1), np.round(cur, 1)
    d, p = ks_test(NumericReference(ref), cur)
    expected = ks_2samp(ref, cur)
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.05, 0.1])
def test_ks_on_large_samples(shift: float) -> None:
    """Exactly SciPy's D and, down to 1e-6, its p-value; below, Kolmogorov's limit (what
    keeps a million rows fast): the same p to within 0.05 in log10 (12 %)."""
    rng = np.random.default_rng(7)
    ref = rng.normal(size=200_000).astype(np.float32)
    cur = (rng.normal(size=100_000) + shift).astype(np.float32)
    d, p = ks_test(NumericReference(ref), cur)
    expected = ks_2samp(ref, cur)
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    if expected.pvalue >= 1e-6:
        assert p == pytest.approx(expected.pvalue, rel=1e-9)
    else:
        assert p < 1e-6 and np.log10(p) == pytest.approx(np.log10(expected.pvalue), abs=0.05)


def test_wasserstein_is_in_reference_standard_deviations() -> None:
    rng = np.random.default_rng(0)
    ref = NumericReference(rng.normal(0, 2, size=20_000))
    assert wasserstein(ref, rng.normal(1.0, 2, size=20_000)) == pytest.approx(0.5, abs=0.05)


def test_categorical_tests() -> None:
    ref = {"a": 500, "b": 300, "c": 200}
    same, moved = {"a": 250, "b": 150, "c": 100}, {"a": 100, "b": 300, "c": 600}
    assert categorical_test("chi2", ref, same, 0.05).p_value > 0.5
    assert categorical_test("chi2", ref, moved, 0.05).p_value < 1e-6
    assert not categorical_test("psi", ref, same, 0.2).drifted
    assert categorical_test("psi", ref, moved, 0.2).drifted
    assert categorical_test("js", ref, moved, 0.1).drifted
    unseen = categorical_test("js", ref, {"a": 1, "z": 999}, 0.1)
    assert unseen.drifted


def drift_alarm(baseline: list[NumericReference], sample: np.ndarray, alpha: float) -> bool:
    """What the monitor does with its default config: KS per feature, BH across them."""
    cfg = MonitorConfig(alpha=alpha)
    rule = default_rule(True, cfg)
    results = [numeric_drift(ref, sample[:, j], rule) for j, ref in enumerate(baseline)]
    control_false_alarms(results, cfg.alpha, cfg.correction)
    return any(r.drifted for r in results)


def test_false_alarm_rate_stays_at_or_below_alpha() -> None:
    """100 seeded fresh samples from the training distribution: at most alpha alarm."""
    rng = np.random.default_rng(0)
    features, alpha = 10, 0.05
    baseline = [NumericReference(rng.normal(size=5_000)) for _ in range(features)]
    alarms = sum(
        drift_alarm(baseline, np.random.default_rng(s).normal(size=(1_000, features)), alpha)
        for s in range(100)
    )
    assert alarms / 100 <= alpha


def test_half_a_standard_deviation_shift_is_found() -> None:
    rng = np.random.default_rng(1)
    features, alpha = 10, 0.05
    baseline = [NumericReference(rng.normal(size=5_000)) for _ in range(features)]
    found = 0
    for s in range(100):
        sample = np.random.default_rng(1_000 + s).normal(size=(1_000, features))
        sample[:, 3] += 0.5
        found += drift_alarm(baseline, sample, alpha)
    assert found / 100 >= 0.95


def test_bonferroni_and_none() -> None:
    results = [DriftResult("ks", 0.1, p, 0.05) for p in (0.001, 0.02, 0.5)]
    control_false_alarms(results, 0.05, "bonferroni")
    assert [r.drifted for r in results] == [True, False, False]
    control_false_alarms(results, 0.05, "none")
    assert [r.drifted for r in results] == [True, True, False]
