"""Loading a model imports only trusted builders; the manifest covers every file.

The attacks are real: a ``hubconf.py`` that ``torch.hub.load`` would import, and
``os.system``; each writes a marker if it runs. One test trusts ``torch.hub`` explicitly
and sees the marker appear, so the refusals below are not refusals of a broken attack.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from assayml.errors import ArtifactError, ConfigError
from assayml.models.artifact import ModelSpec, load_model, save_model, seal_model
from assayml.models.manifest import MANIFEST_FILE, verify_manifest
from assayml.models.networks import build_mlp
from assayml.models.trust import BuilderTrust, UntrustedBuilder, builtin_trust, project_trust
from assayml.utils.io import atomic_outputs
from tests.models.custom_builder import build_wide
from tests.trust_helpers import (
    assay,
    copy_models,
    edit_spec,
    input_csv,
    plant_hub_attack,
    plant_os_system,
    project_dir,
    reseal,
)

WIDE = "tests.models.custom_builder.build_wide"


@pytest.fixture
def folder(credit_project: Path, tmp_path: Path) -> Path:
    """A copy of the trained credit models folder, to attack."""
    return copy_models(credit_project, tmp_path / "incoming")


@pytest.mark.parametrize("attack", [plant_hub_attack, plant_os_system])
def test_predict_refuses_an_untrusted_builder_and_runs_nothing(folder, tmp_path, attack) -> None:
    marker = tmp_path / "PWNED"
    attack(folder, marker)
    target = json.loads((folder / "model.json").read_text())["target"]
    out = tmp_path / "p.csv"
    result = assay(
        project_dir(tmp_path), "predict", str(input_csv(tmp_path)), str(out), "--model", str(folder)
    )
    assert result.returncode == 2, result.stderr
    assert f"builder '{target}' is not trusted" in result.stderr and "model.json" in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists() and not out.exists()


def test_the_hub_attack_runs_only_when_its_module_is_trusted(folder, tmp_path) -> None:
    marker = tmp_path / "PWNED"
    plant_hub_attack(folder, marker)
    with pytest.raises(UntrustedBuilder, match=r"torch\.hub\.load"):
        load_model(folder)
    assert not marker.exists()
    load_model(folder, project_trust(["torch.hub"]))  # the user said so, explicitly
    assert marker.exists()


def test_a_model_json_changed_after_saving_is_refused(folder, tmp_path) -> None:
    edit_spec(folder, kwargs={"bias": False})  # a built-in target: only the manifest can tell
    out = tmp_path / "p.csv"
    result = assay(
        project_dir(tmp_path), "predict", str(input_csv(tmp_path)), str(out), "--model", str(folder)
    )
    assert result.returncode == 2
    assert "model.json: SHA-256 does not match" in result.stderr
    assert "manifest.json" in result.stderr
    assert not out.exists()


def test_a_file_beside_the_model_is_refused(folder, tmp_path) -> None:
    (folder / "hubconf.py").write_text("raise SystemExit('imported')\n")
    result = assay(
        project_dir(tmp_path),
        "predict",
        str(input_csv(tmp_path)),
        str(tmp_path / "p.csv"),
        "--model",
        str(folder),
    )
    assert result.returncode == 2 and "hubconf.py not listed in manifest.json" in result.stderr


def test_a_listed_file_replaced_by_a_link_is_refused(folder, tmp_path) -> None:
    schema = folder / "schema.json"
    (tmp_path / "elsewhere.json").write_bytes(schema.read_bytes())  # same bytes, same hash
    schema.unlink()
    schema.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ArtifactError, match="not a plain file"):
        load_model(folder)


def test_training_writes_a_manifest_of_every_file(credit_project: Path) -> None:
    models = credit_project / "models"
    listed = json.loads((models / MANIFEST_FILE).read_text())["files"]
    assert set(listed) == {p.name for p in models.iterdir()} - {MANIFEST_FILE}
    assert {"model.json", "model.safetensors", "schema.json", "model_card.json"} <= set(listed)
    assert verify_manifest(models)


def test_a_folder_without_manifest_loads_built_in_builders_only(folder, tmp_path) -> None:
    (folder / MANIFEST_FILE).unlink()
    _, spec = load_model(folder)  # an older folder with assayml's own builder: accepted
    assert spec.target.startswith("assayml.models.networks.")
    plant_hub_attack(folder, tmp_path / "PWNED")
    (folder / MANIFEST_FILE).unlink()
    with pytest.raises(ArtifactError, match=r"no manifest\.json .* re-train"):
        load_model(folder, project_trust(["torch.hub"]))  # not even when trusted
    assert not (tmp_path / "PWNED").exists()


def saved_wide(folder: Path) -> torch.nn.Module:
    """A sealed folder whose builder is the user's own (tests.models.custom_builder)."""
    net = build_wide(4, 2, width=3)
    spec = ModelSpec(WIDE, {"width": 3}, 4, 2, "binary", list("abcd"))
    with atomic_outputs() as out:
        out.own_dir(folder)
        save_model(out, folder, spec, net.state_dict())
        seal_model(out, folder)
    return net


