"""data.streaming: a Parquet file prepared, featurised and trained a record batch at a time,
and monitoring a Parquet file a column at a time; each checked against the in-memory path
on the same data (batches made small so that every path crosses many of them)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from assayml.data import streaming
from assayml.data.credit import generate_credit
from assayml.errors import ConfigError, DataError
from assayml.features.fit import fit_transform
from assayml.features.streaming import fit_streaming
from assayml.stages.features import schema_from_profile
from assayml.train.datamodule import load_split
from tests.cli.test_sweeps import assay
from tests.conftest import REPO
from tests.stages.helpers import run_stages

ROWS = 6000


@pytest.fixture
def streamed(project: Path, monkeypatch) -> Path:
    """A credit table as Parquet (some income missing), with a data config streaming it."""
    monkeypatch.setattr(streaming, "BATCH_ROWS", 700)
    frame = generate_credit(ROWS, seed=1)
    frame.to_parquet(project / "credit.parquet", index=False, row_group_size=1000)
    spec = yaml.safe_load((REPO / "conf" / "data" / "credit_synthetic.yaml").read_text())
    for key in ("n_rows", "bias", "generator_seed"):
        spec.pop(key)
    spec.update(
        name="credit_file", source="file", path="credit.parquet", streaming=True, sample_rows=2000
    )
    (project / "conf" / "data" / "credit_file.yaml").write_text(yaml.safe_dump(spec))
    return project


def md5s(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_streamed_prepare_is_seeded_complete_and_validated(streamed, make_cfg) -> None:
    cfg = make_cfg("data=credit_file")
    run_stages(cfg, ("prepare",))
    prepared = streamed / "data" / "prepared"
    first = md5s(prepared)
    parts = {s: pd.read_parquet(prepared / f"{s}.parquet") for s in ("train", "val", "test")}
    assert sum(map(len, parts.values())) == ROWS
    # Bernoulli(0.7) rows: within 4 standard deviations of 70 %.
    assert abs(len(parts["train"]) - 0.7 * ROWS) < 4 * np.sqrt(ROWS * 0.21)
    merged = pd.concat(parts.values()).sort_values(["age", "income", "loan_amount"])
    original = pd.read_parquet(streamed / "credit.parquet")
    assert len(merged.drop_duplicates()) == len(original.drop_duplicates())
    sample = pd.read_parquet(prepared / "train_sample.parquet")
    assert abs(len(sample) - 2000) < 4 * np.sqrt(2000)  # about sample_rows of the train rows
    run_stages(make_cfg("data=credit_file"), ("prepare",))
    assert md5s(prepared) == first  # same seed, same file: the same split, byte for byte
    run_stages(make_cfg("data=credit_file", "seed=7"), ("prepare",))
    assert md5s(prepared)["train.parquet"] != first["train.parquet"]


def test_streamed_transform_equals_the_in_memory_fit(streamed, make_cfg) -> None:
    cfg = make_cfg("data=credit_file", "data.sample_rows=10000")  # the sample is all of train
    run_stages(cfg, ("prepare", "features"))
    prepared = streamed / "data" / "prepared"
    profile = yaml.safe_load((prepared / "profile.json").read_text())
    train = pd.read_parquet(prepared / "train.parquet")
    assert train["income"].isna().any()  # imputation is exercised
    columns = schema_from_profile(profile)
    for features in (cfg.features, make_cfg("features.numeric.impute=mean").features):
        expected = fit_transform(train, columns, features, "repaid", "binary", [0, 1])
        got = fit_streaming(
            streaming.parquet_batches(prepared / "train.parquet"),
            train,
            columns,
            features,
            "repaid",
            "binary",
            [0, 1],
        )
        for mine, theirs in zip(got.numeric, expected.numeric, strict=True):
            assert mine.name == theirs.name and mine.fill == pytest.approx(theirs.fill, rel=1e-12)
            assert mine.center == pytest.approx(theirs.center, rel=1e-10)
            assert mine.scale == pytest.approx(theirs.scale, rel=1e-10)
        assert [c.categories for c in got.categorical] == [
            c.categories for c in expected.categorical
        ]
        assert [c.fill for c in got.categorical] == [c.fill for c in expected.categorical]
        assert got.target == expected.target
    written = load_split(streamed / "artifacts" / "features", "train")
    fitted = fit_transform(train, columns, cfg.features, "repaid", "binary", [0, 1])
    np.testing.assert_allclose(written.x.numpy(), fitted.transform(train), rtol=0, atol=1e-5)
    assert written.y.tolist() == train["repaid"].tolist()


def test_streamed_training_is_deterministic(streamed, make_cfg) -> None:
    from safetensors.torch import load_file

    cfg = make_cfg("data=credit_file", "model=logreg")
    run_stages(cfg)
    first = load_file(str(streamed / "models" / "model.safetensors"))
    run_stages(cfg, ("train",))
    again = load_file(str(streamed / "models" / "model.safetensors"))
    assert all(np.array_equal(first[k], again[k]) for k in first)
    metrics = yaml.safe_load((streamed / "metrics" / "evaluate.json").read_text())
    assert metrics["accuracy"] > 0.6


def test_a_bad_row_is_named_by_its_file_row_and_nothing_is_written(streamed) -> None:
    assert assay(streamed, "prepare", "data=credit_file").returncode == 0
    before = md5s(streamed / "data" / "prepared")
    frame = pd.read_parquet(streamed / "credit.parquet")
    frame.loc[4321, "age"] = 7  # below the declared minimum of 18
    frame.to_parquet(streamed / "credit.parquet", index=False, row_group_size=1000)
    result = assay(streamed, "prepare", "data=credit_file")
    assert result.returncode == 2
    assert "age" in result.stderr and "4321" in result.stderr
    assert md5s(streamed / "data" / "prepared") == before


def test_streaming_needs_parquet(streamed, make_cfg) -> None:
    pd.read_parquet(streamed / "credit.parquet").to_csv(streamed / "credit.csv", index=False)
    with pytest.raises(ConfigError, match="reads Parquet"):
        run_stages(make_cfg("data=credit_file", "data.path=credit.csv"), ("prepare",))
    with pytest.raises(DataError, match="not found"):
        run_stages(make_cfg("data=credit_file", "data.path=nothing.parquet"), ("prepare",))


def test_a_truncated_feature_file_is_refused(streamed, make_cfg) -> None:
    from assayml.errors import ArtifactError

    run_stages(make_cfg("data=credit_file"), ("prepare", "features"))
    path = streamed / "artifacts" / "features" / "val.safetensors"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match="truncated"):
        load_split(path.parent, "val")


def test_the_task_comes_from_every_label_and_an_inferred_schema_holds_for_all_batches(
    streamed, make_cfg
) -> None:
    frame = pd.read_parquet(streamed / "credit.parquet")
    frame["repaid"] = 0
    frame.loc[[5100, 5500, 5900], "repaid"] = 1  # a rare class, late in the file
    frame["income"] = frame["income"].astype(float)
    frame.loc[:3999, "income"] = frame.loc[:3999, "income"].fillna(1.0)
    frame.loc[4500, "income"] = np.nan  # the first null, past several batches
    frame.to_parquet(streamed / "credit.parquet", index=False, row_group_size=1000)
    cfg = make_cfg(
        "data=credit_file",
        "data.schema=null",  # no declared columns: inferred from the first batch
        "data.sensitive=[]",
        "data.reference_groups={}",
        "data.sample_rows=1000",
    )
    run_stages(cfg, ("prepare",))
    profile = yaml.safe_load((streamed / "data" / "prepared" / "profile.json").read_text())
    assert profile["task"] == "binary"
    assert profile["schema"]["income"]["nullable"] is True


def test_a_category_missing_from_the_sample_is_still_in_the_baseline(streamed, make_cfg):
    from assayml.monitor.inputs import load_baseline, read_current
    from assayml.monitor.run import monitor
    from assayml.serve.deployed import load_deployed

    spec = yaml.safe_load((streamed / "conf" / "data" / "credit_file.yaml").read_text())
    spec["columns"] = {"purpose": {"allowed": None}}  # the schema file's entry, unset
    (streamed / "conf" / "data" / "credit_file.yaml").write_text(yaml.safe_dump(spec))
    frame = pd.read_parquet(streamed / "credit.parquet")
    # Training rows outside the sample, by the documented rule: one seeded uniform draw a
    # row in file order; train below 0.7, the sample in the first 1000/4200 of that.
    u = np.random.default_rng(42).random(ROWS)
    rare = np.flatnonzero((u < 0.7) & (u >= 0.7 * 1000 / (ROWS * 0.7)))[[10, 900, 2000, 3000]]
    frame.loc[rare, "purpose"] = "zzz"
    frame.to_parquet(streamed / "credit.parquet", index=False, row_group_size=1000)
    cfg = make_cfg("data=credit_file", "model=logreg", "data.sample_rows=1000")
    run_stages(cfg, ("prepare", "features", "train", "baseline"))
    prepared = streamed / "data" / "prepared"
    train = pd.read_parquet(prepared / "train.parquet")
    sample = pd.read_parquet(prepared / "train_sample.parquet")
    assert (sample["purpose"] == "zzz").sum() == 0 < (train["purpose"] == "zzz").sum()
    baseline = load_baseline(streamed / "monitoring")
    report = monitor(read_current(prepared / "train.parquet"), baseline, load_deployed())
    checks = {v["constraint_check_type"] for v in report["violations"]}
    assert "categorical_values_check" not in checks  # the training data is not "unseen"


def test_a_file_that_is_not_parquet_is_bad_input(streamed) -> None:
    (streamed / "credit.parquet").write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    result = assay(streamed, "prepare", "data=credit_file")
    assert result.returncode == 2 and "credit.parquet" in result.stderr
