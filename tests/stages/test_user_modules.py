"""A user's own LightningModule and LightningDataModule through the lifecycle: the shipped
digits-folder example end to end, determinism, misspelt keys, trust, and user code in the
project root (importable without PYTHONPATH)."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from assayml.config import compose, to_typed
from assayml.errors import ConfigError
from tests import cli_fork
from tests.conftest import TINY, cli_env, digits_cfg


def test_prepare_profiles_the_datamodule_and_hashes_its_folder(digits_project: Path) -> None:
    from assayml.data.module_files import content_md5

    profile = json.loads((digits_project / "data/prepared/profile.json").read_text())
    assert profile["task"] == "multiclass"
    assert profile["classes"] == list(range(10))
    assert profile["input_shape"] == [1, 8, 8]
    assert sum(profile["rows"].values()) == 1797
    folder = digits_project / "data/raw/digits_png"
    assert len(list(folder.glob("*/*.png"))) == 1797
    files = profile["data"]["files"]["data/raw/digits_png"]
    assert files["md5"] == content_md5(folder)
    assert files["md5"].endswith(".dir")
    record = json.loads((digits_project / "records/train.json").read_text())
    assert record["data"]["files"] == profile["data"]["files"]


def test_the_image_folder_reads_as_imagefolder_does(tmp_path: Path) -> None:
    """Class folders sorted by name, files by name, pixels as ToTensor scales them; the
    same tensors through torchvision's ImageFolder where it imports beside this torch."""
    import torch
    from sklearn.datasets import load_digits

    from assayml.examples.digits_folder import (
        read_image_folder_pillow,
        torchvision_folder,
        write_digits_pngs,
    )

    root = tmp_path / "digits_png"
    write_digits_pngs(root)
    images, labels = read_image_folder_pillow(root)
    digits = load_digits()
    order = np.lexsort((np.arange(len(digits.target)), digits.target))  # class, then file
    expected = np.round(digits.images[order] * (255 / 16)).astype(np.uint8) / np.float32(255)
    assert torch.equal(labels, torch.from_numpy(digits.target[order]))
    assert torch.equal(images[:, 0], torch.from_numpy(expected.astype(np.float32)))
    folder = torchvision_folder(root)
    if folder is None:
        pytest.skip("torchvision does not import beside this torch (see the example's docstring)")
    assert torch.equal(torch.stack([image for image, _ in folder]), images)
    assert torch.equal(torch.tensor(folder.targets), labels)


def test_folder_hash_is_dvcs(tmp_path: Path) -> None:
    """Our folder hash equals what `dvc add` writes into the .dvc file."""
    from assayml.data.module_files import content_md5, tracked_md5
    from tests.repo_helpers import dvc, init_repo

    repo = init_repo(tmp_path / "repo")
    (repo / "d" / "a").mkdir(parents=True)
    (repo / "d" / "a" / "x.txt").write_text("hi\n")
    (repo / "d" / "y.bin").write_bytes(bytes(range(256)))
    dvc(repo, "add", "-q", "d")
    assert tracked_md5(repo, "d") == content_md5(repo / "d")


def test_evaluate_metrics_match_an_independent_computation(digits_project: Path) -> None:
    """Accuracy and macro F1 from scikit-learn on the module's own predictions over the
    DataModule's test split equal what evaluate wrote."""
    import torch
    from sklearn.metrics import accuracy_score, f1_score

    from assayml.examples.digits_folder import DigitsFolderDataModule
    from assayml.models.artifact import load_model

    metrics = json.loads((digits_project / "metrics/evaluate.json").read_text())
    module, spec = load_model(digits_project / "models")
    assert spec.kind == "lightning_module"
    data = DigitsFolderDataModule(root=str(digits_project / "data/raw/digits_png"), seed=42)
    data.setup("test")
    xs, ys = zip(*data.test_dataloader(), strict=True)
    with torch.no_grad():
        predicted = module(torch.cat(xs)).argmax(dim=1).numpy()
    y = torch.cat(ys).numpy()
    assert metrics["rows"] == len(y) == 270
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-6)
    assert metrics["f1"] == pytest.approx(f1_score(y, predicted, average="macro"), abs=1e-6)
    assert metrics["accuracy"] > 0.5  # two epochs learn digits well past chance (0.1)
    matrix = np.asarray(metrics["confusion_matrix"])
    assert matrix.sum() == len(y) and np.trace(matrix) == (predicted == y).sum()


