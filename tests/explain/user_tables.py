"""User-style tables and an independent implementation of Clarify's bias formulas, shared by
the tests of the user-data path.

The tables look like what users bring: a saved row index (``Unnamed: 0``), a patient ID, a
0/1 label written as floats (``1.0``), a 3-valued facet stored as floats with missing values,
a text facet with missing values, a nullable integer column, a column that leaks the label
and repeated rows.

The reference metrics read the CSV's *text* with the ``csv`` module and parse numbers with
``float``: nothing of assayml's typing, pandas' inference or its group helpers is involved.
Definitions: the Amazon SageMaker Clarify documentation (pre-training: CI, DPL, KL, JS, LP,
TVD, KS, CDDL; post-training: DPPL, DI, DCAcc, DCR, RD, SD, AD, TE, DAR, DRR), for a group
``d`` against the reference ``a``; CDDL and CDDPL without strata, over the rows of the two
groups.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd

MISSING = "missing"


def user_table(rows: int = 700, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    race = rng.choice([0.0, 1.0, 2.0], rows, p=[0.5, 0.3, 0.2])
    race[rng.random(rows) < 0.06] = np.nan
    sex = rng.choice(np.array(["F", "M"], dtype=object), rows)
    sex[rng.random(rows) < 0.08] = None
    age = rng.integers(20, 85, rows).astype(float)
    visits = pd.array(rng.poisson(3, rows), dtype="Int64")
    visits[rng.random(rows) < 0.1] = pd.NA
    logit = 0.04 * (age - 50) - 0.8 * (race == 1) + 0.5 * (sex == "F") + 0.1 * visits.fillna(3)
    label = (rng.random(rows) < 1 / (1 + np.exp(-np.asarray(logit, float)))).astype(float)
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:05d}" for i in range(rows)],
            "age": age,
            "visits": visits,
            "race": race,
            "sex": sex,
            "leak": label * 3 + rng.normal(0, 0.3, rows),
            "outcome": label,
        }
    )
    return pd.concat([frame, frame.iloc[:4]], ignore_index=True)  # four repeated rows


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=True)  # as pandas users do: a saved index, "Unnamed: 0"
    return path


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def group_of(text: str) -> str:
    """A facet value's group, as the reference names it: the number for numeric text."""
    if text == "":
        return MISSING
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else repr(value)


def pre_training(labels: list[int], groups: list[str], a: str, d: str) -> dict[str, float]:
    """Clarify's pre-training metrics of ``d`` against ``a`` (labels 1 = favourable)."""
    in_a = [y for y, g in zip(labels, groups, strict=True) if g == a]
    in_d = [y for y, g in zip(labels, groups, strict=True) if g == d]
    n_a, n_d = len(in_a), len(in_d)
    q_a, q_d = sum(in_a) / n_a, sum(in_d) / n_d
    p_a, p_d = (1 - q_a, q_a), (1 - q_d, q_d)
    mid = tuple((x + y) / 2 for x, y in zip(p_a, p_d, strict=True))
    pair = [(y, g) for y, g in zip(labels, groups, strict=True) if g in (a, d)]
    rejected = [g for y, g in pair if y == 0]
    accepted = [g for y, g in pair if y == 1]
    return {
        "CI": (n_a - n_d) / (n_a + n_d),
        "DPL": q_a - q_d,
        "KL": kl(p_a, p_d),
        "JS": 0.5 * (kl(p_a, mid) + kl(p_d, mid)),
        "LP": math.sqrt(sum((x - y) ** 2 for x, y in zip(p_a, p_d, strict=True))),
        "TVD": 0.5 * sum(abs(x - y) for x, y in zip(p_a, p_d, strict=True)),
        "KS": max(abs(x - y) for x, y in zip(p_a, p_d, strict=True)),
        "CDDL": share(rejected, d) - share(accepted, d),
    }


def post_training(
    labels: list[int], predicted: list[int], groups: list[str], a: str, d: str
) -> dict[str, float]:
    """Clarify's post-training metrics of ``d`` against ``a`` from labels and predictions."""
    ca, cd = counts(labels, predicted, groups, a), counts(labels, predicted, groups, d)
    return {
        "DPPL": ca["q_hat"] - cd["q_hat"],
        "DI": cd["q_hat"] / ca["q_hat"],
        "DCAcc": ratio(ca["n1"], ca["pred1"]) - ratio(cd["n1"], cd["pred1"]),
        "DCR": ratio(cd["n0"], cd["pred0"]) - ratio(ca["n0"], ca["pred0"]),
        "RD": ratio(ca["tp"], ca["n1"]) - ratio(cd["tp"], cd["n1"]),
        "SD": ratio(cd["tn"], cd["n0"]) - ratio(ca["tn"], ca["n0"]),
        "AD": ca["acc"] - cd["acc"],
        "TE": ratio(cd["fn"], cd["fp"]) - ratio(ca["fn"], ca["fp"]),
        "DAR": ratio(ca["tp"], ca["pred1"]) - ratio(cd["tp"], cd["pred1"]),
        "DRR": ratio(cd["tn"], cd["pred0"]) - ratio(ca["tn"], ca["pred0"]),
    }


def counts(labels, predicted, groups, group) -> dict[str, float]:
    rows = [(y, p) for y, p, g in zip(labels, predicted, groups, strict=True) if g == group]
    tp = sum(1 for y, p in rows if y == 1 and p == 1)
    tn = sum(1 for y, p in rows if y == 0 and p == 0)
    fp = sum(1 for y, p in rows if y == 0 and p == 1)
    fn = sum(1 for y, p in rows if y == 1 and p == 0)
    n = len(rows)
    return {
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "n1": tp + fn,
        "n0": tn + fp,
        "pred1": tp + fp,
        "pred0": tn + fn,
        "q_hat": (tp + fp) / n,
        "acc": (tp + tn) / n,
    }


def kl(p, q) -> float:
    eps = 1e-12
    return sum(max(x, eps) * math.log(max(x, eps) / max(y, eps)) for x, y in zip(p, q, strict=True))


def share(values: list[str], group: str) -> float:
    return sum(1 for v in values if v == group) / len(values) if values else 0.0


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
