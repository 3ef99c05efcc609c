"""The one table of pipeline stages.

The CLI (one subcommand per stage), ``assay run`` (all of them, in order) and the test that
checks ``dvc.yaml`` read this table. Functions are named by dotted path and imported on use,
so reading the table costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assayml.config.schema import AssayConfig
    from assayml.records import StageRecord


@dataclass(frozen=True)
class Stage:
    name: str
    function: str  # "module:function", called with the typed config
    summary: str  # one line for --help
    params: tuple[str, ...]  # the config keys the stage reads (DVC params)
    outputs: tuple[str, ...]  # paths config keys (or paths under them) the stage writes

    def load(self) -> Callable[[AssayConfig], StageRecord]:
        """The stage function (imported now: stages import heavy libraries)."""
        module, name = self.function.split(":")
        return getattr(importlib.import_module(module), name)

    def run(self, cfg: AssayConfig) -> StageRecord:
        return self.load()(cfg)


STAGES: tuple[Stage, ...] = (
    Stage(
        name="prepare",
        function="assayml.stages.prepare:run_prepare",
        summary="load the data version, validate its schema, split it with the seed",
        params=("seed", "data"),
        outputs=("prepared_dir",),
    ),
    Stage(
        name="features",
        function="assayml.stages.features:run_features",
        summary="fit the feature pipeline on train, transform every split",
        params=("features",),
        outputs=("features_dir",),
    ),
    Stage(
        name="train",
        function="assayml.stages.train:run_train",
        summary="train the model with Lightning; weights and model card",
        params=("seed", "model", "trainer", "train"),
        outputs=("models_dir",),
    ),
    Stage(
        name="evaluate",
        function="assayml.stages.evaluate:run_evaluate",
        summary="test metrics and plots",
        params=("evaluate",),
        outputs=("metrics_dir", "plots_dir"),
    ),
)

STAGE_NAMES = tuple(stage.name for stage in STAGES)


def get_stage(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)
