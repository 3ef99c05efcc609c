"""Every argument of ``lightning.pytorch.Trainer``, as a schema for the ``trainer`` group.

The fields below are generated from ``Trainer.__init__``'s signature and stored here rather
than derived when a config is composed: deriving needs ``import lightning`` (~4 s on this
machine), and composing (``assay compose --check``, ``dvc exp run``, ``--cfg job``) costs
under a second without it. ``tests/train/test_trainer_config.py`` checks the stored fields
against the installed Lightning; after upgrading it, regenerate them with
``python -m assayml.config.trainer_schema``. Scalars keep their types (OmegaConf checks
them); anything richer (unions, literals, objects) is ``Any`` and Lightning checks it.

Arguments that another config group owns (:data:`OWNED_ELSEWHERE`) are fields too, so that
setting one fails with a message saying where it belongs instead of "key not found".
"""

from __future__ import annotations

import inspect
import json
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# argument -> where it is configured instead
OWNED_ELSEWHERE = {
    "logger": "the logger group (logger=csv, logger=many, logger.custom.<name>)",
    "callbacks": "the callbacks group (callbacks.<name>._target_=...)",
    "plugins": "assayml (cluster environments for SLURM and torchrun)",
    "default_root_dir": "paths.checkpoints_dir",
    "enable_checkpointing": "callbacks.model_checkpoint (null: no checkpoints)",
    "enable_model_summary": "callbacks.model_summary (null: no summary)",
}

BEGIN, END = "# BEGIN GENERATED", "# END GENERATED"


# BEGIN GENERATED from lightning.pytorch.Trainer.__init__ (lightning 2.6.6)
@dataclass
class LightningTrainerArgs:
    """Lightning's defaults; ``TrainerConfig`` (schema.py) overrides some."""

    accelerator: Any = "auto"
    strategy: Any = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    precision: Any = None
    logger: Any = None
    callbacks: Any = None
    fast_dev_run: Any = False
    max_epochs: int | None = None
    min_epochs: int | None = None
    max_steps: int = -1
    min_steps: int | None = None
    max_time: Any = None
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    limit_predict_batches: Any = None
    overfit_batches: Any = 0.0
    val_check_interval: Any = None
    check_val_every_n_epoch: int | None = 1
    num_sanity_val_steps: int | None = None
    log_every_n_steps: int | None = None
    enable_checkpointing: bool | None = None
    enable_progress_bar: bool | None = None
    enable_model_summary: bool | None = None
    accumulate_grad_batches: int = 1
    gradient_clip_val: Any = None
    gradient_clip_algorithm: str | None = None
    deterministic: Any = None
    benchmark: bool | None = None
    inference_mode: bool = True
    use_distributed_sampler: bool = True
    profiler: Any = None
    detect_anomaly: bool = False
    barebones: bool = False
    plugins: Any = None
    sync_batchnorm: bool = False
    reload_dataloaders_every_n_epochs: int = 0
    default_root_dir: Any = None
    enable_autolog_hparams: bool = True
    model_registry: str | None = None


# END GENERATED


def check_owned_elsewhere(args: Any) -> None:
    """Refuse a value for an argument another group owns (``__post_init__`` of the schema)."""
    for name, where in OWNED_ELSEWHERE.items():
        if getattr(args, name) is not None:
            raise ValueError(f"trainer.{name} is not set here: use {where}")


def live_arguments() -> dict[str, inspect.Parameter]:
    """``Trainer.__init__``'s parameters in the installed Lightning (imports it)."""
    from lightning.pytorch import Trainer

    params = inspect.signature(Trainer.__init__).parameters
    return {name: p for name, p in params.items() if name != "self"}


def schema_type(annotation: Any) -> str:
    """The field type for a parameter: plain scalars and optional scalars; else ``Any``."""
    scalars = {int: "int", float: "float", str: "str", bool: "bool"}
    if annotation in scalars:
        return scalars[annotation]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Union and len(args) == 2 and type(None) in args:
        inner = next(a for a in args if a is not type(None))
        if inner in scalars:
            return f"{scalars[inner]} | None"
    return "Any"


def render() -> str:
    """The generated block for the installed Lightning."""
    import lightning

    lines = [
        f"{BEGIN} from lightning.pytorch.Trainer.__init__ (lightning {lightning.__version__})",
        "@dataclass",
        "class LightningTrainerArgs:",
        '    """Lightning\'s defaults; ``TrainerConfig`` (schema.py) overrides some."""',
        "",
    ]
    for name, param in live_arguments().items():
        default = json.dumps(param.default) if isinstance(param.default, str) else param.default
        lines.append(f"    {name}: {schema_type(param.annotation)} = {default!s}")
    return "\n".join([*lines, "", "", END])  # the blank lines ruff format wants


def stored_block(text: str) -> str:
    # Markers at the start of a line: not the constants above.
    start, end = text.index(f"\n{BEGIN} ") + 1, text.index(f"\n{END}\n") + 1
    return text[start : end + len(END)]


def main() -> int:
    """Rewrite the generated block of this file for the installed Lightning."""
    path = Path(__file__)
    text = path.read_text()
    path.write_text(text.replace(stored_block(text), render()))
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
