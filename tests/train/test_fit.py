"""Training: deterministic, seeded, fused steps equal to plain steps, best epoch kept."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from assayml.models.artifact import load_model, weights_bytes
from assayml.train.batches import TensorBatches
from assayml.train.fit import read_checkpoint
from tests import cli_fork
from tests.stages.helpers import run_stages


def weights_hash(models_dir) -> str:
    module, _ = load_model(models_dir)
    return hashlib.sha256(weights_bytes(module.state_dict())).hexdigest()


def test_batches_are_slices_in_a_seeded_order_per_epoch() -> None:
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    loader = TensorBatches(x, y, batch_size=4, shuffle=True, seed=1)
    first = [b[1].tolist() for b in loader]
    assert [len(b) for b in first] == [4, 4, 2] and len(loader) == 3
    assert first == [b[1].tolist() for b in loader]  # same epoch, same order
    loader.sampler.set_epoch(1)
    assert first != [b[1].tolist() for b in loader]
    assert sorted(i for batch in first for i in batch) == list(range(10))


def test_same_config_same_weights_other_seed_other_weights(make_cfg, project) -> None:
    cfg = make_cfg()
    run_stages(cfg, ("prepare", "features", "train"))
    first = weights_hash(project / "models")
    run_stages(cfg, ("train",))
    assert weights_hash(project / "models") == first
    run_stages(make_cfg("seed=1"), ("prepare", "features", "train"))
    assert weights_hash(project / "models") != first


@pytest.mark.parametrize("model", ["mlp", "logreg"])
def test_fused_steps_give_the_same_weights_as_plain_lightning_steps(
    make_cfg, project, model
) -> None:
    run_stages(make_cfg(f"model={model}"), ("prepare", "features"))
    run_stages(
        make_cfg(f"model={model}", "train.fused_steps=1", "trainer.gradient_clip_val=0.5"),
        ("train",),
    )
    plain = weights_hash(project / "models")
    run_stages(
        make_cfg(f"model={model}", "train.fused_steps=4", "trainer.gradient_clip_val=0.5"),
        ("train",),
    )
    assert weights_hash(project / "models") == plain


@pytest.mark.parametrize("fused", [1, 4])
def test_global_step_counts_optimiser_steps(make_cfg, fused) -> None:
    """The record's steps are optimiser steps, fused or not (fused, global_step counts
    groups of them)."""
    records = run_stages(
        make_cfg(f"train.fused_steps={fused}", "train.batch_size=32"),
        ("prepare", "features", "train"),
    )
    details = records["train"].details
    assert details["steps"] == details["epochs"] * math.ceil(details["rows"]["train"] / 32)


def test_the_saved_weights_are_the_best_epochs(make_cfg, project) -> None:
    records = run_stages(make_cfg("trainer.max_epochs=6"), ("prepare", "features", "train"))
    best_state, best_epoch = read_checkpoint(str(project / "checkpoints" / "best.ckpt"))
    module, _ = load_model(project / "models")
    assert records["train"].details["best_epoch"] == best_epoch
    assert all(torch.equal(module.state_dict()[k], v) for k, v in best_state.items())


def test_early_stopping_ends_training(make_cfg) -> None:
    cfg = make_cfg(
        "trainer.max_epochs=50",
        "train.early_stopping.patience=2",
        "train.early_stopping.min_delta=10",
    )
    records = run_stages(cfg, ("prepare", "features", "train"))
    assert records["train"].details["stopped_early"]
    assert records["train"].details["epochs"] == 3


def test_dvclive_logger_writes_epoch_metrics(make_cfg, project) -> None:
    import json

    run_stages(make_cfg("logger=dvclive"), ("prepare", "features", "train"))
    metrics = json.loads((project / "dvclive" / "metrics.json").read_text())
    assert {"train", "val"} <= set(metrics) and "loss" in metrics["val"]
    assert (project / "dvclive" / "plots" / "metrics" / "val" / "loss.tsv").is_file()


@pytest.mark.parametrize("logger", ["csv", "tensorboard", "mlflow"])
def test_other_loggers_run(make_cfg, project, logger) -> None:
    run_stages(
        make_cfg(f"logger={logger}", "trainer.max_epochs=1"), ("prepare", "features", "train")
    )
    assert any((project / "logs" / logger).rglob("*"))


def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(make_cfg, project) -> None:
    """Stopped after epoch 2 (as a kill between epochs leaves it) and resumed to epoch 5:
    same weights as five epochs straight, dropout and data order included."""
    base = ("model.dropout=0.3", "train.early_stopping.enabled=false", "train.batch_size=32")
    run_stages(make_cfg(*base, "trainer.max_epochs=5"), ("prepare", "features", "train"))
    straight = weights_hash(project / "models")
    run_stages(make_cfg(*base, "trainer.max_epochs=2"), ("train",))
    assert weights_hash(project / "models") != straight
    records = run_stages(make_cfg(*base, "trainer.max_epochs=5", "train.resume=true"), ("train",))
    assert records["train"].details["epochs"] == 5
    assert records["train"].details["resumed_from"].endswith("last.ckpt")
    assert weights_hash(project / "models") == straight


def test_resuming_under_another_config_is_refused(make_cfg, project) -> None:
    from assayml.errors import ArtifactError

    run_stages(make_cfg("trainer.max_epochs=2"), ("prepare", "features", "train"))
    with pytest.raises(ArtifactError, match=r"another config \(differs at model\.lr\)"):
        run_stages(
            make_cfg("trainer.max_epochs=4", "train.resume=true", "model.lr=0.01"), ("train",)
        )


@pytest.mark.slow
def test_a_killed_training_run_resumes_from_its_last_checkpoint(make_cfg, project) -> None:
    """A real kill (SIGKILL mid-run), then `assay train train.resume=true`."""
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import TINY, cli_env

    base = [
        "model.dropout=0.3",
        "train.early_stopping.enabled=false",
        "train.batch_size=8",
        "train.fused_steps=1",
    ]
    run_stages(make_cfg(*base), ("prepare", "features"))
    args = [
        sys.executable,
        "-m",
        "assayml.cli.main",
        "train",
        *TINY,
        *base,
        "trainer.max_epochs=40",
        "trainer.enable_progress_bar=true",
    ]
    proc = cli_fork.popen(args, cwd=project, env=cli_env(), stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # wait for a few finished epochs, then kill without warning
        if line.startswith("epoch 4/40"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    time.sleep(0.1)
    assert (project / "checkpoints" / "last.ckpt").is_file()
    resumed = cli_fork.run(
        [*args[:-1], "train.resume=true"],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    straight_dir = project / "straight"
    run_stages(
        make_cfg(
            *base,
            "trainer.max_epochs=40",
            f"paths.models_dir={straight_dir}",
            "paths.checkpoints_dir=ck2",
        ),
        ("train",),
    )
    assert weights_hash(project / "models") == weights_hash(straight_dir)
