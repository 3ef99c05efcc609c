"""`assay explain` end to end: reports, ground truth on injected bias, counterfactual
constraints, global explanations, images, regression."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from assayml.errors import ConfigError
from tests.stages.helpers import run_stages

EXPLAIN = ("prepare", "features", "train", "explain")
CREDIT = (
    "data=credit_synthetic",
    "model=logreg",
    "trainer.max_epochs=15",
    "explain.samples=100",
    "explain.global_rows=60",
    "explain.permutation_repeats=3",
)


def report(project, name: str = "explain.json") -> dict:
    return json.loads((project / "reports" / "explain" / name).read_text())


@pytest.mark.parametrize("injected", [0.0, 0.3])
def test_injected_bias_is_found_with_its_sign_and_size(make_cfg, project, injected) -> None:
    run_stages(make_cfg(*CREDIT, f"data.bias={injected}"), EXPLAIN)
    bias = report(project, "bias.json")
    group = bias["facets"]["group"]
    assert group["reference"] == "A"
    b = group["groups"]["B"]
    pre, post = b["pre_training"], b["post_training"]
    assert pre["DPL"] == pytest.approx(injected, abs=0.06)
    # The model's scores carry the injected gap (DPPS); thresholded labels amplify it (DPPL).
    assert post["DPPS"] == pytest.approx(injected, abs=0.08)
    if injected:
        assert post["DPPL"] >= injected - 0.05 and "group=B: DPPL" in bias["flags"]
        assert post["DI"] < 0.8 and not bias["passed"]
    else:
        assert abs(post["DPPL"]) < 0.06 and "group=B: DPPL" not in bias["flags"]
    assert group["fairlearn"]["demographic_parity_difference"] == pytest.approx(abs(post["DPPL"]))


def test_explain_report_contents(make_cfg, project) -> None:
    cfg = make_cfg(*CREDIT, "data.bias=0.2", "explain.rows=[0,5,17]", "explain.figures=png")
    run_stages(cfg, EXPLAIN)
    explained = report(project)
    assert [r["row"] for r in explained["rows"]] == [0, 5, 17]
    columns = {
        "age",
        "income",
        "debt_to_income",
        "credit_history_years",
        "late_payments",
        "loan_amount",
        "employment",
        "purpose",
        "group",
    }
    for row in explained["rows"]:
        assert set(row["attributions"]) == {"integrated_gradients", "kernel_shap"}
        assert set(row["attributions"]["kernel_shap"]) == columns
        assert abs(row["integrated_gradients_delta"]) < 1e-3  # completeness
        assert row["stability"]["rank_correlation"] <= 1.0
    assert explained["integrated_gradients_max_abs_delta"] < 1e-3
    glob = explained["global"]
    assert {r["column"] for r in glob["mean_abs_shap"]} == columns
    assert all(r["ci95"][0] <= r["mean"] <= r["ci95"][1] for r in glob["permutation_importance"])
    assert glob["surrogate"]["fidelity"] > 0.7 and "|---" in glob["surrogate"]["rules"]
    top = glob["mean_abs_shap"][0]["column"]
    assert len(glob["partial_dependence"][top]["average"]) == len(
        glob["partial_dependence"][top]["grid"]
    )
    for name in (
        "row_0.png",
        "global_importance.png",
        "surrogate_tree.png",
        f"dependence_{top}.png",
    ):
        assert (project / "reports" / "explain" / name).is_file(), name
    importance = report(project, "importance.json")
    assert [r["column"] for r in importance] == [r["column"] for r in glob["mean_abs_shap"]]
    curve = report(project, f"dependence_{top}.json")
    assert [r["partial_dependence"] for r in curve] == glob["partial_dependence"][top]["average"]
    bars = {r["column"]: r for r in report(project, "row_0.json")}
    assert bars["age"]["kernel_shap"] == explained["rows"][0]["attributions"]["kernel_shap"]["age"]


def test_counterfactuals_respect_the_schema_and_immutable_columns(make_cfg, project) -> None:
    run_stages(
        make_cfg(*CREDIT, "data.bias=0.3", "explain.counterfactual_rows=5", "explain.rows=first:5"),
        EXPLAIN,
    )
    explained = report(project)
    found = [r["counterfactual"] for r in explained["rows"]]
    assert explained["counterfactual_validity"] == sum(c["valid"] for c in found) / 5 >= 0.6
    for cf in found:
        assert "group" not in cf["changes"]  # sensitive columns are immutable by default
        for col, change in cf["changes"].items():
            if col == "age":
                assert 18 <= change["to"] <= 80 and float(change["to"]).is_integer()
            if col == "employment":
                assert change["to"] in {
                    "employed",
                    "self_employed",
                    "unemployed",
                    "student",
                    "retired",
                }


def test_row_selectors(make_cfg, project) -> None:
    cfg = make_cfg(*CREDIT, "explain.rows=misclassified:3", "explain.counterfactual_rows=0")
    assert cfg.explain.figures == "data"  # the default: the figures' data only, no PNGs
    run_stages(cfg, EXPLAIN)
    written = {p.name for p in (project / "reports" / "explain").iterdir()}
    assert not {n for n in written if n.endswith(".png")} and "importance.json" in written
    test = pd.read_parquet(project / "data" / "prepared" / "test.parquet")
    rows = [r["row"] for r in report(project)["rows"]]
    assert len(rows) == 3
    assert all(r["prediction"] != test["repaid"].iloc[r["row"]] for r in report(project)["rows"])
    with pytest.raises(ConfigError, match="outside"):
        run_stages(make_cfg(*CREDIT, "explain.rows=[99999]"), ("explain",))


def test_image_heat_maps(make_cfg, project) -> None:
    run_stages(
        make_cfg(
            "data=digits",
            "model=cnn",
            "trainer.max_epochs=2",
            "explain.rows=first:2",
            "explain.samples=50",
            "explain.global_rows=20",
            "explain.permutation_repeats=2",
            "explain.dependence_columns=1",
            "explain.counterfactual_rows=0",
        ),
        EXPLAIN,
    )
    assert (project / "reports" / "explain" / "row_0_heatmap.png").is_file()
    assert not (project / "reports" / "explain" / "bias.json").exists()


@pytest.mark.slow
def test_every_method_on_an_ensemble(make_cfg, project) -> None:
    run_stages(
        make_cfg(
            *CREDIT,
            "explain=all_methods",
            "uncertainty=ensemble",
            "uncertainty.members=3",
            "explain.counterfactual_rows=1",
        ),
        EXPLAIN,
    )
    row = report(project)["rows"][0]
    assert set(row["attributions"]) == {
        "integrated_gradients",
        "kernel_shap",
        "lime",
        "saliency",
        "deeplift",
        "gradient_shap",
    }


def test_regression(make_cfg, project) -> None:
    run_stages(
        make_cfg(
            "data=diabetes",
            "trainer.max_epochs=5",
            "explain.samples=50",
            "explain.permutation_repeats=2",
            "explain.counterfactual_rows=1",
        ),
        EXPLAIN,
    )
    row = report(project)["rows"][0]
    assert row["counterfactual"]["goal"].startswith("prediction >=")
    assert report(project)["global"]["surrogate"]["fidelity_measure"] == "r2"
