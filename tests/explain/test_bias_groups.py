"""bias_report's groups on awkward facets: a group absent from one side has null metrics
(not the zeros empty counts give), a group seen only in the split is still reported, and
a facet whose text holds the word "missing" keeps real and missing values apart."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from assayml.config.schema import BiasConfig
from assayml.explain.bias_report import bias_report
from assayml.utils.io import to_json


def report(train: pd.DataFrame, split: pd.DataFrame, predicted, **kw) -> dict:
    def never(rows: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(rows), int)

    result = bias_report(
        train, split, np.asarray(predicted, object), "y", ["g"], {}, 1, never, BiasConfig(**kw)
    )
    return json.loads(to_json(result))  # strict JSON: no NaN anywhere


def test_a_group_absent_from_the_split_has_no_post_training_metrics() -> None:
    train = pd.DataFrame({"g": ["a"] * 6 + ["b"] * 4, "y": [1, 0, 1, 1, 0, 1, 0, 0, 1, 0]})
    split = pd.DataFrame({"g": ["a", "a", "c"], "y": [1, 0, 1]})
    groups = report(train, split, [1, 0, 1])["facets"]["g"]["groups"]
    assert groups["b"]["rows"] == {"train": 4, "split": 0}
    assert set(groups["b"]["post_training"].values()) == {None}
    assert groups["b"]["pre_training"]["DPL"] == 4 / 6 - 1 / 4
    assert groups["c"]["rows"] == {"train": 0, "split": 1}  # seen only in the split
    assert set(groups["c"]["pre_training"].values()) == {None}
    assert groups["c"]["post_training"]["DPPL"] == 0.5 - 1.0
    flags = report(train, split, [1, 0, 1])["flags"]
    assert "g=b: DPL" in flags and not any(
        f.startswith("g=b: DP") and "DPL" not in f for f in flags
    )
    assert not any(f.startswith("g=c: ") and f[5:] in groups["c"]["pre_training"] for f in flags)


def test_the_word_missing_and_missing_values_stay_apart() -> None:
    train = pd.DataFrame(
        {"g": ["x"] * 5 + ["missing"] * 3 + [None] * 2, "y": [1, 1, 0, 1, 0, 0, 1, 0, 1, 1]}
    )
    split = pd.DataFrame({"g": ["x", None, "missing"], "y": [1, 0, 1]})
    facet = report(train, split, [1, 1, 0])["facets"]["g"]
    assert list(facet["groups"]) == ["missing", "(missing)"]
    assert facet["groups"]["(missing)"]["rows"] == {"train": 2, "split": 1}
    assert facet["groups"]["missing"]["rows"] == {"train": 3, "split": 1}
    dropped = report(train, split, [1, 1, 0], missing="drop")["facets"]["g"]
    assert list(dropped["groups"]) == ["missing"] and dropped["missing_rows"] == {
        "train": 2,
        "split": 1,
    }
