"""Built-in data sets: scikit-learn's bundled tables (offline) and our credit generator."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from assayml.config.schema import DataConfig
from assayml.errors import ConfigError


def _sklearn(loader_name: str, **kwargs: object) -> Callable[[DataConfig], pd.DataFrame]:
    def load(_: DataConfig) -> pd.DataFrame:
        from sklearn import datasets

        frame = getattr(datasets, loader_name)(as_frame=True, **kwargs).frame
        # Hydra overrides address columns by name, so names must not contain spaces.
        frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
        return frame.reset_index(drop=True)

    return load


def _credit(cfg: DataConfig) -> pd.DataFrame:
    from assayml.data.credit import generate_credit

    return generate_credit(n_rows=cfg.n_rows or 5000, bias=cfg.bias, seed=cfg.generator_seed)


BUILTIN_LOADERS: dict[str, Callable[[DataConfig], pd.DataFrame]] = {
    "breast_cancer": _sklearn("load_breast_cancer"),
    "wine": _sklearn("load_wine"),
    "diabetes": _sklearn("load_diabetes", scaled=False),
    "digits": _sklearn("load_digits"),
    "credit_synthetic": _credit,
}


def load_builtin(cfg: DataConfig) -> pd.DataFrame:
    """The built-in table named ``cfg.name``."""
    try:
        loader = BUILTIN_LOADERS[cfg.name]
    except KeyError:
        known = ", ".join(sorted(BUILTIN_LOADERS))
        raise ConfigError(f"data.name: unknown built-in data set '{cfg.name}' ({known})") from None
    try:
        return loader(cfg)
    except ValueError as err:
        raise ConfigError(f"data: cannot generate '{cfg.name}': {err}") from err
