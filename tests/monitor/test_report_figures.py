"""The monitoring report's per-feature figures (inline SVG): each bar's baseline and current
counts, checked against NumPy and pandas counting the same rows."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from assayml.monitor.baseline import feature_statistics
from assayml.monitor.report_html import CATEGORIES, _figure

BAR = re.compile(
    r"<rect x='([\d.]+)' y='[\d.]+' width='[\d.]+' height='([\d.]+)' class='(base|now)'>"
    r"<title>(.*?): baseline ([\d.e-]+) \((\d+) rows\), current ([\d.e-]+) \((\d+) rows\)"
)


def _bars(page: str) -> dict[str, tuple[int, int]]:
    """label -> (baseline rows, current rows), from the tooltips (one per bar)."""
    found = {}
    for _, _, _, label, _, base, _, now in BAR.findall(page):
        found[label.replace("&lt;", "<").replace("&gt;", ">")] = (int(base), int(now))
    return found


def test_histogram_bars_count_what_numpy_counts_on_the_baseline_bins() -> None:
    rng = np.random.default_rng(3)
    train = pd.Series(rng.normal(50, 10, 400))
    stats = feature_statistics("income", train, "Fractional", bins=10)
    current = pd.Series(np.r_[rng.normal(65, 10, 300), [np.nan] * 5, [500.0, -500.0]])
    page = _figure(stats, pd.DataFrame({"income": current}), None)
    bars = _bars(page)
    edges = np.asarray(stats["numerical_statistics"]["distribution"]["histogram"]["edges"])
    expected_base, _ = np.histogram(train, bins=10)  # on the exact edges (stored rounded)
    # out-of-range current values count in the end bins, as the drift test sees them
    clipped = np.clip(current.dropna(), edges[0], edges[-1])
    expected_now, _ = np.histogram(clipped, bins=edges)
    assert [b for b, _ in bars.values()] == expected_base.tolist()
    assert [n for _, n in bars.values()] == expected_now.tolist()
    assert sum(n for _, n in bars.values()) == 302  # NaNs left out, both outliers in
    _heights_follow_the_shares(page)
    assert "aria-label='income'" in page and "<img" not in page


def test_category_bars_count_every_value_missing_ones_left_out() -> None:
    train = pd.Series(["north"] * 50 + ["south"] * 30 + ["east"] * 20)
    stats = feature_statistics("region", train, "String", bins=10)
    current = pd.Series(["north"] * 10 + ["west"] * 7 + [None] * 4 + ["<script>"] * 2)
    page = _figure(stats, pd.DataFrame({"region": current}), None)
    assert _bars(page) == {
        "<script>": (0, 2),
        "east": (20, 0),
        "north": (50, 10),
        "south": (30, 0),
        "west": (0, 7),
    }
    assert "<script>" not in page  # escaped
    _heights_follow_the_shares(page)


def test_a_feature_with_no_baseline_values_gets_an_empty_figure() -> None:
    stats = feature_statistics("empty", pd.Series([np.nan, np.nan]), "Fractional", bins=10)
    page = _figure(stats, pd.DataFrame({"empty": [1.0, 2.0]}), {
        "test": "ks", "statistic": 0.5, "p_value": None, "drifted": True})  # fmt: skip
    assert "aria-label='empty'" in page and "<rect" not in page
    assert "ks statistic 0.5" in page and "drift" in page


def test_a_column_of_many_values_draws_the_most_frequent_and_sums_the_rest() -> None:
    train = pd.Series([f"v{i:03d}" for i in range(100) for _ in range(1 + i % 3)])
    stats = feature_statistics("code", train, "String", bins=10)
    current = pd.Series([f"v{i:03d}" for i in range(50, 150)])
    page = _figure(stats, pd.DataFrame({"code": current}), None)
    bars = _bars(page)
    assert len(bars) == CATEGORIES
    other = [label for label in bars if label.startswith("other (")]
    assert len(other) == 1
    assert sum(b for b, _ in bars.values()) == len(train)  # nothing lost in "other"
    assert sum(n for _, n in bars.values()) == len(current)
    _heights_follow_the_shares(page)


def _heights_follow_the_shares(page: str) -> None:
    """Every bar's height is its share of its side's rows, the tallest share at full
    height (checked from the tooltips' counts, not from the drawing code)."""
    found = BAR.findall(page)
    counts = {"base": [], "now": []}
    for _, height, kind, _, _, base, _, now in found:
        counts[kind].append((float(height), int(base if kind == "base" else now)))
    totals = {kind: sum(c for _, c in pairs) for kind, pairs in counts.items()}
    shares = [(h, c / totals[kind]) for kind, pairs in counts.items() for h, c in pairs]
    tallest_height, tallest_share = max(shares, key=lambda pair: pair[1])
    for height, share in shares:
        assert abs(height - tallest_height * share / tallest_share) < 0.11
