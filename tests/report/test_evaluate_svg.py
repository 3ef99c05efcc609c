"""The evaluation figures the report draws from the evaluate stage's JSON (evaluate.figures
=data): what each shows is checked against an independent computation on the same data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from assayml.report.evaluate_svg import (
    MATRIX_CLASSES,
    SCATTER_POINTS,
    evaluate_figures,
    uncertainty_figures,
)
from assayml.report.html import render
from assayml.report.sources import ReportInputs
from assayml.report.svg import Axes


def _svg(page: str, label: str) -> str:
    found = re.search(rf"<svg role='img' aria-label='{re.escape(label)}'.*?</svg>", page, re.S)
    assert found, label
    return found.group(0)


def _polylines(svg: str) -> list[list[tuple[float, float]]]:
    lines = re.findall(r"<polyline points='([^']*)' fill='none'", svg)
    return [[tuple(map(float, p.split(","))) for p in line.split()] for line in lines]


def test_roc_draws_every_point_of_each_class_in_fpr_order() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    score = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    fpr, tpr, _ = roc_curve(y, score)
    rows = [
        {"fpr": float(f), "tpr": float(t), "threshold": 0.5} for f, t in zip(fpr, tpr, strict=True)
    ]
    page = evaluate_figures({"roc.json": {"roc": rows[::-1]}}, None, None)
    [line] = _polylines(_svg(page, "ROC"))
    # every (fpr, tpr) of scikit-learn's curve, at its place on the unit square, in fpr
    # order whatever the file's order; y grows upwards
    axes = Axes((0, 1), (0, 1), "", "")
    expected = sorted(zip(fpr, tpr, strict=True))
    assert line == [(round(axes.x(f), 1), round(axes.y(t), 1)) for f, t in expected]
    assert line[0][1] > line[-1][1]  # (0, 0) at the bottom, (1, 1) at the top
    assert "class='ref'" in _svg(page, "ROC")  # the chance diagonal


def test_multiclass_roc_has_a_curve_and_a_key_for_each_class() -> None:
    rows = [
        {"fpr": f, "tpr": t, "class": c}
        for c in ("setosa", "versicolor", "virginica")
        for f, t in ((0.0, 0.0), (0.1, 0.8), (1.0, 1.0))
    ]
    svg = _svg(evaluate_figures({"roc.json": {"roc": rows}}, None, None), "ROC")
    assert len(_polylines(svg)) == 3
    assert all(name in svg for name in ("setosa", "versicolor", "virginica"))


def test_confusion_cells_hold_the_exact_counts_shaded_by_size() -> None:
    matrix = [[31, 1, 0], [3, 50, 2], [0, 7, 12]]
    svg = _svg(evaluate_figures({}, matrix, ["no", "maybe", "<yes>"]), "Confusion matrix")
    cells = re.findall(
        r"fill-opacity='([\d.]+)' stroke='white'><title>actual (.*?), predicted (.*?): (\d+)<",
        svg,
    )
    assert len(cells) == 9
    labels = ["no", "maybe", "&lt;yes&gt;"]
    for _, actual, predicted, count in cells:
        assert int(count) == matrix[labels.index(actual)][labels.index(predicted)]
    by_count = sorted((int(c), float(o)) for o, *_, c in cells)
    assert [o for _, o in by_count] == sorted(o for _, o in by_count)  # darker = more
    assert "<yes>" not in svg  # labels escaped


def test_a_malformed_matrix_or_plot_file_draws_nothing_rather_than_failing() -> None:
    assert evaluate_figures({}, [[1, 2], [3]], ["a", "b"]) == ""
    assert uncertainty_figures({"uncertainty.json": {"uncertainty": 5}}) == ""
    assert uncertainty_figures({"uncertainty.json": {"uncertainty": [{"correct": True}]}}) == ""
    assert uncertainty_figures({"coverage.json": None, "reliability.json": "x"}) == ""
    assert evaluate_figures({}, [[1, float("nan")], [0, 1]], None) == ""
    assert evaluate_figures({"roc.json": ["not", "a", "dict"]}, None, None) == ""
    odd = {"roc.json": {"roc": [{"fpr": None, "tpr": 1}, "x"]}}
    assert evaluate_figures(odd, None, None) == ""
    # wrong number of class names: the indices label the matrix
    svg = _svg(evaluate_figures({}, [[1, 0], [0, 1]], ["only one"]), "Confusion matrix")
    assert "actual 0, predicted 1: 0" in svg


def test_residuals_are_thinned_past_the_cap_and_say_so() -> None:
    n = 3 * SCATTER_POINTS + 1
    rows = [{"actual": i, "predicted": i + 0.5, "residual": -0.5} for i in range(n)]
    page = evaluate_figures({"residuals.json": {"residuals": rows}}, None, None)
    svg = _svg(page, "Residuals")
    drawn = svg.count("<circle")
    assert drawn <= SCATTER_POINTS and drawn == len(range(0, n, 4))
    assert f"{drawn} of {n} rows" in page


def test_entropy_histograms_count_what_numpy_counts() -> None:
    rng = np.random.default_rng(1)
    entropy = rng.gamma(2.0, 0.1, 500)
    correct = rng.random(500) < 0.8
    rows = [
        {"predictive_entropy": float(e), "correct": bool(c)}
        for e, c in zip(entropy, correct, strict=True)
    ]
    rows.append({"predictive_entropy": None, "correct": True})  # skipped, not drawn
    page = uncertainty_figures({"uncertainty.json": {"uncertainty": rows}})
    svg = _svg(page, "Uncertainty")
    bars = re.findall(r"<rect x='([\d.]+)'[^>]*><title>(correct|incorrect): (\d+)<", svg)
    edges = np.linspace(entropy.min(), entropy.max(), 21)
    for name, flag in (("correct", True), ("incorrect", False)):
        expected, _ = np.histogram(entropy[correct == flag], bins=edges)
        drawn = sorted((float(x), int(c)) for x, n, c in bars if n == name)
        assert [c for _, c in drawn] == [int(c) for c in expected if c]
    assert f"correct ({int(correct.sum())})" in svg
    assert f"incorrect ({int((~correct).sum())})" in svg


def test_reliability_has_a_line_per_calibration_and_coverage_its_curve() -> None:
    reliability = [
        {"confidence": c, "accuracy": a, "count": 5, "calibration": label}
        for label in ("before", "after")
        for c, a in ((0.55, 0.5), (0.75, 0.7), (0.95, 0.97))
    ]
    coverage = [{"coverage": c / 10, "accuracy": 1 - c / 100} for c in range(1, 11)]
    page = uncertainty_figures(
        {"reliability.json": {"reliability": reliability}, "coverage.json": {"coverage": coverage}}
    )
    assert len(_polylines(_svg(page, "Reliability"))) == 2
    assert "before" in page and "after" in page
    [curve] = _polylines(_svg(page, "Accuracy vs coverage"))
    assert len(curve) == 10
    assert "aria-label='Uncertainty'" not in page  # no uncertainty.json: no histogram


@pytest.fixture
def evaluated(tmp_path: Path) -> Path:
    """A run folder as the evaluate stage leaves it with evaluate.figures=data."""
    plots = tmp_path / "plots" / "evaluate"
    plots.mkdir(parents=True)
    (tmp_path / "metrics").mkdir()
    metrics = {"split": "test", "accuracy": 0.9, "confusion_matrix": [[4, 1], [0, 5]]}
    metrics["uncertainty"] = {"method": "none", "ece": 0.1}
    (tmp_path / "metrics" / "evaluate.json").write_text(json.dumps(metrics))
    roc = [{"fpr": 0.0, "tpr": 0.0}, {"fpr": 0.2, "tpr": 1.0}, {"fpr": 1.0, "tpr": 1.0}]
    (plots / "roc.json").write_text(json.dumps({"roc": roc}))
    points = [{"coverage": 0.5, "accuracy": 1.0}, {"coverage": 1.0, "accuracy": 0.9}]
    (plots / "coverage.json").write_text(json.dumps({"coverage": points}))
    return tmp_path


def _page(folder: Path, card: dict | None = None) -> str:
    inputs = ReportInputs("t", "workspace", {}, folder, None, None, None, model_card=card)
    return render(inputs, "2026-12-02T00:00:00Z")


def test_the_report_draws_from_the_json_and_names_the_cards_classes(evaluated: Path) -> None:
    page = _page(evaluated, {"classes": ["stay", "leave"]})
    for label in ("ROC", "Confusion matrix", "Accuracy vs coverage"):
        assert f"aria-label='{label}'" in page, label
    assert "actual leave, predicted leave: 5" in page and "<img" not in page


def test_pngs_drawn_by_the_stage_are_shown_instead(evaluated: Path) -> None:
    from matplotlib.figure import Figure

    from assayml.utils.figures import png

    blob = png(Figure(figsize=(1, 1)))
    for name in ("roc.png", "coverage.png"):
        (evaluated / "plots" / "evaluate" / name).write_bytes(blob)
    page = _page(evaluated)
    assert 'alt="roc"' in page and 'alt="coverage"' in page
    assert "aria-label='ROC'" not in page and "aria-label='Accuracy vs coverage'" not in page


def test_one_value_everywhere_still_gets_a_frame_and_one_bin() -> None:
    """A perfect model: accuracy 1.0 at every coverage, every row's entropy the same."""
    coverage = [{"coverage": c / 10, "accuracy": 1.0} for c in range(1, 11)]
    rows = [{"predictive_entropy": 0.25, "correct": True}] * 30
    page = uncertainty_figures(
        {"coverage.json": {"coverage": coverage}, "uncertainty.json": {"uncertainty": rows}}
    )
    for label in ("Accuracy vs coverage", "Uncertainty"):
        frame = re.search(r"height='([\d.]+)' class='frame'", _svg(page, label))
        assert frame and float(frame.group(1)) > 50, label
    assert re.findall(r"<title>(correct|incorrect): (\d+)<", page) == [("correct", "30")]


