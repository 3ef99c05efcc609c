"""The batched global explanations and counterfactual search against independent
computations: scikit-learn's permutation importance and partial dependence on the same
model over raw rows, the one-trial-at-a-time counterfactual search, and Captum's own
Integrated Gradients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from assayml.explain import counterfactual as cf
from assayml.explain import global_explain
from assayml.explain.model import raw_estimator
from assayml.explain.selection import numpy_dtypes
from assayml.features.transform import (
    CategoricalColumn,
    FeatureTransform,
    NumericColumn,
    TargetEncoding,
)
from assayml.models.inference import Sampling
from assayml.models.networks import build_mlp

ROWS = 120
TARGETS = {
    "binary": TargetEncoding("y", "binary", [0, 1]),
    "multiclass": TargetEncoding("y", "multiclass", ["a", "b", "c"]),
    "regression": TargetEncoding("y", "regression", mean=3.0, std=2.0),
}


def frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "size": rng.normal(5, 2, ROWS),
            "count": rng.integers(0, 20, ROWS),
            "colour": rng.choice(["red", "green", "blue"], ROWS).astype(object),
        }
    )
    x.loc[[3, 40], "size"] = np.nan  # imputed by the transform
    x.loc[7, "colour"] = None
    return numpy_dtypes(x)  # as the stage reads its rows


def model(task: str, seed: int = 0, mc_samples: int = 0):
    transform = FeatureTransform(
        numeric=[
            NumericColumn("size", log=False, fill=5.0, center=5.0, scale=2.0),
            NumericColumn("count", log=True, fill=None, center=2.0, scale=0.8),
        ],
        categorical=[
            CategoricalColumn(
                "colour", "__missing__", ["blue", "green", "red", "__missing__"], "ignore"
            )
        ],
        target=TARGETS[task],
    )
    torch.manual_seed(seed)
    outputs = 1 if task == "regression" else len(TARGETS[task].classes)
    net = build_mlp(6, outputs, hidden=16, layers=1, dropout=0.3 if mc_samples else 0.0)
    sampling = Sampling(mc_samples=mc_samples, seed=4)
    return raw_estimator(net.eval(), transform, sampling, transform.input_columns)


def labels(estimator, x: pd.DataFrame, seed: int = 1) -> np.ndarray:
    """The model's own predictions with a fifth of them changed: scores between 0 and 1."""
    y = estimator.predict(x)
    rng = np.random.default_rng(seed)
    flip = rng.random(len(y)) < 0.2
    if estimator.transform.target.task == "regression":
        return y + flip * rng.normal(0, 3, len(y))
    return np.where(flip, rng.choice(estimator.classes_, len(y)), y)


@pytest.mark.parametrize(
    ("task", "mc_samples"),
    [("binary", 0), ("multiclass", 0), ("regression", 0), ("binary", 8), ("regression", 8)],
)
def test_permutation_equals_scikit_learn(task: str, mc_samples: int) -> None:
    """Also under MC dropout, whose masks are drawn per call: each shuffled copy then goes
    through the model alone, as in scikit-learn's loop."""
    from sklearn.inspection import permutation_importance

    estimator, x = model(task, mc_samples=mc_samples), frame()
    y = labels(estimator, x)
    ours = {
        r["column"]: r
        for r in global_explain.permutation(
            estimator, x, y, repeats=7, seed=3, regression=task == "regression"
        )
    }
    theirs = permutation_importance(
        estimator,
        x,
        y,
        n_repeats=7,
        random_state=3,
        scoring="r2" if task == "regression" else "accuracy",
    )
    assert theirs.importances_std.max() > 0  # the shuffles do move the score
    for col, mean, std in zip(
        x.columns, theirs.importances_mean, theirs.importances_std, strict=True
    ):
        assert ours[col]["mean"] == pytest.approx(round(mean, 6), abs=1e-6)
        assert ours[col]["std"] == pytest.approx(round(std, 6), abs=1e-6)


