"""Deep ensembles of networks that do not stack (a user's nn.Module with skip connections, a
user's LightningModule): members trained one after another, member i exactly the single
run with seed + i."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from assayml.stages.table import get_stage
from tests.conftest import digits_cfg


def member(state: dict, index: int, prefix: str = "") -> dict:
    head = f"nets.{index}.{prefix}"
    return {k[len(head) :]: v for k, v in state.items() if k.startswith(head)}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def test_a_residual_network_ensemble_trains_member_by_member(make_cfg, project: Path) -> None:
    base = ("model=residual_mlp", "trainer.max_epochs=2")
    ensemble = make_cfg(*base, "uncertainty=ensemble", "uncertainty.members=2")
    for name in ("prepare", "features", "train", "evaluate"):
        get_stage(name).run(ensemble)
    spec = json.loads((project / "models/model.json").read_text())
    assert spec["extras"]["members"] == 2 and spec["extras"]["ensemble"] == "sequential"
    metrics = json.loads((project / "metrics/evaluate.json").read_text())
    assert metrics["uncertainty"]["method"] == "ensemble"
    assert metrics["uncertainty"]["samples"] == 2
    assert metrics["uncertainty"]["mean_mutual_information"] > 0  # the members disagree
    stacked = load_file(project / "models/model.safetensors")
    get_stage("train").run(make_cfg(*base, "seed=43", "paths.models_dir=single"))
    alone = load_file(project / "single/model.safetensors")
    assert same_weights(member(stacked, 1), alone)
    assert not same_weights(member(stacked, 0), alone)


def test_a_regression_gaussian_head_is_refused_for_members_in_sequence(make_cfg) -> None:
    from assayml.errors import ConfigError

    cfg = make_cfg("model=residual_mlp", "data=diabetes", "uncertainty=ensemble")
    for name in ("prepare", "features"):
        get_stage(name).run(cfg)
    with pytest.raises(ConfigError, match="gaussian_head=false"):
        get_stage("train").run(cfg)


def test_a_lightning_module_ensemble_member_is_the_single_run(project: Path) -> None:
    """Member 1 of an ensemble of the user's DigitsCNN equals one run with seed 43 (on the
    same split: the DataModule's own seed stays 42)."""
    runs = ("trainer.max_epochs=1", "data.seed=42")
    cfg = digits_cfg(project, *runs, "uncertainty=ensemble", "uncertainty.members=2")
    for name in ("prepare", "features", "train", "evaluate"):
        get_stage(name).run(cfg)
    metrics = json.loads((project / "metrics/evaluate.json").read_text())
    assert metrics["uncertainty"]["samples"] == 2
    stacked = load_file(project / "models/model.safetensors")
    get_stage("train").run(digits_cfg(project, *runs, "seed=43", "paths.models_dir=single"))
    alone = load_file(project / "single/model.safetensors")
    assert same_weights(member(stacked, 1), alone)


def test_mc_dropout_samples_a_lightning_modules_dropout_layers(project: Path) -> None:
    """`uncertainty=mc_dropout` on the user's DigitsCNN: evaluate draws the passes from its
    own dropout layer; the draws differ, so the members of the sample disagree a little."""
    cfg = digits_cfg(
        project, "trainer.max_epochs=1", "uncertainty=mc_dropout", "uncertainty.samples=8"
    )
    for name in ("prepare", "features", "train", "evaluate"):
        get_stage(name).run(cfg)
    spec = json.loads((project / "models/model.json").read_text())
    assert spec["extras"]["mc_samples"] == 8
    uncertainty = json.loads((project / "metrics/evaluate.json").read_text())["uncertainty"]
    assert uncertainty["method"] == "mc_dropout" and uncertainty["samples"] == 8
    assert uncertainty["mean_mutual_information"] > 0
