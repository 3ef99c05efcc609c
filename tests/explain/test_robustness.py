"""Prediction robustness in `assay explain`: flip rates checked against an independent
computation (the documented seeded noise, the saved transform, the network called
directly), same bytes for the same seed, regression tolerance and categorical swaps on a
user table, and config checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from assayml.config import compose, to_typed
from assayml.errors import ConfigError
from assayml.explain import robustness
from assayml.features.transform import FeatureTransform
from assayml.models.artifact import load_model
from tests.conftest import TINY
from tests.stages.helpers import run_stages

QUICK = (
    "explain.figures=data",
    "explain.samples=20",
    "explain.steps=10",
    "explain.global_rows=20",
    "explain.permutation_repeats=2",
    "explain.rows=first:2",
    "explain.counterfactual_rows=0",
)
STAGES = ("prepare", "features", "train", "explain")

USER_DATA = """\
defaults:
  - data_schema
  - _self_
name: visits
source: file
path: data/raw/visits.csv
target: cost
task: regression
key: visit_id
sensitive: [site]
reference_groups: {site: north}
columns:
  visit_id: {dtype: str}
  age: {dtype: float, min: 0, nullable: true}
  dose: {dtype: float, nullable: true}
  site: {dtype: category, allowed: [north, south, east], nullable: true}
  cost: {dtype: float}
card:
  owner: test team
  contact: test@example.org
  licence: internal
  source: generated for the robustness tests
  allowed_uses: [testing]
  forbidden_uses: []
  personal_data: false
  retention: none
  access: [tests]
