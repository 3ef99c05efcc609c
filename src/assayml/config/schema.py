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

from assayml.config.trainer_schema import LightningTrainerArgs, check_owned_elsewhere


class DataSource(Enum):
    builtin = "builtin"  # a set bundled with scikit-learn, or our seeded generator
    file = "file"  # CSV or Parquet at ``data.path`` (normally tracked by DVC)


class FileFormat(Enum):
    auto = "auto"  # from the file's suffix
    csv = "csv"
    parquet = "parquet"


class Task(Enum):
    auto = "auto"  # inferred from the target column (see data/sources.py)
    binary = "binary"
    multiclass = "multiclass"
    regression = "regression"


class ColumnType(Enum):
    float = "float"
    int = "int"
    bool = "bool"
    category = "category"  # strings from a known set; one-hot encoded
    str = "str"  # free text; never a model input


@dataclass
class ColumnSpec:
    dtype: ColumnType = ColumnType.float
    nullable: bool = False  # missing values allowed in the raw data
    min: float | None = None  # inclusive lower bound
    max: float | None = None  # inclusive upper bound
    allowed: list[str] | None = None  # the category set, for category/str columns

    def __post_init__(self) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.allowed is not None and self.dtype not in (ColumnType.category, ColumnType.str):
            raise ValueError(f"'allowed' applies to category/str columns, not {self.dtype.name}")


@dataclass
class SplitConfig:
    train: float = 0.7  # fraction of rows, (0, 1)
    val: float = 0.15  # used for early stopping, checkpoint selection and calibration
    test: float = 0.15  # held out for `assay evaluate`
    stratify: bool = True  # stratify on the target for classification tasks

    def __post_init__(self) -> None:
        fractions = (self.train, self.val, self.test)
        if any(not 0.0 < f < 1.0 for f in fractions):
            raise ValueError(f"split fractions must lie in (0, 1), got {fractions}")
        if abs(sum(fractions) - 1.0) > 1e-9:
            raise ValueError(f"split fractions must sum to 1, got {sum(fractions)}")


INSIGHT_KINDS = (
    "id_like",
    "constant",
    "duplicate_rows",
    "target_leakage",
    "class_imbalance",
    "high_cardinality",
    "mixed_types",
    "high_missing",
)


@dataclass
class InsightsConfig:
    """Data-quality insights at prepare (see data/insights.py for the kinds)."""

    enabled: bool = True
    drop_id_like: bool = False  # drop id_like columns (never the target or a sensitive one)
    fail_on: list[str] = field(default_factory=list)  # kinds that stop prepare (exit 2)
    leakage_auroc: float = 0.95  # univariate AUROC at or above this: target_leakage
    leakage_spearman: float = 0.95  # |Spearman| at or above this (regression)
    imbalance_ratio: float = 0.1  # rarest class / commonest class below this: class_imbalance
    high_cardinality: int = 50  # more distinct text values than this: high_cardinality
    high_missing: float = 0.2  # more than this share missing: high_missing

    def __post_init__(self) -> None:
        unknown = [k for k in self.fail_on if k not in INSIGHT_KINDS]
        if unknown:
            raise ValueError(f"insights.fail_on: unknown kinds {unknown}; kinds: {INSIGHT_KINDS}")
        for name in ("leakage_auroc", "leakage_spearman", "imbalance_ratio", "high_missing"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"insights.{name} must lie in [0, 1]")


