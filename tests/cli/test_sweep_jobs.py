"""Sweep jobs: a stage swept alone reads upstream outputs from the workspace and writes its
own into the job folder; sweeps run the objective's stages, then explain and baseline once
for the best job; every run and job saves the config it ran, paths resolved."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from assayml.cli.main import main
from assayml.config import compose, to_typed
from assayml.config.schema import RUN_STAGES
from assayml.errors import ConfigError
from assayml.experiments.sweep_jobs import job_stages, place_job, upstream_stages
from assayml.stages.table import STAGES, get_stage
from tests.conftest import REPO, TINY

EXPLAIN = (  # the smallest explain run that still writes its report
    "explain.methods=[integrated_gradients]",
    "explain.steps=10",
    "explain.rows=first:1",
    "explain.global_rows=10",
    "explain.permutation_repeats=1",
    "explain.dependence_columns=1",
    "explain.counterfactual_rows=0",
    "explain.samples=10",
)
OUTPUTS = ("data", "artifacts", "models", "checkpoints", "metrics", "plots", "reports",
           "monitoring", "records")  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose workspace holds prepared data, features, a model and its metrics."""
    root = tmp_path_factory.mktemp("workspace")
    shutil.copytree(REPO / "conf", root / "conf")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        cfg = to_typed(compose([*TINY, *EXPLAIN], root / "conf"))
        for name in ("prepare", "features", "train", "evaluate"):
            get_stage(name).run(cfg)
    return root


def fingerprint(root: Path) -> dict[str, str]:
    """md5 of every pipeline output in the workspace (the audit trail's head aside)."""
    files = [p for top in OUTPUTS for p in sorted((root / top).rglob("*")) if p.is_file()]
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in files if p.name != "audit_head.json"}  # fmt: skip


