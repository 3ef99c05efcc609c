"""The registry: versions with approvals and stages, content-addressed files verified on
load, refusals with exit code 2, and concurrent registrations that lose nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assayml.errors import ArtifactError, BadInputError
from assayml.registry.collect import collect
from assayml.registry.store import APPROVED, PENDING, REJECTED, Registry
from tests import cli_fork
from tests.conftest import cli_env
from tests.stages.helpers import run_stages


@pytest.fixture
def trained(make_cfg, project) -> Path:
    run_stages(make_cfg())
    return project


def register(trained: Path, n: int = 1) -> Registry:
    registry = Registry(trained / "registry")
    files, metadata = collect(trained / "models")
    for _ in range(n):
        registry.register("churn", files, metadata, "alice")
    return registry


def test_a_version_holds_files_and_provenance(trained: Path) -> None:
    doc = register(trained).get("churn", 1)
    assert doc["status"] == PENDING and doc["stage"] is None
    assert set(doc["files"]) >= {
        "model/model.safetensors",
        "model/model.json",
        "model/feature_transform.json",
        "model/config.json",
    }
    meta = doc["metadata"]
    assert meta["metrics"]["accuracy"] > 0.8 and meta["params"]["seed"] == 42
    assert meta["data"]["md5"] and set(meta["git"]) == {"commit", "dirty", "changed"}
    assert meta["environment"]["packages"]["torch"] and meta["model_card"]["task"] == "binary"
    assert set(meta["records"]) >= {"prepare", "features", "train", "evaluate"}
    # the report's evidence: the plot files its figures are drawn from, not the per-row
    # files that hold each row's label (confusion.json) or target (residuals.json)
    plots = {f for f in doc["files"] if f.startswith("evidence/plots/")}
    assert plots == {
        f"evidence/plots/evaluate/{name}.json"
        for name in ("roc", "reliability", "uncertainty", "coverage")
    }


def test_approval_and_stages(trained: Path) -> None:
    registry = register(trained, 3)
    with pytest.raises(BadInputError, match="only an approved version can be promoted"):
        registry.promote("churn", 1, "production", "bob")
    registry.review("churn", 1, True, "bob", "passed VP-12")
    registry.review("churn", 2, True, "bob", "passed VP-13")
    registry.review("churn", 3, False, "bob", "leaks the target")
    with pytest.raises(BadInputError, match="was rejected"):
        registry.review("churn", 3, True, "bob", "changed my mind")
    registry.promote("churn", 1, "production", "bob")
    registry.promote("churn", 2, "production", "bob")  # at most one production version
    stages = {d["version"]: d["stage"] for d in registry.versions("churn")}
    assert stages == {1: None, 2: "production", 3: None}
    assert registry.resolve("churn@production")["version"] == 2
    assert registry.get("churn", 3)["status"] == REJECTED
    assert registry.get("churn", 1)["review"]["reason"] == "passed VP-12"
    assert registry.get("churn", 2)["status"] == APPROVED
    registry.archive("churn", 2, "bob", "superseded")
    with pytest.raises(BadInputError, match="no version in stage 'production'"):
        registry.resolve("churn@production")


def test_unknown_names_and_versions_are_refused(trained: Path) -> None:
    registry = register(trained)
    with pytest.raises(BadInputError, match="no model named 'nope'"):
        registry.resolve("nope@1")
    with pytest.raises(BadInputError, match="no version 9"):
        registry.get("churn", 9)


def test_a_changed_stored_file_is_refused(trained: Path, tmp_path: Path) -> None:
    registry = register(trained)
    doc = registry.get("churn", 1)
    weights = registry._object(doc["files"]["model/model.safetensors"])
    weights.write_bytes(weights.read_bytes()[:-8] + bytes(8))
    with pytest.raises(ArtifactError, match=r"model\.safetensors .* changed"):
        registry.materialize(doc, tmp_path / "out")


def test_identical_files_are_stored_once(trained: Path) -> None:
    registry = register(trained, 2)
    objects = list((registry.root / "objects").rglob("*"))
    assert len([p for p in objects if p.is_file()]) == len(registry.get("churn", 1)["files"])


def test_eight_concurrent_registrations_make_eight_versions(trained: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "assayml.cli.main",
        "registry",
        "register",
        "models",
        "--name",
        "churn",
    ]
    procs = [
        cli_fork.popen(
            cmd,
            cwd=trained,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    versions = [d["version"] for d in Registry(trained / "registry").versions("churn")]
    assert versions == list(range(1, 9))
    audited = [
        json.loads(line)
        for line in (trained / "audit" / "audit.jsonl").read_text().splitlines()
        if '"registry.register"' in line
    ]
    assert len(audited) == 8


def test_cli_refusals_exit_2(trained: Path) -> None:
    register(trained)

    def assay(*args: str) -> subprocess.CompletedProcess:
        return cli_fork.run(
            [sys.executable, "-m", "assayml.cli.main", "registry", *args],
            cwd=trained,
            env=cli_env(),
            capture_output=True,
            text=True,
        )

    for args, message in [
        (("promote", "churn", "1", "--stage", "production"), "only an approved version"),
        (("approve", "ghost", "1", "--reason", "x"), "no model named 'ghost'"),
        (("reject", "churn", "1", "--reason", "x", "--by", "bob"), None),
        (("approve", "churn", "1", "--reason", "x"), "was rejected"),
        (("register", "metrics", "--name", "churn"), "not a trained models folder"),
    ]:
        result = assay(*args)
        if message is None:
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode == 2 and message in result.stderr, result.stderr
    shown = assay("show", "churn", "1")
    assert "Rejected" in shown.stdout and "bob" in shown.stdout
