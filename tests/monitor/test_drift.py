"""Drift statistics you can trust: KS equal to SciPy's; false alarms at or below the
configured rate; a half-standard-deviation shift found."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import distributions, ks_2samp

from assayml.config.schema import MonitorConfig
from assayml.monitor.drift import (
    KS_BLOCK,
    DriftResult,
    NumericReference,
    categorical_test,
    control_false_alarms,
    default_rule,
    ks_statistic,
    ks_test,
    kstwo_sf,
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


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.05, 0.1, 0.3])
def test_ks_on_large_samples(shift: float) -> None:
    """Exactly SciPy's D and p, however small p is: 0.69, 1.7e-4, 3.4e-24, 1.7e-94 and 0
    (beyond where SciPy's tail underflows)."""
    rng = np.random.default_rng(7)
    ref = rng.normal(size=200_000).astype(np.float32)
    cur = (rng.normal(size=100_000) + shift).astype(np.float32)
    d, p = ks_test(NumericReference(ref), cur)
    expected = ks_2samp(ref, cur)
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def every_gap(reference: NumericReference, cur: np.ndarray) -> float:
    """The KS statistic by its definition's formula at every reference value, no bounds."""
    cdf, n = reference.cdf(), len(cur)
    right = np.searchsorted(cur, reference.unique, side="right")
    left = np.searchsorted(cur, reference.unique, side="left")
    before = np.concatenate([[0.0], cdf[:-1]])
    return float(max(np.max(cdf - right / n), np.max(left / n - before), 0.0))


def bounded_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    grid = np.arange(6400, dtype=np.float32)
    return {
        "normal, shifted": (rng.normal(size=60_000), rng.normal(0.02, 1, size=40_000)),
        "same draw": (rng.normal(size=30_000), rng.normal(size=30_000)),
        "identical": (grid, grid),  # D = 0: no block can be closed
        "rounded, ties": (
            np.round(rng.normal(size=50_000), 2),
            np.round(rng.normal(size=20_000), 2),
        ),
        "few values": (rng.integers(0, 5, 30_000), rng.integers(0, 6, 30_000)),
        "disjoint": (grid, grid + 10_000),
    }


@pytest.mark.parametrize("case", list(bounded_cases()))
def test_ks_statistic_is_the_maximum_over_every_value(case: str) -> None:
    """The bounds skip blocks, never the maximum: bit for bit the exhaustive statistic, and
    SciPy's."""
    ref, cur = (np.asarray(a, dtype=np.float32) for a in bounded_cases()[case])
    reference, cur = NumericReference(ref), np.sort(cur)
    d = ks_statistic(reference.unique, reference.cdf(), cur)
    assert d == every_gap(reference, cur)
    assert d == pytest.approx(ks_2samp(ref, cur).statistic, abs=1e-12)


def test_ks_statistic_finds_a_peak_between_block_ends() -> None:
    grid = np.arange(6400, dtype=np.float32)
    cur = grid.copy()
    cur[3000:3032] = 2999.5  # the current data leads most at value 3031
    reference = NumericReference(grid)
    d = ks_statistic(reference.unique, reference.cdf(), cur)
    assert d == pytest.approx(32 / 6400)
    assert 3031 % KS_BLOCK not in (0, KS_BLOCK - 1)  # where the peak lies: not a block end


@pytest.mark.parametrize("n", [141, 3_000, 150_000])
@pytest.mark.parametrize("n_d_squared", [2.0, 2.2, 3.5, 7.4, 60.0, 130.0, 300.0, 400.0])
def test_kstwo_sf_equals_scipy(n: int, n_d_squared: float) -> None:
    """Our sum for Miller's tail (2.2 <= n d^2 < 370), SciPy's own paths below it, 0 beyond.
    For n = 141 the largest cases are capped at d = 0.999, where SciPy's tail is exact."""
    d = min(float(np.sqrt(n_d_squared / n)), 0.999)
    assert kstwo_sf(d, n) == pytest.approx(distributions.kstwo.sf(d, n), rel=1e-9, abs=1e-300)


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
