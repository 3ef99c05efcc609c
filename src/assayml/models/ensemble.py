"""A deep ensemble as one network: k members' weights stacked in batched tensors.

``stack_members`` turns k identically built ``nn.Sequential`` networks into one module whose
layers hold every member's weights with a leading member dimension and run all members in
one call: inputs and activations are ``[k, batch, ...]``. Linear layers become one batched
matrix product (``baddbmm``), convolutions one grouped convolution (``groups=k``), batch norm
one norm over ``k * channels``; element-wise layers act on the stacked tensor as they are.
So a forward and backward pass trains all members at once, each with its own weights, and
Adam, being element-wise, updates each member exactly as it would alone.

We batch the weights ourselves rather than with ``torch.func.vmap``: on small tabular
networks vmap's per-call overhead ate half the gain (benchmarks/uncertainty.py).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

ELEMENTWISE = (nn.ReLU, nn.GELU, nn.Tanh, nn.SiLU, nn.Dropout, nn.Identity)


class EnsembleLinear(nn.Module):
    def __init__(self, layers: list[nn.Linear]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[k, batch, in] -> [k, batch, out]."""
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


class EnsembleConv2d(nn.Module):
    def __init__(self, layers: list[nn.Conv2d]) -> None:
        super().__init__()
        first = layers[0]
        self.k, self.stride, self.padding = len(layers), first.stride, first.padding
        self.weight = nn.Parameter(torch.cat([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.cat([layer.bias.detach() for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[k, batch, c, h, w] -> [k, batch, c_out, h', w'] via one grouped convolution."""
        k, batch = x.shape[:2]
        grouped = x.transpose(0, 1).reshape(batch, -1, *x.shape[3:])  # [batch, k*c, h, w]
        out = F.conv2d(grouped, self.weight, self.bias, self.stride, self.padding, groups=k)
        return out.reshape(batch, k, -1, *out.shape[2:]).transpose(0, 1)


class EnsembleBatchNorm1d(nn.Module):
    def __init__(self, layers: list[nn.BatchNorm1d]) -> None:
        super().__init__()
        first = layers[0]
        self.members = len(layers)
        self.norm = nn.BatchNorm1d(first.num_features * len(layers), first.eps, first.momentum)
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(self.norm, name).copy_(torch.cat([getattr(lay, name) for lay in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[k, batch, c]: statistics per member and channel."""
        k, batch, c = x.shape
        return (
            self.norm(x.transpose(0, 1).reshape(batch, k * c)).reshape(batch, k, c).transpose(0, 1)
        )


class PerMember(nn.Module):
    """A shape layer (pooling, flatten, unflatten) applied to each member's slice."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, batch = x.shape[:2]
        out = self.layer(x.reshape(k * batch, *x.shape[2:]))
        return out.reshape(k, batch, *out.shape[1:])


class EnsembleNet(nn.Sequential):
    """k members as one network: ``[k, batch, features] -> [k, batch, outputs]``; a
    ``[batch, features]`` input is shared by every member."""

    def __init__(self, layers: list[nn.Module], members: int) -> None:
        super().__init__(*layers)
        self.members = members

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.members, *x.shape)
        return super().forward(x)


def stack_members(members: list[nn.Module]) -> EnsembleNet:
    """One :class:`EnsembleNet` holding the weights of ``members`` (identical architectures,
    ``nn.Sequential`` or a single ``nn.Linear``)."""
    sequences = [m if isinstance(m, nn.Sequential) else nn.Sequential(m) for m in members]
    layers = [_stack_layer([seq[i] for seq in sequences]) for i in range(len(sequences[0]))]
    return EnsembleNet(layers, len(members))


def _stack_layer(layers: list[nn.Module]) -> nn.Module:
    first = layers[0]
    if isinstance(first, nn.Linear):
        return EnsembleLinear(layers)
    if isinstance(first, nn.Conv2d):
        return EnsembleConv2d(layers)
    if isinstance(first, nn.BatchNorm1d):
        return EnsembleBatchNorm1d(layers)
    if isinstance(first, ELEMENTWISE):
        return first
    if isinstance(first, (nn.MaxPool2d, nn.Flatten, nn.Unflatten)):
        return PerMember(first)
    raise TypeError(
        f"no ensemble form for {type(first).__name__}: build the members from "
        "Linear, Conv2d, BatchNorm1d, pooling and element-wise layers"
    )


def member_state(net: EnsembleNet, index: int) -> dict[str, torch.Tensor]:
    """Member ``index``'s weights, keyed like the single network's state dict."""
    state = {}
    for position, layer in enumerate(net):
        if isinstance(layer, EnsembleLinear):
            state[f"{position}.weight"] = layer.weight[index]
            state[f"{position}.bias"] = layer.bias[index]
        elif isinstance(layer, EnsembleConv2d):
            out = layer.weight.shape[0] // layer.k
            state[f"{position}.weight"] = layer.weight[index * out : (index + 1) * out]
            state[f"{position}.bias"] = layer.bias[index * out : (index + 1) * out]
    return state


def copy_member(
    dst: dict[str, torch.Tensor], src: dict[str, torch.Tensor], net: EnsembleNet, index: int
) -> None:
    """Copy member ``index``'s slice of every stacked tensor from ``src`` into ``dst``
    (state dicts of ``net``), leaving the other members' slices as they are."""
    for position, layer in enumerate(net):
        prefix = f"{position}."
        for key in [k for k in src if k.startswith(prefix)]:
            rows = _member_rows(layer, src[key], index)
            if rows is not None:
                dst[key][rows] = src[key][rows]


def _member_rows(layer: nn.Module, tensor: torch.Tensor, index: int):
    if isinstance(layer, EnsembleLinear):
        return index
    if isinstance(layer, EnsembleConv2d):
        size = tensor.shape[0] // layer.k
    elif isinstance(layer, EnsembleBatchNorm1d) and tensor.dim() == 1:
        size = layer.norm.num_features // layer.members
    else:
        return None  # unstacked (e.g. a batch-norm step counter): shared
    return slice(index * size, (index + 1) * size)
