"""Schema of the monitor config group: drift tests, thresholds and their limits.

Re-exported by ``assayml.config.schema``; see that module for how schemas are used.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MonitorConfig:
    numeric_test: str = "ks"  # ks (p-value) | wasserstein (distance in sd, vs threshold)
    categorical_test: str = "chi2"  # chi2 (p-value) | js | psi (distances vs thresholds)
    alpha: float = 0.05  # false-alarm rate across all features (multiple testing)
    correction: str = "bh"  # bh (Benjamini-Hochberg) | bonferroni | none
    min_effect: float = 0.1  # KS D / total variation a significant shift must reach
    wasserstein_threshold: float = 0.2  # reference sd
    js_threshold: float = 0.1
    psi_threshold: float = 0.2
    quality_tolerance: float = 0.05  # allowed drop of the primary metric (labels given)
    attribution_ndcg: float = 0.9  # attribution ranking similarity below this: violation
    attribution_rows: int = 200  # current rows explained for attribution drift
    bootstrap: int = 200  # resamples for metric spreads and bias intervals
    reference_rows: int = 1_000_000  # training rows kept as the numeric reference
    histogram_bins: int = 20
    in_memory_rows: int = 1_000_000  # a larger Parquet input is read a column at a time

    def __post_init__(self) -> None:
        if self.numeric_test not in ("ks", "wasserstein"):
            raise ValueError("monitor.numeric_test must be ks or wasserstein")
        if self.categorical_test not in ("chi2", "js", "psi"):
            raise ValueError("monitor.categorical_test must be chi2, js or psi")
        if self.correction not in ("bh", "bonferroni", "none"):
            raise ValueError("monitor.correction must be bh, bonferroni or none")
        if not 0 < self.alpha < 1:
            raise ValueError("monitor.alpha must lie in (0, 1)")
