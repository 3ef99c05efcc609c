"""Where the mitigated facet sits in the model's inputs, and each row's group read back.

Post-processing needs each row's group wherever the model predicts: evaluate, ``assay
predict`` and ``assay serve`` all run the same :func:`assayml.models.inference.predict` on
the transformed rows ``x``. The group is therefore read from ``x`` itself, through the
feature transform's encoding of the facet: one one-hot column per category, or one scaled
numeric column (each fitted group's encoded float32 value). Reading it from ``x`` means the
three paths cannot disagree, and a missing facet value is treated as the model itself sees
it: as the value the feature transform imputes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assayml.errors import ConfigError
from assayml.utils.groups import value_name


def facet_encoding(transform, column: str) -> dict[str, Any]:
    """How ``column`` is encoded in the transform's output (JSON-ready).

    Raises:
        ConfigError: when the column is not one of the model's inputs.
    """
    names = transform.feature_names
    for col in transform.categorical:
        if col.name == column:
            return {
                "kind": "one_hot",
                "column": column,
                "features": {cat: names.index(f"{column}={cat}") for cat in col.categories},
            }
    for col in transform.numeric:
        if col.name == column:
            return {"kind": "numeric", "column": column, "feature": names.index(column)}
    raise ConfigError(
        f"mitigation.facet: column '{column}' is not an input of the model (inputs: "
        f"{', '.join(transform.input_columns)}); post-processing reads each row's group from "
        "the model's inputs in evaluate, predict and serve, so the facet must be one "
        "(remove it from features.exclude)"
    )


def numeric_groups(encoding: dict[str, Any], transform, x: np.ndarray) -> dict[str, float]:
    """A numeric facet's groups in ``x`` (the validation split): name -> encoded value.
    The name is the raw value the encoded one stands for (scaling undone, rounded to 6
    decimal places against float32 noise)."""
    col = next(c for c in transform.numeric if c.name == encoding["column"])
    values = np.unique(x[:, encoding["feature"]])
    groups = {}
    for encoded in values:
        raw = float(encoded) * col.scale + col.center
        raw = float(np.expm1(raw)) if col.log else raw
        groups[value_name(round(raw, 6))] = float(encoded)
    return groups


def read_groups(encoding: dict[str, Any], x: np.ndarray, values: dict | None = None):
    """Each row's group name (object array; None where no fitted group matches: an
    unseen category, or a value no group of the validation split had)."""
    groups = np.full(len(x), None, dtype=object)
    if encoding["kind"] == "one_hot":
        for name, feature in encoding["features"].items():
            groups[x[:, feature] == 1.0] = name
        return groups
    column = x[:, encoding["feature"]]
    for name, encoded in (values or {}).items():
        groups[column == np.float32(encoded)] = name
    return groups
