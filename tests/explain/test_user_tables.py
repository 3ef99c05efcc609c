"""The user-data path on a table a user would bring (float labels, missing facet values, a
nullable integer column, an index column, a leaking column, a 3-valued facet): bias metrics
equal an independent implementation of Clarify's formulas for inferred and declared schemas
alike, post-training metrics equal those computed from `assay predict`'s output, and every
input that used to crash now exits 0 or 2 with a message."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from assayml.config import compose, to_typed
from tests import cli_fork
from tests.card_helpers import fill_file_card
from tests.conftest import REPO, cli_env
from tests.explain import user_tables as ref

ASSAY = [sys.executable, "-m", "assayml.cli.main"]
BASE = (
    "trainer.max_epochs=5",
    "trainer.enable_progress_bar=false",
    "logger=none",
    "data=file",
    "data.path=user.csv",
    "data.target=outcome",
    "data.sensitive=[race,sex]",
    "model=logreg",
    "explain.samples=30",
    "explain.global_rows=30",
    "explain.permutation_repeats=2",
    "explain.rows=first:2",
)
DECLARED = (
    "data.columns={age: {dtype: int, min: 0}, visits: {dtype: int, nullable: true}, "
    "race: {dtype: float, nullable: true}, sex: {dtype: category, nullable: true}, "
    "leak: {dtype: float}, outcome: {dtype: int}}",
    "explain=all_methods",
    "explain.rows=first:2",
)
PRE = ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL")
POST = ("DPPL", "DI", "DCAcc", "DCR", "RD", "SD", "AD", "TE", "DAR", "DRR")


def build(root: Path, *overrides: str) -> Path:
    """A project on the user table, run through prepare ... baseline in this process."""
    from assayml.stages.table import get_stage

    shutil.copytree(REPO / "conf", root / "conf")
    fill_file_card(root / "conf")
    ref.write_csv(ref.user_table(), root / "user.csv")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        cfg = to_typed(compose([*BASE, *overrides], root / "conf"))
        for name in ("prepare", "features", "train", "explain", "baseline"):
            get_stage(name).run(cfg)
    return root


@pytest.fixture(scope="module")
def inferred(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("inferred"))


@pytest.fixture(scope="module")
def declared(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("declared"), *DECLARED)


def text_column(path: Path, column: str) -> list[str]:
    """A prepared column as text, as a CSV would hold it ("" for missing)."""
    values = pq.read_table(path, columns=[column]).column(column).to_pylist()
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]


def favourable(texts: list[str]) -> list[int]:
    return [int(float(t) == 1.0) for t in texts]


@pytest.mark.slow
@pytest.mark.parametrize("schema", ["inferred", "declared"])
def test_pre_training_metrics_equal_clarify_formulas(schema, request) -> None:
    root = request.getfixturevalue(schema)
    bias = json.loads((root / "reports/explain/bias.json").read_text())
    train = root / "data/prepared/train.parquet"
    labels = favourable(text_column(train, "outcome"))
    assert bias["favourable_label"] == "1" and 0 < sum(labels) < len(labels)
    for column in ("race", "sex"):
        groups = [ref.group_of(t) for t in text_column(train, column)]
        present = sorted({g for g in groups if g != ref.MISSING})
        reference = max(present, key=groups.count)  # the largest group in training
        facet = bias["facets"][column]
        assert facet["reference"] == reference
        assert facet["missing_rows"]["train"] == groups.count(ref.MISSING) > 0
        expected_groups = [*(g for g in present if g != reference), ref.MISSING]
        assert list(facet["groups"]) == expected_groups
        for group in expected_groups:
            expected = ref.pre_training(labels, groups, reference, group)
            found = facet["groups"][group]["pre_training"]
            for name in PRE:
                assert found[name] == pytest.approx(expected[name], abs=1e-9), (group, name)
            assert facet["groups"][group]["rows"]["train"] == groups.count(group)


@pytest.mark.slow
def test_post_training_metrics_equal_those_from_assay_predict(inferred, tmp_path) -> None:
    split = pd.read_parquet(inferred / "data/prepared/test.parquet")
    split.to_csv(tmp_path / "rows.csv", index=False)
    result = cli_fork.run(
        [*ASSAY, "predict", str(tmp_path / "rows.csv"), str(tmp_path / "out.csv")],
        cwd=inferred,
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    out = ref.csv_rows(tmp_path / "out.csv")
    predicted = [int(float(row["prediction"]) == 1.0) for row in out]
    labels = [int(float(row["outcome"]) == 1.0) for row in out]
    bias = json.loads((inferred / "reports/explain/bias.json").read_text())
    for column in ("race", "sex"):
        reference = bias["facets"][column]["reference"]
        groups = [ref.group_of(row[column]) for row in out]
        for group, result_ in bias["facets"][column]["groups"].items():
            expected = ref.post_training(labels, predicted, groups, reference, group)
            for name in POST:
                found = result_["post_training"][name]
                assert found == pytest.approx(expected[name], abs=1e-9), (column, group, name)


@pytest.mark.slow
def test_every_explain_method_runs_on_a_nullable_integer_column(declared) -> None:
    prepared = pq.read_schema(declared / "data/prepared/train.parquet")
    assert str(prepared.field("visits").type) == "int64"  # nullable Int64 in pandas
    assert pd.read_parquet(declared / "data/prepared/train.parquet")["visits"].isna().any()
    report = json.loads((declared / "reports/explain/explain.json").read_text())
    assert set(report["methods"]) == {
        "integrated_gradients",
        "kernel_shap",
        "lime",
        "saliency",
        "deeplift",
        "gradient_shap",
    }
    assert all("visits" in row["attributions"]["lime"] for row in report["rows"])
    assert "counterfactual" in report["rows"][0]


@pytest.mark.slow
def test_missing_facet_values_can_be_left_out_and_counted(tmp_path) -> None:
    root = build(tmp_path, "explain.bias.missing=drop")
    bias = json.loads((root / "reports/explain/bias.json").read_text())
    race = bias["facets"]["race"]
    assert list(race["groups"]) == ["1", "2"] and race["missing_rows"]["train"] > 0
    train = root / "data/prepared/train.parquet"
    texts = text_column(train, "race")
    kept = [i for i, t in enumerate(texts) if t != ""]
    labels = [favourable(text_column(train, "outcome"))[i] for i in kept]
    groups = [ref.group_of(texts[i]) for i in kept]
    expected = ref.pre_training(labels, groups, "0", "1")
    assert race["groups"]["1"]["pre_training"]["CI"] == pytest.approx(expected["CI"], abs=1e-9)
    constraints = json.loads((root / "monitoring/constraints.json").read_text())
    assert "missing" not in constraints["bias"]["baseline"]["race"]["counts"]


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = cli_env()
    env.pop("ASSAY_VERBOSITY", None)  # the normal level: errors without tracebacks
    return cli_fork.run([*ASSAY, *args], cwd=root, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_reference_groups_are_matched_as_typed_values(inferred, tmp_path) -> None:
    root = tmp_path / "p"
    shutil.copytree(inferred, root)
    common = [f"{o}" for o in BASE if not o.startswith("data.sensitive")]
    result = run(
        root, "explain", *common, "data.sensitive=[race,sex]", "data.reference_groups={race: '1'}"
    )
    assert result.returncode == 2 and "rerun `assay prepare`" in result.stderr  # part 5
    for typed in ("1", "'1'", "1.0"):
        chosen = f"data.reference_groups={{race: {typed}}}"
        assert run(root, "prepare", *common, "data.sensitive=[race,sex]", chosen).returncode == 0
        result = run(root, "explain", *common, "data.sensitive=[race,sex]", chosen)
        assert result.returncode == 0, result.stderr
        bias = json.loads((root / "reports/explain/bias.json").read_text())
        assert bias["facets"]["race"]["reference"] == "1"
        assert list(bias["facets"]["race"]["groups"]) == ["0", "2", "missing"]
    before = (root / "data/prepared/profile.json").read_bytes()
    result = run(root, "prepare", *common, "data.sensitive=[race]", "data.reference_groups.race=7")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "matches no training row" in result.stderr and "0, 1, 2" in result.stderr
    assert (root / "data/prepared/profile.json").read_bytes() == before  # nothing written
