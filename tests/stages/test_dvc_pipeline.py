"""The DVC pipeline, run for real in temporary git + DVC repositories."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from assayml.stages.table import PIPELINE as STAGES
from tests.conftest import REPO
from tests.repo_helpers import copy_repo, dvc_run, git, make_project_repo, run_env

ASSAY = ("python", "-m", "assayml.cli.main")


def ran(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def test_dvc_yaml_matches_the_stage_table() -> None:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["params", *(s.name for s in STAGES)]
    for stage in STAGES:
        entry = stages[stage.name]
        assert entry["cmd"] == f"assay {stage.name} --params params.yaml"
        assert entry["params"] == list(stage.params)
        declared = [
            next(iter(o)) if isinstance(o, dict) else o
            for key in ("outs", "metrics", "plots")
            for o in entry.get(key, [])
        ]
        assert set(stage.outputs) <= set(declared), stage.name
        assert set(stage.code) <= set(entry["deps"]), stage.name
        assert f"records/{stage.name}.json" in declared, stage.name
        # DVC's run-cache skips a stage with an uncached output other than a metric or plot
        uncached = [
            next(iter(o)) for o in entry.get("outs", []) if isinstance(o, dict)
            and next(iter(o.values())).get("cache") is False
        ]  # fmt: skip
        assert uncached == [], stage.name
    assert "records/params.ok" in stages["prepare"]["deps"]


def test_the_baseline_depends_on_every_monitor_check_key_and_no_operational_one() -> None:
    import dataclasses

    from assayml.config.monitor_schema import OPERATIONAL_KEYS, MonitorConfig
    from assayml.stages.table import MONITOR_CHECKS

    fields = [f.name for f in dataclasses.fields(MonitorConfig)]
    assert [f"monitor.{k}" for k in fields if k not in OPERATIONAL_KEYS] == list(MONITOR_CHECKS)


def test_committed_params_yaml_is_the_composition_of_conf() -> None:
    from assayml.config.load import compose
    from assayml.config.params_file import composed_yaml, conf_fingerprint

    assert (REPO / "params.yaml").read_text() == composed_yaml(compose([], REPO / "conf"))
    provenance = json.loads((REPO / "params.provenance.json").read_text())
    assert provenance["conf_sha256"] == conf_fingerprint(REPO / "conf")  # run `assay compose`


def test_our_compose_writes_what_dvc_writes(tmp_path: Path) -> None:
    """`dvc exp run` composes params.yaml with DVC's own code; it must equal ours."""
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(
        tmp_path / "params.yaml",
        str(REPO / "conf"),
        None,
        "config",
        str(REPO),
        ["model=logreg", "seed=3"],
    )
    from assayml.config.load import compose
    from assayml.config.params_file import composed_yaml

    ours = composed_yaml(compose(["model=logreg", "seed=3"], REPO / "conf"))
    assert (tmp_path / "params.yaml").read_text() == ours


@pytest.mark.parametrize("name", ["dvc.lock", "params.yaml", "dvc.yaml"])
def test_dvc_reads_our_yaml_in_c_with_the_same_result(name: str) -> None:
    """ruamel.yaml 0.19.1 stopped requiring its C parser (pyproject asks for it): without
    it DVC parses dvc.lock about four times slower, and does so once per stage."""
    from dvc.utils.serialize._yaml import parse_yaml
    from ruamel.yaml import YAML
    from ruamel.yaml.main import CParser

    assert CParser is not None and YAML(typ="safe").Parser is CParser
    text = (REPO / name).read_text()
    assert parse_yaml(text, name) == YAML(typ="safe", pure=True).load(text)


@pytest.mark.slow
def test_repro_then_noop_then_exp_run_reruns_only_what_changed(
    reproduced_repo: tuple[Path, str], tmp_path: Path
) -> None:
    """Also: hashes that do not churn, and a run-cache that restores (issue 15, 1-2)."""
    original, first = reproduced_repo
    assert ran(first) == [
        "params",
        "prepare",
        "features",
        "train",
        "evaluate",
        "explain",
        "baseline",
    ]
    repo = copy_repo(original, tmp_path / "repo")  # reproduced and committed
    assert "Data and pipelines are up to date." in dvc_run(repo, "repro").stdout
    assert git(repo, "status", "--porcelain") == ""
    # Equal inputs, equal bytes: neither a forced rerun nor `assay run` changes what git or
    # DVC track (times, git state and machine facts go to .assay/stage_runs/, the audit
    # trail's head to refs/assay/audit).
    dvc_run(repo, "repro", "-f")
    assert git(repo, "status", "--porcelain") == ""
    run_env(repo, *ASSAY, "run")
    assert git(repo, "status", "--porcelain") == ""
    exp = dvc_run(repo, "exp", "run", "-S", "model.lr=0.003").stdout
    assert "prepare" not in ran(exp) and "features" not in ran(exp)
    assert {"train", "evaluate"} <= set(ran(exp))
    assert yaml.safe_load((repo / "params.yaml").read_text())["model"]["lr"] == 0.003
    shown = dvc_run(repo, "exp", "show", "--json").stdout
    assert "0.003" in shown
    lr_metrics = (repo / "metrics" / "evaluate.json").read_bytes()
    # Back to the committed workspace; the same params again come from the run-cache.
    git(repo, "checkout", "-q", ".")
    dvc_run(repo, "checkout", "-q")
    again = dvc_run(repo, "exp", "run", "-S", "model.lr=0.003").stdout
    assert ran(again) == []
    for stage in ("train", "evaluate", "explain", "baseline"):
        assert f"Stage '{stage}' is cached - skipping run, checking out outputs" in again
    assert (repo / "metrics" / "evaluate.json").read_bytes() == lr_metrics


