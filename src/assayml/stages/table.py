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


# The monitor keys the baseline's constraints hold: monitor.schedule, .alerts and the other
# operational keys (config/monitor_schema.py OPERATIONAL_KEYS) change how `assay monitor`
# runs, not the baseline, so they are no DVC params of it (a test keeps this list whole).
MONITOR_CHECKS = tuple(
    f"monitor.{key}"
    for key in (
        "numeric_test",
        "categorical_test",
        "alpha",
        "correction",
        "min_effect",
        "wasserstein_threshold",
        "js_threshold",
        "psi_threshold",
        "quality_tolerance",
        "attribution_ndcg",
        "attribution_rows",
        "bootstrap",
        "reference_rows",
        "histogram_bins",
        "in_memory_rows",
    )
)


@dataclass(frozen=True)
class Stage:
    name: str
    function: str  # "module:function", called with the typed config
    summary: str  # one line for --help
    params: tuple[str, ...]  # the config keys the stage reads (its DVC params)
    outputs: tuple[str, ...]  # what it writes, at the default paths (its DVC outs)
    code: tuple[str, ...]  # the source it runs (its DVC code deps)
    pipeline: bool = True  # a dvc.yaml stage; others run on request (`assay run` when enabled)

    def load(self) -> Callable[[AssayConfig], StageRecord]:
        """The stage function (imported now: stages import heavy libraries)."""
        module, name = self.function.split(":")
        return getattr(importlib.import_module(module), name)

    def run(self, cfg: AssayConfig) -> StageRecord:
        """Run the stage and log it in the audit trail (checked first: a log that cannot
        take the entry stops the stage before it writes anything)."""
        from assayml.audit import append, ensure_appendable
        from assayml.utils.recovery import recover_records

        ensure_appendable(cfg.paths.root_dir)
        # A commit a kill interrupted: put a record that agrees with the files back.
        restored = recover_records(cfg.paths.records_dir)
        if restored:
            append(
                cfg.paths.root_dir,
                "recover",
                str(cfg.paths.records_dir),
                details={"restored": [str(p) for p in restored]},
            )
        record = self.load()(cfg)
        append(
            cfg.paths.root_dir,
            f"stage.{self.name}",
            self.outputs[0],
            inputs=record.inputs,
            outputs=record.outputs,
            config_hash=record.config_hash,
            details={
                "seed": record.seed,
                "data_md5": record.data.get("md5"),
                "git_commit": record.git.get("commit"),
                # bias mitigation's method and before/after figures (train, explain)
                **{k: record.details[k] for k in ("mitigation",) if k in record.details},
            },
        )
        return record


STAGES: tuple[Stage, ...] = (
    Stage(
        name="prepare",
        function="assayml.stages.prepare:run_prepare",
        summary="load the data version, validate its schema, split it with the seed",
        params=("seed", "data", "explain.bias.group_by"),
        outputs=("data/prepared",),
        code=(
            "conf/schemas",  # data.schema: the declared columns
            "src/assayml/data",
            "src/assayml/utils/groups.py",
            "src/assayml/explain/bias_report.py",
            "src/assayml/stages/prepare.py",
            "src/assayml/stages/datamodule.py",
        ),
    ),
    Stage(
        name="features",
        function="assayml.stages.features:run_features",
        summary="fit the feature pipeline on train, transform every split",
        params=("features",),
        outputs=("artifacts/features",),
        code=(
            "src/assayml/features",
            "src/assayml/stages/features.py",
            "src/assayml/stages/datamodule.py",
        ),
    ),
    Stage(
        name="train",
        function="assayml.stages.train:run_train",
        summary="train the model with Lightning; weights and model card",
        params=(
            "seed",
            "model",
            "trainer",
            "callbacks",
            "train",
            "uncertainty",
            "calibration",
            "logger",
            "tags",
            "ckpt_path",
            "data.card",  # copied into the model card
            "debugger",  # its rules can stop training; their findings go into the card
            "mitigation",  # reweighing, or the post-processing fitted into models/
        ),
        outputs=("models",),
        code=(
            "src/assayml/models",
            "src/assayml/train",
            "src/assayml/uncertainty",
            "src/assayml/stages/train.py",
            "src/assayml/stages/train_module.py",
        ),
    ),
    Stage(
        name="evaluate",
        function="assayml.stages.evaluate:run_evaluate",
        summary="test metrics and plots",
        params=("evaluate", "ckpt_path"),
        outputs=("metrics/evaluate.json", "plots/evaluate"),
        code=(
            "src/assayml/evaluate",
            "src/assayml/models",
            "src/assayml/features",
            "src/assayml/uncertainty",
            "src/assayml/stages/evaluate.py",
            "src/assayml/stages/evaluate_module.py",
        ),
    ),
    Stage(
        name="explain",
        function="assayml.stages.explain:run_explain",
        summary="attributions, stability, counterfactuals, global explanations, bias",
        params=("seed", "explain", "data"),
        outputs=("reports/explain",),
        code=(
            "conf/schemas",  # data.schema: the declared columns
            "src/assayml/explain",
            "src/assayml/utils/groups.py",
            "src/assayml/stages/explain.py",
            "src/assayml/stages/explain_module.py",
        ),
    ),
    Stage(
        name="baseline",
        function="assayml.stages.baseline:run_baseline",
        summary="monitoring baseline: statistics, constraints, reference values",
        params=("seed", "explain", *MONITOR_CHECKS, "data"),
        outputs=("monitoring",),
        code=(
            "conf/schemas",  # data.schema: the declared columns
            "src/assayml/monitor",
            "src/assayml/utils/groups.py",
            "src/assayml/explain/bias_report.py",
            "src/assayml/stages/baseline.py",
            "src/assayml/stages/baseline_module.py",
        ),
    ),
    Stage(
        name="cv",
        function="assayml.stages.cv:run_cv",
        summary="K-fold cross-validation on train + val (cv.folds=K)",
        params=("seed", "features", "model", "trainer", "train", "uncertainty", "cv"),
        outputs=("metrics/cv.json",),
        code=("src/assayml/stages/cv.py",),
        pipeline=False,
    ),
)

PIPELINE = tuple(stage for stage in STAGES if stage.pipeline)
STAGE_NAMES = tuple(stage.name for stage in PIPELINE)


def stages_for(command: str, cfg: AssayConfig) -> tuple[str, ...]:
    """The stages a command runs: its own, or for ``run`` the pipeline plus the optional
    stages its config enables (``cv.folds >= 2``)."""
    if command != "run":
        return (command,)
    return STAGE_NAMES + (("cv",) if cfg.cv.folds >= 2 else ())


def get_stage(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)
