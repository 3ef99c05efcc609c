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
from assayml.features.transform import (
    FeatureTransform,
    NumericColumn,
    TargetEncoding,
    _numeric,
    _numeric_block,
)

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


def hand_made(log: list[bool], fills: list[float | None]) -> FeatureTransform:
    numeric = [
        NumericColumn(f"n{j}", flag, fill, center=0.25 * j - 0.3, scale=1.5 + j)
        for j, (flag, fill) in enumerate(zip(log, fills, strict=True))
    ]
    return FeatureTransform(numeric, [], TargetEncoding("y", "binary", [0, 1]))


def one_at_a_time(transform: FeatureTransform, frame: pd.DataFrame) -> np.ndarray | str:
    """The column-at-a-time path (the reference), or the message it refuses with."""
    try:
        return np.column_stack([_numeric(col, frame[col.name]) for col in transform.numeric])
    except DataError as err:
        return str(err)


def together(transform: FeatureTransform, frame: pd.DataFrame) -> np.ndarray | str:
    try:
        return _numeric_block(transform.numeric, frame)
    except DataError as err:
        return str(err)


@pytest.mark.parametrize("seed", range(40))
def test_numpy_columns_transformed_together_equal_one_at_a_time(seed: int) -> None:
    """Float64, float32, int and bool columns, gaps, negatives under a log, fills or none:
    the same float64 values bit for bit, or the same refusal (first column, first row)."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 30)), 5
    transform = hand_made(
        log=rng.random(k).round().astype(bool).tolist(),
        fills=[None if rng.random() < 0.4 else float(rng.normal()) for _ in range(k)],
    )
    sign = np.where(rng.random((k, n)) < 0.02, -1, 1)  # now and then a negative under a log
    frame = pd.DataFrame(
        {
            "n0": rng.lognormal(size=n) * sign[0],
            "n1": (rng.exponential(size=n) * sign[1]).astype(np.float32),
            "n2": rng.integers(0, 1_000, size=n) * sign[2],
            "n3": rng.random(n) < 0.5,
            "n4": rng.exponential(size=n) * 1e300 * sign[4],  # overflows float32 later
        }
    )
    for name in ("n0", "n1", "n4"):  # gaps in a float column, sometimes none
        frame.loc[rng.random(n) < 0.05 * rng.random(), name] = np.nan
    before = frame.copy()
    expected, got = one_at_a_time(transform, frame), together(transform, frame)
    if isinstance(expected, str):
        assert got == expected
    else:
        assert got.dtype == np.float64 and got.tobytes() == expected.tobytes()
    pd.testing.assert_frame_equal(frame, before)  # the log is taken in a copy


def test_text_and_nullable_columns_keep_the_column_at_a_time_path() -> None:
    transform = hand_made(log=[False, False], fills=[None, 0.5])
    frame = pd.DataFrame({"n0": ["1.5", "2"], "n1": pd.array([1, None], dtype="Int64")})
    assert together(transform, frame).tobytes() == one_at_a_time(transform, frame).tobytes()
    with pytest.raises(DataError, match=r"column 'n0': non-numeric value"):
        _numeric_block(transform.numeric, frame.assign(n0=["1.5", "two"]))
