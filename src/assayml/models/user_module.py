"""Rebuild a saved user LightningModule and give it the outputs our inference expects.

``model.json`` names the module's class and its constructor arguments, nested ``_target_``
nodes included (``net``, partial optimizers); :func:`assayml.models.artifact.load_model`
has checked every one of them against the project's trust policy before this imports any.
"""

from __future__ import annotations

import torch
from torch import nn

from assayml.errors import ArtifactError, ConfigError


def build_user_module(spec, trust) -> nn.Module:
    """The untrained module ``spec`` describes (every ``_target_`` in it already trusted)."""
    from assayml.config.user_modules import instantiate, nested_targets

    where = "model.json"
    for target in [spec.target, *nested_targets(spec.kwargs)]:
        # resolve, not just check: a target trusted through its module must be defined
        # there (a name the module merely imported is someone else's code)
        trust.resolve(target, where)
    try:
        return instantiate({"_target_": spec.target, **spec.kwargs}, ())
    except ConfigError as err:
        raise ArtifactError(f"{where}: cannot rebuild {spec.target}: {err}") from err


def as_predictor(module: nn.Module, task: str) -> nn.Module:
    """The loaded module (or an ensemble of them) giving our outputs: each member wrapped,
    so that members with one logit or a flat output stack as ``[k, rows, out]``."""
    from assayml.models.members import MemberList

    if isinstance(module, MemberList):
        wrapped = MemberList([Predictor(net, task) for net in module.nets])
        return wrapped
    return Predictor(module, task)


def single_logit(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether the user's module behind ``module`` gives one output per row."""
    from assayml.models.members import MemberList

    inner = module.nets[0] if isinstance(module, MemberList) else module
    inner = getattr(inner, "module", inner)
    with torch.no_grad():
        out = inner(x[:1])
    return out.dim() == 1 or out.shape[-1] == 1


class Predictor(nn.Module):
    """A user's module seen as our networks are: logits ``[rows, classes]`` for
    classification (one logit z for two classes becomes ``[0, z]``, whose softmax is the
    sigmoid), ``[rows, 1]`` for regression."""

    def __init__(self, module: nn.Module, task: str) -> None:
        super().__init__()
        self.module, self.task = module, task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.module(x)
        if out.dim() == 1:
            out = out.unsqueeze(-1)
        if self.task == "binary" and out.shape[-1] == 1:
            out = torch.cat([torch.zeros_like(out), out], dim=-1)
        return out