def test_many_classes_colours_repeat_and_say_so_and_a_huge_matrix_is_left_out() -> None:
    rows = [
        {"fpr": f, "tpr": t, "class": f"c{k}"}
        for k in range(12)
        for f, t in ((0.0, 0.0), (0.5, 0.9), (1.0, 1.0))
    ]
    page = evaluate_figures({"roc.json": {"roc": rows}}, None, None)
    assert "12 curves: colours repeat" in page and len(_polylines(_svg(page, "ROC"))) == 12
    colours = re.findall(r"fill='none' stroke='(#[0-9a-f]{6})'", page)
    assert len(set(colours[:10])) == 10  # ten classes, ten colours
    big = [
        [1 if i == j else 0 for j in range(MATRIX_CLASSES + 1)] for i in range(MATRIX_CLASSES + 1)
    ]
    assert evaluate_figures({}, big, None) == ""
    assert evaluate_figures({}, [[1234567, 0], [0, 1]], None).count("1234567") >= 2


def test_the_per_row_uncertainty_file_is_sampled_past_the_plot_cap() -> None:
    from assayml.evaluate.plots import PLOT_ROWS
    from assayml.uncertainty.plots import uncertainty_plot_data

    n = PLOT_ROWS + 5_000
    probabilities = np.linspace(0.01, 0.99, n)
    probabilities = np.stack([1 - probabilities, probabilities], axis=1)
    y = (np.arange(n) % 2).astype(int)
    entropy = -(probabilities * np.log(probabilities)).sum(axis=1)
    data = uncertainty_plot_data(probabilities, y, entropy, [], None)
    rows = data["uncertainty.json"]["uncertainty"]
    assert len(rows) == PLOT_ROWS
    kept = set(round(float(e), 6) for e in entropy)
    assert all(r["predictive_entropy"] in kept for r in rows)