def test_permutation_shuffles_are_scikit_learns() -> None:
    """Each shuffled column holds the values scikit-learn's loop leaves in it."""
    rows, repeats, seed = 9, 4, 11
    rng = np.random.RandomState(np.random.RandomState(seed).randint(2**31))
    column, index, expected = np.arange(rows) * 10, np.arange(rows), []
    for _ in range(repeats):  # scikit-learn 1.x's _calculate_permutation_scores
        rng.shuffle(index)
        column = column[index]
        expected.append(column.copy())
    ours = global_explain.sklearn_shuffles(rows, repeats, seed)
    assert np.array_equal((np.arange(rows) * 10)[ours], np.asarray(expected))


@pytest.mark.parametrize(
    ("task", "mc_samples"), [("binary", 0), ("multiclass", 0), ("regression", 0), ("binary", 8)]
)
def test_dependence_equals_scikit_learn(task: str, mc_samples: int) -> None:
    from sklearn.inspection import partial_dependence

    estimator, x = model(task, mc_samples=mc_samples), frame()
    curves = global_explain.dependence(estimator, x, ["size", "count", "colour"], ["colour"], 5)
    sample = x.iloc[np.random.default_rng(5).permutation(ROWS)[: global_explain.ICE_ROWS]]
    sample = sample.astype({"count": "float64"})
    for col in ("size", "count", "colour"):
        grid = (
            {col: np.array(sorted({str(v) for v in sample[col].dropna()}), dtype=object)}
            if col == "colour"
            else global_explain._observed_grid(sample[col])
        )
        result = partial_dependence(
            estimator,
            sample,
            [col],
            kind="both",
            custom_values=grid,
            categorical_features=[col] if col == "colour" else None,
        )
        index = (
            0 if result["average"].shape[0] == 1 else int(np.argmax(result["average"].mean(axis=1)))
        )
        assert curves[col]["grid"] == [
            v.item() if hasattr(v, "item") else v for v in result["grid_values"][0]
        ]
        assert np.allclose(curves[col]["average"], result["average"][index], atol=1e-6)
        assert np.allclose(curves[col]["individual"], result["individual"][index], atol=1e-6)
    assert len(curves["size"]["grid"]) == 20 and len(curves["colour"]["grid"]) == 3


def only(row, best, col):
    single = row.copy()
    single[col] = best[col].to_numpy()
    return single


def one_at_a_time(row, reached, space: cf.Space, seed: int) -> dict:
    """The search as first written: layer by layer, one call each, then one column put back
    per call. The reference for the batched search."""
    rng = np.random.default_rng(seed)
    numeric = [c for c in space.numeric if c not in space.immutable]
    categorical = [c for c in space.categories if c not in space.immutable]
    for layer in range(cf.LAYERS):
        origin = {c: row[c].iloc[0] for c in row.columns}
        values = cf._layer(
            origin, numeric, categorical, space, layer * 0.25, (layer + 1) * 0.25, rng
        )
        candidates = pd.concat([row] * cf.CANDIDATES, ignore_index=True)
        for col, v in values.items():
            numbers = col in space.numeric
            candidates[col] = v.astype(candidates[col].dtype, copy=False) if numbers else v
        hits = candidates[reached(candidates)]
        if len(hits):
            best = hits.iloc[int(np.argmin(cf._distance(row, hits, space)))].to_frame().T
            best = best.astype(row.dtypes.to_dict())
            changed = [c for c in (*space.numeric, *space.categories) if cf._differs(row, best, c)]
            by_size = sorted(changed, key=lambda c: cf._distance(row, only(row, best, c), space)[0])
            for col in by_size:
                trial = best.copy()
                trial[col] = row[col].to_numpy()
                if reached(trial)[0]:
                    best = trial
            return cf._report(row, best, space, valid=True)
    return cf._report(row, row, space, valid=False)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_counterfactuals_equal_the_one_at_a_time_search(task: str) -> None:
    estimator, x = model(task, seed=2), frame().fillna({"size": 5.0, "colour": "red"})
    space = cf.Space(
        {"size": (-5.0, 15.0, 2.0, False), "count": (0.0, 19.0, 5.0, True)},
        {"colour": ["blue", "green", "red"]},
        immutable=set(),
    )
    found = 0
    for i in range(12):
        row = x.iloc[[i]].reset_index(drop=True)
        if task == "regression":
            goal = float(estimator.predict(row)[0]) + 0.5

            def reached(frame, goal=goal):
                return estimator.predict(frame) >= goal
        else:
            current = estimator.predict(row)[0]

            def reached(frame, current=current):
                return estimator.predict(frame) != current

        ours = cf.counterfactual(row, reached, space, seed=i)
        assert ours == one_at_a_time(row, reached, space, seed=i)
        found += ours["valid"]
    assert found >= 3  # the comparison covers searches that succeed


