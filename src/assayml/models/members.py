"""A deep ensemble whose members were trained one after another.

A network with no stacked form (``models/ensemble.py`` stacks ``nn.Sequential`` networks of
known layers only), or a user's own LightningModule, is trained k times, member i seeded
with ``seed + i`` as if trained alone; :class:`MemberList` then runs the members in turn and
gives their outputs as a stacked ensemble does, ``[k, rows, out]``, so inference, evaluation,
explanations and serving read both alike.
"""

from __future__ import annotations

import torch
from torch import nn

SEQUENTIAL = "sequential"  # ModelSpec.extras["ensemble"] of a MemberList


class MemberList(nn.Module):
    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.nets = nn.ModuleList(members)
        self.members = len(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[rows, ...] -> [k, rows, out]``."""
        return torch.stack([net(x) for net in self.nets])


def stackable(members: list[nn.Module]) -> bool:
    """Whether :func:`assayml.models.ensemble.stack_members` has a stacked form for these."""
    from assayml.models.ensemble import stack_members

    try:
        stack_members(members)
    except TypeError:
        return False
    return True


def member_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The state dict of a :class:`MemberList` holding networks with ``states``."""
    return {f"nets.{i}.{k}": v for i, state in enumerate(states) for k, v in state.items()}
