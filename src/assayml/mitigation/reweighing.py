"""Reweighing (Kamiran and Calders, 2012, "Data preprocessing techniques for classification
without discrimination"): each training row of group g and label y gets the weight

    w(g, y) = P(g) P(y) / P(g, y)

estimated on the train split, so that in the weighted data the label is independent of the
group. The weights sum to the number of rows (their mean is 1).

Written here rather than taken from AIF360: that library pulls in TensorFlow-era
dependencies for a formula of three counts; fairlearn has no pre-processing reweigher.
Groups are typed names (:mod:`assayml.utils.groups`); a missing facet value is its own
group, as in ``bias.json``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assayml.utils import groups as typed


def reweighing_weights(facet: pd.Series, labels: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-row weights (float32 [rows]) and the table of w(g, y) with its counts.

    Args:
        facet: the sensitive column of the train split (raw values).
        labels: the encoded class index of each row.
    """
    names = typed.group_names(facet)
    labels = np.asarray(labels)
    n = len(labels)
    weights = np.zeros(n, dtype=np.float64)
    table = []
    for group in typed.sorted_groups(set(names)):
        in_group = names == group
        for label in np.unique(labels):
            cell = in_group & (labels == label)
            count = int(cell.sum())
            if not count:
                continue
            # P(g) P(y) / P(g, y) = (n_g / n)(n_y / n) / (n_gy / n) = n_g n_y / (n n_gy)
            weight = in_group.sum() * (labels == label).sum() / (n * count)
            weights[cell] = weight
            table.append(
                {"group": group, "label": int(label), "rows": count, "weight": float(weight)}
            )
    return weights.astype(np.float32), {"rows": n, "weights": table}