def test_explain_attributes_images_with_captum(digits_project: Path) -> None:
    report = json.loads((digits_project / "reports/explain/explain.json").read_text())
    assert report["kind"] == "tensor" and report["input_shape"] == [1, 8, 8]
    assert [r["row"] for r in report["rows"]] == [0, 1]
    for row in report["rows"]:
        assert set(row["methods"]) == {"integrated_gradients", "saliency", "occlusion"}
        # completeness: IG attributions sum to f(x) - f(baseline), up to the path error
        assert row["methods"]["integrated_gradients"]["completeness_error"] < 0.05
        for method in row["methods"]:
            png = digits_project / f"reports/explain/row_{row['row']}_{method}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data.sensitive names none" in report["bias_skipped"]


def test_monitor_says_why_a_datamodule_baseline_cannot_check_inputs(
    digits_project: Path, tmp_path: Path
) -> None:
    constraints = json.loads((digits_project / "monitoring/constraints.json").read_text())
    assert constraints["inputs"]["monitored"] is False
    statistics = json.loads((digits_project / "monitoring/statistics.json").read_text())
    assert sum(statistics["prediction"]["distribution"]["counts"].values()) == 270
    current = tmp_path / "rows.csv"
    current.write_text("a,b\n1,2\n")
    result = cli_fork.run(
        [sys.executable, "-m", "assayml.cli.main", "monitor", str(current)],
        cwd=digits_project,
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    assert result.returncode == 2, result.stderr
    assert "input drift is not monitored" in result.stderr


def test_same_seed_same_weights_for_a_user_module(digits_project: Path, tmp_path) -> None:
    """Training the user's module again with the same seed gives bit-identical weights."""
    from assayml.stages.table import get_stage

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(digits_project)
        cfg = digits_cfg(digits_project, f"paths.models_dir={tmp_path}/models")
        get_stage("train").run(cfg)
    first = (digits_project / "models/model.safetensors").read_bytes()
    assert (tmp_path / "models/model.safetensors").read_bytes() == first


def test_loading_checks_every_target_of_a_user_module(digits_project: Path) -> None:
    """A model folder names the module and its nested network: trusting the module alone
    does not let the network be imported."""
    from assayml.models.artifact import load_model
    from assayml.models.trust import BuilderTrust, UntrustedBuilder

    module_only = BuilderTrust(targets=frozenset({"assayml.examples.digits_folder.DigitsCNN"}))
    with pytest.raises(UntrustedBuilder, match="SmallCNN"):
        load_model(digits_project / "models", trust=module_only)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.net.chanels=8", "model.net.chanels"),
        ("model.optimizer.lrr=0.1", "model.optimizer.lrr"),
        ("model.scheduler.step_sz=2", "model.scheduler.step_sz"),
        ("+model.hidden_size=3", "hidden_size"),
        ("+data.batchsize=3", "batchsize"),
    ],
)
def test_a_misspelt_key_of_a_user_module_fails_by_name(project: Path, override, key) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        to_typed(compose([*TINY, "experiment=digits_folder", override], project / "conf"))


def test_a_datamodule_with_a_tabular_network_exits_2_saying_why(project: Path) -> None:
    from assayml.stages.table import get_stage

    cfg = to_typed(compose([*TINY, "data=digits_folder", "model=mlp"], project / "conf"))
    get_stage("prepare").run(cfg)
    with pytest.raises(ConfigError, match=r"needs model\._target_ naming a LightningModule"):
        get_stage("train").run(cfg)


def write_package(project: Path, package: str, code: str) -> None:
    """``project/<package>/blobs.py`` holding ``code``: a user's own code in the root."""
    (project / package).mkdir()
    (project / package / "__init__.py").write_text("")
    (project / package / "blobs.py").write_text(textwrap.dedent(code))


USER_CODE = '''
    """A user's own module and data, in the project root (not installed)."""
    import lightning.pytorch as pl
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset


    class Blobs(pl.LightningDataModule):
        def __init__(self, rows: int = 300, seed: int = 0):
            super().__init__()
            self.rows, self.seed = rows, seed

        def setup(self, stage=None):
            g = torch.Generator().manual_seed(self.seed)
            y = torch.randint(0, 2, (self.rows,), generator=g)
            x = torch.randn(self.rows, 4, generator=g) + y[:, None] * 3.0
            n = self.rows // 5
            cuts = {"test": slice(0, n), "val": slice(n, 2 * n), "train": slice(2 * n, None)}
            self.parts = {name: (x[cut], y[cut]) for name, cut in cuts.items()}

        def _loader(self, part):
            return DataLoader(TensorDataset(*self.parts[part]), batch_size=32)

        def train_dataloader(self):
            return self._loader("train")

        def val_dataloader(self):
            return self._loader("val")

        def test_dataloader(self):
            return self._loader("test")


    class OneLogit(pl.LightningModule):
        def __init__(self, hidden: int = 8, lr: float = 0.3):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            self.lr = lr

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.binary_cross_entropy_with_logits(self(x)[:, 0], y.float())

        def validation_step(self, batch, _):
            x, y = batch
            loss = nn.functional.binary_cross_entropy_with_logits(self(x)[:, 0], y.float())
            self.log("val/loss", loss)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)
'''