"""


def visits_table(rows: int = 240, seed: int = 11) -> pd.DataFrame:
    """A user table: an id column, float labels, missing values, a 3-valued facet."""
    rng = np.random.default_rng(seed)
    site = rng.choice(["north", "south", "east"], rows)
    age = rng.uniform(20, 80, rows).round(1)
    dose = rng.normal(5, 2, rows).round(3)
    cost = 10 * dose + 0.5 * age + np.where(site == "east", 15.0, 0.0) + rng.normal(0, 3, rows)
    frame = pd.DataFrame({"visit_id": [f"V{i:04d}" for i in range(rows)], "age": age, "dose": dose})
    frame["site"], frame["cost"] = site, cost.round(2)
    frame.loc[rng.random(rows) < 0.08, "age"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "dose"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "site"] = None
    return frame


def independent_flips(project: Path, cfg, split: pd.DataFrame) -> np.ndarray:
    """[rows] share of flipped copies: the documented draws, the saved transform, the
    network itself (logits -> softmax -> threshold, or the de-standardised mean)."""
    settings, seed = cfg.explain.robustness, cfg.seed
    net, _ = load_model(project / "models")
    transform = FeatureTransform.load(project / "models" / "feature_transform.json")
    train = pd.read_parquet(project / "data/prepared/train.parquet")
    frame = split[transform.input_columns].reset_index(drop=True)
    rows, repeats = len(frame), settings.repeats
    sds = [train[c.name].dropna().to_numpy(dtype=float).std() for c in transform.numeric]
    rng = np.random.default_rng(seed)
    copies = []
    for _ in range(repeats):  # copy by copy: its noise, then its swap draws
        copy = frame.copy()
        eps = rng.standard_normal((rows, len(transform.numeric)))
        for j, col in enumerate(transform.numeric):
            copy[col.name] = (
                frame[col.name].to_numpy(dtype=float) + settings.noise * sds[j] * eps[:, j]
            )
        if settings.categorical_swap > 0:
            shape = (rows, len(transform.categorical))
            swap, pick = rng.random(shape), rng.integers(0, 2**31, shape)
            for j, col in enumerate(transform.categorical):
                values = list(copy[col.name])
                for i, value in enumerate(values):
                    others = [c for c in col.categories if c != value and not c.startswith("__")]
                    if swap[i, j] < settings.categorical_swap and not pd.isna(value):
                        values[i] = others[pick[i, j] % len(others)]
                copy[col.name] = values
        copies.append(copy)

    def outputs(table: pd.DataFrame) -> np.ndarray:
        with torch.no_grad():
            out = net.eval()(torch.as_tensor(transform.transform(table))).double()
        if transform.target.task == "regression":
            return out[:, 0].numpy() * transform.target.std + transform.target.mean
        return (torch.softmax(out, dim=-1)[:, 1] >= cfg.evaluate.threshold).numpy()

    base = outputs(frame)
    moved = np.stack([outputs(copy) for copy in copies])  # [repeats, rows]
    if transform.target.task == "regression":
        return (np.abs(moved - base) > settings.tolerance * transform.target.std).mean(axis=0)
    return (moved != base).mean(axis=0)


def test_flip_rates_match_an_independent_computation(make_cfg, project) -> None:
    cfg = make_cfg(*QUICK, "explain.robustness.noise=0.6", "explain.robustness.repeats=6")
    run_stages(cfg, STAGES)
    report = json.loads((project / "reports/explain/robustness.json").read_text())
    split = pd.read_parquet(project / "data/prepared/test.parquet")
    expected = independent_flips(project, cfg, split)
    assert report["per_row"] == [round(float(v), 6) for v in expected]
    assert 0 < report["flipped_rows"] == round(float((expected > 0).mean()), 6)
    assert report["flip_rate"] == round(float(expected.mean()), 6)
    assert report["flagged"] == (report["flipped_rows"] > cfg.explain.robustness.threshold)
    listed = report["least_robust"]
    top = sorted(expected[expected > 0], reverse=True)[:10]
    assert [e["flip_rate"] for e in listed] == [round(float(v), 6) for v in top]
    assert all(sum(e["flipped_to"].values()) == round(e["flip_rate"] * 6) for e in listed)
    summary = json.loads((project / "reports/explain/explain.json").read_text())["robustness"]
    assert "per_row" not in summary and summary["flipped_rows"] == report["flipped_rows"]
    from assayml.cli.report_command import write_report

    page = write_report(None, None, None, project).read_text(encoding="utf-8")
    assert 'id="robustness"' in page and f"<td>{listed[0]['row']}</td>" in page
    assert 'id="training"' in page and "No training-debugger rule fired" in page


def test_same_seed_same_bytes_other_seed_other_draws(make_cfg, project, monkeypatch) -> None:
    cfg = make_cfg(*QUICK, "explain.robustness.noise=0.6", "explain.robustness.repeats=4")
    run_stages(cfg, STAGES)
    path = project / "reports/explain/robustness.json"
    first = path.read_bytes()
    run_stages(cfg, ("explain",))
    assert path.read_bytes() == first
    monkeypatch.setattr(robustness, "GROUP_ROWS", 1)  # one copy at a time: same draws
    run_stages(cfg, ("explain",))
    assert path.read_bytes() == first
    run_stages(make_cfg(*QUICK, "explain.robustness.noise=0.6", "explain.robustness.repeats=4",
                        "explain.seed=7"), ("explain",))  # fmt: skip
    assert path.read_bytes() != first


def test_a_user_table_regression_with_category_swaps(project) -> None:
    (project / "data" / "raw").mkdir(parents=True)
    visits_table().to_csv(project / "data/raw/visits.csv", index=False)
    (project / "conf/data/visits.yaml").write_text(USER_DATA)
    overrides = [*TINY, *QUICK, "data=visits", "explain.robustness.repeats=5"]
    overrides += ["explain.robustness.categorical_swap=0.3", "explain.robustness.tolerance=0.05"]
    cfg = to_typed(compose(overrides, project / "conf"))
    run_stages(cfg, STAGES)
    report = json.loads((project / "reports/explain/robustness.json").read_text())
    split = pd.read_parquet(project / "data/prepared/test.parquet")
    expected = independent_flips(project, cfg, split)
    assert report["per_row"] == [round(float(v), 6) for v in expected]
    assert report["measure"] == "|change| > 0.05 target sd" and report["flipped_rows"] > 0
    assert all("max_change" in e for e in report["least_robust"])
    assert split["site"].isna().any()  # missing facet values, left missing by the swaps


def test_off_writes_no_robustness(make_cfg, project) -> None:
    run_stages(make_cfg(*QUICK, "explain.robustness.enabled=false"), STAGES)
    assert not (project / "reports/explain/robustness.json").exists()
    assert "robustness" not in json.loads((project / "reports/explain/explain.json").read_text())


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("explain.robustness.noise=0", "noise"),
        ("explain.robustness.repeats=0", "repeats"),
        ("explain.robustness.categorical_swap=1", "categorical_swap"),
        ("explain.robustness.tolerance=-1", "tolerance"),
        ("explain.robustness.nosie=0.1", "nosie"),
    ],
)
def test_bad_robustness_config_exits_2_naming_the_key(project, override, key) -> None:
    with pytest.raises(ConfigError, match=key):
        to_typed(compose([*TINY, override], project / "conf"))
