"""The debug group (quick runs that never touch the pipeline's outputs) and conf/local/."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from assayml.config import compose, to_typed
from tests.conftest import REPO
from tests.stages.helpers import fingerprint, run_stages

DEBUG = sorted(p.stem for p in (REPO / "conf" / "debug").glob("*.yaml"))


@pytest.mark.parametrize("name", DEBUG)
def test_every_debug_config_composes_and_writes_under_debug(project: Path, name: str) -> None:
    cfg = to_typed(compose([f"debug={name}"]))
    assert Path(cfg.paths.out_dir) == Path("debug") / name
    for folder in ("prepared_dir", "features_dir", "models_dir", "checkpoints_dir"):
        assert Path(getattr(cfg.paths, folder)).parts[:2] == ("debug", name)
    assert cfg.trainer.detect_anomaly and "debug" in cfg.tags


def test_a_debug_run_leaves_the_pipeline_outputs_alone(make_cfg, project: Path) -> None:
    run_stages(make_cfg(), ("prepare", "features", "train"))
    before = fingerprint(project)
    checkpoints = sorted(p.name for p in (project / "checkpoints").iterdir())
    debug = make_cfg("debug=fdr")
    assert debug.trainer.fast_dev_run is True
    records = run_stages(debug, ("prepare", "features", "train", "evaluate"))
    assert (
        records["train"].details["epochs"] == 1 and records["train"].details["best_epoch"] is None
    )
    assert (project / "debug" / "fdr" / "models" / "model.safetensors").is_file()
    assert fingerprint(project) == before
    assert sorted(p.name for p in (project / "checkpoints").iterdir()) == checkpoints


@pytest.mark.parametrize("name", ["overfit", "limit"])
def test_overfit_and_limit_runs_train(make_cfg, project: Path, name: str) -> None:
    cfg = make_cfg(f"debug={name}", "trainer.max_epochs=2")
    records = run_stages(cfg, ("prepare", "features", "train"))
    assert records["train"].details["epochs"] == 2


def test_local_settings_apply_when_present_and_stay_out_of_git(project: Path) -> None:
    assert to_typed(compose([])).seed == 42
    (project / "conf" / "local" / "default.yaml").write_text("# @package _global_\nseed: 7\n")
    assert to_typed(compose([])).seed == 7
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "conf/local/default.yaml"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0
    kept = subprocess.run(
        ["git", "check-ignore", "-q", "conf/local/example.yaml"], cwd=REPO, check=False
    )
    assert kept.returncode == 1