@pytest.mark.slow
def test_user_code_in_the_project_root_runs_without_pythonpath(project: Path) -> None:
    """`assay run` imports `mycode` from the project root, in every stage; one logit for
    two classes is read as a binary classifier."""
    write_package(project, "mycode", USER_CODE)
    (project / "conf" / "model" / "one_logit.yaml").write_text("_target_: mycode.blobs.OneLogit\n")
    (project / "conf" / "data" / "blobs.yaml").write_text("_target_: mycode.blobs.Blobs\n")
    env = cli_env()
    env.pop("PYTHONPATH", None)
    result = cli_fork.run(
        [
            sys.executable,
            "-m",
            "assayml.cli.main",
            "run",
            "data=blobs",
            "model=one_logit",
            "explain.methods=[integrated_gradients]",
            "explain.steps=20",
            *TINY,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((project / "metrics/evaluate.json").read_text())
    assert json.loads((project / "models/model.json").read_text())["task"] == "binary"
    report = json.loads((project / "reports/explain/explain.json").read_text())
    assert report["one_logit"] is True  # explained through its one logit, for every row
    for row in report["rows"]:
        assert row["target_class"] == 1
        assert row["methods"]["integrated_gradients"]["abs_sum"] > 0
    assert metrics["accuracy"] > 0.8  # the blobs are three standard deviations apart


@pytest.mark.slow
def test_the_example_through_dvc_repro_exp_run_and_a_folder_at_a_revision(tmp_path: Path) -> None:
    """`dvc repro` runs the digits-folder example and `assay reproduce` rebuilds it
    identical once registered; `dvc exp run -S` with a scheduler key and
    `trainer.accumulate_grad_batches` reruns train with both; `data.rev` reads the image
    folder as DVC tracked it at a tag."""
    import yaml

    from assayml.examples.digits_folder import write_digits_pngs
    from tests.repo_helpers import dvc_run, git, make_project_repo, run_env

    repo = make_project_repo(tmp_path / "repo")
    config = repo / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("experiment: null", "experiment: digits_folder"))
    experiment = repo / "conf" / "experiment" / "digits_folder.yaml"
    experiment.write_text(
        experiment.read_text().replace("max_epochs: 10", "max_epochs: 2")
        + "  steps: 20\n  rows: first:1\n"
    )
    write_digits_pngs(repo / "data/raw/digits_png")
    dvc_run(repo, "add", "-q", "data/raw/digits_png")
    run_env(repo, sys.executable, "-m", "assayml.cli.main", "compose")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "digits folder v1")
    git(repo, "tag", "v1")
    v1 = yaml.safe_load((repo / "data/raw/digits_png.dvc").read_text())["outs"][0]["md5"]

    dvc_run(repo, "repro")
    profile = json.loads((repo / "data/prepared/profile.json").read_text())
    assert profile["data"]["files"]["data/raw/digits_png"] == {"md5": v1, "dvc_md5": v1}
    metrics = json.loads((repo / "metrics/evaluate.json").read_text())
    assert metrics["rows"] == 270 and metrics["accuracy"] > 0.5
    steps = json.loads((repo / "records/train.json").read_text())["details"]["steps"]
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline run")
    # The registered user module is rebuilt bit for bit from its record in a clean worktree.
    assay = (sys.executable, "-m", "assayml.cli.main")
    run_env(repo, *assay, "registry", "register", "models", "--name", "digits")
    rebuilt = run_env(repo, *assay, "reproduce", "digits@1", "--json", check=False)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["identical"]

    dvc_run(
        repo,
        "exp",
        "run",
        "-S",
        "model.scheduler.step_size=1",
        "-S",
        "trainer.accumulate_grad_batches=2",
    )
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["model"]["scheduler"]["step_size"] == 1
    assert params["trainer"]["accumulate_grad_batches"] == 2
    record = json.loads((repo / "records/train.json").read_text())
    assert record["details"]["steps"] == steps // 2  # one optimizer step per two batches

    # The folder changes: data.rev=v1 still reads it as DVC tracked it at v1.
    first = sorted((repo / "data/raw/digits_png/0").glob("*.png"))[0]
    first.unlink()
    run_env(repo, sys.executable, "-m", "assayml.cli.main", "prepare", "data.rev=v1")
    at_v1 = json.loads((repo / "data/prepared/profile.json").read_text())
    assert at_v1["data"]["files"]["data/raw/digits_png"]["md5"] == v1
    assert sum(at_v1["rows"].values()) == 1797
    run_env(repo, sys.executable, "-m", "assayml.cli.main", "prepare")
    now = json.loads((repo / "data/prepared/profile.json").read_text())
    assert now["data"]["files"]["data/raw/digits_png"]["md5"] != v1
    assert sum(now["rows"].values()) == 1796


