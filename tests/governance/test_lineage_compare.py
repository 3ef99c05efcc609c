"""Lineage from a model to raw data, with verified hash links; champion vs challenger."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from assayml.lineage import render, sources
from assayml.registry.collect import collect
from assayml.registry.compare import compare_versions
from assayml.registry.store import Registry
from tests.stages.helpers import run_stages


def test_lineage_of_a_workspace_model(make_cfg, project) -> None:
    run_stages(make_cfg("data=credit_synthetic", "model=logreg"))
    lineage = sources.from_models_dir(project / "models")
    assert [n.id for n in lineage.nodes] == ["model", "train", "features", "prepare", "data"]
    assert all(e.verified for e in lineage.edges if e.target != "data")
    data = lineage.nodes[-1].attrs
    assert data["name"] == "credit_synthetic" and len(data["md5"]) == 32
    train = lineage.nodes[1].attrs
    assert train["seed"] == 42 and train["params"]["model"]["name"] == "logreg"
    text = render.as_text(lineage)
    assert "hash link verified" in text and "built-in credit_synthetic" in text
    dot = render.as_dot(lineage)
    assert dot.startswith("digraph lineage") and '"data" -> "prepare"' in dot
    assert json.loads(render.as_json(lineage))["edges"][0]["verified"] is True


def test_a_broken_link_is_reported(make_cfg, project) -> None:
    run_stages(make_cfg())
    record = project / "records" / "features.json"
    doc = json.loads(record.read_text())
    key = next(k for k in doc["outputs"] if k.endswith("transform.json"))
    doc["outputs"][key] = "0" * 32  # the transform that trained the model is not this one
    record.write_text(json.dumps(doc))
    lineage = sources.from_models_dir(project / "models")
    assert [e.verified for e in lineage.edges][:2] == [True, False]
    assert "HASH MISMATCH" in render.as_text(lineage)


def test_lineage_of_a_registered_version(make_cfg, project) -> None:
    run_stages(make_cfg())
    registry = Registry(project / "registry")
    files, metadata = collect(project / "models")
    doc = registry.register("churn", files, metadata, "alice")
    lineage = sources.from_version(registry, doc)
    assert lineage.nodes[0].label.startswith("model churn@1 (PendingManualApproval")
    assert lineage.edges[0].verified  # the stored files are the ones train wrote


@pytest.mark.slow
def test_champion_challenger(make_cfg, project) -> None:
    registry = Registry(project / "registry")
    run_stages(make_cfg("model=logreg", "trainer.max_epochs=1", "model.lr=0.0005"))
    registry.register("churn", *collect(project / "models"), "alice")
    run_stages(make_cfg("model=mlp", "trainer.max_epochs=20"))
    registry.register("churn", *collect(project / "models"), "alice")
    holdout = pd.read_parquet(project / "data" / "prepared" / "test.parquet")
    result = compare_versions(registry, registry.get("churn", 1), registry.get("churn", 2), holdout)
    acc = result["differences"]["accuracy"]
    assert acc["ci95"][0] <= acc["difference"] <= acc["ci95"][1]
    assert result["test"]["name"] == "McNemar exact" and 0 <= result["test"]["p_value"] <= 1
    assert result["metrics"]["challenger"]["accuracy"] > result["metrics"]["champion"]["accuracy"]
    assert result["challenger_significantly_better"] is True
    same = compare_versions(registry, registry.get("churn", 2), registry.get("churn", 2), holdout)
    assert same["challenger_significantly_better"] is False and same["test"]["p_value"] == 1.0
