"""Distribution drift of one feature against its training reference, and the multiple-testing
control across features.

Numeric: the two-sample Kolmogorov-Smirnov test against the stored sorted reference sample,
with SciPy's statistic and p-value (exact for small samples, where we call SciPy; Smirnov's
asymptotic distribution for large ones, computed as SciPy does), but only the current data
is sorted: the reference is sorted once, at baseline time, and the statistic is read off at
the reference's distinct values. That is what makes a million rows times fifty features fit
in seconds (benchmarks/monitor.py). Or the Wasserstein distance in reference standard
deviations, against a threshold. Categorical: chi-squared (p-value), Jensen-Shannon
distance, or the population stability index (thresholds).

A test flags drift only when it is significant after the correction across features *and*
its effect is large enough to matter (KS: the statistic D itself; chi-squared: the total
variation distance, both at least ``monitor.min_effect``, 0.1 by default). On large samples
tiny, harmless shifts are always significant; and a fixed baseline adds its own sampling
noise, which on its own lets false alarms exceed alpha for some baselines (we measured 6 %
at alpha 5 % for one). The floor keeps the alarms for shifts that matter: a shift of half a
standard deviation has D of about 0.2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT_MAX_N = 10_000  # SciPy's 'auto': exact p-values when both samples are this small
EPS = 1e-6  # floor on proportions (PSI, JS)
EXACT_P_FLOOR = 1e-6  # KS p-values equal SciPy's from here up (see ks_test)


@dataclass
class DriftResult:
    test: str  # ks | wasserstein | chi2 | js | psi
    statistic: float
    p_value: float | None  # tests; None for distances judged by a threshold
    threshold: float  # alpha after correction, or the distance threshold
    drifted: bool = False
    effect: float | None = None  # KS D, or total variation (chi2): compared with min_effect
    min_effect: float = 0.0


class NumericReference:
    """A feature's reference sample as its sorted distinct values and their counts (None
    when every value is distinct, the rule for continuous data: nothing to store)."""

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float32)
        unique, counts = np.unique(values[~np.isnan(values)], return_counts=True)
        self._set(unique, counts if len(counts) and counts.max() > 1 else None)

    @classmethod
    def stored(cls, unique: np.ndarray, counts: np.ndarray | None) -> NumericReference:
        """From what the baseline wrote (``split``): nothing to sort or count at load."""
        reference = cls.__new__(cls)
        reference._set(unique, counts)
        return reference

    def _set(self, unique: np.ndarray, counts: np.ndarray | None) -> None:
        self.unique, self.counts = unique, counts
        self.n = int(counts.sum()) if counts is not None else len(unique)

    def split(self) -> tuple[np.ndarray, np.ndarray | None]:
        return self.unique, self.counts

    @property
    def sorted(self) -> np.ndarray:
        return self.unique if self.counts is None else np.repeat(self.unique, self.counts)

    def cdf(self) -> np.ndarray:
        """The reference ECDF at each distinct value."""
        if self.counts is None:
            return np.arange(1, self.n + 1) / self.n
        return np.cumsum(self.counts) / self.n

    def std(self) -> float:
        weights = None if self.counts is None else self.counts
        mean = np.average(self.unique, weights=weights)
        return float(np.sqrt(np.average((self.unique - mean) ** 2, weights=weights))) or 1.0


def ks_test(reference: NumericReference, current: np.ndarray) -> tuple[float, float]:
    """(D, p) of the two-sample KS test, equal to ``scipy.stats.ks_2samp`` on the same
    float32 values."""
    from scipy.stats import distributions, ks_2samp

    cur = np.asarray(current, dtype=np.float32)
    cur = np.sort(cur[~np.isnan(cur)])
    n_ref, n_cur = reference.n, len(cur)
    if not n_ref or not n_cur:  # nothing to compare (completeness reports an empty column)
        return 0.0, 1.0
    if max(n_ref, n_cur) <= EXACT_MAX_N:
        result = ks_2samp(reference.sorted, cur)
        return float(result.statistic), float(result.pvalue)
    # Both ECDFs are right-continuous steps; the largest gap lies at a reference value (the
    # reference ahead) or just before one (the current data ahead).
    unique, cdf = reference.unique, reference.cdf()
    right = np.searchsorted(cur, unique, side="right")
    left = right.copy()  # differs only where the current data holds the value itself
    tied = np.flatnonzero((right > 0) & (cur[np.maximum(right - 1, 0)] == unique))
    left[tied] = np.searchsorted(cur, unique[tied], side="left")
    before = np.concatenate([[0.0], cdf[:-1]])
    d = float(max(np.max(cdf - right / n_cur), np.max(left / n_cur - before), 0.0))
    m, n = sorted([float(n_ref), float(n_cur)], reverse=True)
    en = np.round(m * n / (m + n))
    # SciPy's p-value is kstwo.sf, which can take half a second for large n once p falls
    # below about 1e-3. Below 1e-6, where no alpha correction decides anything, we take
    # Kolmogorov's limiting distribution instead (1 % from kstwo at 1e-20, 10 % at 1e-90).
    limit = float(distributions.kstwobign.sf(d * np.sqrt(en)))
    if limit < EXACT_P_FLOOR:
        return d, limit
    return d, float(np.clip(distributions.kstwo.sf(d, en), 0, 1))


def wasserstein(reference: NumericReference, current: np.ndarray) -> float:
    """Earth mover's distance in units of the reference standard deviation."""
    from scipy.stats import wasserstein_distance

    cur = np.asarray(current, dtype=np.float32)
    distance = wasserstein_distance(reference.unique, cur[~np.isnan(cur)], reference.counts)
    return float(distance) / reference.std()


