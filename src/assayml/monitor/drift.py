"""Distribution drift of one feature against its training reference, and the multiple-testing
control across features.

Numeric: the two-sample Kolmogorov-Smirnov test against the stored sorted reference sample,
with SciPy's statistic and p-value (exact for small samples, where we call SciPy; Smirnov's
asymptotic distribution for large ones, computed as SciPy does), but only the current data
is sorted: the reference is sorted once, at baseline time, and the statistic is read off at
the reference's distinct values, in full only where bounds leave room for the maximum
(ks_statistic). That is what makes a million rows times fifty features fit
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
MILLER_FROM, MILLER_UNTIL = 2.2, 370.0  # n d^2 where SciPy's kstwo.sf is 2 * smirnov
KS_BLOCK = 64  # reference values per block in ks_statistic's bounds


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
    from scipy.stats import ks_2samp

    cur = np.asarray(current, dtype=np.float32)
    cur = np.sort(cur[~np.isnan(cur)])
    n_ref, n_cur = reference.n, len(cur)
    if not n_ref or not n_cur:  # nothing to compare (completeness reports an empty column)
        return 0.0, 1.0
    if max(n_ref, n_cur) <= EXACT_MAX_N:
        result = ks_2samp(reference.sorted, cur)
        return float(result.statistic), float(result.pvalue)
    d = ks_statistic(reference.unique, reference.cdf(), cur)
    m, n = sorted([float(n_ref), float(n_cur)], reverse=True)
    return d, kstwo_sf(d, int(np.round(m * n / (m + n))))


def kstwo_sf(d: float, n: int) -> float:
    """SciPy's ``kstwo.sf(d, n)``, the p-value of ``ks_2samp``'s asymptotic method, by
    SciPy's own rules (``scipy.stats._ksstats._kolmogn``): for n > 140, from n d^2 = 2.2
    Miller's approximation, twice the one-sided tail, which we compute ourselves
    (smirnov_sf), and 0 from n d^2 = 370, where that tail underflows."""
    from scipy.stats import distributions

    if n > 140 and n * d * d >= MILLER_UNTIL:
        return 0.0
    if n > 140 and n * d * d >= MILLER_FROM:
        return min(1.0, 2 * smirnov_sf(n, d))
    return float(np.clip(distributions.kstwo.sf(d, n), 0, 1))


def smirnov_sf(n: int, d: float) -> float:
    """P(D+_n > d), the one-sided KS tail, by Birnbaum and Tingey's sum over v <= n (1 - d)
    of d C(n, v) p^(v-1) (1 - p)^(n-v) at p = d + v/n: binomial probabilities over p.

    SciPy's ``special.smirnov`` sums the same terms one at a time in double-double arithmetic,
    0.8 s for n = 500,000, and (measured) not beside the other thread's sorting; SciPy's
    binomial pmf takes all the terms at once in 70 ms and agrees to about 1e-13 relative.
    """
    from scipy.stats import binom

    v = np.arange(int(np.floor(n * (1 - d))) + 1, dtype=float)
    p = d + v / n
    return float(d * np.sum(binom.pmf(v, n, p) / p))


def ks_statistic(unique: np.ndarray, cdf: np.ndarray, cur: np.ndarray) -> float:
    """SciPy's two-sample D between a reference (sorted distinct values, its ECDF at each)
    and a sorted current sample.

    Both ECDFs are right-continuous steps, so the largest gap lies at a reference value (the
    reference ahead) or just before one (the current data ahead). Searching the current data
    for every reference value costs 30 ms for a million of them, most of a feature's test;
    NumPy has no merge of two sorted arrays, so we bound instead (branch and bound, written
    here): the gaps are evaluated at each block's first and last value, and by monotonicity
    no gap inside a block exceeds ECDF_ref(last) - ECDF_cur(first) or ECDF_cur(last) -
    ECDF_ref(before first). Only blocks whose bound beats the best gap found are evaluated
    in full (0.2 % of them for a million normal rows). Rounding is monotone, so the bounds
    in floating point hold for the gaps as computed, and the result is the maximum over
    every reference value, bit for bit.
    """
    blocks = np.arange(0, len(unique), KS_BLOCK)
    firsts, lasts = blocks, np.minimum(blocks + KS_BLOCK, len(unique)) - 1
    ahead_ref, ahead_cur, right = _ks_gaps(unique, cdf, cur, np.concatenate([firsts, lasts]))
    best = max(float(ahead_ref.max()), float(ahead_cur.max()), 0.0)
    n_cur, n_blocks = len(cur), len(blocks)
    bound = np.maximum(
        cdf[lasts] - right[:n_blocks] / n_cur,
        right[n_blocks:] / n_cur - _cdf_before(cdf, firsts),
    )
    still_open = np.flatnonzero(bound > best)
    if len(still_open):
        sizes = lasts[still_open] - firsts[still_open] + 1
        offsets = np.cumsum(sizes) - sizes
        inside = np.repeat(firsts[still_open] - offsets, sizes) + np.arange(sizes.sum())
        ahead_ref, ahead_cur, _ = _ks_gaps(unique, cdf, cur, inside)
        best = max(best, float(ahead_ref.max()), float(ahead_cur.max()))
    return best


def _ks_gaps(
    unique: np.ndarray, cdf: np.ndarray, cur: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At reference values ``unique[at]``: the reference's lead, the current data's lead
    just before, and how many current values lie at or below."""
    right = np.searchsorted(cur, unique[at], side="right")
    left = np.searchsorted(cur, unique[at], side="left")
    return cdf[at] - right / len(cur), left / len(cur) - _cdf_before(cdf, at), right


def _cdf_before(cdf: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The reference ECDF just below ``unique[at]``: at the previous distinct value."""
    return np.where(at > 0, cdf[np.maximum(at - 1, 0)], 0.0)


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
