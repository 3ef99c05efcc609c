"""trainer=gpu: runs only where a CUDA device exists (marked `gpu`)."""

from __future__ import annotations

import pytest
import torch

from tests.stages.helpers import run_stages
from tests.train.test_fit import weights_hash

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_gpu_training_is_deterministic(make_cfg, project, precision) -> None:
    if precision == "bf16-mixed" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    cfg = make_cfg("trainer=gpu", f"trainer.precision={precision}")
    run_stages(cfg)
    first = weights_hash(project / "models")
    run_stages(cfg, ("train",))
    assert weights_hash(project / "models") == first


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_ddp_on_two_gpus_matches_one(make_cfg, project) -> None:
    """NCCL, one process per GPU; weights within rounding of the one-GPU run (logreg: no
    dropout)."""
    from safetensors.torch import load_file

    run_stages(make_cfg("trainer=gpu", "model=logreg"))
    one = load_file(str(project / "models" / "model.safetensors"))
    run_stages(make_cfg("trainer=ddp", "trainer.accelerator=gpu", "model=logreg"), ("train",))
    two = load_file(str(project / "models" / "model.safetensors"))
    assert max((one[k] - two[k]).abs().max().item() for k in one) < 1e-4