@pytest.mark.parametrize(
    "kwargs",
    [
        # Hydra builds every _args_ item: a target hidden there is a target too
        {"_args_": [{"_target_": "os.system", "_args_": ["touch {marker}"]}]},
        {"net": {"_target_": "builtins.dict", "_args_": [{"_target_": "os.system"}]}},
    ],
)
def test_a_model_folder_cannot_hide_a_call_in_positional_arguments(
    digits_project: Path, tmp_path: Path, kwargs
) -> None:
    from assayml.models.artifact import load_model
    from assayml.models.trust import UntrustedBuilder
    from tests.trust_helpers import edit_spec, reseal

    folder = tmp_path / "models"
    shutil.copytree(digits_project / "models", folder)
    marker = tmp_path / "pwned"
    text = json.dumps(kwargs).replace("{marker}", str(marker))
    spec = json.loads((folder / "model.json").read_text())
    edit_spec(folder, kwargs={**spec["kwargs"], **json.loads(text)})
    reseal(folder)  # what an attacker can do too
    with pytest.raises(UntrustedBuilder, match="is not trusted"):
        load_model(folder)
    assert not marker.exists()


def test_a_trusted_module_does_not_trust_what_it_imported(digits_project, tmp_path) -> None:
    """--trust-builder assayml.examples.digits_folder trusts its classes, not `torch`,
    which that module imported (a model folder naming `...digits_folder.torch.load`, or a
    name re-exported there, is refused before anything is called)."""
    from assayml.models.artifact import load_model
    from assayml.models.trust import BuilderTrust, UntrustedBuilder
    from tests.trust_helpers import edit_spec, reseal

    folder = tmp_path / "models"
    shutil.copytree(digits_project / "models", folder)
    spec = json.loads((folder / "model.json").read_text())
    net = {"_target_": "assayml.examples.digits_folder.DataLoader", "dataset": []}
    edit_spec(folder, kwargs={**spec["kwargs"], "net": net})
    reseal(folder)
    trust = BuilderTrust(
        targets=frozenset({"torch.optim.Adam", "torch.optim.lr_scheduler.StepLR"}),
        modules=frozenset({"assayml.examples.digits_folder"}),
    )
    with pytest.raises(UntrustedBuilder, match="DataLoader"):
        load_model(folder, trust=trust)


SILENT = (
    USER_CODE
    + """

    class Silent(OneLogit):
        def validation_step(self, batch, _):
            pass  # logs nothing: train.monitor (val/loss) never appears
"""
)


def test_a_module_that_never_logs_the_monitored_metric_exits_2(project, monkeypatch) -> None:
    from assayml.stages.table import get_stage

    write_package(project, "mycode", SILENT)
    monkeypatch.syspath_prepend(str(project))
    (project / "conf" / "model" / "silent.yaml").write_text("_target_: mycode.blobs.Silent\n")
    (project / "conf" / "data" / "blobs.yaml").write_text("_target_: mycode.blobs.Blobs\n")
    cfg = to_typed(compose([*TINY, "data=blobs", "model=silent"], project / "conf"))
    get_stage("prepare").run(cfg)
    with pytest.raises(ConfigError, match=r"train\.monitor=val/loss: self\.log it"):
        get_stage("train").run(cfg)


OBJECT_DEFAULT = (
    USER_CODE
    + """

    class WithLoss(OneLogit):
        def __init__(self, hidden: int = 8, lr: float = 0.3, loss=nn.BCEWithLogitsLoss()):
            super().__init__(hidden, lr)
            self.criterion = loss
"""
)


def test_an_object_default_is_left_to_the_class(project, monkeypatch) -> None:
    """A constructor default that cannot be a config value (a loss object) is left out of
    the config and of the build, so the class's own default applies. (A package name of
    its own: another test's `mycode` may already be imported in this process.)"""
    from assayml.config.user_modules import constructor_node

    write_package(project, "objcode", OBJECT_DEFAULT)
    monkeypatch.syspath_prepend(str(project))
    (project / "conf" / "model" / "with_loss.yaml").write_text("_target_: objcode.blobs.WithLoss\n")
    (project / "conf" / "data" / "blobs.yaml").write_text("_target_: objcode.blobs.Blobs\n")
    cfg = to_typed(compose([*TINY, "data=blobs", "model=with_loss"], project / "conf"))
    assert cfg.model.loss is None and "loss" not in constructor_node(cfg.model)
    from assayml.train.user_fit import build_user_module

    assert type(build_user_module(cfg).criterion).__name__ == "BCEWithLogitsLoss"
