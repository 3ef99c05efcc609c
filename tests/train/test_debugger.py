"""The training debugger: each rule fires on a run built to break it and stays silent on
the default run; actions warn, stop and fail (exit 3 through the CLI); the weights are
bit-identical with the debugger on and off."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assayml.config import compose, to_typed
from assayml.errors import ConfigError
from assayml.stages.table import get_stage
from assayml.train.debugger_rules import RULE_NAMES, merge_entries
from tests import cli_fork
from tests.conftest import REPO, TINY, cli_env

NETS = "tests.train.test_debugger_nets"
ADAM_50 = "model.optimizer={_target_:torch.optim.Adam,_partial_:true,lr:50}"
EVERY_STEP = "debugger.every_n_steps=1"

NOISY_DATA = """\
defaults:
  - data_schema
  - _self_
name: noisy
source: file
path: data/raw/noisy.csv
target: label
task: binary
key: record_id
sensitive: [site]
reference_groups: {site: north}
columns:
  record_id: {dtype: str}
  x0: {dtype: float, nullable: true}
  x1: {dtype: float}
  x2: {dtype: float}
  x3: {dtype: float}
  x4: {dtype: float}
  x5: {dtype: float}
  x6: {dtype: float}
  x7: {dtype: float}
  site: {dtype: category, allowed: [north, south, east]}
  label: {dtype: float, min: 0, max: 1}
card:
  owner: test team
  contact: test@example.org
  licence: internal
  source: noise generated for the debugger tests
  allowed_uses: [testing]
  forbidden_uses: []
  personal_data: false
  retention: none
  access: [tests]
