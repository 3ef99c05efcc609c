"""The feature transform: fitted on train only, equal to scikit-learn's, saved as JSON, and
applied identically to a batch and to single rows (training vs serving)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from assayml.config.schema import (
    CategoricalImpute,
    ColumnSpec,
    ColumnType,
    FeaturesConfig,
    Impute,
    Scale,
    UnknownCategory,
)
from assayml.errors import ConfigError, DataError
from assayml.features.fit import fit_transform, select_columns
from assayml.features.transform import FeatureTransform

COLUMNS = {
    "a": ColumnSpec(dtype=ColumnType.float, nullable=True),
    "b": ColumnSpec(dtype=ColumnType.int),
    "c": ColumnSpec(dtype=ColumnType.category, nullable=True),
    "note": ColumnSpec(dtype=ColumnType.str),
    "y": ColumnSpec(dtype=ColumnType.int),
}


def table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.lognormal(size=n),
            "b": rng.integers(0, 10, size=n),
            "c": rng.choice(["x", "y", "z"], size=n),
            "note": ["free text"] * n,
            "y": rng.integers(0, 2, size=n),
        }
    )
    frame.loc[::7, "a"] = np.nan
    frame.loc[::9, "c"] = None
    return frame


def fit(cfg: FeaturesConfig | None = None, train: pd.DataFrame | None = None) -> FeatureTransform:
    return fit_transform(
        table() if train is None else train, COLUMNS, cfg or FeaturesConfig(), "y", "binary"
    )


def test_matches_scikit_learn_column_transformer() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train, test = table(), table(seed=1)
    reference = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["a", "b"]),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["c"],
            ),
        ],
        sparse_threshold=0,
    )
    reference.fit(train.assign(c=train["c"].astype(object)))
    expected = reference.transform(test.assign(c=test["c"].astype(object)))
    assert np.allclose(fit(train=train).transform(test), expected, atol=1e-6)


def test_minmax_log_and_constant_imputation() -> None:
    cfg = FeaturesConfig()
    cfg.numeric.scale, cfg.numeric.log = Scale.minmax, ["a"]
    cfg.categorical.impute = CategoricalImpute.constant
    transform = fit(cfg)
    x = transform.transform(table())
    assert x[:, :2].min() >= 0 and x[:, :2].max() <= 1
    assert "c=__missing__" in transform.feature_names


def test_feature_names_and_column_selection() -> None:
    transform = fit()
    assert transform.feature_names == ["a", "b", "c=x", "c=y", "c=z"]  # free text excluded
    assert transform.input_columns == ["a", "b", "c"]
    cfg = FeaturesConfig(include=["a", "c"], exclude=["c"])
    assert select_columns(COLUMNS, cfg, "y") == ["a"]


def test_unknown_columns_in_config_are_named() -> None:
    with pytest.raises(ConfigError, match="nope"):
        select_columns(COLUMNS, FeaturesConfig(exclude=["nope"]), "y")


def test_unknown_category_ignored_or_refused() -> None:
    row = table().head(1).assign(c="purple")
    assert fit().transform(row)[0, 2:].tolist() == [0, 0, 0]
    cfg = FeaturesConfig()
    cfg.categorical.handle_unknown = UnknownCategory.error
    with pytest.raises(DataError, match=r"'c'.*purple"):
        fit(cfg).transform(row)


def test_missing_value_without_imputation_is_an_error() -> None:
    cfg = FeaturesConfig()
    cfg.numeric.impute = Impute.none
    with pytest.raises(DataError, match=r"'a'.*missing"):
        fit(cfg).transform(table())


def test_fitted_on_train_only() -> None:
    train = table()
    shifted = train.assign(a=train["a"] + 100)
    assert fit(train=train).to_dict() == fit(train=train).to_dict()
    assert fit(train=shifted).numeric[0].center != fit(train=train).numeric[0].center


def test_json_roundtrip_and_batch_equals_single_rows(tmp_path) -> None:
    transform = fit()
    transform.save(tmp_path / "t.json")
    json.loads((tmp_path / "t.json").read_text())  # plain JSON: no pickle anywhere
    loaded = FeatureTransform.load(tmp_path / "t.json")
    test = table(seed=2)
    batch = loaded.transform(test)
    singles = np.vstack([loaded.transform(test.iloc[[i]]) for i in range(len(test))])
    assert np.array_equal(batch, transform.transform(test))
    assert np.array_equal(batch, singles)


def test_target_encoding() -> None:
    transform = fit()
    assert transform.target.classes == [0, 1]
    assert transform.encode_target(pd.Series([1, 0, 1.0])).tolist() == [1, 0, 1]
    with pytest.raises(DataError, match="unknown labels"):
        transform.encode_target(pd.Series([2]))
    regression = fit_transform(table(), COLUMNS, FeaturesConfig(), "b", "regression")
    encoded = regression.encode_target(table()["b"])
    assert abs(encoded.mean()) < 1e-6
    assert np.allclose(regression.decode_regression(encoded), table()["b"], atol=1e-4)


def test_malformed_transform_file_is_an_artifact_error(tmp_path) -> None:
    from assayml.errors import ArtifactError

    (tmp_path / "t.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable"):
        FeatureTransform.load(tmp_path / "t.json")
    with pytest.raises(ArtifactError, match="assay features"):
        FeatureTransform.load(tmp_path / "missing.json")