@pytest.mark.slow
def test_stale_params_stop_repro_until_composed(
    reproduced_repo: tuple[Path, str], tmp_path: Path
) -> None:
    repo = copy_repo(reproduced_repo[0], tmp_path / "repo")
    mlp = repo / "conf" / "model" / "mlp.yaml"
    mlp.write_text(mlp.read_text().replace("lr: 0.001", "lr: 0.002"))
    stale = dvc_run(repo, "repro", check=False)
    assert stale.returncode != 0
    assert "params.yaml is stale" in stale.stderr + stale.stdout
    assert "model.lr" in stale.stderr + stale.stdout and "assay compose" in stale.stderr
    assert ran(stale.stdout) == ["params"]  # nothing trained on the old values
    run_env(repo, *ASSAY, "compose")
    fresh = dvc_run(repo, "repro").stdout
    assert ran(fresh) == ["params", "train", "evaluate", "explain", "baseline"]  # model.*


@pytest.mark.slow
def test_deliberate_overrides_in_params_yaml_are_not_stale(
    reproduced_repo: tuple[Path, str], tmp_path: Path
) -> None:
    repo = copy_repo(reproduced_repo[0], tmp_path / "repo")
    run_env(repo, *ASSAY, "compose", "model.lr=0.004")
    out = dvc_run(repo, "repro").stdout
    assert ran(out) == ["params", "train", "evaluate", "explain", "baseline"]
    card = json.loads((repo / "models" / "model_card.json").read_text())
    assert card["training"]["lr"] == 0.004


def weights_sha(repo: Path) -> str:
    return hashlib.sha256((repo / "models" / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_fresh_clone_reproduces_byte_identical_results(tmp_path: Path) -> None:
    """Data tracked by DVC and pushed to a local remote; a clone pulls it, reruns every stage
    and gets the same evaluate.json bytes and the same weights."""
    repo = make_project_repo(tmp_path / "repo")
    table = REPO / "tests" / "cli" / "loans.csv"
    (repo / "data" / "raw" / "loans.csv").write_bytes(table.read_bytes())
    (repo / "conf" / "data" / "loans.yaml").write_text(
        (REPO / "tests" / "cli" / "loans.yaml").read_text()
    )
    dvc_run(repo, "add", "-q", "data/raw/loans.csv")
    dvc_run(repo, "remote", "add", "-d", "local", str(tmp_path / "remote"))
    run_env(repo, *ASSAY, "compose", "data=loans")
    dvc_run(repo, "repro")
    dvc_run(repo, "push", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline on loans")
    clone = tmp_path / "clone"
    run_env(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    dvc_run(clone, "pull", "-q")
    assert "Data and pipelines are up to date." in dvc_run(clone, "repro").stdout
    dvc_run(clone, "repro", "--force")
    metrics = "metrics/evaluate.json"
    assert (clone / metrics).read_bytes() == (repo / metrics).read_bytes()
    assert weights_sha(clone) == weights_sha(repo)


@pytest.mark.slow
def test_prepare_reads_the_data_version_named_by_rev(tmp_path: Path) -> None:
    from tests.repo_helpers import commit_data_version

    repo = make_project_repo(tmp_path / "repo")
    (repo / "conf" / "data" / "loans.yaml").write_text(
        (REPO / "tests" / "cli" / "loans.yaml").read_text()
    )
    rows = (REPO / "tests" / "cli" / "loans.csv").read_text().splitlines(keepends=True)
    md5_v1 = commit_data_version(repo, "data/raw/loans.csv", "".join(rows[:301]), "v1")
    commit_data_version(repo, "data/raw/loans.csv", "".join(rows), "v2")
    run_env(repo, *ASSAY, "prepare", "data=loans", "data.rev=v1")
    profile = json.loads((repo / "data" / "prepared" / "profile.json").read_text())
    assert sum(profile["rows"].values()) == 300
    assert profile["data"]["md5"] == md5_v1 and profile["data"]["rev"] == "v1"
