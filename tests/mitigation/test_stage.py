"""Mitigation through the real stages on credit_synthetic with injected bias: the
acceptance figures, the same decisions in evaluate, `assay predict` and `assay serve`, the
records (model card, manifest, audit trail), and reweighing's bit-identical weights."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from assayml.config import compose, to_typed
from tests import cli_fork
from tests.conftest import REPO, TINY, cli_env

ASSAY = [sys.executable, "-m", "assayml.cli.main"]
BIASED = (
    "data=credit_synthetic",
    "data.bias=0.2",
    "model=logreg",
    "trainer.max_epochs=15",
    "explain.samples=100",
    "explain.global_rows=60",
    "explain.permutation_repeats=3",
)
STAGES = ("prepare", "features", "train", "evaluate", "explain")


def run_stages(root: Path, overrides: tuple[str, ...], stages=STAGES) -> None:
    from assayml.stages.table import get_stage

    if not (root / "conf").exists():
        shutil.copytree(REPO / "conf", root / "conf")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        cfg = to_typed(compose([*TINY, *overrides], root / "conf"))
        for name in stages:
            get_stage(name).run(cfg)


def assay(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [*ASSAY, *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def mitigated(tmp_path_factory) -> Path:
    """credit_synthetic, data.bias=0.2, 20000 rows, ThresholdOptimizer for demographic
    parity; `assay predict` on the test split (predictions.csv)."""
    root = tmp_path_factory.mktemp("mitigated")
    run_stages(root, (*BIASED, "data.n_rows=20000", "mitigation=threshold_dp"))
    done = assay(root, "predict", "data/prepared/test.parquet", "predictions.csv")
    assert done.returncode == 0, done.stderr
    return root


def bias(root: Path) -> dict:
    return json.loads((root / "reports/explain/bias.json").read_text())


@pytest.mark.slow
def test_dppl_falls_below_005_with_the_accuracy_cost_reported(mitigated) -> None:
    section = bias(mitigated)["mitigation"]
    before = section["before"]["group"]["groups"]["B"]["DPPL"]
    after = section["after"]["group"]["groups"]["B"]["DPPL"]
    assert before > 0.2 and abs(after) < 0.05
    accuracy = section["accuracy"]
    assert accuracy["cost"] == pytest.approx(accuracy["before"] - accuracy["after"], abs=1e-15)
    assert bias(mitigated)["facets"]["group"]["groups"]["B"]["post_training"]["DPPL"] == after
    print(f"DPPL {before:.4f} -> {after:.4f}; accuracy {accuracy}")  # the README's figures


@pytest.mark.slow
def test_the_figures_recomputed_from_assay_predicts_output(mitigated) -> None:
    """DPPL, fairlearn's demographic parity difference and the accuracy, from the
    predictions file and the prepared labels, without assayml's metric code."""
    from fairlearn.metrics import demographic_parity_difference

    out = pd.read_csv(mitigated / "predictions.csv")
    positive = out["prediction"].to_numpy() == 1
    group, label = out["group"].to_numpy(), out["repaid"].to_numpy()
    dppl = positive[group == "A"].mean() - positive[group == "B"].mean()
    section = bias(mitigated)["mitigation"]
    assert section["after"]["group"]["groups"]["B"]["DPPL"] == pytest.approx(dppl, abs=1e-12)
    fairlearn = demographic_parity_difference(label, positive, sensitive_features=group)
    after = section["after"]["group"]["fairlearn"]["demographic_parity_difference"]
    assert after == pytest.approx(fairlearn, abs=1e-12)
    assert section["accuracy"]["after"] == pytest.approx((positive == label).mean(), abs=1e-12)
    assert (out["mitigated"] == 1.0).all()


@pytest.mark.slow
def test_evaluate_and_predict_make_the_same_decisions(mitigated) -> None:
    metrics = json.loads((mitigated / "metrics/evaluate.json").read_text())
    out = pd.read_csv(mitigated / "predictions.csv")
    matrix = pd.crosstab(out["repaid"], out["prediction"]).reindex(
        index=[0, 1], columns=[0, 1], fill_value=0
    )
    assert metrics["confusion_matrix"] == matrix.to_numpy().tolist()
    assert metrics["mitigation"]["rows_unknown_group"] == 0


@pytest.mark.slow
def test_a_served_request_gets_the_same_decisions(mitigated) -> None:
    from tests.serve.conftest import start_serve

    rows = pd.read_parquet(mitigated / "data/prepared/test.parquet").head(40)
    expected = pd.read_csv(mitigated / "predictions.csv").head(40)
    process, url = start_serve(mitigated)
    try:
        body = {"rows": json.loads(rows.drop(columns=["repaid"]).to_json(orient="records"))}
        answer = httpx.post(f"{url}/predict", json=body, timeout=30)
        metadata = httpx.get(f"{url}/metadata", timeout=10).json()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert answer.status_code == 200, answer.text
    served = [record["prediction"] for record in answer.json()["predictions"]]
    assert served == expected["prediction"].tolist()
    assert metadata["mitigation"]["constraint"] == "demographic_parity"
    assert "postprocess" not in metadata["uncertainty"]


