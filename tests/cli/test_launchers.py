"""Cluster launchers: the SLURM config composes, validates against the plugin's schema and
turns into an sbatch script submitit accepts; its local twin runs a real sweep."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from assayml.config.store import register_configs
from tests.cli.test_sweeps import assay, summary
from tests.conftest import TINY

REPO = Path(__file__).resolve().parents[2]


def launcher_config(*overrides: str):
    from hydra import compose, initialize_config_dir

    register_configs()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    return cfg.hydra.launcher


def sbatch_script(launcher, folder: Path, monkeypatch) -> str:
    """The sbatch file hydra-submitit-launcher would submit, built by submitit itself from
    the parameters as the launcher passes them (an unknown one raises). submitit only looks
    for an ``srun`` on PATH before it writes the file; this machine is no cluster."""
    (folder / "bin").mkdir()
    (folder / "bin" / "srun").write_text("#!/bin/sh\nexit 1\n")
    (folder / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder / 'bin'}:{os.environ['PATH']}")
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    params = OmegaConf.to_container(launcher, resolve=True)
    for key in ("_target_", "submitit_folder", "max_num_timeout"):
        params.pop(key)
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    return executor._executor._make_submission_file_text("python -m job", "uid")


def test_slurm_launcher_composes_into_a_valid_sbatch_script(tmp_path: Path, monkeypatch) -> None:
    launcher = launcher_config(
        "hydra/launcher=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=4",
        "hydra.launcher.setup=[module load cuda]",
        f"hydra.sweep.dir={tmp_path}/sweep",
    )
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.submitit_folder == f"{tmp_path}/sweep/.submitit/%j"
    script = sbatch_script(launcher, tmp_path, monkeypatch)
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --time=120",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=16GB",
        "module load cuda",
    ):
        assert line in script, line


def test_a_misspelt_launcher_key_is_refused() -> None:
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="partiton"):
        launcher_config("hydra/launcher=slurm", "hydra.launcher.partiton=gpu")


@pytest.mark.slow
def test_the_same_sweep_runs_under_the_local_submitit_launcher(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(REPO / "conf", tmp_path / "conf")
    sweep = tmp_path / "sweep"
    result = assay(
        tmp_path,
        "run",
        "-m",
        "hydra/launcher=local",
        "seed=1,2",
        *TINY,
        "explain.methods=[integrated_gradients]",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(r["job"] for r in summary(sweep)) == ["0", "1"]
    assert all(r["status"] == "ok" for r in summary(sweep))
    logs = list((sweep / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2  # one submitit job per sweep job, as on a cluster
