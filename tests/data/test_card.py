"""Data cards: required for the user's data, shipped with the built-in sets, and carried
into profile.json, the model card, `assay registry show` and `assay lineage`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assayml.config import compose, to_typed
from tests.card_helpers import TEST_CARD
from tests.conftest import REPO, TINY
from tests.trust_helpers import assay

SHIPPED = ("breast_cancer", "wine", "diabetes", "digits", "credit_synthetic", "digits_folder")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_data_config_has_a_complete_card(name: str) -> None:
    cfg = to_typed(compose([f"data={name}"], REPO / "conf"))
    assert cfg.data.card.missing() == []
    assert isinstance(cfg.data.card.personal_data, bool)


def visits(rows: int = 90) -> pd.DataFrame:
    """A user's table: an id column, a float label, missing values, a 3-valued facet."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:04d}" for i in range(rows)],
            "age": rng.integers(18, 90, rows).astype(float),
            "dose": rng.normal(5, 1, rows),
            "site": rng.choice(["north", "south", "east"], rows),
            "outcome": rng.integers(0, 2, rows).astype(float),  # 0.0 / 1.0
        }
    )
    frame.loc[::7, "dose"] = np.nan
    return frame


def card_args(card: dict, skip: tuple[str, ...] = ()) -> list[str]:
    def value(v):
        if isinstance(v, list):
            return "[" + ",".join(f"'{x}'" for x in v) + "]"
        if isinstance(v, bool):
            return str(v).lower()
        return f"'{v}'"

    return [f"data.card.{k}={value(v)}" for k, v in card.items() if k not in skip]


@pytest.fixture
def user_project(tmp_path: Path) -> Path:
    """conf/ as shipped (file.yaml's card all null) and the user's CSV."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "conf", root / "conf")
    visits().to_csv(root / "visits.csv", index=False)
    return root


BASE = ("prepare", "data=file", "data.path=visits.csv", "data.target=outcome")


@pytest.mark.slow
def test_user_data_without_a_card_exits_2_naming_the_field_and_writes_nothing(
    user_project: Path,
) -> None:
    result = assay(user_project, *BASE)
    assert result.returncode == 2, result.stderr
    assert "data.card.owner" in result.stderr and "conf/data/file.yaml" in result.stderr
    assert not (user_project / "data" / "prepared").exists()

    result = assay(user_project, *BASE, *card_args(TEST_CARD, skip=("access",)))
    assert result.returncode == 2 and "data.card.access" in result.stderr

    empty = {**TEST_CARD, "allowed_uses": []}
    result = assay(user_project, *BASE, *card_args(empty))
    assert result.returncode == 2 and "data.card.allowed_uses" in result.stderr


def test_a_complete_card_lands_in_profile_json_typed(user_project: Path) -> None:
    card = {**TEST_CARD, "personal_data": True, "forbidden_uses": []}  # [] names none
    result = assay(user_project, *BASE, *card_args(card))
    assert result.returncode == 0, result.stderr
    profile = json.loads((user_project / "data" / "prepared" / "profile.json").read_text())
    assert profile["card"] == card
    assert profile["card"]["personal_data"] is True


def test_card_reaches_model_card_registry_show_and_lineage(project: Path, make_cfg) -> None:
    from assayml.stages.table import get_stage

    visits().to_csv(project / "visits.csv", index=False)
    cfg = make_cfg("data=file", "data.path=visits.csv", "data.target=outcome")
    for name in ("prepare", "features", "train"):
        get_stage(name).run(cfg)
    card = json.loads((project / "models" / "model_card.json").read_text())
    assert card["data_card"] == TEST_CARD

    lineage = assay(project, "lineage", "models")
    assert lineage.returncode == 0, lineage.stderr
    assert "card: owner=Test team" in lineage.stdout
    assert "retention=until the test ends" in lineage.stdout

    registered = assay(project, "registry", "register", "models", "--name", "visits")
    assert registered.returncode == 0, registered.stderr
    shown = assay(project, "registry", "show", "visits", "1")
    assert shown.returncode == 0, shown.stderr
    assert "data card:" in shown.stdout and "  owner: Test team" in shown.stdout
    assert "  access: tests" in shown.stdout
    report = assay(project, "report")
    assert report.returncode == 0, report.stderr
    page = (project / "reports" / "report.html").read_text()
    assert "Data card:" in page and "<td>Test team</td>" in page
    assert "<td>personal data</td><td>no</td>" in page
    as_json = assay(project, "lineage", "visits@1", "--json")
    data = next(n for n in json.loads(as_json.stdout)["nodes"] if n["kind"] == "data")
    assert data["attrs"]["card"] == TEST_CARD


def test_a_datamodule_that_reads_files_needs_a_card(tmp_path: Path) -> None:
    from assayml.data.card import card_required, check_card
    from assayml.errors import ConfigError

    cfg = to_typed(
        compose([*TINY, "experiment=digits_folder", "data.card.owner=null"], REPO / "conf")
    )
    assert card_required(cfg.data)
    with pytest.raises(ConfigError, match=r"data\.card\.owner.*DataModule that reads files"):
        check_card(cfg.data)
    generated = to_typed(
        compose(
            [*TINY, "experiment=digits_folder", "data.files=[]", "data.card.owner=null"],
            REPO / "conf",
        )
    )
    assert not card_required(generated.data)


def test_the_report_escapes_a_hostile_card() -> None:
    from assayml.report.html import _card

    page = _card({**TEST_CARD, "owner": "<script>alert(1)</script>", "forbidden_uses": []})
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<td>forbidden uses</td><td>none named</td>" in page
    assert _card(None) == "<p>Data card: none recorded.</p>"