def test_a_builder_declared_in_conf_model_is_trusted(tmp_path: Path) -> None:
    net = saved_wide(tmp_path / "models")
    with pytest.raises(UntrustedBuilder, match=WIDE):
        load_model(tmp_path / "models", builtin_trust())
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "wide.yaml").write_text(f"_target_: {WIDE}\nwidth: 3\n")
    loaded, _ = load_model(tmp_path / "models", project_trust(root=tmp_path))
    x = torch.randn(2, 4)
    assert torch.equal(loaded(x), net.eval()(x))


def test_trust_builder_trusts_what_a_module_defines(tmp_path: Path, monkeypatch) -> None:
    saved_wide(tmp_path / "models")
    trust = project_trust(["tests.models.custom_builder"], root=tmp_path)
    assert load_model(tmp_path / "models", trust)[1].target == WIDE
    monkeypatch.setenv("ASSAY_TRUST_BUILDERS", "tests.models.custom_builder, other.pkg")
    assert project_trust(root=tmp_path).allows(WIDE)
    with pytest.raises(ConfigError, match="not a module path"):
        project_trust(["../evil"])


@pytest.mark.parametrize(
    "target",
    [
        "assayml.models.networks.torch.hub.load",  # reached through a trusted module
        "assayml.models.networks._finish",  # private
        "os.system",
        "builtins.eval",
        "build_mlp",  # not dotted
        "assayml.models.networks.build_mlp; import os",
        42,
    ],
)
def test_names_outside_the_policy_are_refused_before_import(target) -> None:
    assert not builtin_trust().allows(target)
    with pytest.raises(UntrustedBuilder):
        builtin_trust().check(target, "model.json")


def test_a_name_a_trusted_module_only_imported_is_refused() -> None:
    # networks.py does `from torch import nn`: trusting the module is not trusting torch.
    trust = BuilderTrust()
    assert trust.allows("assayml.models.networks.nn")
    with pytest.raises(UntrustedBuilder, match="not a builder defined"):
        trust.resolve("assayml.models.networks.nn", "model.json")
    assert trust.resolve("assayml.models.networks.build_mlp", "model.json") is build_mlp


def test_a_sealed_folder_reseals_to_the_same_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    saved_wide(folder)
    before = json.loads((folder / MANIFEST_FILE).read_text())
    assert verify_manifest(folder) and set(before["files"]) == {"model.json", "model.safetensors"}
    reseal(folder)
    assert json.loads((folder / MANIFEST_FILE).read_text()) == before


def test_conf_targets_are_every_target_the_yaml_files_name() -> None:
    """Read with libyaml's parser where present; equal to PyYAML's pure-Python reading of
    every conf/ file, nested targets included."""
    import yaml

    from assayml.models.trust import conf_targets, nested_targets
    from tests.conftest import REPO

    expected: set[str] = set()
    for path in (REPO / "conf").rglob("*.yaml"):
        node = yaml.safe_load(path.read_text())
        if isinstance(node, (dict, list)):
            expected.update(t for t in nested_targets(node) if isinstance(t, str))
    assert conf_targets(REPO / "conf") == expected
    assert {"torch.optim.Adam", "lightning.pytorch.callbacks.ModelCheckpoint"} <= expected
