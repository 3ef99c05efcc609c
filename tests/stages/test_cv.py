"""K-fold cross-validation: stratified, seeded, per-fold metrics with mean and spread."""

from __future__ import annotations

import json

import pytest

from assayml.errors import ConfigError
from assayml.stages.table import stages_for
from tests.stages.helpers import run_stages


def test_five_folds_report_each_fold_and_mean_and_sd(make_cfg, project) -> None:
    cfg = make_cfg("cv.folds=5", "model=logreg")
    records = run_stages(cfg, ("prepare", "cv"))
    cv = json.loads((project / "metrics" / "cv.json").read_text())
    assert cv["folds"] == 5 and [f["fold"] for f in cv["per_fold"]] == [0, 1, 2, 3, 4]
    rows = [f["rows"] for f in cv["per_fold"]]
    assert sum(rows) == 399 + 85 and max(rows) - min(rows) <= 1  # train + val, equal folds
    accuracies = [f["accuracy"] for f in cv["per_fold"]]
    assert cv["mean"]["accuracy"] == pytest.approx(sum(accuracies) / 5, abs=1e-6)
    assert cv["std"]["accuracy"] > 0
    assert records["cv"].details["accuracy_mean"] == cv["mean"]["accuracy"]
    again = run_stages(cfg, ("cv",))
    assert again["cv"].details == records["cv"].details  # seeded: the same folds and fits


def test_regression_folds(make_cfg, project) -> None:
    run_stages(make_cfg("cv.folds=3", "data=diabetes", "model=logreg"), ("prepare", "cv"))
    cv = json.loads((project / "metrics" / "cv.json").read_text())
    assert {"mae", "rmse", "r2"} <= set(cv["mean"])


def test_run_adds_cv_only_when_asked(make_cfg) -> None:
    assert "cv" not in stages_for("run", make_cfg())
    assert stages_for("run", make_cfg("cv.folds=4"))[-1] == "cv"
    with pytest.raises(ConfigError, match=r"cv\.folds"):
        make_cfg("cv.folds=1")
