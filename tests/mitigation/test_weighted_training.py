"""Reweighing inside the fit: the weighted loss is the formula, fused steps equal plain
steps with weights too, ensembles take them, and DDP shards are refused."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from torch.nn import functional as F

from assayml.errors import ConfigError
from assayml.models.artifact import load_model, weights_bytes
from assayml.train.batches import EnsembleBatches, TensorBatches
from assayml.train.losses import member_losses
from tests.stages.helpers import run_stages

CREDIT = ("data=credit_synthetic", "data.n_rows=800", "data.bias=0.2", "model=logreg")


def weights_hash(models_dir) -> str:
    module, _ = load_model(models_dir)
    return hashlib.sha256(weights_bytes(module.state_dict())).hexdigest()


def test_the_weighted_loss_is_the_weighted_mean_of_row_losses() -> None:
    torch.manual_seed(0)
    output, y, w = torch.randn(6, 2), torch.tensor([0, 1, 1, 0, 1, 0]), torch.rand(6)
    rows = F.cross_entropy(output, y, reduction="none")
    assert torch.equal(member_losses(output, y, "binary", "logits", w), (rows * w).mean())
    stacked = torch.randn(3, 6, 2)  # an ensemble: each member's own weighted mean
    ws = torch.rand(3, 6)
    expected = torch.stack(
        [(F.cross_entropy(stacked[k], y, reduction="none") * ws[k]).mean() for k in range(3)]
    )
    torch.testing.assert_close(
        member_losses(stacked, y.expand(3, 6), "binary", "logits", ws), expected
    )


def test_batches_carry_each_rows_weight() -> None:
    x, y, w = torch.arange(10.0).unsqueeze(1), torch.arange(10), torch.arange(10.0) / 10
    for xb, yb, wb in TensorBatches(x, y, 4, True, seed=1, weights=w):
        assert torch.equal(wb, yb.float() / 10) and torch.equal(xb[:, 0], yb.float())
    for _, yb, wb in EnsembleBatches(x, y, 4, [1, 2], bootstrap=True, weights=w):
        assert wb.shape == yb.shape and torch.equal(wb, yb.float() / 10)
    with pytest.raises(ConfigError, match="per-row weights are not sharded across DDP"):
        TensorBatches(x, y, 4, True, shard=(0, 2), weights=w)


@pytest.mark.slow
def test_fused_steps_equal_plain_steps_with_weights(make_cfg, project) -> None:
    run_stages(make_cfg(*CREDIT), ("prepare", "features"))
    hashes = []
    for fused in (1, 4):
        cfg = make_cfg(*CREDIT, "mitigation=reweighing", f"train.fused_steps={fused}")
        run_stages(cfg, ("train",))
        hashes.append(weights_hash(project / "models"))
    assert hashes[0] == hashes[1]
    run_stages(make_cfg(*CREDIT, "mitigation=reweighing", "uncertainty=ensemble"), ("train",))
    card = json.loads((project / "models/model_card.json").read_text())
    assert card["mitigation"]["method"] == "reweighing"
