"""The monitoring report's per-feature figures (inline SVG): each bar's baseline and current
counts, checked against NumPy and pandas counting the same rows."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from assayml.monitor.baseline import feature_statistics
from assayml.monitor.report_html import _figure

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
    heights = {kind: [] for kind in ("base", "now")}
    for _, height, kind, label, *_ in BAR.findall(page):
        heights[kind].append((label, float(height)))
    # the tallest share fills the plot: north at baseline (0.5) against 10/19 current
    tallest = max(heights["base"] + heights["now"], key=lambda pair: pair[1])
    assert tallest[0] == "north" and dict(heights["now"])["north"] == tallest[1]


def test_a_feature_with_no_baseline_values_gets_an_empty_figure() -> None:
    stats = feature_statistics("empty", pd.Series([np.nan, np.nan]), "Fractional", bins=10)
    page = _figure(stats, pd.DataFrame({"empty": [1.0, 2.0]}), {
        "test": "ks", "statistic": 0.5, "p_value": None, "drifted": True})  # fmt: skip
    assert "aria-label='empty'" in page and "<rect" not in page
    assert "ks statistic 0.5" in page and "drift" in page
