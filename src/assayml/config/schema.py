"""Schemas of the config groups: dataclasses registered in Hydra's ConfigStore.

YAML under ``conf/`` only sets values; these classes say which keys exist, their types
and their ranges, so a misspelt key or a wrong type fails when the config is composed.
Checks that span several fields live in ``__post_init__`` and run when a composed config
is turned into these objects (``assayml.config.load.to_typed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING

# The data, explain and monitor schemas live in their own modules; re-exported here
# (``name as name``) so ``assayml.config.schema`` stays the one place to import from.
from assayml.config.data_schema import INSIGHT_KINDS as INSIGHT_KINDS
from assayml.config.data_schema import ColumnSpec as ColumnSpec
from assayml.config.data_schema import ColumnType as ColumnType
from assayml.config.data_schema import DataConfig as DataConfig
from assayml.config.data_schema import DataSource as DataSource
from assayml.config.data_schema import FileFormat as FileFormat
from assayml.config.data_schema import InsightsConfig as InsightsConfig
from assayml.config.data_schema import SplitConfig as SplitConfig
from assayml.config.data_schema import Task as Task
from assayml.config.debugger_schema import DebuggerConfig as DebuggerConfig
from assayml.config.debugger_schema import RuleAction as RuleAction
from assayml.config.explain_schema import BiasConfig as BiasConfig
from assayml.config.explain_schema import ExplainConfig as ExplainConfig
from assayml.config.mitigation_schema import MitigationConfig as MitigationConfig
from assayml.config.mitigation_schema import MitigationMethod as MitigationMethod
from assayml.config.monitor_schema import MonitorConfig as MonitorConfig
from assayml.config.trainer_schema import LightningTrainerArgs, check_owned_elsewhere


class Impute(Enum):
    median = "median"
    mean = "mean"
    zero = "zero"
    none = "none"  # a missing value at transform time is an error


class Scale(Enum):
    standard = "standard"  # (x - mean) / std, fitted on train
    minmax = "minmax"  # (x - min) / (max - min), fitted on train
    none = "none"


class CategoricalImpute(Enum):
    most_frequent = "most_frequent"
    constant = "constant"  # a category of its own, `fill_value`


class UnknownCategory(Enum):
    ignore = "ignore"  # encoded as all zeros
    error = "error"


@dataclass
class NumericFeaturesConfig:
    impute: Impute = Impute.median
    scale: Scale = Scale.standard
    log: list[str] = field(default_factory=list)  # columns taken through log1p first (>= 0)


@dataclass
class CategoricalFeaturesConfig:
    impute: CategoricalImpute = CategoricalImpute.most_frequent
    fill_value: str = "__missing__"  # the category used by impute=constant
    handle_unknown: UnknownCategory = UnknownCategory.ignore


@dataclass
class FeaturesConfig:
    include: list[str] = field(default_factory=list)  # empty: every declared input column
    exclude: list[str] = field(default_factory=list)  # dropped after include
    numeric: NumericFeaturesConfig = field(default_factory=NumericFeaturesConfig)
    categorical: CategoricalFeaturesConfig = field(default_factory=CategoricalFeaturesConfig)
    scale_target: bool = True  # regression: standardise the target on train, invert outputs


@dataclass
class TrainerConfig(LightningTrainerArgs):
    """Every ``lightning.pytorch.Trainer`` argument (see trainer_schema.py); ours differ
    from Lightning's defaults where set here."""

    accelerator: str = "cpu"  # cpu | gpu | auto (Lightning's names)
    devices: Any = 1  # count, list of ids, or "auto"
    strategy: str = "auto"  # auto | ddp | ddp_spawn ... (Lightning's names)
    num_nodes: int = 1
    precision: str = "32-true"  # 32-true | bf16-mixed | 16-mixed
    max_epochs: int = 30  # upper bound; early stopping usually ends sooner
    min_epochs: int = 1
    deterministic: bool = True  # reproducibility rule: never off on CPU
    gradient_clip_val: float | None = None
    enable_progress_bar: bool = True  # callbacks.progress_bar, unless --quiet
    num_sanity_val_steps: int | None = 0  # the first validation comes after epoch 1
    log_every_n_steps: int | None = 1  # the module logs epoch means only (module.py)

    def __post_init__(self) -> None:
        if self.max_epochs < 1 or self.min_epochs < 0 or self.min_epochs > self.max_epochs:
            raise ValueError("need 0 <= min_epochs <= max_epochs and max_epochs >= 1")
        if self.accumulate_grad_batches < 1:
            raise ValueError("accumulate_grad_batches must be at least 1")
        check_owned_elsewhere(self)


class MonitorMode(Enum):
    min = "min"
    max = "max"


@dataclass
class EarlyStoppingConfig:
    enabled: bool = True
    patience: int = 5  # validation checks without improvement before stopping
    min_delta: float = 0.0


