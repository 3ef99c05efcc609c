"""The training debugger's rule book: each rule's figures as they are checked, its streak
of breaches against its patience, and what it recorded when it fired.

Plain Python (no torch): ``train/debugger.py`` measures, this module decides. The entries
go into ``model_card.json`` as ``debugger``, so they hold only facts that follow from the
run's inputs (figures, steps, epochs; no times), and never NaN (JSON has none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from assayml.config.debugger_schema import DebuggerRules, RuleAction

# Per rule: the attribute holding its threshold, and whether a figure above it (True) or
# below it (False) breaches it. nan_inf has no threshold: any non-finite value breaches it.
LIMITS: dict[str, tuple[str | None, bool]] = {
    "loss_not_decreasing": ("min_delta", False),  # relative improvement over `patience`
    "overfitting": ("min_delta", True),  # relative rise of val loss above its best
    "vanishing_gradient": ("ratio", False),  # smallest / largest layer gradient norm
    "exploding_gradient": ("threshold", True),  # largest layer gradient norm
    "nan_inf": (None, True),
    "dead_relu": ("share", True),  # largest share of a ReLU layer's units never positive
    "update_too_small": ("threshold", False),  # ||dw|| / ||w|| of one optimiser step
    "update_too_large": ("threshold", True),
    "class_imbalance": ("ratio", True),  # largest / smallest class count in an epoch
}
RULE_NAMES = tuple(LIMITS)
# Rules whose patience is a window of epochs in the figure itself, not a streak of breaches.
EPOCH_WINDOWS = ("loss_not_decreasing", "overfitting")


@dataclass
class RuleState:
    name: str
    action: RuleAction
    threshold: float | None
    above: bool  # a figure above the threshold breaches it (else below)
    patience: int = 1  # breaches in a row before the rule fires
    streak: int = 0
    checks: int = 0
    fired: bool = False
    step: int | None = None  # optimiser steps taken when it fired
    epoch: int | None = None  # 1-based epoch it fired in
    figure: float | None = None  # the figure that fired it
    worst: float | None = None  # the figure nearest to (or furthest past) the threshold
    note: str | None = None  # what breached: a layer, a metric; or why it was not checked

    def entry(self) -> dict[str, Any]:
        return {
            "action": self.action.name,
            "fired": self.fired,
            "step": self.step,
            "epoch": self.epoch,
            "figure": _finite(self.figure),
            "threshold": self.threshold,
            "worst": _finite(self.worst),
            "checks": self.checks,
            "note": self.note,
        }


@dataclass
class RuleBook:
    rules: dict[str, RuleState] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: DebuggerRules) -> RuleBook:
        rules = {}
        for name, (key, above) in LIMITS.items():
            rule = getattr(config, name)
            rules[name] = RuleState(
                name=name,
                action=rule.action,
                threshold=float(getattr(rule, key)) if key else None,
                above=above,
                patience=1 if name in EPOCH_WINDOWS else getattr(rule, "patience", 1),
            )
        return cls(rules)

    def on(self, name: str) -> bool:
        return self.rules[name].action is not RuleAction.off

    def observe(
        self, name: str, figure: float | None, step: int, epoch: int, note: str | None = None
    ) -> bool:
        """Record one check of ``name``; True when this check fires it (first time only).
        nan_inf's figure is 1 (something non-finite was found) or 0; for the others a
        figure of None or NaN is no check (nan_inf reports those)."""
        rule = self.rules[name]
        if rule.action is RuleAction.off:
            return False
        if name == "nan_inf":
            breach = bool(figure)
        else:
            if figure is None or not math.isfinite(figure):
                return False
            rule.worst = _worse(rule.worst, figure, rule.above)
            breach = figure > rule.threshold if rule.above else figure < rule.threshold
        rule.checks += 1
        rule.streak = rule.streak + 1 if breach else 0
        if rule.fired or rule.streak < rule.patience:
            return False
        rule.fired, rule.step, rule.epoch = True, step, epoch
        rule.figure = figure if name != "nan_inf" else None
        rule.note = note
        return True

    def skip(self, name: str, why: str) -> None:
        """Say once why ``name`` could not be checked (no ReLU layers, no class labels)."""
        rule = self.rules[name]
        if rule.action is not RuleAction.off and not rule.checks and rule.note is None:
            rule.note = why

    def entries(self) -> dict[str, dict[str, Any]]:
        return {name: rule.entry() for name, rule in self.rules.items()}


def merge_entries(runs: list[dict[str, dict[str, Any]] | None]) -> dict[str, Any] | None:
    """One ``debugger`` entry for members trained one after another: a rule fired if it
    fired for any member (the first such member's step, epoch and figure, and which member);
    checks add up; the worst figure is the worst of all."""
    runs = [r for r in runs if r]
    if not runs:
        return None
    merged: dict[str, Any] = {}
    for name in runs[0]:
        entries = [run[name] for run in runs]
        first = next((i for i, e in enumerate(entries) if e["fired"]), None)
        chosen = dict(entries[first if first is not None else 0])
        chosen["checks"] = sum(e["checks"] for e in entries)
        worsts = [e["worst"] for e in entries if e["worst"] is not None]
        above = LIMITS[name][1]
        chosen["worst"] = (max if above else min)(worsts) if worsts else None
        chosen["member"] = first
        merged[name] = chosen
    return merged


def _worse(current: float | None, figure: float, above: bool) -> float:
    if current is None:
        return figure
    return max(current, figure) if above else min(current, figure)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
