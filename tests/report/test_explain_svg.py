"""The report's explanation figures drawn from explain.json (explain.figures=data): bar
lengths proportional to the values, signs coloured, every ICE curve drawn, nothing drawn
from a null, and column names escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from assayml.report.explain_svg import LABEL_W, PLOT_W, explain_figures

EXPLAIN = {
    "rows": [
        {"row": 7, "attributions": {"kernel_shap": {"a": 0.5, "b": -0.25, "<script>": 0.125}}}
    ],
    "global": {
        "mean_abs_shap": [
            {"column": "a", "mean_abs_shap": 0.4},
            {"column": "b", "mean_abs_shap": 0.1},
        ],
        "permutation_importance": [{"column": "a", "mean": 0.2, "ci95": [0.1, 0.3]}],
        "partial_dependence": {
            "a": {"grid": [0, 1, 2], "average": [0.2, 0.5, 0.8], "individual": [[0, 0.5, 1]] * 4},
            "kind": {"grid": ["x", "y"], "average": [0.1, None], "individual": [[0.1, 0.2]]},
        },
        "surrogate": {"fidelity": 0.9, "rules": "|--- a <= 0.5\n|   |--- class: 0\n"},
    },
}


def figures(page: str) -> dict[str, ET.Element]:
    """Each SVG in the page by its aria-label (the page is well-formed XML per figure)."""
    found = {}
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        element = ET.fromstring(svg)
        found[element.get("aria-label")] = element
    return found


@pytest.fixture(scope="module")
def page() -> str:
    return explain_figures(EXPLAIN)


def test_bars_are_proportional_to_the_values_and_coloured_by_sign(page: str) -> None:
    row = figures(page)["row 7: kernel_shap"]
    rects = {r.find("title").text.split(":")[0]: r for r in row.iter("rect")}
    # The axis spans [-0.25, 0.5]: zero sits a third of the way along the plot.
    zero = LABEL_W + PLOT_W * 0.25 / 0.75
    width = {name: float(r.get("width")) for name, r in rects.items()}
    assert width["a"] == pytest.approx(PLOT_W * 0.5 / 0.75, abs=0.1)
    assert width["b"] == pytest.approx(PLOT_W * 0.25 / 0.75, abs=0.1)
    assert float(rects["b"].get("x")) == pytest.approx(zero - width["b"], abs=0.1)
    assert rects["b"].get("class") == "neg" and rects["a"].get("class") == "pos"
    labels = [t.text for t in row.iter("text")]
    assert labels == ["a", "b", "<script>"]  # largest |value| first; the name escaped
    assert "<script>" not in page


def test_every_figure_the_data_allows_and_none_from_a_null(page: str) -> None:
    drawn = figures(page)
    assert set(drawn) == {
        "global importance: mean |SHAP|",
        "permutation importance (95 % CI)",
        "row 7: kernel_shap",
        "PDP and ICE: a",
    }  # "kind" has a null in its average: not drawn
    curve = drawn["PDP and ICE: a"]
    lines = [p.get("class") for p in curve.iter("polyline")]
    assert lines == ["ice"] * 4 + ["pd"]
    whisker = [ln for ln in drawn["permutation importance (95 % CI)"].iter("line")][-1]
    span = float(whisker.get("x2")) - float(whisker.get("x1"))
    assert span == pytest.approx(PLOT_W * 0.2 / 0.3, abs=0.1)  # CI 0.1..0.3 on [0, 0.3]
    assert "|--- a &lt;= 0.5" in page  # the surrogate's rules, escaped, as text


def test_nothing_to_draw_is_an_empty_string() -> None:
    assert explain_figures({}) == ""
    assert (
        explain_figures({"global": {"mean_abs_shap": [{"column": "a", "mean_abs_shap": None}]}})
        == ""
    )


def test_permutation_bars_keep_the_stages_order_and_long_labels_get_room() -> None:
    long = "a_column_name_of_forty_characters_long__"
    explain = {
        "global": {
            "permutation_importance": [
                {"column": "small", "mean": 0.05, "ci95": [0.0, 0.1]},
                {"column": long, "mean": -0.2, "ci95": [-0.3, -0.1]},
            ]
        }
    }
    drawn = figures(explain_figures(explain))["permutation importance (95 % CI)"]
    labels = list(drawn.iter("text"))
    assert [t.text for t in labels] == ["small", long]  # as given, not by |mean|
    assert float(labels[0].get("x")) >= 6 * len(long)  # the long name is not cut at the edge


def test_the_report_draws_the_figures_beside_an_images_heat_maps(tmp_path) -> None:
    """Heat maps over images are PNGs whatever explain.figures says; they must not stand in
    for the table figures, which the report then draws from explain.json."""
    from assayml.report.html import _explain

    folder = tmp_path / "reports" / "explain"
    folder.mkdir(parents=True)
    (folder / "row_0_heatmap.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    page = _explain(EXPLAIN, tmp_path)
    assert 'alt="row_0_heatmap"' in page and "global importance: mean |SHAP|" in page
    (folder / "global_importance.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # explain.figures=png
    page = _explain(EXPLAIN, tmp_path)
    assert 'alt="global_importance"' in page and "<svg" not in page
    assert 'alt="row_0_heatmap"' in page
