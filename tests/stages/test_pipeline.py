"""The four stages end to end: outputs, records, determinism, atomic failure."""

from __future__ import annotations

import json

import pytest

from assayml.errors import ArtifactError, DataError
from assayml.records import with_run_facts
from assayml.stages.table import STAGE_NAMES
from tests.stages.helpers import all_files, fingerprint, run_stages


def test_stages_write_what_design_md_says(make_cfg, project) -> None:
    run_stages(make_cfg())
    for path in [
        "data/prepared/train.parquet",
        "data/prepared/val.parquet",
        "data/prepared/test.parquet",
        "data/prepared/profile.json",
        "artifacts/features/transform.json",
        "models/model.safetensors",
        "models/model_card.json",
        "metrics/evaluate.json",
        "plots/evaluate/roc.json",
        "plots/evaluate/confusion.json",
    ]:
        assert (project / path).is_file(), path
    # evaluate.figures=data (the default): the report draws the plots; no matplotlib here
    assert not list((project / "plots" / "evaluate").glob("*.png"))


def test_records_and_model_card_say_what_made_the_model(make_cfg, project) -> None:
    records = run_stages(make_cfg())
    hashes = {r.config_hash for r in records.values()}
    data = {r.data["md5"] for r in records.values()}
    assert len(hashes) == 1 and len(data) == 1  # one config, one raw data identity
    card = json.loads((project / "models" / "model_card.json").read_text())
    assert {"config_hash", "data", "weights_sha256"} <= set(card)
    assert card["training"]["seed"] == 42 and card["metrics"]["val"]["val/loss"] > 0
    train = json.loads((project / "records" / "train.json").read_text())
    assert "artifacts/features/transform.json" in "".join(train["inputs"])
    assert train["outputs"]  # hashes of what the stage wrote
    # What DVC hashes holds no volatile fact; the run's facts are beside, and join back.
    volatile = {"git", "environment", "started_at", "finished_at"}
    assert not volatile & set(card) and not volatile & set(train)
    joined = with_run_facts(project / "records", "train", train)
    assert joined["environment"]["packages"]["torch"].startswith("2.")
    assert set(joined["git"]) == {"commit", "dirty", "changed"}
    assert joined["started_at"] <= joined["finished_at"]


def test_same_config_twice_gives_byte_identical_outputs(make_cfg, project) -> None:
    run_stages(make_cfg())
    first = fingerprint(project)
    run_stages(make_cfg())
    assert fingerprint(project) == first
    assert any(p.endswith("evaluate.json") for p in first)


def test_a_seeded_tiny_run_pins_its_metrics(make_cfg, project) -> None:
    """Regression guard: a change to data, split, features, init or the loop moves these."""
    run_stages(make_cfg("model=logreg", "trainer.max_epochs=2"))
    metrics = json.loads((project / "metrics" / "evaluate.json").read_text())
    record = json.loads((project / "records" / "train.json").read_text())
    assert record["details"]["steps"] == 14 and record["details"]["best_epoch"] == 2
    assert record["details"]["best_score"] == pytest.approx(0.137468, abs=1e-5)
    assert metrics["rows"] == 85
    assert metrics["confusion_matrix"] == [[30, 2], [3, 50]]
    assert metrics["auroc"] == pytest.approx(0.990566, abs=1e-6)


@pytest.mark.parametrize(
    "data,model",
    [("wine", "mlp"), ("diabetes", "mlp"), ("digits", "cnn"), ("credit_synthetic", "logreg")],
)
def test_every_builtin_set_runs(make_cfg, project, data, model) -> None:
    figures = "evaluate.figures=png"  # the PNGs of each task drawn too
    run_stages(make_cfg(f"data={data}", f"model={model}", "trainer.max_epochs=2", figures))
    metrics = json.loads((project / "metrics" / "evaluate.json").read_text())
    assert ("r2" in metrics) == (data == "diabetes")
    pngs = {p.name for p in (project / "plots" / "evaluate").glob("*.png")}
    if data == "diabetes":
        assert pngs == {"residuals.png"}
    else:
        assert pngs == {"roc.png", "confusion.png", "reliability.png"} | {
            "uncertainty_hist.png",
            "coverage.png",
        }


def test_a_failing_stage_leaves_previous_outputs_intact(make_cfg, project, monkeypatch) -> None:
    run_stages(make_cfg())
    before = all_files(project)
    with pytest.raises(DataError, match="mean_radius"):
        run_stages(make_cfg("data.columns.mean_radius.max=1"), ("prepare",))

    import assayml.stages.prepare as prepare

    calls = []

    def fail_on_second(frame):  # a crash half-way through writing the splits
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(frame)

    original = prepare.parquet_bytes
    monkeypatch.setattr(prepare, "parquet_bytes", fail_on_second)
    with pytest.raises(OSError, match="disk full"):
        run_stages(make_cfg("seed=3"), ("prepare",))
    assert all_files(project) == before
    assert not list(project.rglob(".*.tmp.*"))  # no temporary files left behind


def test_stages_need_their_inputs(make_cfg) -> None:
    for stage in STAGE_NAMES[1:]:
        with pytest.raises(ArtifactError, match="run `assay"):
            run_stages(make_cfg(), (stage,))


def test_no_stale_outputs_survive_a_change_of_task(make_cfg, project) -> None:
    run_stages(make_cfg("evaluate.figures=png"))
    assert (project / "plots" / "evaluate" / "roc.png").is_file()
    run_stages(make_cfg("data=diabetes"))
    assert sorted(p.name for p in (project / "plots" / "evaluate").iterdir()) == ["residuals.json"]
