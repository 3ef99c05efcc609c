"""Deep ensembles trained as one stacked network: each member is the network it would have
been if trained alone with seed + i (same init, same data order)."""

from __future__ import annotations

import pytest
import torch

from assayml.models.artifact import load_model
from assayml.models.ensemble import member_state, stack_members
from assayml.models.networks import build_cnn, build_logreg, build_mlp
from tests.stages.helpers import run_stages

MODELS = {
    "mlp": ("model=mlp", "model.dropout=0.0"),
    "logreg": ("model=logreg",),
    "cnn": ("model=cnn", "data=digits", "model.dropout=0.0", "model.channels=[4,8]",
            "model.hidden=16"),
}  # fmt: skip


@pytest.mark.parametrize(
    "build,width",
    [(lambda: build_mlp(6, 3, hidden=8, batch_norm=True), 6),
     (lambda: build_logreg(6, 2), 6),
     (lambda: build_cnn(64, 10, channels=[2, 4], hidden=8), 64)],
)  # fmt: skip
def test_the_stacked_network_computes_each_member(build, width) -> None:
    members = []
    for i in range(3):
        torch.manual_seed(i)
        members.append(build().eval())
    stacked = stack_members(members).eval()
    x = torch.randn(3, 5, width)
    expected = torch.stack([m(x[i]) for i, m in enumerate(members)])
    assert torch.allclose(stacked(x), expected, atol=1e-6)
    shared = torch.randn(5, width)  # one input for every member
    assert torch.allclose(stacked(shared)[1], members[1](shared), atol=1e-6)


def single_state(models_dir) -> dict[str, torch.Tensor]:
    module, _ = load_model(models_dir)
    state = module.state_dict()
    return {("0." + k if k[0].isalpha() else k): v for k, v in state.items()}


@pytest.mark.parametrize(
    "model",
    [pytest.param(m, marks=pytest.mark.slow) if m == "cnn" else m for m in sorted(MODELS)],
)  # the CNN's three trainings take over 10 s
def test_member_i_matches_the_network_trained_alone_with_seed_plus_i(
    make_cfg, project, model
) -> None:
    base = (*MODELS[model], "trainer.max_epochs=3", "train.early_stopping.enabled=false")
    run_stages(make_cfg(*base), ("prepare", "features"))
    run_stages(make_cfg(*base, "uncertainty=ensemble", "uncertainty.members=3"), ("train",))
    ensemble, spec = load_model(project / "models")
    assert spec.extras["members"] == 3
    for i in range(3):
        run_stages(make_cfg(*base, f"seed={42 + i}"), ("train",))
        alone = single_state(project / "models")
        member = member_state(ensemble, i)
        assert member.keys() == alone.keys()
        worst = max((member[k] - alone[k]).abs().max().item() for k in alone)
        assert worst < 1e-6, f"member {i} differs by {worst}"