@pytest.mark.slow
def test_the_state_is_sealed_and_recorded(mitigated) -> None:
    models = mitigated / "models"
    state = json.loads((models / "mitigation.json").read_text())
    manifest = (models / "manifest.json").read_text()
    assert "mitigation.json" in manifest
    card = json.loads((models / "model_card.json").read_text())["mitigation"]
    assert (
        card["method"] == "threshold_optimizer" and card["groups"] == state["postprocess"]["groups"]
    )
    entries = [json.loads(line) for line in (mitigated / "audit/audit.jsonl").open()]
    train = next(e for e in entries if e["action"] == "stage.train")["details"]["mitigation"]
    assert train["val_dp_difference_after"] < train["val_dp_difference_before"]
    explain = next(e for e in entries if e["action"] == "stage.explain")["details"]["mitigation"]
    assert (
        explain["DPPL_after[B]"]
        == bias(mitigated)["mitigation"]["after"]["group"]["groups"]["B"]["DPPL"]
    )
    tampered = mitigated.parent / "tampered"
    shutil.copytree(models, tampered)
    state["postprocess"]["groups"]["B"]["p0"] = 0.0
    (tampered / "mitigation.json").write_text(json.dumps(state))
    done = assay(
        mitigated, "predict", "--model", str(tampered), "data/prepared/test.parquet", "t.csv"
    )
    assert done.returncode == 2 and "mitigation.json" in done.stderr


@pytest.mark.slow
def test_reweighing_weights_are_bit_identical_and_the_formula(tmp_path) -> None:
    first, second, plain = tmp_path / "a", tmp_path / "b", tmp_path / "none"
    for root, method in ((first, "reweighing"), (second, "reweighing"), (plain, "none")):
        run_stages(root, (*BIASED, "data.n_rows=2000", f"mitigation={method}"), STAGES[:3])
    weights = [(r / "models/model.safetensors").read_bytes() for r in (first, second, plain)]
    assert weights[0] == weights[1] and weights[0] != weights[2]
    record = json.loads((first / "models/mitigation.json").read_text())
    assert record == json.loads((second / "models/mitigation.json").read_text())
    train = pd.read_parquet(first / "data/prepared/train.parquet")
    n = len(train)
    for cell in record["weights"]:
        g, y = train["group"] == cell["group"], train["repaid"] == cell["label"]
        expected = (g.sum() / n) * (y.sum() / n) / ((g & y).sum() / n)
        assert cell["rows"] == (g & y).sum() and cell["weight"] == pytest.approx(
            expected, rel=1e-12
        )


@pytest.mark.slow
def test_a_user_lightning_module_is_refused(tmp_path) -> None:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    done = assay(
        tmp_path, "train", "data=digits_folder", "model=digits_cnn", "mitigation=reweighing"
    )
    assert done.returncode == 2 and "a user's LightningModule" in done.stderr


def test_methods_refuse_what_they_do_not_cover(make_cfg) -> None:
    from assayml.errors import ConfigError
    from assayml.features.transform import CategoricalColumn, FeatureTransform, TargetEncoding
    from assayml.mitigation.facet import facet_encoding
    from assayml.mitigation.fit import check_mitigation, facet_column

    with pytest.raises(
        ConfigError, match="binary classifier's probability; this task is multiclass"
    ):
        check_mitigation(make_cfg("mitigation=threshold_dp"), "multiclass")
    with pytest.raises(ConfigError, match="not for regression"):
        check_mitigation(make_cfg("mitigation=reweighing"), "regression")
    with pytest.raises(ConfigError, match="needs a sensitive column"):
        facet_column(make_cfg("mitigation=threshold_eo"), [])
    transform = FeatureTransform(
        [], [CategoricalColumn("region", "n", ["n", "s"], "ignore")], TargetEncoding("y", "binary")
    )
    with pytest.raises(ConfigError, match="column 'group' is not an input of the model"):
        facet_encoding(transform, "group")
    assert facet_encoding(transform, "region")["features"] == {"n": 0, "s": 1}


@pytest.mark.slow
def test_the_report_and_registry_show_the_mitigation(mitigated, tmp_path) -> None:
    page = assay(mitigated, "report", "--out", str(tmp_path / "r.html"))
    assert page.returncode == 0, page.stderr
    html = (tmp_path / "r.html").read_text()
    section = bias(mitigated)["mitigation"]
    assert "Mitigation: threshold_optimizer on <code>group</code>" in html
    assert "<th>DPPL before</th>" in html and "group=B" in html
    registry = tmp_path / "registry"
    done = assay(
        mitigated, "registry", "--registry", str(registry), "register", "models", "--name", "fair"
    )
    assert done.returncode == 0, done.stderr
    shown = assay(mitigated, "registry", "--registry", str(registry), "show", "fair", "1")
    assert "bias mitigation: threshold_optimizer on group, demographic_parity" in shown.stdout
    assert section["accuracy"]["cost"] > 0
