"""The out-of-range check's exact exceedance test: its distribution checked by full
enumeration on small samples and by simulation, and its false-alarm rate at alpha."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from assayml.monitor.checks import exceedance_sf


@pytest.mark.parametrize(("n", "m"), [(2, 1), (3, 3), (5, 4), (6, 6)])
def test_matches_every_ordering_of_old_and_new_values(n: int, m: int) -> None:
    """All C(n+m, n) placements of the old values in the pooled order are equally likely;
    count, for each, the new values below the lowest or above the highest old one."""
    total = n + m
    counts = np.zeros(m + 1)
    for old in itertools.combinations(range(total), n):
        low, high = min(old), max(old)
        outside = sum(1 for i in range(total) if i not in old and (i < low or i > high))
        counts[outside] += 1
    pmf = counts / comb(total, n)
    for k in range(m + 1):
        assert exceedance_sf(k, n, m) == pytest.approx(pmf[k:].sum(), abs=1e-12)


@pytest.mark.parametrize(("n", "m"), [(1050, 600), (400, 2000), (7, 300), (2, 40)])
def test_the_closed_form_equals_the_summed_distribution(n: int, m: int) -> None:
    """The tail is computed in closed form; sum P(K = k) over k >= count term by term, in
    exact integer arithmetic, and compare (sizes where a few tail terms matter: new values
    far more than old, and the other way round)."""
    total = comb(n + m, n)
    tail = Fraction(0)
    tails = {}
    for k in range(m, -1, -1):
        tail += Fraction((k + 1) * comb(n + m - k - 2, n - 2), total)
        tails[k] = tail
    assert tails[0] == 1
    for k in sorted({1, 2, 3, 5, 8, 13, m // 3, m // 2, m - 1, m}):
        expected = float(tails[k])
        if expected == 0.0:  # below the smallest double: ours must be that small too
            assert exceedance_sf(k, n, m) < 1e-300
        else:
            assert exceedance_sf(k, n, m) == pytest.approx(expected, rel=1e-9)
    assert exceedance_sf(m + 1, n, m) == 0.0


def test_matches_simulation_and_the_single_new_value_chance() -> None:
    n, m = 200, 150
    assert exceedance_sf(1, n, 1) == pytest.approx(2 / (n + 1))
    rng = np.random.default_rng(0)
    draws = 40_000
    old = rng.random((draws, n))
    new = rng.random((draws, m))
    low, high = old.min(axis=1, keepdims=True), old.max(axis=1, keepdims=True)
    outside = ((new < low) | (new > high)).sum(axis=1)
    for k in (1, 3, 6):
        expected = exceedance_sf(k, n, m)
        observed = float((outside >= k).mean())
        spread = 4 * np.sqrt(expected * (1 - expected) / draws)
        assert abs(observed - expected) <= spread, (k, observed, expected)


def test_false_alarms_stay_at_alpha_where_the_binomial_test_exceeded_it() -> None:
    from scipy.stats import binom

    n, m, alpha = 1050, 600, 0.01
    rng = np.random.default_rng(1)
    # the share of fresh values beyond n draws' range is Beta(2, n - 1) distributed
    counts = rng.binomial(m, rng.beta(2, n - 1, size=20_000))
    exact = np.array([exceedance_sf(int(c), n, m) for c in counts])
    binomial = np.where(counts > 0, binom.sf(counts - 1, m, 2 / (n + 1)), 1.0)
    assert (exact < alpha).mean() <= alpha
    assert (binomial < alpha).mean() > 2 * alpha  # what the old test raised