@dataclass
class DataConfig:
    name: str = MISSING  # builtin: breast_cancer | wine | diabetes | digits | credit_synthetic
    source: DataSource = DataSource.builtin
    path: str | None = None  # file source: CSV/Parquet, relative to the project root
    format: FileFormat = FileFormat.auto
    rev: str | None = None  # git revision to read `path` at, through dvc.api.open
    target: str = MISSING  # label column
    task: Task = Task.auto
    # conf/schemas/NAME.yaml: the declared columns, kept out of params (column_schemas.py)
    schema: str | None = None
    columns: dict[str, ColumnSpec] = field(default_factory=dict)  # declared, or changes to it
    sensitive: list[str] = field(default_factory=list)  # protected attributes (bias reports)
    # sensitive column -> its reference group, typed as you like (1, "1" and 1.0 match 1.0)
    reference_groups: dict[str, Any] = field(default_factory=dict)
    image_shape: list[int] | None = None  # e.g. [8, 8]: features are the pixels, row-major
    split: SplitConfig = field(default_factory=SplitConfig)
    n_rows: int | None = None  # credit_synthetic only: rows to generate, >= 100
    bias: float = 0.0  # credit_synthetic only: injected gap in positive-label rate, [0, 0.5]
    generator_seed: int = 0  # credit_synthetic only: fixes the data, apart from `seed`
    # Parquet larger than memory: read, validated, split and transformed in record batches
    # (see data/streaming.py); `sample_rows` train rows are kept for what needs a table.
    streaming: bool = False
    sample_rows: int = 100_000
    insights: InsightsConfig = field(default_factory=InsightsConfig)

    def __post_init__(self) -> None:
        if self.source is DataSource.file and not self.path:
            raise ValueError("a file source needs data.path")
        if self.streaming and self.source is not DataSource.file:
            raise ValueError("data.streaming reads a Parquet file: set data.source=file")
        if self.streaming and self.insights.drop_id_like:
            raise ValueError(
                "data.insights.drop_id_like needs the whole table; with data.streaming declare "
                "data.columns without the identifier instead"
            )
        if self.sample_rows < 1000:
            raise ValueError(f"sample_rows must be at least 1000, got {self.sample_rows}")
        if self.rev is not None and self.source is not DataSource.file:
            raise ValueError("data.rev applies to file sources only")
        if self.target in self.sensitive:
            raise ValueError(f"target '{self.target}' cannot also be a sensitive attribute")
        if self.columns and self.target not in self.columns:
            raise ValueError(f"target '{self.target}' is not among the declared columns")
        for col in [*self.sensitive, *self.reference_groups]:
            if self.columns and col not in self.columns:
                raise ValueError(f"sensitive column '{col}' is not among the declared columns")
        if not 0.0 <= self.bias <= 0.5:
            raise ValueError(f"bias must lie in [0, 0.5], got {self.bias}")
        if self.n_rows is not None and self.n_rows < 100:
            raise ValueError(f"n_rows must be at least 100, got {self.n_rows}")


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

    def __post_init__(self) -> None:
        if self.split not in ("train", "val", "test"):
            raise ValueError(f"evaluate.split must be train, val or test, got {self.split!r}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"evaluate.threshold must lie in (0, 1), got {self.threshold}")


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


def _default_thresholds() -> dict[str, list[float]]:
    # Allowed ranges [low, high]; outside one, the metric is flagged. DI: the four-fifths
    # rule; differences in rates: at most 0.1 either way.
    bounds = {
        name: [-0.1, 0.1]
        for name in (
            "DPL",
            "DPPL",
            "RD",
            "SD",
            "AD",
            "DCAcc",
            "DCR",
            "DAR",
            "DRR",
            "CDDL",
            "CDDPL",
            "FT",
        )
    }
    return {**bounds, "DI": [0.8, 1.25]}


@dataclass
class BiasConfig:
    positive_label: Any = None  # the favourable outcome; null: the last class (1 for 0/1)
    group_by: str | None = None  # a column whose strata condition CDDL and CDDPL
    thresholds: dict[str, list[float]] = field(default_factory=_default_thresholds)
    # Rows whose sensitive value is missing: "group" (their own group, named "missing")
    # or "drop" (left out of that facet's metrics; their count is reported).
    missing: str = "group"

    def __post_init__(self) -> None:
        if self.missing not in ("group", "drop"):
            raise ValueError(f"bias.missing must be 'group' or 'drop', got {self.missing!r}")


@dataclass
class ExplainConfig:
    # integrated_gradients | kernel_shap | lime | saliency | deeplift | gradient_shap |
    # occlusion (images)
    methods: list[str] = field(default_factory=lambda: ["integrated_gradients", "kernel_shap"])
    rows: Any = "first:5"  # [indices] | first:k | most_uncertain:k | misclassified:k
    split: str = "test"  # the split rows are taken from
    target: Any = "predicted"  # the class explained: predicted, or a class label
    baseline: str = "mean"  # zeros | mean (training mean) | kmeans (a background set)
    background: int = 10  # k-means background rows (baseline=kmeans)
    samples: int = 200  # KernelSHAP / LIME perturbations per row, >= 10
    steps: int = 300  # Integrated Gradients steps, >= 2 (completeness error ~ 1 / steps)
    global_rows: int = 100  # rows behind mean |SHAP| and the dependence curves
    permutation_repeats: int = 10
    dependence_columns: int = 3  # PDP/ICE for the top columns by mean |SHAP|
    surrogate_depth: int = 3
    stability_noise: float = 0.05  # perturbation scale (standardised units)
    stability_threshold: float = 0.7  # mean Spearman below this flags a row as unstable
    counterfactual_rows: int = 3  # of the explained rows, the first k get a counterfactual
    immutable: list[str] | None = None  # never changed by counterfactuals; null: sensitive
    seed: int | None = None  # null: the run's seed
    # png: PNG figures and their data (JSON records for dvc plots); data: the data only,
    # no matplotlib (about 1 s less on the default config; the report then has no figures)
    figures: str = "png"
    bias: BiasConfig = field(default_factory=BiasConfig)

    def __post_init__(self) -> None:
        if self.figures not in ("png", "data"):
            raise ValueError(f"explain.figures must be png or data, not {self.figures}")
        unknown = set(self.methods) - {
            "integrated_gradients",
            "kernel_shap",
            "lime",
            "saliency",
            "deeplift",
            "gradient_shap",
            "occlusion",  # image inputs (a user's DataModule): patches masked in turn
        }
        if unknown:
            raise ValueError(f"unknown explain.methods {sorted(unknown)}")
        if self.baseline not in ("zeros", "mean", "kmeans"):
            raise ValueError(f"explain.baseline must be zeros, mean or kmeans, not {self.baseline}")
        if self.samples < 10 or self.steps < 2:
            raise ValueError("explain.samples must be >= 10 and explain.steps >= 2")
        selector = str(self.rows) if isinstance(self.rows, str) else None
        if selector is not None and selector.split(":")[0] not in (
            "first",
            "most_uncertain",
            "misclassified",
        ):
            raise ValueError(
                f"explain.rows: a list of indices, or first:k, most_uncertain:k "
                f"or misclassified:k, not {selector!r}"
            )


@dataclass
class MonitorConfig:
    numeric_test: str = "ks"  # ks (p-value) | wasserstein (distance in sd, vs threshold)
    categorical_test: str = "chi2"  # chi2 (p-value) | js | psi (distances vs thresholds)
    alpha: float = 0.05  # false-alarm rate across all features (multiple testing)
    correction: str = "bh"  # bh (Benjamini-Hochberg) | bonferroni | none
    min_effect: float = 0.1  # KS D / total variation a significant shift must reach
    wasserstein_threshold: float = 0.2  # reference sd
    js_threshold: float = 0.1
    psi_threshold: float = 0.2
    quality_tolerance: float = 0.05  # allowed drop of the primary metric (labels given)
    attribution_ndcg: float = 0.9  # attribution ranking similarity below this: violation
    attribution_rows: int = 200  # current rows explained for attribution drift
    bootstrap: int = 200  # resamples for metric spreads and bias intervals
    reference_rows: int = 1_000_000  # training rows kept as the numeric reference
    histogram_bins: int = 20
    in_memory_rows: int = 1_000_000  # a larger Parquet input is read a column at a time

    def __post_init__(self) -> None:
        if self.numeric_test not in ("ks", "wasserstein"):
            raise ValueError("monitor.numeric_test must be ks or wasserstein")
        if self.categorical_test not in ("chi2", "js", "psi"):
            raise ValueError("monitor.categorical_test must be chi2, js or psi")
        if self.correction not in ("bh", "bonferroni", "none"):
            raise ValueError("monitor.correction must be bh, bonferroni or none")
        if not 0 < self.alpha < 1:
            raise ValueError("monitor.alpha must lie in (0, 1)")


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
    tune: TuneConfig = field(default_factory=TuneConfig)
    run: RunConfig = field(default_factory=RunConfig)  # which stages `assay run` runs

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
