"""The trainer group: every Lightning Trainer argument, typos refused; ckpt_path."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assayml.cli.main import main
from assayml.config import compose, to_typed
from assayml.config.schema import TrainerConfig
from assayml.config.trainer_schema import render, stored_block
from assayml.errors import BadInputError, ConfigError
from tests.stages.helpers import run_stages


def test_the_stored_fields_are_the_installed_trainers_arguments() -> None:
    """If this fails after upgrading Lightning: python -m assayml.config.trainer_schema."""
    from assayml.config import trainer_schema
    from assayml.config.trainer_schema import live_arguments

    assert render() == stored_block(Path(trainer_schema.__file__).read_text())
    assert {f.name for f in dataclasses.fields(TrainerConfig)} == set(live_arguments())


def test_composing_imports_no_lightning(project: Path) -> None:
    code = (
        "import sys; from assayml.config import compose, to_typed; "
        "to_typed(compose(['trainer.accumulate_grad_batches=2'])); "
        "print('lightning' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_any_trainer_argument_is_a_key(make_cfg) -> None:
    cfg = make_cfg(
        "trainer.check_val_every_n_epoch=2",
        "trainer.fast_dev_run=true",
        "trainer.profiler=simple",
        "trainer.detect_anomaly=true",
        "trainer.overfit_batches=2",
        "trainer.limit_test_batches=3",
        "trainer.limit_train_batches=5",
    )
    t = cfg.trainer
    assert (t.check_val_every_n_epoch, t.fast_dev_run, t.profiler) == (2, True, "simple")
    assert (t.detect_anomaly, t.overfit_batches, t.limit_test_batches) == (True, 2, 3)
    assert t.limit_train_batches == 5 and isinstance(t.limit_train_batches, int)  # a count
    assert (t.deterministic, t.max_epochs, t.num_sanity_val_steps) == (True, 3, 0)  # ours


def test_a_misspelt_trainer_key_exits_2_naming_it(project: Path, capsys) -> None:
    assert main(["train", "trainer.max_epoch=3"]) == 2
    assert "max_epoch" in capsys.readouterr().err


@pytest.mark.parametrize("key", ["callbacks", "logger", "default_root_dir", "plugins"])
def test_arguments_other_groups_own_are_refused_saying_where(project: Path, key) -> None:
    with pytest.raises(ConfigError, match=f"trainer.{key} is not set here: use"):
        to_typed(compose([f"trainer.{key}=x"]))


def test_a_bad_trainer_value_is_a_config_error(make_cfg) -> None:
    with pytest.raises(ConfigError, match="trainer:"):
        run_stages(make_cfg("trainer.profiler=nonsense"), ("prepare", "features", "train"))


def test_accumulate_grad_batches_reaches_the_trainer(make_cfg) -> None:
    """Four batches per optimiser step: a quarter of the steps (fused steps give way)."""
    base = ("train.batch_size=32", "trainer.max_epochs=2")
    plain = run_stages(make_cfg(*base), ("prepare", "features", "train"))["train"].details
    accumulated = run_stages(make_cfg(*base, "trainer.accumulate_grad_batches=4"), ("train",))
    details = accumulated["train"].details
    batches = math.ceil(plain["rows"]["train"] / 32)
    assert plain["steps"] == 2 * batches
    assert details["steps"] == 2 * math.ceil(batches / 4)


def test_ckpt_path_resumes_training_from_that_checkpoint(make_cfg, project) -> None:
    base = ("train.early_stopping.enabled=false",)
    run_stages(make_cfg(*base, "trainer.max_epochs=2"), ("prepare", "features", "train"))
    shutil.copy(project / "checkpoints" / "last.ckpt", project / "epoch2.ckpt")
    records = run_stages(
        make_cfg(*base, "trainer.max_epochs=4", "ckpt_path=epoch2.ckpt"), ("train",)
    )
    assert records["train"].details["epochs"] == 4
    assert records["train"].details["resumed_from"].endswith("epoch2.ckpt")


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.ckpt", "missing.ckpt"])
def test_ckpt_path_outside_the_project_or_missing_is_refused(make_cfg, project, path) -> None:
    (project.parent / "outside.ckpt").write_bytes(b"")
    run_stages(make_cfg(), ("prepare", "features"))
    with pytest.raises(BadInputError, match="ckpt_path"):
        run_stages(make_cfg(f"ckpt_path={path}"), ("train",))


def test_evaluate_ckpt_path_evaluates_that_checkpoints_weights(make_cfg, project) -> None:
    base = ("train.early_stopping.enabled=false",)
    run_stages(make_cfg(*base, "trainer.max_epochs=1"), ("prepare", "features", "train"))
    shutil.copy(project / "checkpoints" / "last.ckpt", project / "epoch1.ckpt")
    run_stages(make_cfg(*base, "trainer.max_epochs=6"), ("train", "evaluate"))

    def metrics() -> dict:
        found = json.loads((project / "metrics" / "evaluate.json").read_text())
        return {k: v for k, v in found.items() if isinstance(v, float)}

    saved = metrics()
    run_stages(make_cfg(*base, "ckpt_path=checkpoints/best.ckpt"), ("evaluate",))
    assert metrics() == saved  # the best checkpoint is the saved model
    record = run_stages(make_cfg(*base, "ckpt_path=epoch1.ckpt"), ("evaluate",))["evaluate"]
    assert metrics() != saved
    assert record.details["ckpt_path"] == "epoch1.ckpt"
