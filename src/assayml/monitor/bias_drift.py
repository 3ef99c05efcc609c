"""Bias drift: has the disparity between a facet's groups changed since the baseline?

The baseline stores, per sensitive column and group, how many validation rows the model
scored and how many of them it gave the favourable outcome. A monitoring run counts the
same on the current rows and tests, per group ``d`` against the reference group ``a``,
whether DPPL (the difference in favourable-prediction rates ``q_a - q_d``) moved:

    z = (DPPL_now - DPPL_baseline) / sqrt(p_a (1 - p_a) (1/n_a + 1/N_a)
                                          + p_d (1 - p_d) (1/n_d + 1/N_d))

with ``p`` each group's rate pooled over both samples (the null hypothesis: the rates did
not change), a two-sided normal p-value, and the same false-alarm control as feature drift
(``monitor.alpha`` across all groups, ``monitor.correction``, and ``monitor.min_effect`` as
the smallest change of DPPL that counts). A model that already broke a bias threshold at
baseline is reported there (and in explain's ``bias.json``), once; here the thresholds are
shown for each group, and only a *change* raises a violation. (Testing the current
interval against fixed thresholds, as before, fired on unshifted resamples of a small
facet.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from assayml.monitor.checks import Violation
from assayml.monitor.drift import DriftResult, control_false_alarms
from assayml.utils import groups as typed

Z95 = 1.959963984540054  # the normal 97.5 % quantile (95 % intervals)


def favourable_counts(favourable: np.ndarray, facet: np.ndarray) -> dict[str, dict[str, int]]:
    """Per group name: rows, and rows given the favourable outcome."""
    return {
        group: {
            "rows": int((facet == group).sum()),
            "favourable": int(favourable[facet == group].sum()),
        }
        for group in typed.sorted_groups(facet)
    }


def baseline_facet(
    favourable: np.ndarray, facet: np.ndarray, reference: str, thresholds: dict
) -> dict[str, Any]:
    """What the monitor compares with: counts per group, and DPPL and DI per group with the
    thresholds they already break at baseline."""
    counts = favourable_counts(favourable, facet)
    ref = counts.get(reference, {"rows": 0, "favourable": 0})
    groups = {}
    for group, c in counts.items():
        if group == reference:
            continue
        values = disparities(ref, c)
        groups[group] = {**values, "outside_allowed": _outside(values, thresholds)}
    return {"reference": reference, "counts": counts, "groups": groups}


def disparities(ref: dict[str, int], group: dict[str, int]) -> dict[str, float | None]:
    """DPPL and DI of ``group`` against ``ref`` from their counts (None where undefined)."""
    if not ref["rows"] or not group["rows"]:
        return {"DPPL": None, "DI": None}
    q_a, q_d = ref["favourable"] / ref["rows"], group["favourable"] / group["rows"]
    return {"DPPL": round(q_a - q_d, 6), "DI": round(q_d / q_a, 6) if q_a else None}


def bias_drift(
    baseline: dict[str, Any], facets: dict[str, tuple[np.ndarray, np.ndarray]], cfg
) -> tuple[dict[str, Any], list[Violation]]:
    """Test every group of every facet against the baseline; ``facets`` maps a column to
    (its group names, 1 where the current prediction is the favourable outcome), aligned."""
    thresholds = baseline.get("thresholds", {})
    entries: dict[str, dict[str, Any]] = {}
    results: dict[str, DriftResult] = {}
    for column, (names, favourable) in facets.items():
        stored = baseline["baseline"][column]
        reference = stored["reference"]
        now = favourable_counts(favourable, names)
        ref_now = now.get(reference, {"rows": 0, "favourable": 0})
        for group in typed.sorted_groups(set(now) | set(stored["groups"])):
            if group == reference:
                continue
            key = f"{column}={group}"
            then = stored["counts"].get(group)
            entry, result = _group_entry(
                stored, ref_now, now.get(group), then, thresholds, group, cfg
            )
            entries[key] = entry
            if result is not None:
                results[key] = result
    control_false_alarms(list(results.values()), cfg.alpha, cfg.correction)
    found = []
    for key, result in results.items():
        entry = entries[key]["DPPL"]
        entry["threshold"] = result.threshold
        entry["status"] = "violation" if result.drifted else "ok"
        if result.drifted:
            found.append(
                Violation(
                    key,
                    "bias_drift_check",
                    f"DPPL moved from {entry['baseline']} to {entry['value']} "
                    f"(p = {result.p_value:.3g})",
                    entry["value"],
                    entry["baseline"],
                )
            )
    report = {f"{key}.{metric}": e[metric] for key, e in entries.items() for metric in e}
    return report, found


def _group_entry(stored, ref_now, now, then, thresholds, group, cfg):
    """The report entries (DPPL, DI) of one group, and its test (None when a side has no
    rows: nothing to compare)."""
    values = disparities(ref_now, now) if now else {"DPPL": None, "DI": None}
    at_baseline = stored["groups"].get(group, {})
    entry = {}
    for metric in ("DPPL", "DI"):
        allowed = list(thresholds.get(metric, [None, None]))
        entry[metric] = {
            "value": values[metric],
            "baseline": at_baseline.get(metric),
            "allowed": allowed,
            "outside_allowed": metric in _outside(values, thresholds),
            "outside_allowed_at_baseline": metric in at_baseline.get("outside_allowed", []),
        }
    dppl = entry["DPPL"]
    dppl["rows"] = now["rows"] if now else 0
    ref_then = stored["counts"].get(stored["reference"])
    if not now or not then or not ref_now["rows"] or not ref_then or not ref_then["rows"]:
        dppl.update(status="untested", reason="no rows of this group on one side")
        entry["DI"]["status"] = "shown"
        return entry, None
    z, p, se_now = _z_test(ref_now, now, ref_then, then)
    change = values["DPPL"] - dppl["baseline"]
    dppl.update(
        change=round(change, 6),
        z=round(z, 6),
        p_value=p,
        ci95=[round(values["DPPL"] - Z95 * se_now, 6), round(values["DPPL"] + Z95 * se_now, 6)],
    )
    entry["DI"]["status"] = "shown"  # DPPL carries the test; DI is its ratio form
    result = DriftResult("z", z, p, cfg.alpha, effect=abs(change), min_effect=cfg.min_effect)
    return entry, result


def _z_test(ref_now, now, ref_then, then) -> tuple[float, float, float]:
    """(z, two-sided p-value, the current DPPL's own standard error)."""
    from scipy.stats import norm

    def rate(*counts):
        return sum(c["favourable"] for c in counts) / sum(c["rows"] for c in counts)

    p_a, p_d = rate(ref_now, ref_then), rate(now, then)
    var = p_a * (1 - p_a) * (1 / ref_now["rows"] + 1 / ref_then["rows"]) + p_d * (1 - p_d) * (
        1 / now["rows"] + 1 / then["rows"]
    )
    change = (rate(ref_now) - rate(now)) - (rate(ref_then) - rate(then))
    q_a, q_d = rate(ref_now), rate(now)
    se_now = math.sqrt(q_a * (1 - q_a) / ref_now["rows"] + q_d * (1 - q_d) / now["rows"])
    if var <= 0:  # every rate pooled is 0 or 1: both samples agree exactly
        return 0.0, 1.0, se_now
    z = change / math.sqrt(var)
    return z, float(2 * norm.sf(abs(z))), se_now


def _outside(values: dict[str, float | None], thresholds: dict) -> list[str]:
    return [
        name
        for name in ("DPPL", "DI")
        if values.get(name) is not None
        and name in thresholds
        and not thresholds[name][0] <= values[name] <= thresholds[name][1]
    ]
