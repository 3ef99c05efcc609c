"""Deep ensembles trained member by member, where the members have no stacked form.

``uncertainty=ensemble`` trains k members at once when the network stacks
(``models/ensemble.py``); a network that does not (a user's own ``nn.Module`` with skip
connections, a user's LightningModule) trains k times instead: member i with the run's
config and seed ``seed + i``, exactly as it would be trained alone, so member i of an
ensemble equals a single run with that seed. The members are saved as one
:class:`~assayml.models.members.MemberList`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

from assayml.config.schema import AssayConfig, UncertaintyMethod
from assayml.errors import ConfigError


def ensemble_stacks(cfg: AssayConfig, in_features: int, out_features: int) -> bool:
    """Whether ``cfg.model``'s network has a stacked ensemble form."""
    from assayml.models.build import architecture_kwargs, build_network
    from assayml.models.members import stackable

    arch = architecture_kwargs(cfg.model)
    nets = [build_network(cfg.model._target_, arch, in_features, out_features) for _ in range(2)]
    return stackable(nets)


def member_configs(cfg: AssayConfig, task: str) -> list[AssayConfig]:
    """One config per member: seed ``seed + i``, trained as a single model."""
    u = cfg.uncertainty
    if u.bootstrap:
        raise ConfigError(
            "uncertainty.bootstrap resamples rows per member of a stacked ensemble; members "
            "trained one after another see the whole split (set uncertainty.bootstrap=false)"
        )
    if task == "regression" and u.gaussian_head:
        raise ConfigError(
            "uncertainty.gaussian_head: members trained one after another have point heads "
            "(the ensemble's spread is their variance); set uncertainty.gaussian_head=false"
        )
    single = dataclasses.replace(u, method=UncertaintyMethod.none)
    return [
        dataclasses.replace(cfg, seed=cfg.seed + i, uncertainty=single) for i in range(u.members)
    ]


def fit_in_sequence(cfg: AssayConfig, task: str, fit: Callable[[AssayConfig], Any]):
    """Fit every member with ``fit`` (a member config -> a fit result with ``net`` or
    ``module``, ``state_dict``, scores and counts) and combine the results."""
    from assayml.models.members import MemberList, member_state
    from assayml.train.debugger_rules import merge_entries

    results = [fit(member) for member in member_configs(cfg, task)]
    nets = [getattr(r, "net", None) or r.module for r in results]
    scores = [r.best_score for r in results if r.best_score is not None]
    epochs = [r.best_epoch for r in results if r.best_epoch is not None]
    combined = dataclasses.replace(
        results[-1],
        state_dict=member_state([r.state_dict for r in results]),
        best_score=sum(scores) / len(scores) if scores else None,
        best_epoch=Counter(epochs).most_common(1)[0][0] if epochs else None,
        epochs=max(r.epochs for r in results),
        steps=sum(r.steps for r in results),
        stopped_early=any(r.stopped_early for r in results),
        debugger=merge_entries([r.debugger for r in results]),
        stopped_by=next((r.stopped_by for r in results if r.stopped_by), None),
    )
    field = "net" if hasattr(results[-1], "net") else "module"
    return dataclasses.replace(combined, **{field: MemberList(nets).eval()})