@dataclass
class TrainConfig:
    batch_size: int = 64  # rows per optimisation step
    # Optimiser steps run inside one Lightning training step: Lightning's per-step dispatch
    # costs about as much as a small network's step, so we amortise it. Same data order and
    # arithmetic (bit-identical weights), public API only: a Lightning step is a group of
    # these, whose last goes through LightningOptimizer.step (global_step, batch hooks and
    # on_before_optimizer_step count groups; backward hooks do not fire). 1: plain
    # automatic optimisation, which train/fit.py:fused_steps also chooses wherever
    # something counts or watches single steps (max_steps, val_check_interval within an
    # epoch, step- or time-interval callbacks, a callback of the user's), and for
    # distributed strategies, 16-mixed precision, accumulate_grad_batches > 1 and a
    # per-step ReduceLROnPlateau.
    fused_steps: int = 32
    monitor: str = "val/loss"  # metric for early stopping and best-checkpoint selection
    mode: MonitorMode = MonitorMode.min
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    resume: bool = False  # continue from the last checkpoint in paths.checkpoints_dir

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.fused_steps < 1:
            raise ValueError(f"fused_steps must be positive, got {self.fused_steps}")


class LoggerKind(Enum):
    dvclive = "dvclive"
    csv = "csv"
    tensorboard = "tensorboard"
    mlflow = "mlflow"
    none = "none"
    many = "many"  # the kinds in `loggers`, at once


@dataclass
class LoggerConfig:
    name: LoggerKind = LoggerKind.dvclive
    save_dir: str = "${paths.out_dir}/dvclive"  # many: each of `loggers` in save_dir/<kind>
    experiment_name: str = "assay"  # tensorboard / mlflow experiment
    tracking_uri: str | None = None  # mlflow; None: a local store under save_dir
    loggers: list[LoggerKind] = field(default_factory=list)  # name=many: which, in order
    dvclive_dir: str = "${paths.out_dir}/dvclive"  # name=many: DVCLive's (dvc.yaml reads it)
    # Your own loggers, run besides the above: name -> {_target_: a Lightning Logger class,
    # its keyword arguments} (checked against its signature when training starts).
    custom: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kinds = [kind.name for kind in self.loggers]
        if self.name is LoggerKind.many:
            if not kinds or {"many", "none"} & set(kinds) or len(set(kinds)) != len(kinds):
                raise ValueError(
                    f"logger=many needs logger.loggers: distinct kinds among dvclive, csv, "
                    f"tensorboard, mlflow; got {kinds}"
                )
        elif kinds:
            raise ValueError(f"logger.loggers applies to logger=many, not logger={self.name.name}")


