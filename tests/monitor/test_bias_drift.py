"""Bias drift tests change against the baseline with false-alarm control: unshifted
resamples of a small facet raise at most alpha (plus binomial slack) alarms; a real shift
of 0.2 in a group's favourable rate is caught with power at least 0.8 at 500 rows."""

from __future__ import annotations

import numpy as np
import pytest

from assayml.config.schema import MonitorConfig
from assayml.monitor.bias_drift import baseline_facet, bias_drift

THRESHOLDS = {"DPPL": [-0.1, 0.1], "DI": [0.8, 1.25]}
RUNS = 400  # binomial slack at alpha 0.05: 2.2 points


def population(rows: int, rng, shift: float = 0.0):
    """Facet names (A: reference, B: a third of the rows) and favourable predictions."""
    facet = np.where(rng.random(rows) < 1 / 3, "B", "A").astype(object)
    rate = np.where(facet == "A", 0.6, 0.3 + shift)  # B already breaks DPPL at baseline
    return facet, (rng.random(rows) < rate).astype(int)


def constraints(facet, favourable) -> dict:
    return {
        "thresholds": THRESHOLDS,
        "baseline": {"group": baseline_facet(favourable, facet, "A", THRESHOLDS)},
    }


@pytest.mark.parametrize("rows", [180, 600])
def test_unshifted_data_rarely_alarms(rows: int) -> None:
    """Fresh draws from the baseline's population, baseline and current alike, so the test
    must account for both samples' noise (B: about 60 rows at 180)."""
    rng = np.random.default_rng(rows)
    cfg, alarms = MonitorConfig(), 0
    for _ in range(RUNS):
        facet, favourable = population(rows, rng)
        stored = constraints(facet, favourable)
        current, now = population(rows, rng)
        report, found = bias_drift(stored, {"group": (current, now)}, cfg)
        alarms += bool(found)
        assert report["group=B.DPPL"]["status"] in ("ok", "violation")
    slack = 2 * np.sqrt(cfg.alpha * (1 - cfg.alpha) / RUNS)
    assert alarms / RUNS <= cfg.alpha + slack


def test_a_resample_of_the_baseline_itself_raises_nothing_more() -> None:
    """The issue's case: bootstrap resamples of one small facet (about 60 rows)."""
    rng = np.random.default_rng(0)
    facet, favourable = population(180, rng)
    assert 45 <= (facet == "B").sum() <= 75
    stored, cfg, alarms = constraints(facet, favourable), MonitorConfig(), 0
    assert stored["baseline"]["group"]["groups"]["B"]["outside_allowed"] == ["DPPL", "DI"]
    for _ in range(RUNS):
        rows = rng.integers(0, len(facet), len(facet))
        report, found = bias_drift(stored, {"group": (facet[rows], favourable[rows])}, cfg)
        alarms += bool(found)
        assert report["group=B.DPPL"]["outside_allowed_at_baseline"]  # shown, not raised
    assert alarms / RUNS <= cfg.alpha + 2 * np.sqrt(cfg.alpha * (1 - cfg.alpha) / RUNS)


def test_a_real_shift_is_caught_with_power() -> None:
    rng = np.random.default_rng(1)
    cfg, caught = MonitorConfig(), 0
    for _ in range(100):
        stored = constraints(*population(500, rng))
        facet, favourable = population(500, rng, shift=0.2)
        _, found = bias_drift(stored, {"group": (facet, favourable)}, cfg)
        caught += any(v.feature_name == "group=B" for v in found)
    assert caught / 100 >= 0.8


def test_report_entries_are_plain_json_values() -> None:
    rng = np.random.default_rng(2)
    facet, favourable = population(300, rng)
    stored = constraints(facet, favourable)
    only_a = facet == "A"
    report, found = bias_drift(
        stored, {"group": (facet[only_a], favourable[only_a])}, MonitorConfig()
    )
    assert report["group=B.DPPL"]["status"] == "untested" and not found
    assert report["group=B.DPPL"]["value"] is None
