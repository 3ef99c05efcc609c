"""Which network builders a saved model may name: the trust boundary for loading models.

A model folder or registry version came from elsewhere; its ``model.json`` names a builder
(``target``) that loading would import and call. So loading imports nothing a folder names
unless this project trusts it, and decides that from the name alone, before any import:

- assayml's own builders (functions defined in ``assayml.models.networks``);
- builders the project declares: every ``_target_`` in its ``conf/`` (read from
  the project's ``conf/``, never from the model folder), and the builder of any config this
  process composed or read from ``params.yaml`` (the run's own, trusted config);
- modules or targets named by ``--trust-builder`` or ``$ASSAY_TRUST_BUILDERS``.

A trusted module trusts only the public functions and classes *defined* in it, so
``assayml.models.networks.torch.hub.load`` (an attribute reached through a trusted module)
is refused.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assayml.config.custom_models import config_builders, resolve_builder
from assayml.config.user_modules import nested_targets
from assayml.errors import ArtifactError, ConfigError

BUILTIN_MODULES = ("assayml.models.networks",)
TRUST_ENV = "ASSAY_TRUST_BUILDERS"  # comma- or space-separated modules or targets
DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class UntrustedBuilder(ArtifactError):
    """A model names a builder this project does not trust; nothing was imported."""


@dataclass(frozen=True)
class BuilderTrust:
    """Exact targets and whole modules that loading may import."""

    targets: frozenset[str] = frozenset()  # dotted paths, trusted as written
    modules: frozenset[str] = frozenset(BUILTIN_MODULES)  # their own public callables

    def allows(self, target: Any) -> bool:
        """Whether ``target`` is trusted, decided from the string alone (no import)."""
        if not isinstance(target, str) or not DOTTED.match(target):
            return False
        module, _, attr = target.rpartition(".")
        return target in self.targets or (module in self.modules and not attr.startswith("_"))

    def check(self, target: Any, where: str) -> None:
        """Raise :class:`UntrustedBuilder` (exit 2) unless ``target`` is trusted."""
        if not self.allows(target):
            raise UntrustedBuilder(
                f"{where}: builder '{target}' is not trusted, so it was not imported. "
                "Loading a model only calls assayml's own builders, a _target_ named in "
                "this project's conf/, or a module given with "
                f"--trust-builder MODULE (or ${TRUST_ENV})"
            )

    def resolve(self, target: str, where: str):
        """The builder itself: checked as :meth:`check` does, and only then imported."""
        self.check(target, where)
        if target in self.targets:  # declared exactly by the project: import as Hydra does
            return resolve_builder(target)
        module_name, _, attr = target.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ConfigError(f"{where}: cannot import '{module_name}': {err}") from err
        builder = getattr(module, attr, None)
        # Only what the module defines: a name it merely imported is someone else's code.
        if not callable(builder) or getattr(builder, "__module__", None) != module_name:
            raise UntrustedBuilder(
                f"{where}: '{target}' is not a builder defined in the trusted module "
                f"'{module_name}'; refusing it"
            )
        return builder


def project_trust(extra: Iterable[str] = (), root: str | Path | None = None) -> BuilderTrust:
    """The trust policy of the project at ``root`` (default: the working directory):
    built-in builders, the ``_target_``s of ``conf/``, this process's config builders,
    ``$ASSAY_TRUST_BUILDERS`` and ``extra`` (``--trust-builder`` values)."""
    named = [*_env_names(), *extra]
    for name in named:
        if not DOTTED.match(name):
            raise ConfigError(f"--trust-builder / ${TRUST_ENV}: '{name}' is not a module path")
    declared = conf_targets(Path(root or ".") / "conf") | config_builders()
    return BuilderTrust(
        targets=frozenset(declared | set(named)),
        modules=frozenset({*BUILTIN_MODULES, *named}),
    )


def builtin_trust() -> BuilderTrust:
    """Only assayml's own builders: for model folders saved before manifests existed."""
    return BuilderTrust()


def conf_targets(conf: Path) -> set[str]:
    """Every ``_target_`` the project's own ``conf/`` names, nested ones included: model
    builders and LightningModules with their networks and optimizers, DataModules,
    callbacks, loggers, schedulers. The project's config is trusted; a model folder or a
    recorded config naming one of these may have it imported."""
    import yaml

    # libyaml's parser where PyYAML has it: the pure-Python one took ~0.25 s for conf/'s
    # ~60 files, on every model load.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    targets = set()
    for path in sorted(conf.rglob("*.yaml")):
        try:
            node = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: unreadable config: {err}") from err
        if isinstance(node, (dict, list)):
            targets.update(t for t in nested_targets(node) if isinstance(t, str))
    return targets


def _env_names() -> list[str]:
    return [n for n in re.split(r"[,\s]+", os.environ.get(TRUST_ENV, "")) if n]
