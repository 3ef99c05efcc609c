"""Column declarations live in conf/schemas/NAME.yaml: out of params.yaml (and so out of
`dvc exp show`), merged back into the typed config, changed per property by data.columns."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from assayml.config import compose, to_typed
from assayml.config.load import load_params
from assayml.config.schema import ColumnType
from assayml.errors import ConfigError
from tests.conftest import REPO, TINY
from tests.repo_helpers import dvc_run, make_project_repo
from tests.trust_helpers import assay

TABLE_SETS = ("breast_cancer", "credit_synthetic", "diabetes", "digits", "wine")


@pytest.mark.parametrize("name", TABLE_SETS)
def test_params_hold_no_columns_and_the_typed_config_holds_the_files(project, name) -> None:
    composed = compose([f"data={name}"], project / "conf")
    assert composed.data.schema == name
    assert OmegaConf.to_container(composed.data.columns) == {}
    declared = yaml.safe_load((REPO / "conf" / "schemas" / f"{name}.yaml").read_text())
    typed = to_typed(composed).data.columns
    assert list(typed) == list(declared)  # file order is feature order
    for column, entry in declared.items():
        for key, value in entry.items():
            got = getattr(typed[column], key)
            assert (got.name if key == "dtype" else got) == value, (column, key)


def test_a_change_to_one_property_keeps_the_others(make_cfg) -> None:
    cfg = make_cfg("data=credit_synthetic", "data.columns.age.max=70")
    age = cfg.data.columns["age"]
    assert (age.dtype, age.min, age.max) == (ColumnType.int, 18.0, 70.0)
    allowed = make_cfg("data=credit_synthetic", "data.columns.purpose.allowed=null")
    assert allowed.data.columns["purpose"].allowed is None
    assert allowed.data.columns["purpose"].dtype is ColumnType.category


def test_a_bad_change_is_named_by_its_key(make_cfg) -> None:
    with pytest.raises(ConfigError, match=r"'data\.columns\.mean_radius\.dtype': Invalid value"):
        make_cfg("data.columns.mean_radius.dtype=floot")


def test_a_column_set_to_null_is_left_out(make_cfg) -> None:
    cfg = make_cfg("data=wine", "data.columns.alcohol=null")
    assert "alcohol" not in cfg.data.columns and "malic_acid" in cfg.data.columns


def test_the_schema_name_may_be_an_interpolation(project, make_cfg) -> None:
    cfg = make_cfg("data=wine", "data.schema=${data.name}")
    assert "alcohol" in cfg.data.columns


@pytest.mark.parametrize("columns", ["abc", ["a", "b"]])
def test_columns_that_are_not_a_mapping_are_named(project, tmp_path, columns) -> None:
    """Hydra refuses them at composition; a params file edited by hand is read as it is."""
    composed = OmegaConf.to_container(compose(["data=wine"], project / "conf"), enum_to_str=True)
    composed["data"]["columns"] = columns
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(composed))
    with pytest.raises(ConfigError, match=r"'data\.columns': expected a mapping"):
        to_typed(load_params(params))


def test_a_new_column_is_added_after_the_files(make_cfg) -> None:
    cfg = make_cfg("data=credit_synthetic", "data.columns.branch={dtype: category}")
    assert list(cfg.data.columns)[-2:] == ["repaid", "branch"]
    assert cfg.data.columns["branch"].dtype is ColumnType.category


def test_without_a_schema_file_the_inline_columns_stand_alone(make_cfg) -> None:
    cfg = make_cfg("data=file", "data.columns.age={dtype: int, min: 0}", "data.target=age")
    assert list(cfg.data.columns) == ["age"]
    assert cfg.data.columns["age"].min == 0.0


def test_dvc_composition_takes_a_property_change(project, tmp_path) -> None:
    """`dvc exp run -S '++data.columns.age.max=70'` composes with DVC's own code."""
    from dvc.utils.hydra import compose_and_dump

    params = tmp_path / "params.yaml"
    overrides = ["data=credit_synthetic", "++data.columns.age.max=70"]
    compose_and_dump(params, str(project / "conf"), None, "config", str(REPO), overrides)
    assert yaml.safe_load(params.read_text())["data"]["columns"] == {"age": {"max": 70}}
    age = to_typed(load_params(params)).data.columns["age"]
    assert (age.min, age.max) == (18.0, 70.0)


@pytest.mark.parametrize(
    "name", ["../schemas/wine", "/etc/passwd", "a/b", "..", ".hidden", "wine.yaml"]
)
def test_a_schema_name_cannot_leave_the_schema_folder(make_cfg, name) -> None:
    with pytest.raises(ConfigError, match=r"data\.schema.*(not a schema name|without \.yaml)"):
        make_cfg(f"data.schema='{name}'")


def test_a_missing_schema_file_is_named_with_the_ones_there(make_cfg) -> None:
    with pytest.raises(ConfigError, match=r"conf/schemas/wines\.yaml: no such file.*wine"):
        make_cfg("data=wine", "data.schema=wines")


@pytest.mark.parametrize(
    "text,named",
    [
        ("age: [int]\n", r"conf/schemas/bad\.yaml: column 'age': expected a mapping"),
        ("- age\n", r"conf/schemas/bad\.yaml: expected a mapping of column name"),
        ("age: {dtype: int\n", r"conf/schemas/bad\.yaml: not a readable YAML file"),
        (
            "age: {dtype: integer}\n",
            r"'data\.columns\.age\.dtype'.*declared in conf/schemas/bad\.yaml",
        ),
        ("age: {dtyp: int}\n", r"'data\.columns\.age\.dtyp'"),
        (
            "age: {dtype: int, min: 90, max: 18}\n",
            r"'data\.columns\.age' \(declared in conf/schemas/bad\.yaml or data\.columns\): "
            r"min \(90\.0\) is greater than max \(18\.0\)",
        ),
        ("age: {dtype: int, allowed: [a]}\n", r"'data\.columns\.age'.*'allowed' applies to"),
        ("age: {dtype: int}\nage: {dtype: float}\n", r"the key 'age' is given twice"),
        ("1: {dtype: int}\nage: {dtype: int}\n", r"column name 1 is read as int: quote it"),
    ],
)
def test_a_bad_schema_file_is_named(project, make_cfg, text, named) -> None:
    (project / "conf" / "schemas" / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError, match=named):
        make_cfg("data=file", "data.schema=bad", "data.target=age")


