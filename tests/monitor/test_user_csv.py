"""The monitor on a table of a user's own making (float labels, missing values, an id
column, a 3-valued facet): `assay monitor FILE --ground-truth` joins labels on the id, and
`--watch` on captured traffic joins them on capture ids; every metric equals
scikit-learn's on the predictions the model gave (`assay predict`'s output, the served
outputs), and the facet's three groups get bias drift."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from assayml.config import compose, to_typed
from tests import cli_fork
from tests.card_helpers import fill_file_card
from tests.conftest import REPO, cli_env
from tests.monitor.test_ground_truth import sklearn_metrics

ASSAY = [sys.executable, "-m", "assayml.cli.main"]
RUN = (
    "trainer.max_epochs=10",
    "trainer.enable_progress_bar=false",
    "logger=none",
    "data=file",
    "data.path=churn.csv",
    "data.target=churned",
    "data.sensitive=[region]",
    "data.insights.drop_id_like=true",
    "model=logreg",
    "explain.samples=30",
    "explain.global_rows=30",
    "explain.permutation_repeats=2",
    "explain.rows=first:2",
)


def churn_table(rows: int, seed: int, prefix: str) -> pd.DataFrame:
    """Customers: tenure, spend (5 % missing), support calls (3 % missing), a region of
    three values, and churn as a float label (0.0 / 1.0)."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east"], rows, p=[0.5, 0.3, 0.2])
    tenure = rng.gamma(2.0, 12.0, rows).round(1)
    spend = rng.normal(50, 15, rows).round(2)
    calls = rng.poisson(2, rows).astype(float)
    logit = -0.04 * tenure + 0.5 * calls - 0.01 * (spend - 50) + 0.4 * (region == "east") - 0.3
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)
    spend[rng.random(rows) < 0.05] = np.nan
    calls[rng.random(rows) < 0.03] = np.nan
    return pd.DataFrame(
        {
            "id": [f"{prefix}-{i:05d}" for i in range(rows)],
            "tenure_months": tenure,
            "monthly_spend": spend,
            "support_calls": calls,
            "region": region,
            "churned": churned,
        }
    )


@pytest.fixture(scope="module")
def churn_project(tmp_path_factory) -> Path:
    from assayml.stages.table import get_stage

    root = tmp_path_factory.mktemp("churn")
    shutil.copytree(REPO / "conf", root / "conf")
    fill_file_card(root / "conf")
    churn_table(600, 3, "cust").to_csv(root / "churn.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        cfg = to_typed(compose(list(RUN), root / "conf"))
        for name in ("prepare", "features", "train", "explain", "baseline"):
            get_stage(name).run(cfg)
    return root


def assay(root: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [*ASSAY, *args], cwd=root, env=cli_env(), capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_a_file_with_an_id_column_and_later_labels(churn_project, tmp_path) -> None:
    new = churn_table(400, 9, "new")
    new.drop(columns="churned").to_csv(tmp_path / "new.csv", index=False)
    labels = new[["id", "churned"]].sample(frac=0.7, random_state=2)
    ghosts = pd.DataFrame({"id": ["ghost-1", "ghost-2", "ghost-3"], "churned": [1.0, 0.0, 1.0]})
    pd.concat([labels, ghosts]).to_csv(tmp_path / "labels.csv", index=False)
    out = tmp_path / "monitor"
    done = assay(
        churn_project, "monitor", str(tmp_path / "new.csv"), "--ground-truth",
        str(tmp_path / "labels.csv"), "--out", str(out),
    )  # fmt: skip
    assert done.returncode in (0, 3), done.stderr
    assert "280 of 400 rows labelled, 3 of 283 labels matched no row" in done.stdout
    report = json.loads((out / "monitor.json").read_text())
    assert report["ground_truth"]["unmatched_labels"] == 3
    predicted = assay(churn_project, "predict", str(tmp_path / "new.csv"), str(tmp_path / "p.csv"))
    assert predicted.returncode == 0, predicted.stderr
    served = pd.read_csv(tmp_path / "p.csv").merge(labels, on="id")  # what the model said
    probabilities = served[["probability_0", "probability_1"]].to_numpy()
    expected = sklearn_metrics(
        "binary", served["churned"], served["prediction"], probabilities, None
    )
    quality = report["model_quality"]["metrics"]
    for name, value in expected.items():
        assert quality[name]["current"] == pytest.approx(value, abs=1e-6), name
    groups = {key.split(".")[0] for key in report["bias_drift"]}
    assert groups == {"region=south", "region=east"}  # the reference group: north


@pytest.mark.slow
def test_captured_traffic_with_labels_by_capture_id(churn_project, tmp_path) -> None:
    from assayml.monitor.executions import execute
    from tests.monitor.watch_helpers import capture, make_watch

    home = os.getcwd()
    try:
        truth = tmp_path / "truth.csv"
        watch = make_watch(churn_project, tmp_path, settle_s=0, ground_truth=str(truth))
        frame = churn_table(500, 11, "live")
        ids, rows = capture(watch.folder, frame, watch.deployed, rotate=200)
        labels = pd.DataFrame({"capture_id": ids, "churned": rows["churned"]})
        labels.iloc[::2].to_csv(truth, index=False)
        line = execute(watch)
    finally:
        os.chdir(home)
    assert line["ground_truth"]["labelled_rows"] == len(labels.iloc[::2])
    assert line["ground_truth"]["unmatched_labels"] == 0
    records = pd.concat(
        pd.read_json(path, lines=True) for path in sorted(watch.folder.glob("*.jsonl"))
    )
    outputs = pd.json_normalize(records["outputs"].tolist()).assign(capture_id=records["id"].values)
    joined = outputs.merge(labels.iloc[::2], on="capture_id")
    report = json.loads((watch.out / line["execution"] / "monitor.json").read_text())
    quality = report["model_quality"]["metrics"]
    probabilities = joined[["probability_0", "probability_1"]].to_numpy()
    expected = sklearn_metrics(
        "binary", joined["churned"], joined["prediction"], probabilities, None
    )
    for name, value in expected.items():
        assert quality[name]["current"] == pytest.approx(value, abs=1e-6), name
    assert quality["auroc"]["current"] == pytest.approx(
        sk.roc_auc_score(joined["churned"], joined["probability_1"]), abs=1e-6
    )
