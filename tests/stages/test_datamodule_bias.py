"""Bias reports from a user's LightningDataModule whose batches carry sensitive attributes,
``(inputs, labels, {name: values})``: a 3-valued numeric attribute with missing values (NaN)
and a text one, checked against an independent computation from the same rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from assayml.config import compose, to_typed
from assayml.errors import EXIT_BAD_INPUT, ConfigError, DataError
from tests.conftest import TINY


def people(rows: int, seed: int):
    """Features, 0/1 labels, a site (0, 1, 2 or NaN) and a sex ("F"/"M"); site 2's rows are
    shifted towards the favourable label, so a fitted model treats the sites unequally."""
    g = torch.Generator().manual_seed(seed)
    site = torch.randint(0, 3, (rows,), generator=g).double()
    site[torch.rand(rows, generator=g) < 0.1] = math.nan
    sex = ["F" if v < 0.5 else "M" for v in torch.rand(rows, generator=g).tolist()]
    shift = torch.nan_to_num(site, nan=1.0).float() - 1.0
    x = torch.randn(rows, 4, generator=g) + shift[:, None]
    y = (x[:, 0] + 0.5 * torch.randn(rows, generator=g) > 0).long()
    return x, y, site, sex


class People(Dataset):
    def __init__(self, x, y, site, sex, with_facets: bool) -> None:
        self.x, self.y, self.site, self.sex, self.with_facets = x, y, site, sex, with_facets

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        if not self.with_facets:
            return self.x[i], self.y[i]
        return self.x[i], self.y[i], {"site": self.site[i], "sex": self.sex[i]}


class PeopleData(pl.LightningDataModule):
    """300 rows, 60/20/20; the default collate makes {"site": float64 tensor, "sex": [str]}."""

    def __init__(
        self, rows: int = 300, seed: int = 0, with_facets: bool = True, scores: bool = False
    ) -> None:
        super().__init__()
        self.rows, self.seed, self.with_facets, self.scores = rows, seed, with_facets, scores

    def setup(self, stage=None) -> None:
        """Only the splits ``stage`` needs, as Lightning's examples do."""
        x, y, site, sex = people(self.rows, self.seed)
        y = x[:, 0] if self.scores else y  # float labels: a regression target
        n = self.rows // 5
        cuts = {"test": slice(0, n), "val": slice(n, 2 * n), "train": slice(2 * n, None)}
        wanted = {"test"} if stage == "test" else {"train", "val"}
        self.parts = {
            name: People(x[cut], y[cut], site[cut], sex[cut], self.with_facets)
            for name, cut in cuts.items()
            if name in wanted
        }

    def _loader(self, part: str):
        return DataLoader(self.parts[part], batch_size=32)

    def train_dataloader(self):
        return self._loader("train")

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")


class TwoClass(pl.LightningModule):
    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.net, self.lr = nn.Linear(4, 2), lr

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        x, y = batch[:2]  # the third item, the attributes, is not an input
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch, _):
        x, y = batch[:2]
        self.log("val/loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def _cfg(project: Path, *overrides: str, with_facets: bool = True):
    data = f"_target_: {__name__}.PeopleData\nwith_facets: {str(with_facets).lower()}\n"
    (project / "conf" / "data" / "people.yaml").write_text(data)
    (project / "conf" / "model" / "two_class.yaml").write_text(f"_target_: {__name__}.TwoClass\n")
    base = [*TINY, "data=people", "model=two_class", "explain.methods=[saliency]"]
    return to_typed(compose([*base, *overrides], project / "conf"))


def _run(cfg, stages=("prepare", "features", "train", "explain")):
    from assayml.stages.table import get_stage

    for stage in stages:
        get_stage(stage).run(cfg)


def _rate(values: np.ndarray) -> float:
    return float(values.mean())


def test_bias_metrics_from_the_batches_attributes_match_an_independent_count(
    project: Path,
) -> None:
    from assayml.models.artifact import load_model

    cfg = _cfg(project, "data.sensitive=[site,sex]", "+data.reference_groups.site=0")
    _run(cfg)
    bias = json.loads((project / "reports/explain/bias.json").read_text())
    site = bias["facets"]["site"]
    assert site["reference"] == "0"
    assert set(site["groups"]) == {"1", "2", "missing"}  # NaN sites form their own group

    x, y, sites, _ = people(300, 0)
    train_y, train_site = y[120:].numpy(), sites[120:].numpy()
    test_x, test_site = x[:60], sites[:60].numpy()
    module, _ = load_model(project / "models")
    with torch.no_grad():
        predicted = module(test_x).argmax(dim=1).numpy()

    def members(values, group):
        return np.isnan(values) if group == "missing" else values == float(group)

    for group, result in site["groups"].items():
        a, d = members(train_site, "0"), members(train_site, group)
        assert result["rows"]["train"] == d.sum() and result["rows"]["split"] == (
            members(test_site, group).sum()
        )
        ci = (a.sum() - d.sum()) / (a.sum() + d.sum())
        dpl = _rate(train_y[a]) - _rate(train_y[d])
        assert result["pre_training"]["CI"] == pytest.approx(ci)
        assert result["pre_training"]["DPL"] == pytest.approx(dpl)
        a, d = members(test_site, "0"), members(test_site, group)
        dppl = _rate(predicted[a]) - _rate(predicted[d])
        assert result["post_training"]["DPPL"] == pytest.approx(dppl)
        assert result["post_training"]["FT"] is None  # the attribute is not a model input
    assert bias["facets"]["sex"]["reference"] in {"F", "M"}
    assert "flip_test" in bias
    explain = json.loads((project / "reports/explain/explain.json").read_text())
    assert "bias_skipped" not in explain


@pytest.mark.parametrize(
    "overrides, with_facets, error, named",
    [
        (["data.sensitive=[race]"], True, DataError, r"data\.sensitive 'race' is not in"),
        (["data.sensitive=[site]"], False, DataError, r"batches must be \(inputs, labels"),
        (
            ["data.sensitive=[site]", "+data.reference_groups.site=7"],
            True,
            DataError,
            r"data\.reference_groups\.site=7 matches no training row",
        ),
        (["+data.reference_groups.site=0"], True, ConfigError, r"not in data\.sensitive"),
        (
            ["data.sensitive=[site]", "+data.scores=true"],
            True,
            ConfigError,
            r"labels are a regression target",
        ),
    ],
)
def test_attributes_the_batches_lack_stop_prepare_by_name(
    project: Path, overrides, with_facets, error, named
) -> None:
    cfg = _cfg(project, *overrides, with_facets=with_facets)
    with pytest.raises(error, match=named) as caught:
        _run(cfg, ("prepare",))
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert not (project / "data" / "prepared").exists()  # nothing written
