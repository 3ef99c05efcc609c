"""The registry's trust boundary: register stores only sealed, trusted models; a forged
version runs no code; names and stored fields never reach a path outside the registry
(or outside the folder a version is copied to), from the command line or from disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from assayml.data.credit import generate_credit
from assayml.registry.collect import collect
from assayml.registry.store import Registry
from tests.trust_helpers import (
    assay,
    copy_models,
    forge_version,
    input_csv,
    plant_hub_attack,
    plant_os_system,
    project_dir,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return project_dir(tmp_path)


@pytest.fixture
def registry(credit_project: Path, project: Path) -> Path:
    """``churn@1``: the trained credit model, registered; returns the registry folder."""
    root = project / "registry"
    files, metadata = collect(credit_project / "models")
    Registry(root).register("churn", files, metadata, "alice")
    return root


@pytest.fixture
def cli(project: Path, monkeypatch, capsys):
    """``assay ARGS`` in this process (the CLI's main function), from the project root;
    returns (exit code, stderr). Quicker than a subprocess for the many refusal cases."""
    from assayml.cli.main import main

    monkeypatch.chdir(project)

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's own refusals
            code = exit_.code
        return code, capsys.readouterr().err

    return run


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and ".lock" not in p.name}


# -- register ------------------------------------------------------------------------


@pytest.mark.parametrize("attack", [plant_hub_attack, plant_os_system])
def test_register_refuses_an_untrusted_builder(credit_project, project, tmp_path, attack) -> None:
    folder = copy_models(credit_project, project / "incoming")
    attack(folder, tmp_path / "PWNED")
    target = json.loads((folder / "model.json").read_text())["target"]
    result = assay(project, "registry", "register", str(folder), "--name", "evil")
    assert result.returncode == 2, result.stderr
    assert f"builder '{target}' is not trusted" in result.stderr
    assert not (project / "registry" / "models" / "evil").exists()
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("damage", ["extra_file", "no_manifest", "edited_spec"])
def test_register_refuses_an_unsealed_folder(credit_project, project, damage) -> None:
    folder = copy_models(credit_project, project / "incoming")
    if damage == "extra_file":
        (folder / "hubconf.py").write_text("print('hi')\n")
        message = "hubconf.py not listed in manifest.json"
    elif damage == "no_manifest":
        (folder / "manifest.json").unlink()
        message = "no manifest.json"
    else:
        (folder / "model.json").write_text((folder / "model.json").read_text() + " ")
        message = "model.json: SHA-256 does not match"
    result = assay(project, "registry", "register", str(folder), "--name", "churn")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (project / "registry" / "models").exists()


def test_register_accepts_a_module_trusted_by_flag(credit_project, project, tmp_path) -> None:
    folder = copy_models(credit_project, project / "incoming")
    plant_hub_attack(folder, tmp_path / "PWNED")
    args = ("registry", "register", str(folder), "--name", "hub")
    assert assay(project, *args, "--trust-builder", "torch.hub").returncode == 0
    assert not (tmp_path / "PWNED").exists()  # registering imports nothing


# -- forged versions -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("attack", [plant_hub_attack, plant_os_system])
def test_a_forged_version_runs_no_code(credit_project, project, tmp_path, attack) -> None:
    folder = copy_models(credit_project, tmp_path / "forged")
    attack(folder, tmp_path / "PWNED")
    forge_version(project / "registry", "evil", folder)
    holdout = tmp_path / "holdout.csv"
    generate_credit(50, seed=4).to_csv(holdout, index=False)
    out = tmp_path / "p.csv"
    predict = ("predict", str(input_csv(tmp_path)), str(out), "--model", "evil@production")
    result = assay(project, *predict)
    assert result.returncode == 2 and "is not trusted" in result.stderr, result.stderr
    result = assay(project, "registry", "compare", "evil", "1", "1", "--data", str(holdout))
    assert result.returncode == 2 and "is not trusted" in result.stderr, result.stderr
    assert not (tmp_path / "PWNED").exists() and not out.exists()


def test_a_forged_version_with_a_changed_spec_is_refused(credit_project, project, tmp_path):
    folder = copy_models(credit_project, tmp_path / "forged")
    (folder / "model.json").write_text((folder / "model.json").read_text() + " ")
    forge_version(project / "registry", "churn", folder)
    out = tmp_path / "p.csv"
    result = assay(project, "predict", str(input_csv(tmp_path)), str(out), "--model", "churn@1")
    assert result.returncode == 2 and "model.json: SHA-256 does not match" in result.stderr
    assert not out.exists()


# -- names from the command line -----------------------------------------------------

BAD_NAMES = ["../../outside", "..", "a/b", "/tmp/x", "a..b", "." * 3]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize(
    "command",
    [
        ("approve", "{name}", "1", "--reason", "r"),
        ("reject", "{name}", "1", "--reason", "r"),
        ("promote", "{name}", "1", "--stage", "production"),
        ("archive", "{name}", "1"),
        ("show", "{name}", "1"),
        ("list", "{name}"),
        ("compare", "{name}", "1", "1", "--data", "x.csv"),
        ("register", "models", "--name", "{name}"),
    ],
)
def test_invalid_names_on_the_command_line_exit_2(registry, project, cli, command, name):
    # Where registry/models/../../outside leads, a version waiting to be rewritten.
    doc = json.loads((registry / "models" / "churn" / "1.json").read_text())
    planted = project / "outside" / "1.json"
    planted.parent.mkdir()
    planted.write_text(json.dumps(doc | {"name": "../../outside"}))
    before = files_under(project.parent)
    args = [part.format(name=name) for part in command]
    if args[0] == "register":
        (project / "models").mkdir(exist_ok=True)
    code, err = cli("registry", "--registry", str(registry), *args)
    assert code == 2 and "not a valid model name" in err, (args, err)
    assert files_under(project.parent) == before
    assert json.loads(planted.read_text())["status"] == doc["status"]


def test_an_invalid_model_reference_exits_2(registry, cli, tmp_path) -> None:
    for ref in ("../../outside@1", "churn@../2", "churn@1.0", "/etc@1"):
        out = tmp_path / "p.csv"
        code, err = cli("predict", str(input_csv(tmp_path)), str(out), "--model", ref)
        assert code == 2 and "registry: " in err, err
        assert not out.exists()


# -- fields read back from disk ------------------------------------------------------


def edit_stored(registry: Path, **changes) -> Path:
    path = registry / "models" / "churn" / "1.json"
    doc = json.loads(path.read_text())
    for key, value in changes.items():
        if key == "files":
            doc["files"] = value(doc["files"])
        else:
            doc[key] = value
    path.write_text(json.dumps(doc))
    return path


def escape_file(files: dict) -> dict:
    digest = files["model/model.json"]
    return {**files, "model/../../../../escaped.txt": digest}


def escape_digest(files: dict) -> dict:
    return {**files, "model/model.json": "../../../../../etc/passwd"}


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"name": "../../../escaped"}, "not a valid model name"),
        ({"name": "other"}, "holds other@1, not churn@1"),
        ({"version": "../../escaped"}, "is not a positive whole number"),
        ({"version": 2}, "holds churn@2, not churn@1"),
        ({"version": True}, "is not a positive whole number"),
        ({"files": escape_file}, "is not a plain relative path"),
        ({"files": escape_digest}, "is not a SHA-256 digest"),
    ],
)
def test_edited_stored_fields_are_refused(registry, cli, tmp_path, changes, message):
    edit_stored(registry, **changes)
    before = files_under(tmp_path)
    base = ("registry", "--registry", str(registry))
    out = tmp_path / "p.csv"
    for args in [
        (*base, "approve", "churn", "1", "--reason", "r"),
        (*base, "promote", "churn", "1", "--stage", "staging"),
        (*base, "show", "churn", "1"),
        (*base, "list"),
        ("predict", str(input_csv(tmp_path)), str(out), "--model", "churn@1"),
    ]:
        code, err = cli(*args)
        assert code == 2 and message in err, (args, err)
    created = files_under(tmp_path) - before - {tmp_path / "new.csv"}
    assert not created, created
    assert not list(tmp_path.parent.glob("escaped*"))


def test_a_symlinked_model_folder_outside_the_registry_is_refused(registry, project, cli):
    outside = project.parent / "elsewhere"
    outside.mkdir()
    doc = json.loads((registry / "models" / "churn" / "1.json").read_text())
    (outside / "1.json").write_text(json.dumps(doc | {"name": "linked"}))
    os.symlink(outside, registry / "models" / "linked")
    before = (outside / "1.json").read_text()
    args = ("approve", "linked", "1", "--reason", "r")
    code, err = cli("registry", "--registry", str(registry), *args)
    assert code == 2 and "resolves outside" in err, err
    assert (outside / "1.json").read_text() == before


def test_materialize_refuses_a_path_outside_its_target(registry, tmp_path) -> None:
    from assayml.errors import BadInputError

    store = Registry(registry)
    doc = store.get("churn", 1)
    target = tmp_path / "copy"
    target.mkdir()
    os.symlink(tmp_path / "elsewhere", target / "model")  # a link planted in the cache
    with pytest.raises(BadInputError, match="resolves outside"):
        store.materialize(doc, target)
    assert not (tmp_path / "elsewhere").exists()
    store.materialize(doc, tmp_path / "fresh")  # the version itself is fine
    assert (tmp_path / "fresh" / "model" / "manifest.json").is_file()


# -- reproduce -----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["model", "trainer.callbacks"])
def test_reproduce_refuses_a_recorded_config_naming_untrusted_code(registry, cli, key) -> None:
    path = registry / "models" / "churn" / "1.json"
    doc = json.loads(path.read_text())
    params = doc["metadata"]["params"]
    if key == "model":
        params["model"]["_target_"] = "os.system"
    else:
        params["trainer"]["callbacks"] = [{"_target_": "builtins.exec", "source": "1"}]
    doc["metadata"]["git"] = {"commit": "0" * 40, "dirty": False}
    path.write_text(json.dumps(doc))
    code, err = cli("reproduce", "churn@1", "--registry", str(registry))
    assert code == 2 and "is not trusted" in err and f"params.{key}" in err, err