def sweep(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.chdir(root)
    return main([*args, *TINY, *EXPLAIN])


def saved_paths(job: Path) -> dict[str, str]:
    return yaml.safe_load((job / ".hydra" / "config.yaml").read_text())["paths"]


def test_job_stages_follow_run_stages_and_the_command(project: Path) -> None:
    cfg = compose([*TINY])
    assert job_stages("train", cfg, sweep=True) == ("train",)
    assert job_stages("run", cfg, sweep=False) == (
        "prepare", "features", "train", "evaluate", "explain", "baseline")  # fmt: skip
    assert job_stages("run", cfg, sweep=True) == ("prepare", "features", "train", "evaluate")
    assert job_stages("run", compose(["run.stages=all"]), sweep=True)[-1] == "baseline"
    assert job_stages("run", compose(["cv.folds=3"]), sweep=True)[-1] == "cv"
    assert job_stages("run", compose(["run.stages=[evaluate,train]"]), sweep=False) == (
        "train", "evaluate")  # fmt: skip
    assert upstream_stages(("evaluate",)) == ("prepare", "features", "train")
    assert upstream_stages(("prepare", "features")) == ()
    assert upstream_stages(("cv",)) == ("prepare", "features")  # cv fits its own features
    assert RUN_STAGES == tuple(stage.name for stage in STAGES)
    for bad in ("run.stages=[train,fit]", "run.stages=some", "run.after_sweep=[explian]"):
        with pytest.raises(ConfigError, match="run\\."):
            to_typed(compose([bad]))


def test_a_job_reads_upstream_folders_from_the_workspace_and_writes_its_own(
    project: Path,
) -> None:
    cfg = compose([*TINY, "paths.models_dir=elsewhere/models"])
    placed = place_job(cfg, "multirun/x/3", ("evaluate",))
    paths = to_typed(cfg).paths
    assert (paths.prepared_dir, paths.features_dir) == ("data/prepared", "artifacts/features")
    assert paths.models_dir == "elsewhere/models"  # a configured path is kept
    assert (paths.metrics_dir, paths.plots_dir, paths.records_dir, paths.reports_dir) == (
        "multirun/x/3/metrics", "multirun/x/3/plots", "multirun/x/3/records",
        "multirun/x/3/reports")  # fmt: skip
    assert placed["upstream"] == ("prepare", "features", "train")
    assert placed["workspace_records"] == "records"


def test_train_swept_alone_trains_from_the_workspace_into_each_job(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fingerprint(workspace)
    assert sweep(workspace, monkeypatch, "train", "-m", "seed=1,2",
                 "hydra.sweep.dir=sweeps/train") == 0  # fmt: skip
    for n in (0, 1):
        job = workspace / "sweeps" / "train" / str(n)
        assert (job / "models" / "model.safetensors").is_file()
        assert json.loads((job / "run.json").read_text())["status"] == "ok"
        paths = saved_paths(job)  # the config the job ran, not Hydra's `out_dir: .`
        assert paths["out_dir"] == f"sweeps/train/{n}"
        assert paths["models_dir"] == f"sweeps/train/{n}/models"
        assert paths["features_dir"] == "artifacts/features"
        # the job's records tell what its inputs were: the workspace's, copied
        assert (job / "records" / "features.json").read_bytes() == (
            workspace / "records" / "features.json"
        ).read_bytes()
    assert fingerprint(workspace) == before


@pytest.mark.slow
def test_evaluate_and_explain_swept_alone_write_only_their_job_folders(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fingerprint(workspace)
    assert sweep(workspace, monkeypatch, "evaluate", "-m", "evaluate.threshold=0.3,0.7",
                 "hydra.sweep.dir=sweeps/evaluate") == 0  # fmt: skip
    jobs = workspace / "sweeps" / "evaluate"
    recall = [json.loads((jobs / n / "metrics" / "evaluate.json").read_text())["recall"]
              for n in ("0", "1")]  # fmt: skip
    assert recall[0] >= recall[1]  # a lower threshold predicts the positive class more
    assert saved_paths(jobs / "0")["models_dir"] == "models"
    assert sweep(workspace, monkeypatch, "explain", "-m", "seed=1,2",
                 "hydra.sweep.dir=sweeps/explain") == 0  # fmt: skip
    for n in ("0", "1"):
        assert (
            workspace / "sweeps" / "explain" / n / "reports" / "explain" / "explain.json"
        ).is_file()
    assert fingerprint(workspace) == before


@pytest.mark.slow
def test_a_sweep_runs_the_objective_stages_then_explains_the_best_job(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sweep(project, monkeypatch, "run", "-m", "seed=1,2", "hydra.sweep.dir=s") == 0
    best = (project / "s" / "summary.csv").read_text().splitlines()[1].split(",")[0]
    for n in ("0", "1"):
        job = project / "s" / n
        run = json.loads((job / "run.json").read_text())
        assert run["stages"][:4] == ["prepare", "features", "train", "evaluate"]
        explained = (job / "reports" / "explain" / "explain.json").is_file()
        assert explained == (n == best) == (job / "monitoring").is_dir()
        if n == best:
            assert run["stages"][4:] == ["explain", "baseline"]
            assert run["after_sweep"]["exit_code"] == 0
    assert not (project / "models").exists() and not (project / "reports").exists()


@pytest.mark.slow
def test_run_stages_all_explains_every_job(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sweep(project, monkeypatch, "run", "-m", "seed=1,2", "run.stages=all",
                 "run.after_sweep=[explain,baseline]", "hydra.sweep.dir=s") == 0  # fmt: skip
    for n in ("0", "1"):
        run = json.loads((project / "s" / n / "run.json").read_text())
        assert run["stages"][-2:] == ["explain", "baseline"] and "after_sweep" not in run


def test_a_job_with_a_broken_path_fails_with_exit_2(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert sweep(project, monkeypatch, "train", "-m", "seed=1", "paths.models_dir=${nope}") == 2
    assert "'nope' not found" in capsys.readouterr().err  # not a traceback


def test_a_plain_run_saves_its_config_resolved(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sweep(project, monkeypatch, "prepare") == 0
    (saved,) = project.glob(".assay/runs/*/.hydra/config.yaml")
    text = saved.read_text()
    assert "${" not in text
    assert yaml.safe_load(text)["paths"]["prepared_dir"] == "./data/prepared"


@pytest.mark.slow
def test_a_search_runs_the_objective_stages_then_explains_the_best_trial(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = "hydra.sweeper.params={model.lr: {type: float, low: 1e-3, high: 3e-2, log: true}}"
    assert sweep(project, monkeypatch, "run", "-m", "hparams_search=optuna", space,
                 "hydra.sweeper.n_trials=2", "hydra.sweep.dir=s") == 0  # fmt: skip
    import optuna

    study = optuna.load_study(study_name="assay", storage=f"sqlite:///{project}/s/optuna.db")
    best = str(study.best_trial.number)
    for n in ("0", "1"):
        run = json.loads((project / "s" / n / "run.json").read_text())
        assert run["stages"][:4] == ["prepare", "features", "train", "evaluate"]
        assert (run["stages"][4:] == ["explain", "baseline"]) == (n == best)
        assert saved_paths(project / "s" / n)["out_dir"] == f"s/{n}"