def categorical_test(
    test: str, reference: dict[str, int], current: dict[str, int], threshold: float
) -> DriftResult:
    """chi2 (p-value against ``threshold`` as alpha), js or psi (distance >= threshold)."""
    categories = sorted(set(reference) | set(current))
    ref = np.array([reference.get(c, 0) for c in categories], dtype=float)
    cur = np.array([current.get(c, 0) for c in categories], dtype=float)
    if test == "chi2":
        from scipy.stats import chi2_contingency

        table = np.vstack([ref, cur])[:, (ref + cur) > 0]
        if table.shape[1] < 2:
            return DriftResult("chi2", 0.0, 1.0, threshold)
        statistic, p, _, _ = chi2_contingency(table)
        shares = table / table.sum(axis=1, keepdims=True)
        tvd = float(0.5 * np.abs(shares[0] - shares[1]).sum())
        return DriftResult("chi2", float(statistic), float(p), threshold, effect=tvd)
    p_ref = np.clip(ref / max(ref.sum(), 1), EPS, 1)
    p_cur = np.clip(cur / max(cur.sum(), 1), EPS, 1)
    if test == "psi":
        value = float(np.sum((p_cur - p_ref) * np.log(p_cur / p_ref)))
    else:
        from scipy.spatial.distance import jensenshannon

        value = float(jensenshannon(p_ref, p_cur, base=2))
    return DriftResult(test, value, None, threshold, value >= threshold)


NUMERIC_TESTS, CATEGORICAL_TESTS = ("ks", "wasserstein"), ("chi2", "js", "psi")


@dataclass(frozen=True)
class DriftRule:
    """How one feature is tested: the test, the distance threshold (distances only: p-value
    tests use the run's alpha after correction) and the effect floor (p-value tests)."""

    test: str
    threshold: float | None = None
    min_effect: float = 0.0

    def to_dict(self) -> dict:
        if self.threshold is None:
            return {"test": self.test, "min_effect": self.min_effect}
        return {"test": self.test, "threshold": self.threshold}


def default_rule(numeric: bool, cfg) -> DriftRule:
    """The rule ``monitor.*`` (``cfg``: MonitorConfig) sets for a numeric or categorical
    feature."""
    test = cfg.numeric_test if numeric else cfg.categorical_test
    distance = {
        "wasserstein": cfg.wasserstein_threshold,
        "js": cfg.js_threshold,
        "psi": cfg.psi_threshold,
    }
    if test in distance:
        return DriftRule(test, distance[test])
    return DriftRule(test, None, cfg.min_effect)


def numeric_drift(reference: NumericReference, values: np.ndarray, rule: DriftRule):
    if rule.test == "wasserstein":
        distance = wasserstein(reference, values)
        return DriftResult(
            "wasserstein", distance, None, rule.threshold, distance >= rule.threshold
        )
    d, p = ks_test(reference, values)
    return DriftResult("ks", d, p, np.nan, effect=d, min_effect=rule.min_effect)


def categorical_drift(
    reference: dict[str, int], current: dict[str, int], rule: DriftRule
) -> DriftResult:
    result = categorical_test(rule.test, reference, current, rule.threshold or np.nan)
    result.min_effect = rule.min_effect
    return result


def control_false_alarms(results: list[DriftResult], alpha: float, method: str) -> None:
    """Mark which p-value tests drifted, holding the chance of any false alarm across the
    features at ``alpha``: Benjamini-Hochberg (which, when nothing drifted, is exactly that
    guarantee) or Bonferroni; ``none`` tests each feature at ``alpha``."""
    tested = [r for r in results if r.p_value is not None]
    if not tested:
        return
    m = len(tested)
    if method == "none":
        for r in tested:
            r.threshold, r.drifted = alpha, r.p_value < alpha
    elif method == "bonferroni":
        for r in tested:
            r.threshold, r.drifted = alpha / m, r.p_value < alpha / m
    else:
        order = sorted(tested, key=lambda r: r.p_value)
        passing = [k for k, r in enumerate(order, start=1) if r.p_value <= k * alpha / m]
        cutoff = max(passing, default=0)
        for rank, r in enumerate(order, start=1):
            r.threshold, r.drifted = cutoff * alpha / m if cutoff else alpha / m, rank <= cutoff
    for r in tested:
        r.drifted = r.drifted and (r.effect is None or r.effect >= r.min_effect)