@pytest.mark.slow
def test_prepare_validates_against_the_schema_file_from_the_command_line(project) -> None:
    """A user's CSV with an id column, a float label and a 3-valued facet with gaps,
    declared in a schema file; a row outside the declared range is named (exit 2)."""
    rows = [["patient_id", "age", "site", "outcome"]]
    rows += [[f"p{i}", 20 + i % 50, ["a", "b", ""][i % 3], float(i % 2)] for i in range(120)]
    rows[7][1] = 130  # beyond max
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    (project / "data" / "raw").mkdir(parents=True)
    (project / "data" / "raw" / "visits.csv").write_text(buffer.getvalue())
    (project / "conf" / "schemas" / "visits.yaml").write_text(
        "age: {dtype: int, min: 0, max: 120}\n"
        "site: {dtype: category, nullable: true, allowed: [a, b]}\n"
        "outcome: {dtype: int, min: 0, max: 1}\n"
    )
    args = ["prepare", "data=file", "data.path=data/raw/visits.csv", "data.target=outcome"]
    bad = assay(project, *args, "data.schema=visits", *TINY)
    assert bad.returncode == 2, bad.stderr
    assert "age" in bad.stderr and "130" in bad.stderr
    good = assay(project, *args, "data.schema=visits", "data.columns.age.max=200", *TINY)
    assert good.returncode == 0, good.stderr
    profile = yaml.safe_load((project / "data" / "prepared" / "profile.json").read_text())
    assert list(profile["schema"]) == ["age", "site", "outcome"]  # the id column dropped
    hostile = assay(project, *args, "data.schema=../../../etc/passwd", *TINY)
    assert hostile.returncode == 2 and "data.schema" in hostile.stderr


def test_dvc_exp_show_lists_no_column_declarations(tmp_path: Path) -> None:
    repo = make_project_repo(tmp_path / "repo")
    shown = dvc_run(repo, "exp", "show", "--csv", "--no-pager").stdout
    header = next(csv.reader(io.StringIO(shown)))
    assert not [c for c in header if c.startswith("data.columns")]
    settings = [c for c in header if c.startswith("data.") and not c.startswith("data.card.")]
    assert len(settings) < 30
    assert len([c for c in header if c.startswith("data.card.")]) == 9  # the data card


def _node_facts(node, path: str = "") -> dict:
    """Every node's type, reference and object types, optionality, key, flags and value."""
    meta = node._metadata
    if not OmegaConf.is_config(node):
        return {path: (type(node), meta.ref_type, meta.optional, meta.key, node._value())}
    facts = {path: (type(node), meta.ref_type, meta.object_type, meta.optional, meta.key)}
    facts[path] += (dict(meta.flags),)
    for key in node if OmegaConf.is_dict(node) else range(len(node)):
        facts |= _node_facts(node._get_node(key), f"{path}.{key}")
    return facts


def _typed_both_ways(data: dict, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """(typed column by column, as to_typed does; typed by OmegaConf's own merge of the
    whole data config): each the node's facts and its object, or the error."""
    from assayml.config import load
    from assayml.config.schema import DataConfig

    outcomes = []
    for one_by_one in (True, False):
        with monkeypatch.context() as patch:
            if not one_by_one:
                patch.setattr(load, "_plain_entries", lambda columns: False)
            try:
                node = load._typed_node("data", DataConfig, data)
                outcomes.append((_node_facts(node), OmegaConf.to_object(node)))
            except Exception as err:  # compared, whatever it is
                outcomes.append((type(err), str(err)))
    return tuple(outcomes)


@pytest.mark.parametrize("name", TABLE_SETS)
def test_columns_typed_one_by_one_equal_omegaconfs_own_merge(project, monkeypatch, name) -> None:
    from assayml.config.column_schemas import with_schema_file

    data = OmegaConf.to_container(compose([f"data={name}"], project / "conf").data)
    data = with_schema_file(data, name)
    ours, stock = _typed_both_ways(data, monkeypatch)
    assert ours == stock
    first, last = next(iter(data["columns"])), list(data["columns"])[-1]
    for entry in (
        {"dtype": "nope"},
        {"dtype": "float", "foo": 1},
        {"min": "x"},
        {"nullable": "maybe"},
        {"dtype": "float", "min": 3, "max": 1},
        {"allowed": [1, 2]},
        {"dtype": "category", "allowed": ["a", 2], "nullable": "true"},
        {},
        {"dtype": "category", "allowed": f"${{..{last}.allowed}}"},  # resolved as merged
        {"dtype": "float", "max": f"${{..{last}.max}}", "min": "${.max}"},
        {"dtype": "float", "max": "${data.nope}"},
    ):
        changed = {**data, "columns": {**data["columns"], first: entry}}
        ours, stock = _typed_both_ways(changed, monkeypatch)
        assert ours == stock, entry
    # entries that are not mappings, a name that is not a string: left to the merge
    for columns in ({"age": 3}, {"age": None}, {1: {"dtype": "float"}}, {"age": "${x}"}):
        ours, stock = _typed_both_ways({**data, "columns": columns}, monkeypatch)
        assert ours == stock, columns
