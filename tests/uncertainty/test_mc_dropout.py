"""MC dropout: batched, seeded, dropout on and batch norm off, any number of rows."""

from __future__ import annotations

import pytest
import torch

from assayml.errors import ConfigError
from assayml.models.networks import build_mlp
from assayml.uncertainty.mc_dropout import mc_dropout_samples
from tests.stages.helpers import run_stages


def net(batch_norm: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_mlp(6, 3, hidden=16, dropout=0.3, batch_norm=batch_norm)
    if batch_norm:
        model.train()
        model(torch.randn(64, 6))  # non-trivial running statistics
    return model.eval()


def test_same_seed_same_samples_other_seed_other_samples() -> None:
    x = torch.randn(7, 6)
    a, b = mc_dropout_samples(net(), x, 20, seed=1), mc_dropout_samples(net(), x, 20, seed=1)
    assert a.shape == (20, 7, 3) and torch.equal(a, b)
    assert not torch.equal(a, mc_dropout_samples(net(), x, 20, seed=2))
    assert a.std(dim=0).min() > 0  # the passes differ


def test_global_rng_and_module_modes_are_left_as_they_were() -> None:
    model, x = net(batch_norm=True), torch.randn(3, 6)
    state = torch.get_rng_state()
    mc_dropout_samples(model, x, 5, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert not any(m.training for m in model.modules())


def test_batch_norm_stays_in_eval_mode() -> None:
    """With dropout off, the samples must all equal the eval-mode output: batch norm used
    its running statistics, not the repeated batch's."""
    model = net(batch_norm=True)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    x = torch.randn(4, 6)
    samples = mc_dropout_samples(model, x, 6, seed=0)
    assert torch.allclose(samples, model(x).expand(6, -1, -1), atol=1e-6)


@pytest.mark.parametrize("rows,max_rows", [(1, 4096), (300, 4096), (300, 250)])
def test_large_inputs_go_in_several_forwards_with_the_same_shape(rows, max_rows) -> None:
    samples = mc_dropout_samples(net(), torch.randn(rows, 6), 50, seed=0, max_rows=max_rows)
    assert samples.shape == (50, rows, 3)


def test_mc_dropout_needs_dropout(make_cfg) -> None:
    run_stages(make_cfg("model=logreg"), ("prepare", "features"))
    with pytest.raises(ConfigError, match=r"model\.dropout > 0"):
        run_stages(make_cfg("model=logreg", "uncertainty=mc_dropout"), ("train",))
