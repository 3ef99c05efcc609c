"""Schema of the data config group: where the table comes from, its columns and split.

Re-exported by ``assayml.config.schema``; see that module for how schemas are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING


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
class DataCardConfig:
    """Who owns the data and how it may be used (a data card, as in Gebru et al.'s datasheets
    and SageMaker's data governance). Every field is required for data you bring (a file, or
    a DataModule that reads files): prepare names the first one missing (exit 2). The card
    is copied into profile.json, the model card, the report, `registry show` and the lineage.
    """

    owner: str | None = None  # the person or team accountable for the data
    contact: str | None = None  # where questions and deletion requests go (e-mail, channel)
    licence: str | None = None  # SPDX id or terms, e.g. CC-BY-4.0, proprietary
    source: str | None = None  # where it came from: system, study, vendor, URL
    allowed_uses: list[str] | None = None  # at least one
    forbidden_uses: list[str] | None = None  # [] when none are named
    personal_data: bool | None = None  # true: rows describe identifiable people
    retention: str | None = None  # how long it may be kept, e.g. "5 years after collection"
    access: list[str] | None = None  # who may read it: roles, groups or people; at least one

    def missing(self) -> list[str]:
        """The fields not given, in declaration order."""
        return [
            name
            for name, value in self.__dict__.items()
            if value is None
            or (isinstance(value, str) and not value.strip())
            or (name in NON_EMPTY_CARD_LISTS and not value)
        ]


NON_EMPTY_CARD_LISTS = ("allowed_uses", "access")


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
    # the column naming each row's data subject (customer, patient id): its hash is kept per
    # row, so `assay forget --keys` finds the subject in every version; null: rows by content
    key: str | None = None
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
    card: DataCardConfig = field(default_factory=DataCardConfig)  # ownership and uses

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
        if self.key is not None and self.key == self.target:
            raise ValueError(f"data.key '{self.key}' cannot be the target")
        if self.key is not None and self.columns and self.key not in self.columns:
            raise ValueError(f"data.key '{self.key}' is not among the declared columns")
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
