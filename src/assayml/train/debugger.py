"""The training debugger: a Lightning callback that checks the ``debugger`` group's rules
while a model trains (anchor: SageMaker Debugger's built-in rules).

What it reads, and when:

* Every ``every_n_steps`` optimiser steps (a *check*; with fused steps, at most one per
  Lightning step): the class counts of the batch, each ``nn.ReLU`` layer's output on the
  step's first forward (a forward hook, removed after it has read once), the per-layer
  gradient norms just before the optimiser step (``on_before_optimizer_step``: after
  gradient clipping in fused mode, before it in Lightning's automatic mode), the weights
  before and after that step, and the step's loss where the module returns it.
* After each epoch (read when the next epoch starts, or training ends, since Lightning
  calls callbacks' ``on_train_epoch_end`` before the module logs its training loss): the
  logged training and validation losses (``debugger.train_loss``, ``debugger.val_loss``)
  and the epoch's class counts.

It only reads: no random draws, no change to a tensor the fit uses, so the weights are
bit-identical with it on or off (a test checks) unless a rule stops training. Checks cost
a few tensor reductions and one copy of the weights per check (benchmarks/
debugger_overhead.py). Under DDP, a rule's stop or fail waits for the next epoch boundary,
where the ranks agree on it (``reduce_boolean_decision``), so no rank is left waiting.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from assayml.config.debugger_schema import DebuggerConfig, RuleAction
from assayml.errors import CheckFailed
from assayml.train.debugger_rules import RuleBook


class DebuggerRuleFailed(CheckFailed):
    """A rule with ``action: fail`` fired: the train stage fails with exit 3."""


class TrainingDebugger(Callback):
    def __init__(self, config: DebuggerConfig) -> None:
        self.config = config
        self.book = RuleBook.from_config(config.rules)
        self.stopped_by: str | None = None  # the rule that stopped training
        self.skipped_epochs = 0  # 1 when it stopped at an epoch's start (not run, but counted)
        self._ended = False
        self._last_check: int | None = None  # optimiser steps at the last check
        self._due = False
        self._hooks: dict[str, Any] = {}  # ReLU layer -> its forward hook, until it has read
        self._dead: dict[str, float] = {}  # ReLU layer -> share of dead units, this check
        self._before: list[torch.Tensor] | None = None  # weights before the checked step
        self._params: list[nn.Parameter] = []
        self._layers: list[str] = []  # the names of the layers holding _params
        self._owner: list[int] = []  # per parameter: its layer's index in _layers
        self._counts: torch.Tensor | None = None  # class counts of this epoch's checks
        self._history: list[tuple[float, float | None]] = []  # (train, val) loss per epoch
        self._epochs_done = 0
        self._pending: list[str] = []  # fired with stop/fail, not yet acted on (DDP)
        self._speaks = True

    # -- Lightning hooks -------------------------------------------------------------
    def on_train_start(self, trainer, pl_module) -> None:
        self._params = [p for p in pl_module.parameters() if p.requires_grad]
        index = {id(p): i for i, p in enumerate(self._params)}
        layers: dict[str, int] = {}  # layer name -> its index, in order of appearance
        self._owner = [0] * len(self._params)
        for name, param in pl_module.named_parameters():
            if id(param) in index:
                layer = layers.setdefault(name.rpartition(".")[0] or name, len(layers))
                self._owner[index[id(param)]] = layer
        self._layers = list(layers)
        self._epochs_done = trainer.current_epoch  # a resumed run: earlier epochs not seen
        self._speaks = trainer.is_global_zero  # under DDP, rank 0 alone writes the log
        if self.book.on("dead_relu") and not _relus(pl_module):
            self.book.skip("dead_relu", "no nn.ReLU layers")

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._finish_epochs(trainer, pl_module)
        self._act(trainer, boundary=True)

    def on_train_end(self, trainer, pl_module) -> None:
        self._ended = True
        self._finish_epochs(trainer, pl_module)
        self._act(trainer, boundary=True)
        self._remove_hooks()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        steps = optimizer_steps(trainer, pl_module)
        every = self.config.every_n_steps
        self._due = self._last_check is None or steps - self._last_check >= every
        if not self._due:
            return
        self._last_check = steps
        if self.book.on("class_imbalance"):
            self._count_classes(batch)
        if self.book.on("dead_relu"):
            self._watch_relus(pl_module)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if not self._due:
            return
        self._check_gradients(trainer, pl_module)
        if self.book.on("update_too_small") or self.book.on("update_too_large"):
            self._before = [p.detach().clone() for p in self._params]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self._due:
            return
        self._due = False
        self._remove_hooks()
        step, epoch = optimizer_steps(trainer, pl_module), trainer.current_epoch + 1
        if self._dead:
            layer, share = max(self._dead.items(), key=lambda item: item[1])
            self._observe("dead_relu", share, step, epoch, f"layer {layer}")
            self._dead = {}
        self._check_update(step, epoch)
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            finite = bool(torch.isfinite(loss.detach()))
            self._observe("nan_inf", 0.0 if finite else 1.0, step, epoch, "training loss")
        self._act(trainer, boundary=False)

    # -- checks --------------------------------------------------------------------
    def _check_gradients(self, trainer, pl_module) -> None:
        step, epoch = optimizer_steps(trainer, pl_module) + 1, trainer.current_epoch + 1
        present = [(i, p.grad) for i, p in enumerate(self._params) if p.grad is not None]
        if not present:
            return
        # One norm per parameter (torch's foreach kernel, as clip_grad_norm_ uses), then
        # one per layer (the root of its parameters' summed squares), read in one sync.
        norms = torch.stack(torch._foreach_norm([g.detach() for _, g in present])).double()
        owner = [self._owner[i] for i, _ in present]
        index = torch.tensor(owner, device=norms.device)
        sums = torch.zeros(len(self._layers), dtype=torch.float64, device=norms.device)
        every = sums.index_add_(0, index, norms * norms).sqrt().tolist()
        held = sorted(set(owner))
        names, figures = [self._layers[i] for i in held], [every[i] for i in held]
        bad = [n for n, v in zip(names, figures, strict=True) if not _finite(v)]
        self._observe("nan_inf", 1.0 if bad else 0.0, step, epoch, bad and f"gradient of {bad[0]}")
        if bad:
            return
        top = max(range(len(figures)), key=figures.__getitem__)
        low = min(range(len(figures)), key=figures.__getitem__)
        self._observe("exploding_gradient", figures[top], step, epoch, f"layer {names[top]}")
        if len(figures) > 1 and figures[top] > 0:
            ratio = figures[low] / figures[top]
            note = f"layer {names[low]} vs {names[top]}"
            self._observe("vanishing_gradient", ratio, step, epoch, note)

    def _check_update(self, step: int, epoch: int) -> None:
        if self._before is None:
            return
        delta = torch._foreach_sub([p.detach() for p in self._params], self._before)
        # ||w_before|| and ||w_after - w_before|| in one sync; a NaN weight makes either NaN.
        norms = torch.stack(torch._foreach_norm([*self._before, *delta])).double()
        count = len(self._before)
        squares = torch.stack([norms[:count].square().sum(), norms[count:].square().sum()])
        before_norm, change = squares.sqrt().tolist()
        self._before = None
        finite = _finite(change) and _finite(before_norm)
        self._observe("nan_inf", 0.0 if finite else 1.0, step, epoch, "weights")
        if not finite or before_norm == 0:
            return
        ratio = change / before_norm
        self._observe("update_too_small", ratio, step, epoch)
        self._observe("update_too_large", ratio, step, epoch)

    def _count_classes(self, batch: Any) -> None:
        labels = batch[1] if isinstance(batch, list | tuple) and len(batch) > 1 else None
        if not isinstance(labels, torch.Tensor) or labels.is_floating_point():
            self.book.skip("class_imbalance", "batches carry no integer class labels")
            return
        counts = torch.bincount(labels.detach().flatten().cpu().long())
        if self._counts is None or len(self._counts) < len(counts):
            grown = torch.zeros(len(counts), dtype=torch.long)
            if self._counts is not None:
                grown[: len(self._counts)] = self._counts
            self._counts = grown
        self._counts[: len(counts)] += counts

    def _watch_relus(self, pl_module) -> None:
        stacked = getattr(getattr(pl_module, "net", None), "members", 0) > 0
        for name, module in _relus(pl_module):
            self._hooks[name] = module.register_forward_hook(self._relu_hook(name, stacked))

    def _relu_hook(self, name: str, stacked: bool):
        def hook(module, inputs, output) -> None:
            # Once per check: the hook removes itself, so the other forwards of a fused
            # group (and a module's hook-free fast path) cost nothing.
            handle = self._hooks.pop(name, None)
            if handle is not None:
                handle.remove()
            if name in self._dead or not isinstance(output, torch.Tensor):
                return
            # Rows are dim 0 ([rows, units...]), or dim 1 in a stacked ensemble ([k, rows,
            # units]); a unit is dead when it is never positive over the batch's rows.
            rows = 1 if stacked and output.dim() >= 3 else 0
            alive = output.detach().amax(dim=rows) > 0
            self._dead[name] = 1.0 - alive.float().mean().item()

        return hook

    def _remove_hooks(self) -> None:
        for handle in self._hooks.values():
            handle.remove()
        self._hooks = {}

    # -- epochs ----------------------------------------------------------------------
    def _finish_epochs(self, trainer, pl_module) -> None:
        """Check the epoch that has just finished (its metrics are logged by now)."""
        if self.stopped_by is not None or trainer.current_epoch <= self._epochs_done:
            return
        self._epochs_done = trainer.current_epoch
        epoch, step = trainer.current_epoch, optimizer_steps(trainer, pl_module)
        self._check_classes(step, epoch)
        metrics = trainer.callback_metrics
        train, val = (
            _metric(metrics, self.config.train_loss),
            _metric(metrics, self.config.val_loss),
        )
        if train is None:
            self.book.skip("loss_not_decreasing", f"{self.config.train_loss} is not logged")
            self.book.skip("overfitting", f"{self.config.train_loss} is not logged")
            return
        bad = [
            name for name, v in (("train", train), ("val", val)) if v is not None and not _finite(v)
        ]
        self._observe("nan_inf", 1.0 if bad else 0.0, step, epoch, bad and f"{bad[0]} loss")
        if bad:
            return
        self._history.append((train, val))
        self._check_progress(step, epoch)
        if val is None:
            self.book.skip("overfitting", f"{self.config.val_loss} is not logged")
        else:
            self._check_overfitting(step, epoch)

    def _check_progress(self, step: int, epoch: int) -> None:
        patience = self.config.rules.loss_not_decreasing.patience
        losses = [train for train, _ in self._history]
        if len(losses) <= patience:
            return
        best_before, recent = min(losses[:-patience]), min(losses[-patience:])
        improvement = (best_before - recent) / max(abs(best_before), 1e-12)
        self._observe("loss_not_decreasing", improvement, step, epoch, f"over {patience} epochs")

    def _check_overfitting(self, step: int, epoch: int) -> None:
        rule = self.config.rules.overfitting
        vals = [(val, i) for i, (_, val) in enumerate(self._history) if val is not None]
        best, at = min(vals)
        now_train, now_val = self._history[-1]
        rise = (now_val - best) / max(abs(best), 1e-12)
        since = len(self._history) - 1 - at
        if since >= rule.patience and now_train < self._history[at][0]:
            note = f"val loss {now_val:.4g} vs best {best:.4g} at epoch {at + 1}"
            self._observe("overfitting", rise, step, epoch, note)
        else:  # not yet a candidate: counts as a check that did not breach
            self._observe("overfitting", min(rise, 0.0), step, epoch)

    def _check_classes(self, step: int, epoch: int) -> None:
        if self._counts is None or not len(self._counts):
            return
        counts = self._counts.tolist()
        self._counts = None
        ratio = max(counts) / max(min(counts), 1)  # an absent class counts as one row
        note = "class counts " + ", ".join(f"{i}: {c}" for i, c in enumerate(counts))
        self._observe("class_imbalance", ratio, step, epoch, note)

    # -- outcomes --------------------------------------------------------------------
    def _observe(self, name: str, figure, step: int, epoch: int, note: str | None = None) -> None:
        if not self.book.observe(name, figure, step, epoch, note or None):
            return
        rule = self.book.rules[name]
        if rule.action is not RuleAction.warn:
            self._pending.append(name)
        if self._speaks:
            self._say(rule)

    def _say(self, rule) -> None:
        figure = "" if rule.figure is None else f": {rule.figure:.4g}"
        limit = "" if rule.threshold is None else f" (threshold {rule.threshold:g})"
        where = f" ({rule.note})" if rule.note else ""
        print(
            f"assay train: debugger: {rule.name} fired at step {rule.step}, epoch "
            f"{rule.epoch}{figure}{limit}{where}; action: {rule.action.name}",
            file=sys.stderr,
            flush=True,
        )

    def _act(self, trainer, boundary: bool) -> None:
        """Stop or fail for the rules that fired; under DDP only at epoch boundaries, once
        the ranks have agreed (any rank's rule counts)."""
        several = trainer.world_size > 1
        if several and not boundary:
            return
        pending, self._pending = self._pending, []
        fail = [n for n in pending if self.book.rules[n].action is RuleAction.fail]
        stop = [n for n in pending if n not in fail]
        if several:
            any_fail = trainer.strategy.reduce_boolean_decision(bool(fail), all=False)
            any_stop = trainer.strategy.reduce_boolean_decision(bool(stop), all=False)
            if any_fail and not fail:
                raise DebuggerRuleFailed("training debugger: a rule failed on another rank")
            stop = stop or (["a rule on another rank"] if any_stop else [])
        if fail:
            raise DebuggerRuleFailed(_failure(self.book.rules[fail[0]]))
        if stop and self.stopped_by is None:
            self.stopped_by = stop[0]
            trainer.should_stop = True
            # At an epoch's start Lightning still counts the (empty) epoch it then skips.
            self.skipped_epochs = int(boundary and not self._ended)

    def entries(self) -> dict[str, Any]:
        """The ``debugger`` entry of the model card: one per rule."""
        return self.book.entries()


def _failure(rule) -> str:
    figure = "" if rule.figure is None else f" {rule.figure:.4g}"
    limit = "" if rule.threshold is None else f" against threshold {rule.threshold:g}"
    where = f" ({rule.note})" if rule.note else ""
    return (
        f"training debugger: rule {rule.name} fired at step {rule.step}, epoch {rule.epoch}:"
        f"{figure}{limit}{where}; its action is fail (debugger.rules.{rule.name}.action), "
        "so nothing was written"
    )


def build_debugger(config: DebuggerConfig) -> TrainingDebugger | None:
    """The callback, or None with ``debugger.enabled=false``."""
    return TrainingDebugger(config) if config.enabled else None


def optimizer_steps(trainer, pl_module) -> int:
    """Optimiser steps taken: our module counts them itself when it fuses steps (a
    Lightning step is then a group of them); otherwise Lightning's global step."""
    if getattr(pl_module, "fused", False):
        return int(pl_module.optimizer_steps)
    return int(trainer.global_step)


def _relus(pl_module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in pl_module.named_modules() if isinstance(m, nn.ReLU)]


def _metric(metrics: dict[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    if value is None or (isinstance(value, torch.Tensor) and value.numel() != 1):
        return None
    return float(value)


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