"""


def noisy_table(rows: int = 300, seed: int = 3) -> pd.DataFrame:
    """A user table of noise: an id column, float 0/1 labels (7 % positive, unrelated to
    the inputs, so a big network can only memorise them), missing values, a 3-valued facet."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"record_id": [f"R{i:04d}" for i in range(rows)]})
    for j in range(8):
        frame[f"x{j}"] = rng.normal(size=rows).round(4)
    frame.loc[rng.random(rows) < 0.05, "x0"] = np.nan
    frame["site"] = rng.choice(["north", "south", "east"], rows)
    frame["label"] = (rng.random(rows) < 0.07).astype(float)
    return frame


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with the breast-cancer data (``bc/``) and the noisy user table
    (``noisy/``) prepared and featurised once; tests train into their own folders."""
    root = tmp_path_factory.mktemp("debugger")
    shutil.copytree(REPO / "conf", root / "conf")
    for net in ("sigmoid_stack", "dead_relu", "nan_after"):
        (root / "conf" / "model" / f"{net}.yaml").write_text(
            f"_target_: {NETS}.build_{net}\nname: {net}\n"
        )
    (root / "conf" / "data" / "noisy.yaml").write_text(NOISY_DATA)
    (root / "data" / "raw").mkdir(parents=True)
    noisy_table().to_csv(root / "data" / "raw" / "noisy.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for name, data in (("bc", "breast_cancer"), ("noisy", "noisy")):
            cfg = to_typed(compose([*TINY, f"data={data}", f"paths.out_dir={name}"], "conf"))
            for stage in ("prepare", "features"):
                get_stage(stage).run(cfg)
    return root


def overrides(shared: Path, out: Path, data: str = "bc") -> list[str]:
    """Train from the shared features into ``out``."""
    if not (out / "records").exists():
        shutil.copytree(shared / data / "records", out / "records")
    return [
        *TINY,
        f"data={'breast_cancer' if data == 'bc' else data}",
        f"paths.out_dir={out}",
        f"paths.features_dir={shared / data / 'artifacts/features'}",
        f"paths.prepared_dir={shared / data / 'data/prepared'}",
    ]


def train(shared: Path, out: Path, *extra: str, data: str = "bc") -> dict:
    """Run the train stage; the model card."""
    cfg = to_typed(compose([*overrides(shared, out, data), *extra], shared / "conf"))
    get_stage("train").run(cfg)
    return json.loads((out / "models" / "model_card.json").read_text())


def fired(card: dict) -> set[str]:
    return {name for name, entry in card["debugger"].items() if entry["fired"]}


def test_the_default_run_is_silent_and_reports_every_rule(shared, tmp_path, capfd) -> None:
    card = train(shared, tmp_path, "trainer.max_epochs=8")
    assert list(card["debugger"]) == list(RULE_NAMES)
    assert fired(card) == set()
    for name, entry in card["debugger"].items():
        assert entry["step"] is None and entry["figure"] is None
        assert entry["checks"] > 0, name  # every rule was checked on this run
        if entry["threshold"] is not None and entry["worst"] is not None:
            assert entry["worst"] != entry["threshold"]
    assert "debugger" not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("rules", "extra"),
    [
        (
            {"vanishing_gradient"},
            ("model=sigmoid_stack", EVERY_STEP),
        ),  # 20 sigmoid layers: the first layer's gradient is ~1e-16 of the last's
        ({"dead_relu", "vanishing_gradient"}, ("model=dead_relu", EVERY_STEP)),
        ({"exploding_gradient"}, (ADAM_50, "trainer.max_epochs=1")),
        (
            {"loss_not_decreasing"},
            (
                "model.dropout=0.99",
                "model.lr=0.01",
                "trainer.max_epochs=10",
                "train.early_stopping.enabled=false",
            ),
        ),  # 99 % of the hidden units dropped: the loss stalls (default rules)
        ({"update_too_large"}, (ADAM_50, "train.fused_steps=1", EVERY_STEP)),
        (
            {"update_too_small", "loss_not_decreasing"},
            (
                "model.lr=1e-9",
                EVERY_STEP,
                "trainer.max_epochs=4",
                "debugger.rules.loss_not_decreasing.patience=3",
            ),
        ),
    ],
)
def test_each_rule_fires_on_a_run_built_to_break_it(shared, tmp_path, capfd, rules, extra) -> None:
    card = train(shared, tmp_path, *extra)
    assert rules <= fired(card)
    log = capfd.readouterr().err
    for name in rules:
        entry = card["debugger"][name]
        assert isinstance(entry["step"], int) and entry["step"] > 0 and entry["epoch"] >= 1
        above = name not in ("vanishing_gradient", "update_too_small", "loss_not_decreasing")
        figure, threshold = entry["figure"], entry["threshold"]
        assert figure > threshold if above else figure < threshold
        assert f"debugger: {name} fired at step {entry['step']}" in log


def test_overfitting_and_class_imbalance_fire_on_memorised_noise(shared, tmp_path) -> None:
    """Labels unrelated to the inputs: a wide network memorises the training rows while
    the validation loss rises. The class-count figure is checked against the training
    split's labels (one fused group holds the whole epoch, so its count is the split's)."""
    card = train(
        shared,
        tmp_path,
        "trainer.max_epochs=12",
        "train.early_stopping.enabled=false",
        "model.hidden=256",
        "model.lr=0.01",
        "model.dropout=0",
        data="noisy",
    )
    assert {"overfitting", "class_imbalance"} <= fired(card)
    over = card["debugger"]["overfitting"]
    assert over["figure"] > 0.1 and over["epoch"] >= 4
    labels = pd.read_parquet(shared / "noisy/data/prepared/train.parquet")["label"]
    counts = labels.value_counts()
    assert card["debugger"]["class_imbalance"]["figure"] == counts.max() / counts.min()
    assert card["debugger"]["class_imbalance"]["epoch"] == 1


def test_nan_stops_training_and_keeps_the_last_finite_checkpoint(shared, tmp_path) -> None:
    """The network returns NaN from its 20th training forward on: nan_inf (action stop by
    default) ends training in that epoch; the card holds no NaN."""
    card = train(shared, tmp_path, "model=nan_after", EVERY_STEP, "trainer.max_epochs=6")
    entry = card["debugger"]["nan_inf"]
    assert entry["fired"] and entry["step"] >= 20 and entry["action"] == "stop"
    assert card["training"]["stopped_by"] == "nan_inf"
    assert card["training"]["epochs"] < 6
    assert card["training"]["best_epoch"] < entry["epoch"]


def test_stop_ends_training_at_the_rule(shared, tmp_path) -> None:
    card = train(
        shared,
        tmp_path,
        "model=dead_relu",
        EVERY_STEP,
        "trainer.max_epochs=8",
        "debugger.rules.dead_relu.action=stop",
        "debugger.rules.vanishing_gradient.action=off",
    )
    assert card["training"]["stopped_by"] == "dead_relu"
    assert card["training"]["epochs"] == card["debugger"]["dead_relu"]["epoch"] == 3
    assert card["debugger"]["vanishing_gradient"]["checks"] == 0  # off: not checked


def test_an_epoch_rule_stops_before_the_next_epoch(shared, tmp_path) -> None:
    """loss_not_decreasing judges an epoch once its loss is logged, as the next begins:
    that epoch is skipped, and not counted."""
    card = train(
        shared,
        tmp_path,
        "model.lr=1e-9",
        "trainer.max_epochs=8",
        "debugger.rules.loss_not_decreasing.patience=3",
        "debugger.rules.loss_not_decreasing.action=stop",
    )
    entry = card["debugger"]["loss_not_decreasing"]
    assert entry["fired"] and entry["epoch"] == 4
    assert card["training"]["stopped_by"] == "loss_not_decreasing"
    assert card["training"]["epochs"] == 4


@pytest.mark.parametrize("extra", [(), ("train.fused_steps=1", EVERY_STEP)])
def test_weights_are_bit_identical_with_the_debugger_on_and_off(shared, tmp_path, extra) -> None:
    """The callback reads only: no random draws, no change to what the fit computes."""
    on = train(shared, tmp_path / "on", "trainer.max_epochs=4", *extra)
    off = train(shared, tmp_path / "off", "trainer.max_epochs=4", "debugger=off", *extra)
    weights = [(tmp_path / d / "models/model.safetensors").read_bytes() for d in ("on", "off")]
    assert weights[0] == weights[1]
    assert off["debugger"] is None and on["debugger"]["nan_inf"]["checks"] > 0
    assert on["metrics"] == off["metrics"]
    again = train(shared, tmp_path / "again", "trainer.max_epochs=4", *extra)
    assert again["debugger"] == on["debugger"]  # DVC hashes models/: same run, same figures


@pytest.mark.slow
def with_repo_on_path(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the repository root first on PYTHONPATH (for ``tests.train...``)."""
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**env, "PYTHONPATH": os.pathsep.join([str(REPO), *rest])}