def test_integrated_gradients_with_cached_nodes_equals_captums() -> None:
    from captum.attr import IntegratedGradients

    from assayml.explain.local import integrated_gradients

    torch.manual_seed(0)
    net = build_mlp(6, 3, hidden=16, layers=2).double().eval()
    x, base = torch.randn(4, 6, dtype=torch.float64), torch.zeros(1, 6, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 1])
    for _ in range(2):  # the second call reads the cached nodes
        ours = integrated_gradients(net).attribute(
            x, baselines=base, target=target, n_steps=64, return_convergence_delta=True
        )
        captum = IntegratedGradients(net).attribute(
            x, baselines=base, target=target, n_steps=64, return_convergence_delta=True
        )
        assert torch.equal(ours[0], captum[0]) and torch.equal(ours[1], captum[1])


def test_sparsify_equals_the_greedy_loop_on_many_columns() -> None:
    """Twelve changed columns and a goal (a random linear rule) that holds for some subsets
    only: the batched pass keeps exactly the columns the one-at-a-time pass keeps."""
    columns = [f"c{i}" for i in range(12)]
    space = cf.Space({c: (-50.0, 50.0, 1.0, False) for c in columns}, {}, immutable=set())
    row = pd.DataFrame({c: [0.0] for c in columns})
    outcomes = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        best = pd.DataFrame({c: [float(rng.normal(0, 3))] for c in columns})
        weights, bar = rng.normal(size=12), rng.normal(0, 2)
        direction = np.sign(best.to_numpy()[0] @ weights - bar) or 1.0

        def reached(frame, weights=weights, bar=bar, direction=direction):
            return direction * (frame[columns].to_numpy(float) @ weights - bar) > 0

        expected = best.copy()
        order = sorted(columns, key=lambda c: abs(best[c].iloc[0]))  # the sizes, one each
        for col in order:
            trial = expected.copy()
            trial[col] = row[col].to_numpy()
            if reached(trial)[0]:
                expected = trial
        ours = cf._sparsify(row, best, reached, space)
        pd.testing.assert_frame_equal(ours, expected)
        outcomes.add(int((ours.to_numpy() != 0).sum()))
    assert len(outcomes) >= 4  # from few columns kept to many


def test_single_threaded_restores_the_thread_counts() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    from assayml.explain.threads import single_threaded

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    # Two BLAS threads first: the test process runs on one (tests/conftest.py), and a
    # restore from 1 to 1 would show nothing.
    with threadpool_limits(limits=2):
        try:
            blas = [p["num_threads"] for p in threadpool_info()]
            assert any(n == 2 for n in blas) or not blas
            with single_threaded():
                assert torch.get_num_threads() == 1
                assert all(p["num_threads"] == 1 for p in threadpool_info())
            assert torch.get_num_threads() == 2
            assert [p["num_threads"] for p in threadpool_info()] == blas
        finally:
            torch.set_num_threads(before)
