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
