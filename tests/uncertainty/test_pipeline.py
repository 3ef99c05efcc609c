"""Uncertainty through the pipeline: stored temperature, metrics, plots, regression
intervals, and an out-of-distribution check on real images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from assayml.features.transform import FeatureTransform
from assayml.models.artifact import load_model
from assayml.models.inference import Sampling, predict
from tests.stages.helpers import run_stages


def test_ensemble_with_temperature_stores_and_applies_t(make_cfg, project) -> None:
    cfg = make_cfg("uncertainty=ensemble", "uncertainty.members=3", "calibration=temperature")
    run_stages(cfg)
    module, spec = load_model(project / "models")
    temperature = spec.extras["temperature"]
    assert temperature > 0 and temperature != 1.0
    metrics = json.loads((project / "metrics" / "evaluate.json").read_text())["uncertainty"]
    assert metrics["method"] == "ensemble" and metrics["samples"] == 3
    assert metrics["temperature"] == temperature
    assert {"ece", "mce", "nll", "brier", "aurc", "misclassification_auroc"} <= set(metrics)
    assert metrics["mean_mutual_information"] > 0
    assert set(metrics["before_temperature"]) == {"ece", "mce", "nll", "brier"}
    for name in ("reliability.json", "coverage.json", "uncertainty.json"):
        assert (project / "plots" / "evaluate" / name).is_file(), name
    # Applied at predict time: the stored T changes the probabilities, not the decisions.
    transform = FeatureTransform.load(project / "models" / "feature_transform.json")
    x = np.random.default_rng(0).normal(size=(20, spec.in_features)).astype(np.float32)
    scaled = predict(module, transform, x, sampling=Sampling.from_extras(spec.extras))
    raw = predict(
        module, transform, x, sampling=Sampling.from_extras({**spec.extras, "temperature": 1.0})
    )
    assert not np.allclose(scaled.probabilities, raw.probabilities)
    logits = torch.as_tensor(raw.outputs)
    expected = torch.softmax(logits / temperature, dim=-1).mean(dim=0).numpy()
    assert np.allclose(scaled.probabilities, expected)


def test_regression_ensemble_reports_interval_coverage(make_cfg, project) -> None:
    run_stages(
        make_cfg(
            "data=diabetes",
            "uncertainty=ensemble",
            "uncertainty.members=3",
            "trainer.max_epochs=15",
        )
    )
    metrics = json.loads((project / "metrics" / "evaluate.json").read_text())["uncertainty"]
    assert metrics["interval_level"] == 0.9
    assert 0.6 <= metrics["interval_coverage"] <= 1.0
    assert metrics["gaussian_nll"] < 10


def test_mc_dropout_run(make_cfg, project) -> None:
    run_stages(make_cfg("uncertainty=mc_dropout", "uncertainty.samples=10", "model.dropout=0.2"))
    metrics = json.loads((project / "metrics" / "evaluate.json").read_text())["uncertainty"]
    assert metrics["method"] == "mc_dropout" and metrics["samples"] == 10
    assert metrics["mean_mutual_information"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("shift", ["uniform noise", "heavily perturbed digits"])
def test_mutual_information_separates_digits_from_noise(make_cfg, project, shift) -> None:
    """OOD sanity check on real data: a CNN ensemble is more unsure (higher mutual
    information) about noise images, or digits under heavy noise, than about test digits."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    run_stages(
        make_cfg(
            "experiment=digits_cnn",
            "model.dropout=0.0",
            "uncertainty=ensemble",
            "uncertainty.members=5",
            "trainer.max_epochs=15",
            "trainer.enable_progress_bar=false",
            "logger=none",
        )
    )
    module, spec = load_model(project / "models")
    transform = FeatureTransform.load(project / "models" / "feature_transform.json")
    test = pd.read_parquet(project / "data" / "prepared" / "test.parquet")
    pixels = [c for c in test.columns if c.startswith("pixel")]
    rng = np.random.default_rng(0)
    shifted = test.copy()
    if shift == "uniform noise":
        shifted[pixels] = rng.uniform(0, 16, size=(len(test), len(pixels)))
    else:
        shifted[pixels] = np.clip(test[pixels] + rng.normal(0, 6, size=(len(test), 64)), 0, 16)
    sampling = Sampling.from_extras(spec.extras)
    scores = [
        predict(module, transform, transform.transform(frame), sampling=sampling).uncertainty[
            "mutual_information"
        ]
        for frame in (test, shifted)
    ]
    labels = np.r_[np.zeros(len(test)), np.ones(len(shifted))]
    auroc = roc_auc_score(labels, np.r_[scores[0], scores[1]])
    assert auroc >= 0.8, auroc
