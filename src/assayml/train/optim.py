"""The optimiser and LR scheduler a model config names, built as ``configure_optimizers``
returns them.

``model.optimizer`` is a short name (adam | adamw | sgd) or a Hydra ``_partial_`` node naming
any ``torch.optim`` optimiser; ``model.scheduler`` is null or a ``_partial_`` node naming any
``torch.optim.lr_scheduler`` class. Both were checked against their class's signature when
the config was loaded (``assayml.config.models``); here they are instantiated with Hydra.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import torch

from assayml.config.models import SCHEDULER_KEYS, Optimizer, check_optimizer, check_scheduler

# momentum 0.9 for sgd: plain SGD without it trains our small networks far too slowly.
SHORT_NAMES = {
    Optimizer.adam: (torch.optim.Adam, {}),
    Optimizer.adamw: (torch.optim.AdamW, {}),
    Optimizer.sgd: (torch.optim.SGD, {"momentum": 0.9}),
}


def build_optimizer(
    params: Iterable[torch.Tensor], spec: Any, lr: float, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """The optimiser ``spec`` names, over ``params``; ``lr`` and ``weight_decay`` fill the
    node's own where it does not set them and its class takes them. A callable (a node
    Hydra already instantiated as a ``functools.partial``) is called with ``params``."""
    if callable(spec) and not isinstance(spec, (str, dict)):
        return spec(params)
    spec = check_optimizer(spec)
    if isinstance(spec, Optimizer):
        cls, extra = SHORT_NAMES[spec]
        return cls(params, lr=lr, weight_decay=weight_decay, **extra)
    accepted = inspect.signature(_class_of(spec)).parameters
    defaults = {k: v for k, v in (("lr", lr), ("weight_decay", weight_decay)) if k in accepted}
    return _instantiate({**defaults, **spec})(params)


def build_scheduler(
    optimizer: torch.optim.Optimizer, spec: Any, monitor: str = "val/loss"
) -> dict[str, Any] | None:
    """Lightning's lr_scheduler config for ``spec`` (None for none): the scheduler built
    around ``optimizer`` plus its interval, frequency and, for ReduceLROnPlateau, the
    metric it watches (``monitor`` unless the node names one). A callable (an instantiated
    ``functools.partial``) is called with ``optimizer`` and gets the default interval."""
    if callable(spec):
        spec, reserved, scheduler = None, {}, spec(optimizer)
    else:
        spec = check_scheduler(spec)
        if spec is None:
            return None
        reserved = {k: spec[k] for k in SCHEDULER_KEYS if k in spec}
        node = {k: v for k, v in spec.items() if k not in SCHEDULER_KEYS}
        scheduler = _instantiate(node)(optimizer)
    config: dict[str, Any] = {"scheduler": scheduler, "interval": "epoch", "frequency": 1}
    config.update(reserved)
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        config.setdefault("monitor", monitor)
    else:
        config.pop("monitor", None)
    return config


def build_optimization(
    params: Iterable[torch.Tensor],
    optimizer: Any,
    scheduler: Any = None,
    *,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    monitor: str = "val/loss",
) -> torch.optim.Optimizer | dict[str, Any]:
    """What ``configure_optimizers`` returns for an optimiser spec and a scheduler spec (as
    in ``model.optimizer`` / ``model.scheduler``): the optimiser alone, or
    ``{"optimizer": ..., "lr_scheduler": {...}}`` when a scheduler is configured.

    Example, in a LightningModule given the two nodes (dicts, or Hydra's partials)::

        def configure_optimizers(self):
            return build_optimization(self.parameters(), self.hparams.optimizer,
                                      self.hparams.scheduler, monitor="val/loss")
    """
    optimizer = build_optimizer(params, optimizer, lr, weight_decay)
    scheduler = build_scheduler(optimizer, scheduler, monitor)
    if scheduler is None:
        return optimizer
    return {"optimizer": optimizer, "lr_scheduler": scheduler}


def optimization_summary(model_cfg: Any) -> dict[str, Any]:
    """For records and model cards: the optimiser's name (a short name or its ``_target_``),
    the learning rate and weight decay it starts from, and the scheduler node (or None)."""
    spec = check_optimizer(model_cfg.optimizer)
    lr, weight_decay = model_cfg.lr, model_cfg.weight_decay
    if isinstance(spec, Optimizer):
        name = spec.name
    else:
        name = spec["_target_"]
        lr, weight_decay = spec.get("lr", lr), spec.get("weight_decay", weight_decay)
    scheduler = check_scheduler(getattr(model_cfg, "scheduler", None))
    return {"optimizer": name, "lr": lr, "weight_decay": weight_decay, "scheduler": scheduler}


def is_plateau(spec: dict[str, Any] | None) -> bool:
    """Whether a scheduler node names ReduceLROnPlateau (or a subclass)."""
    return spec is not None and issubclass(
        _class_of(spec), torch.optim.lr_scheduler.ReduceLROnPlateau
    )


def _class_of(spec: dict[str, Any]) -> type:
    from hydra.utils import get_class

    return get_class(spec["_target_"])


def _instantiate(spec: dict[str, Any]):
    from hydra.utils import instantiate

    return instantiate(spec, _convert_="all")