@dataclass
class EvaluateConfig:
    split: str = "test"  # train | val | test
    threshold: float = 0.5  # binary: probability of the positive class that predicts it
    # data: the plots' data only (JSON for dvc plots; the report draws them as SVG); png:
    # PNG figures beside them too (0.4-0.6 s more on the default config)
    figures: str = "data"

    def __post_init__(self) -> None:
        if self.split not in ("train", "val", "test"):
            raise ValueError(f"evaluate.split must be train, val or test, got {self.split!r}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"evaluate.threshold must lie in (0, 1), got {self.threshold}")
        if self.figures not in ("png", "data"):
            raise ValueError(f"evaluate.figures must be png or data, not {self.figures}")


class UncertaintyMethod(Enum):
    none = "none"  # one network: calibration metrics, no epistemic estimate
    mc_dropout = "mc_dropout"  # `samples` stochastic passes with dropout on (needs dropout > 0)
    ensemble = "ensemble"  # `members` networks, member i seeded with seed + i


@dataclass
class UncertaintyConfig:
    method: UncertaintyMethod = UncertaintyMethod.none
    samples: int = 50  # mc_dropout: stochastic passes T per prediction, >= 2
    members: int = 5  # ensemble: networks k, >= 2, trained together (vectorised)
    bootstrap: bool = False  # ensemble: each member trains on its own bootstrap resample
    interval: float = 0.9  # regression: level of the central predictive interval, (0, 1)
    gaussian_head: bool = True  # regression: predict mean and variance, Gaussian NLL loss

    def __post_init__(self) -> None:
        if self.samples < 2 or self.members < 2:
            raise ValueError(
                f"samples and members must be >= 2, got {self.samples}, {self.members}"
            )
        if not 0.0 < self.interval < 1.0:
            raise ValueError(f"interval must lie in (0, 1), got {self.interval}")


class CalibrationMethod(Enum):
    none = "none"
    temperature = "temperature"  # one T > 0 dividing the logits, fitted on val by NLL


@dataclass
class CalibrationConfig:
    method: CalibrationMethod = CalibrationMethod.none


@dataclass
class CVConfig:
    folds: int = 0  # K >= 2: K-fold cross-validation on train + val (test stays held out)

    def __post_init__(self) -> None:
        if self.folds < 0 or self.folds == 1:
            raise ValueError(f"cv.folds must be 0 (off) or at least 2, got {self.folds}")


@dataclass
class SearchParam:
    type: str = "float"  # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False  # sample on a log scale (low > 0)
    step: float | None = None  # grid step for float/int
    choices: list[Any] | None = None  # categorical values

    def __post_init__(self) -> None:
        if self.type not in ("float", "int", "categorical"):
            raise ValueError(f"search type must be float, int or categorical, not {self.type}")
        if self.type == "categorical" and not self.choices:
            raise ValueError("a categorical search parameter needs choices")
        if self.type != "categorical" and (self.low is None or self.high is None):
            raise ValueError(f"a {self.type} search parameter needs low and high")


@dataclass
class TuneConfig:
    # Set by the Optuna sweeper on each trial's job; null outside a search.
    storage: str | None = None  # the study's RDB URL (sqlite in the sweep folder)
    study: str | None = None
    trial_id: int | None = None
    prune_monitor: str | None = None  # validation metric reported each epoch for pruning
    pruner: str = "median"  # the study's pruner: median | none


class Direction(Enum):
    auto = "auto"  # from the metric: maximise accuracy, f1, auroc, r2...; minimise loss, mae, rmse
    maximize = "maximize"
    minimize = "minimize"


@dataclass
class ObjectiveConfig:
    # The figure that ranks sweep jobs and that hyperparameter search optimises: a key of
    # metrics/evaluate.json ("accuracy", "auroc", "rmse", ...), or "cv.<key>_mean" for
    # cross-validated runs. auto: accuracy for classification, rmse for regression.
    metric: str = "auto"
    direction: Direction = Direction.auto


RUN_STAGES = ("prepare", "features", "train", "evaluate", "explain", "baseline", "cv")


@dataclass
class RunConfig:
    # The stages `assay run` runs: auto | all | a list, e.g. [train, evaluate] (run in
    # pipeline order; the others' outputs are read from the workspace). auto: every stage
    # (+ cv when cv.folds >= 2) in a single run; in a sweep or search (-m) only those the
    # objective needs: prepare, features, train, evaluate (+ cv).
    stages: Any = "auto"
    # After a sweep or search of `assay run`: these stages run once, for the best job by
    # the objective, in that job's folder (skipping any its jobs ran already); [] for none.
    after_sweep: list[str] = field(default_factory=lambda: ["explain", "baseline"])

    def __post_init__(self) -> None:
        listed = self.stages if isinstance(self.stages, list) else []
        if not listed and self.stages not in ("auto", "all"):
            raise ValueError(f"run.stages: auto, all or a list of stages, not {self.stages!r}")
        for key, names in (("stages", listed), ("after_sweep", self.after_sweep)):
            unknown = [name for name in names if name not in RUN_STAGES]
            if unknown:
                raise ValueError(f"run.{key}: unknown stages {unknown}; stages: {RUN_STAGES}")


@dataclass
class PathsConfig:
    # Inputs (raw data, conf/) are read relative to root_dir; outputs go under out_dir,
    # which is the project root in pipeline mode and the job directory in a sweep.
    root_dir: str = "."
    out_dir: str = "."
    prepared_dir: str = "${paths.out_dir}/data/prepared"
    features_dir: str = "${paths.out_dir}/artifacts/features"
    models_dir: str = "${paths.out_dir}/models"
    checkpoints_dir: str = "${paths.out_dir}/checkpoints"
    metrics_dir: str = "${paths.out_dir}/metrics"
    plots_dir: str = "${paths.out_dir}/plots"
    records_dir: str = "${paths.out_dir}/records"  # one record per stage: what made it
    reports_dir: str = "${paths.out_dir}/reports"
    monitoring_dir: str = "${paths.out_dir}/monitoring"


@dataclass
class AssayConfig:
    seed: int = 42  # drives split, init, data order, dropout masks and ensemble members
    # DataConfig, or a user's LightningDataModule (config/user_modules.py): chosen in to_typed
    data: Any = MISSING
    features: FeaturesConfig = MISSING
    model: Any = MISSING  # per-model schema, see config/models.py
    trainer: TrainerConfig = MISSING
    logger: LoggerConfig = MISSING
    # name -> {_target_: a Lightning Callback class, its keyword arguments}, or null (off)
    callbacks: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)  # labels for the run: loggers, model card
    # A Lightning checkpoint under the project root: `assay train` resumes from it,
    # `assay evaluate` evaluates its weights instead of models/.
    ckpt_path: str | None = None
    paths: PathsConfig = field(default_factory=PathsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    cv: CVConfig = field(default_factory=CVConfig)
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    debugger: DebuggerConfig = field(default_factory=DebuggerConfig)  # training-debugger rules
    mitigation: MitigationConfig = field(default_factory=MitigationConfig)  # bias mitigation
    tune: TuneConfig = field(default_factory=TuneConfig)
    run: RunConfig = field(default_factory=RunConfig)  # which stages `assay run` runs

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