@pytest.mark.slow
def test_the_fail_action_exits_3_through_the_cli(shared, tmp_path) -> None:
    args = [*overrides(shared, tmp_path), "model=nan_after", "debugger.rules.nan_inf.action=fail"]
    result = cli_fork.run(
        [sys.executable, "-m", "assayml.cli.main", "train", *args],
        cwd=shared,
        capture_output=True,
        text=True,
        env=with_repo_on_path(cli_env()),  # the test's network: tests.train...
        timeout=300,
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert "rule nan_inf fired at step" in result.stderr
    assert "debugger.rules.nan_inf.action" in result.stderr
    assert not (tmp_path / "models").exists()  # the stage failed: nothing written


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("debugger.rules.dead_relu.share=2", "share"),
        ("debugger.rules.vanishing_gradient.ratio=1", "ratio"),
        ("debugger.every_n_steps=0", "every_n_steps"),
        ("debugger.rules.nan_inf.action=explode", "action"),
        ("debugger.rules.dead_relu.acton=warn", "acton"),
    ],
)
def test_bad_debugger_config_exits_2_naming_the_key(project, override, key) -> None:
    with pytest.raises(ConfigError, match=key):
        to_typed(compose([*TINY, override], project / "conf"))


def test_members_trained_in_turn_merge_their_entries() -> None:
    quiet = {"action": "warn", "fired": False, "step": None, "epoch": None, "figure": None}
    loud = {"action": "warn", "fired": True, "step": 7, "epoch": 2, "figure": 2e3}
    runs = [
        {"exploding_gradient": {**quiet, "worst": 3.0, "checks": 4}},
        {"exploding_gradient": {**loud, "worst": 5e3, "checks": 5}},
    ]
    merged = merge_entries(runs)["exploding_gradient"]
    assert merged["fired"] and merged["member"] == 1 and merged["step"] == 7
    assert merged["checks"] == 9 and merged["worst"] == 5e3
    assert merge_entries([None, None]) is None


USER_MODULE = """
import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Blobs(pl.LightningDataModule):
    def setup(self, stage=None):
        g = torch.Generator().manual_seed(0)
        y = torch.randint(0, 2, (300,), generator=g)
        x = torch.randn(300, 4, generator=g) + y[:, None] * 3.0
        self.parts = {"test": (x[:60], y[:60]), "val": (x[60:120], y[60:120]),
                      "train": (x[120:], y[120:])}

    def _loader(self, part):
        return DataLoader(TensorDataset(*self.parts[part]), batch_size=32)

    def train_dataloader(self):
        return self._loader("train")

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")


class TwoLogits(pl.LightningModule):
    def __init__(self, lr: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        self.lr = lr

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val/loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)
"""


def test_the_rules_run_on_a_users_lightning_module(project, monkeypatch) -> None:
    """Automatic optimisation, the user's own batches and logging: the step rules read
    gradients, weights, ReLU outputs, labels and the step's loss; the loss rules say that
    the module logs no train/loss."""
    (project / "usercode").mkdir()
    (project / "usercode" / "__init__.py").write_text("")
    (project / "usercode" / "blobs.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(project))
    (project / "conf/model/two_logits.yaml").write_text("_target_: usercode.blobs.TwoLogits\n")
    (project / "conf/data/blobs.yaml").write_text("_target_: usercode.blobs.Blobs\n")
    base = [*TINY, "data=blobs", "model=two_logits", EVERY_STEP]
    cfg = to_typed(compose(base, project / "conf"))
    for stage in ("prepare", "features", "train"):
        get_stage(stage).run(cfg)
    card = json.loads((project / "models/model_card.json").read_text())
    assert fired(card) == set()
    rules = card["debugger"]
    assert rules["loss_not_decreasing"]["note"] == "train/loss is not logged"
    for name in ("vanishing_gradient", "dead_relu", "update_too_small"):
        assert rules[name]["checks"] == 3 * 6, name  # 180 rows in batches of 32, 3 epochs
    assert rules["class_imbalance"]["checks"] == 3  # the counts are judged per epoch
    import torch

    labels = torch.randint(0, 2, (300,), generator=torch.Generator().manual_seed(0))[120:]
    counts = torch.bincount(labels).tolist()
    assert rules["class_imbalance"]["worst"] == max(counts) / min(counts)
    assert rules["nan_inf"]["checks"] > 3 * 6  # the loss, gradients and weights
    cfg = to_typed(compose([*base, "+model.lr=1000.0"], project / "conf"))
    get_stage("train").run(cfg)
    card = json.loads((project / "models/model_card.json").read_text())
    assert "update_too_large" in fired(card)
