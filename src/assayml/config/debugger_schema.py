"""Schema of the ``debugger`` config group: training-debugger rules and their thresholds.

Anchor: SageMaker Debugger's built-in rules (LossNotDecreasing, Overfit, VanishingGradient,
ExplodingTensor, DeadRelu, ClassImbalance...), checked inside the Lightning fit by a
callback (``assayml.train.debugger``). Each rule has an ``action``: ``off``, ``warn`` (a line
in the training log), ``stop`` (training ends after the current step, as early stopping
would end it) or ``fail`` (the train stage fails with exit 3 and writes nothing).

Re-exported by ``assayml.config.schema``; see that module for how schemas are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum


class RuleAction(Enum):
    off = "off"  # not checked
    warn = "warn"  # a line in the training log; recorded in the model card
    stop = "stop"  # end training (the best checkpoint so far is kept)
    fail = "fail"  # the train stage fails: exit 3


@dataclass
class LossNotDecreasingRule:
    action: RuleAction = RuleAction.warn
    patience: int = 5  # epochs, >= 1: the window the training loss must improve over
    min_delta: float = 0.01  # relative improvement of the best training loss, [0, 1)


@dataclass
class OverfittingRule:
    action: RuleAction = RuleAction.warn
    patience: int = 3  # epochs, >= 1, since validation loss was at its best
    min_delta: float = 0.1  # relative rise of val loss above its best, >= 0


@dataclass
class VanishingGradientRule:
    action: RuleAction = RuleAction.warn
    ratio: float = 1e-5  # smallest / largest per-layer gradient norm, (0, 1)
    patience: int = 3  # checks in a row


@dataclass
class ExplodingGradientRule:
    action: RuleAction = RuleAction.warn
    threshold: float = 1e3  # largest per-layer gradient norm, > 0
    patience: int = 1  # checks in a row


@dataclass
class NanInfRule:
    action: RuleAction = RuleAction.stop  # NaN weights: nothing after this step is usable
    # Checked: the step's loss (plain steps), gradients and weights at each check, and the
    # epoch's logged training and validation losses.


@dataclass
class DeadReluRule:
    action: RuleAction = RuleAction.warn
    share: float = 0.5  # of a ReLU layer's units never positive over a batch, (0, 1]
    patience: int = 3  # checks in a row


@dataclass
class UpdateTooSmallRule:
    action: RuleAction = RuleAction.warn
    threshold: float = 1e-7  # ||w_after - w_before|| / ||w_before|| of one step, > 0
    patience: int = 3  # checks in a row


@dataclass
class UpdateTooLargeRule:
    action: RuleAction = RuleAction.warn
    threshold: float = 0.5  # ||w_after - w_before|| / ||w_before|| of one step, > 0
    patience: int = 3  # checks in a row


@dataclass
class ClassImbalanceRule:
    action: RuleAction = RuleAction.warn
    ratio: float = 10.0  # largest / smallest class count in an epoch's checked batches, > 1


@dataclass
class DebuggerRules:
    loss_not_decreasing: LossNotDecreasingRule = field(default_factory=LossNotDecreasingRule)
    overfitting: OverfittingRule = field(default_factory=OverfittingRule)
    vanishing_gradient: VanishingGradientRule = field(default_factory=VanishingGradientRule)
    exploding_gradient: ExplodingGradientRule = field(default_factory=ExplodingGradientRule)
    nan_inf: NanInfRule = field(default_factory=NanInfRule)
    dead_relu: DeadReluRule = field(default_factory=DeadReluRule)
    update_too_small: UpdateTooSmallRule = field(default_factory=UpdateTooSmallRule)
    update_too_large: UpdateTooLargeRule = field(default_factory=UpdateTooLargeRule)
    class_imbalance: ClassImbalanceRule = field(default_factory=ClassImbalanceRule)

    def __post_init__(self) -> None:
        for spec in fields(self):
            _check_rule(spec.name, getattr(self, spec.name))


@dataclass
class DebuggerConfig:
    enabled: bool = True  # false (debugger=off): no callback, no `debugger` in the card
    # Optimiser steps between step-level checks (gradients, updates, activations, batches),
    # >= 1; with fused steps (train.fused_steps) every Lightning step is at least one.
    every_n_steps: int = 20
    train_loss: str = "train/loss"  # the logged epoch metrics the loss rules read
    val_loss: str = "val/loss"
    rules: DebuggerRules = field(default_factory=DebuggerRules)

    def __post_init__(self) -> None:
        if self.every_n_steps < 1:
            raise ValueError(f"debugger.every_n_steps must be >= 1, got {self.every_n_steps}")


def _check_rule(name: str, rule: object) -> None:
    where = f"debugger.rules.{name}"
    patience = getattr(rule, "patience", 1)
    if patience < 1:
        raise ValueError(f"{where}.patience must be >= 1, got {patience}")
    for key in ("threshold", "ratio", "share"):
        value = getattr(rule, key, None)
        if value is not None and not value > 0:
            raise ValueError(f"{where}.{key} must be > 0, got {value}")
    if name == "vanishing_gradient" and not rule.ratio < 1:
        raise ValueError(f"{where}.ratio must lie in (0, 1), got {rule.ratio}")
    if name == "class_imbalance" and not rule.ratio > 1:
        raise ValueError(f"{where}.ratio must be > 1, got {rule.ratio}")
    if name == "dead_relu" and not rule.share <= 1:
        raise ValueError(f"{where}.share must lie in (0, 1], got {rule.share}")
    delta = getattr(rule, "min_delta", 0.0)
    if delta < 0 or (name == "loss_not_decreasing" and delta >= 1):
        raise ValueError(f"{where}.min_delta out of range, got {delta}")
