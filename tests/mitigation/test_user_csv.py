"""Post-processing on a table a user would bring: an id column, a 0/1 label written as
floats, and a 3-valued numeric facet with missing values (which the feature transform
imputes: the row then gets the thresholds of the imputed value's group, as the model sees
it). An unseen facet value keeps the model's own decision, flagged in ``mitigated``."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assayml.config import compose, to_typed
from tests import cli_fork
from tests.card_helpers import fill_file_card
from tests.conftest import REPO, cli_env

ASSAY = [sys.executable, "-m", "assayml.cli.main"]
OVERRIDES = (
    "trainer.max_epochs=8",
    "trainer.enable_progress_bar=false",
    "logger=none",
    "data=file",
    "data.path=user.csv",
    "data.target=approved",
    "data.sensitive=[tier]",
    "features.exclude=[customer_id]",
    "model=logreg",
    "mitigation=threshold_dp",
    "explain.samples=30",
    "explain.global_rows=30",
    "explain.permutation_repeats=2",
    "explain.rows=first:2",
)


def user_csv(path: Path, rows: int = 3000, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tier = rng.choice([1.0, 2.0, 3.0], rows, p=[0.5, 0.3, 0.2])
    tier[rng.random(rows) < 0.05] = np.nan
    income = rng.lognormal(10, 0.5, rows)
    region = rng.choice(np.array(["north", "south", "east"], dtype=object), rows)
    logit = 0.8 * (np.log(income) - 10) + 1.2 * (tier == 1.0) - 0.6 * (tier == 3.0)
    approved = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)  # 0.0 / 1.0
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(rows)],
            "income": income,
            "region": region,
            "tier": tier,
            "approved": approved,
        }
    )
    frame.to_csv(path, index=False)
    return frame


@pytest.fixture(scope="module")
def user_project(tmp_path_factory) -> Path:
    from assayml.stages.table import get_stage

    root = tmp_path_factory.mktemp("user_csv")
    shutil.copytree(REPO / "conf", root / "conf")
    fill_file_card(root / "conf")
    user_csv(root / "user.csv")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        cfg = to_typed(compose(list(OVERRIDES), root / "conf"))
        for name in ("prepare", "features", "train", "evaluate", "explain"):
            get_stage(name).run(cfg)
    return root


def predict(root: Path, source: Path, out: str) -> pd.DataFrame:
    done = cli_fork.run(
        [*ASSAY, "predict", str(source), out],
        cwd=root,
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return pd.read_csv(root / out)


@pytest.mark.slow
def test_a_numeric_facet_with_missing_values(user_project) -> None:
    from fairlearn.metrics import demographic_parity_difference

    state = json.loads((user_project / "models/mitigation.json").read_text())["postprocess"]
    assert state["encoding"]["kind"] == "numeric" and set(state["groups"]) == {"1", "2", "3"}
    test = pd.read_parquet(user_project / "data/prepared/test.parquet")
    out = predict(user_project, user_project / "data/prepared/test.parquet", "test.csv")
    assert (out["mitigated"] == 1.0).all()  # missing tiers: imputed to a fitted group
    metrics = json.loads((user_project / "metrics/evaluate.json").read_text())
    matrix = pd.crosstab(test["approved"].astype(int), out["prediction"].astype(int))
    assert metrics["confusion_matrix"] == matrix.to_numpy().tolist()
    section = json.loads((user_project / "reports/explain/bias.json").read_text())["mitigation"]
    facet = test["tier"].fillna(-1).to_numpy()  # missing: a group of its own, as in bias.json
    after = demographic_parity_difference(
        test["approved"], out["prediction"], sensitive_features=facet
    )
    assert section["after"]["tier"]["fairlearn"]["demographic_parity_difference"] == pytest.approx(
        after, abs=1e-12
    )
    assert after < section["before"]["tier"]["fairlearn"]["demographic_parity_difference"]


@pytest.mark.slow
def test_an_unseen_facet_value_keeps_the_models_decision(user_project, tmp_path) -> None:
    rows = pd.read_parquet(user_project / "data/prepared/test.parquet").head(20)
    rows["tier"] = 2.5  # no group the thresholds were fitted on
    rows.to_csv(tmp_path / "new.csv", index=False)
    out = predict(user_project, tmp_path / "new.csv", "new.csv")
    assert (out["mitigated"] == 0.0).all()
    own = out["probability_1"] >= 0.5  # the float labels' classes are named 0 and 1
    np.testing.assert_array_equal(out["prediction"].astype(int), own.astype(int))
