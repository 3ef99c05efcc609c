"""The pipeline's data stages on a user's LightningDataModule (``data._target_``).

``prepare`` records what the DataModule reads (``data.files``, by content hash: DVC's where
DVC tracks them), lets it prepare and set up its data, and profiles its splits: rows, input
shape, the task and classes inferred from the train labels (or ``data.task`` /
``model.task``). ``features`` has nothing to fit (the DataModule transforms its own
inputs) and says so in its output, which carries what identifies the data (the declared
files' hashes, the revision, the DataModule's config) so that DVC reruns train when any of
them changes. Every later stage builds the DataModule the same way, with the same seed, so
it sees the same splits.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assayml.config.schema import AssayConfig, Task
from assayml.config.user_modules import DATA_RESERVED, instantiate
from assayml.errors import ConfigError, DataError
from assayml.records import StageRecord
from assayml.stages.common import finish_record, read_json, utc_now
from assayml.utils.io import atomic_outputs

PROFILE_FILE = "profile.json"
NO_TRANSFORM_FILE = "no_transform.json"
SOURCE = "datamodule"
# The keys of the profile's ``data`` that identify what was read.
DATA_IDENTITY = ("md5", "files", "rev", "rev_commit")


def data_node(cfg: AssayConfig) -> dict[str, Any]:
    """``cfg.data`` as the plain mapping Hydra instantiates."""
    from assayml.config.user_modules import constructor_node

    # the card is governance, not a setting of the batches: a change to it retrains nothing
    return {k: v for k, v in constructor_node(cfg.data).items() if k != "card"}


def revision_root(cfg: AssayConfig) -> Path | None:
    """Where the declared files are read from under ``data.rev`` (a copy at that commit)."""
    if cfg.data.rev is None:
        return None
    if not cfg.data.files:
        raise ConfigError("data.rev reads data.files at a revision: declare data.files")
    from assayml.data.module_files import checkout_rev

    return checkout_rev(cfg.paths.root_dir, list(cfg.data.files), cfg.data.rev)


def build_datamodule(cfg: AssayConfig, stage: str):
    """The configured DataModule, prepared and set up for ``stage`` ("fit" or "test").

    Under ``data.rev`` every constructor argument that names a declared path (or a path
    inside one), nested in dicts and lists too, is pointed at that path's copy at the
    revision."""
    import lightning.pytorch as pl

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    node = data_node(cfg)
    copy = revision_root(cfg)
    overrides = {}
    if copy is not None:
        overrides = revision_paths(node, list(cfg.data.files), copy, cfg.paths.root_dir)
    module = instantiate(node, DATA_RESERVED, **overrides)
    try:
        module.prepare_data()
        module.setup(stage)
    except (OSError, ValueError, RuntimeError) as err:
        raise DataError(f"data: {cfg.data._target_} could not set up its data: {err}") from err
    return module


def batch_parts(batch: Any, where: str):
    """(inputs, labels) of a batch: the first two items of a tuple or list."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise DataError(
        f"{where}: a DataModule batch must be (inputs, labels, ...); got {type(batch).__name__}"
    )


def batch_facets(batch: Any, sensitive: list[str], where: str) -> dict[str, list[Any]]:
    """The sensitive attributes of a batch's rows, ``{name: [value per row]}``, from its
    third item: a mapping of names to tensors or lists (what the default collate makes of
    a dataset's ``(x, y, {"sex": "F", "age_band": 2})``). NaN and None are missing values.

    Raises:
        DataError: naming the batch's shape, or the attribute that is absent or whose
            length is not the batch's row count.
    """
    if not sensitive:
        return {}
    extra = batch[2] if isinstance(batch, (tuple, list)) and len(batch) >= 3 else None
    if not isinstance(extra, Mapping):
        raise DataError(
            f"{where}: data.sensitive names {sensitive}, so batches must be "
            f"(inputs, labels, {{attribute: values}}); got a third item of type "
            f"{type(extra).__name__}"
        )
    rows = len(batch[1])
    facets = {}
    for name in sensitive:
        if name not in extra:
            raise DataError(
                f"{where}: data.sensitive '{name}' is not in the batch's attributes "
                f"({', '.join(map(str, extra)) or 'none'})"
            )
        values = extra[name]
        values = values.reshape(-1).tolist() if hasattr(values, "tolist") else list(values)
        if len(values) != rows:
            raise DataError(f"{where}: attribute '{name}' has {len(values)} values for {rows} rows")
        facets[name] = values
    return facets


def loader_labels(loader, where: str, sensitive: list[str] | None = None):
    """Every label a dataloader yields, concatenated, and the input shape of one row; with
    ``sensitive``, also the rows' sensitive attributes (:func:`batch_facets`) as a frame."""
    import torch

    labels, shape, facets = [], None, []
    for batch in loader:
        x, y = batch_parts(batch, where)
        facets.append(batch_facets(batch, sensitive or [], where))
        shape = list(x.shape[1:]) if shape is None else shape
        y = torch.as_tensor(y)
        if math.prod(y.shape[1:]) != 1:  # [n, k]: one-hot or multi-label
            raise DataError(
                f"{where}: labels must be one value per row (a class index or a number); "
                f"got shape {list(y.shape)}. One-hot labels: pass their argmax; "
                "multi-label targets are not supported"
            )
        labels.append(y.reshape(len(y)))
    if not labels:
        raise DataError(f"{where}: the dataloader yields no batches")
    if sensitive:
        return torch.cat(labels), shape, facet_frame(facets)
    return torch.cat(labels), shape


def facet_frame(batches: list[dict[str, list[Any]]]):
    """Per-batch attributes as one frame, a column per attribute, missing values as NaN/None
    (as a table's sensitive columns are read)."""
    import pandas as pd

    names = list(batches[0]) if batches else []
    return pd.DataFrame({name: [v for b in batches for v in b[name]] for name in names})


def infer_task(cfg: AssayConfig, labels) -> tuple[str, list[Any]]:
    """The task (``data.task``, else ``model.task``, else from the labels' dtype) and its
    classes: integer or bool labels are classes (two: binary), floating-point labels a
    regression target (even when every value is whole: 1.0, 2.0 are amounts, not classes,
    unless the config declares a classification task)."""
    import torch

    declared = next(
        (t for t in (cfg.data.task, getattr(cfg.model, "task", Task.auto)) if t is not Task.auto),
        Task.auto,
    )
    floating = torch.is_floating_point(labels)
    if declared is Task.regression or (declared is Task.auto and floating):
        return "regression", []
    if floating and not bool(torch.all(labels == labels.round())):
        raise DataError(
            f"data: the task is {declared.name} but the train labels are fractional "
            f"(e.g. {labels[labels != labels.round()][0].item()}); classes are 0..k-1"
        )
    classes = sorted(int(v) for v in torch.unique(labels).tolist())
    if classes != list(range(len(classes))):
        raise DataError(
            f"data: class labels must be 0..k-1 for a LightningDataModule's classifier; "
            f"the train split has {classes[:10]}"
        )
    if declared is Task.auto:
        return ("binary" if len(classes) == 2 else "multiclass"), classes
    return declared.name, classes


def run_prepare_module(cfg: AssayConfig) -> StageRecord:
    """Write ``profile.json`` (no split files: the DataModule splits) and the record."""
    from assayml.data.card import card_dict, check_card
    from assayml.data.module_files import combined_md5, file_identities
    from assayml.records import resolve_rev

    check_card(cfg.data)
    started = utc_now()
    module = build_datamodule(cfg, "fit")  # prepare_data may write the files it reads
    copy = revision_root(cfg)
    commit = resolve_rev(cfg.paths.root_dir, cfg.data.rev) if cfg.data.rev is not None else None
    identities = file_identities(cfg.paths.root_dir, list(cfg.data.files), copy, commit)
    target = cfg.data._target_
    sensitive = list(cfg.data.sensitive)
    read = loader_labels(module.train_dataloader(), f"{target}.train_dataloader()", sensitive)
    labels, shape = read[:2]
    task, classes = infer_task(cfg, labels)
    references = _plain(cfg.data.reference_groups)
    if sensitive or references:
        check_facets(read[2] if sensitive else None, references, task, cfg)
    rows = {"train": len(labels), "val": _rows(module, "val_dataloader")}
    module.setup("test")
    rows["test"] = _rows(module, "test_dataloader")
    data = {
        "md5": combined_md5(identities),
        "source": SOURCE,
        "name": cfg.data.name,
        "datamodule": target,
        "files": identities,
        "rev": cfg.data.rev,
    }
    if cfg.data.rev is not None:
        data["rev_commit"] = commit
    profile = {
        "source": SOURCE,
        "task": task,
        "classes": classes,
        "target": "label",
        "rows": rows,
        "input_shape": shape,
        "sensitive": sensitive,  # attributes the batches carry (bias reports)
        "reference_groups": references,
        "data": data,
        # batch_size, fractions, seed...: not in the rows above, yet they change the batches
        "datamodule_config": data_node(cfg),
        "card": card_dict(cfg.data.card),
    }
    out_dir = Path(cfg.paths.prepared_dir)
    with atomic_outputs() as out:
        out.own_dir(out_dir)
        out.write_json(out_dir / PROFILE_FILE, profile)
        details = {"task": task, "rows": rows, "input_shape": shape}
        inputs = [Path(cfg.paths.root_dir) / f for f in cfg.data.files if (copy is None)]
        return finish_record(out, "prepare", cfg, data, _files_only(inputs), started, details)


def run_features_module(cfg: AssayConfig) -> StageRecord:
    """Write a note that there is no feature transform to fit, and the record."""
    started = utc_now()
    prepared = Path(cfg.paths.prepared_dir)
    profile = read_json(prepared / PROFILE_FILE, "prepare")
    out_dir = Path(cfg.paths.features_dir)
    note = {
        "transform": None,
        "reason": f"data from {cfg.data._target_}: the DataModule transforms its own inputs",
        # What train will read: its only DVC dependency on the data is this folder, so a
        # change of files, revision or DataModule config must change these bytes.
        "data": {key: profile["data"].get(key) for key in DATA_IDENTITY},
        "datamodule_config": data_node(cfg),
    }
    with atomic_outputs() as out:
        out.own_dir(out_dir)
        out.write_text(out_dir / NO_TRANSFORM_FILE, stable_json(note))
        details = {"features": None, "task": profile["task"]}
        return finish_record(
            out, "features", cfg, profile["data"], [prepared / PROFILE_FILE], started, details
        )


def check_facets(train, references: dict[str, Any], task: str, cfg: AssayConfig) -> None:
    """Stop at prepare, not at explain, when the bias report could not be made.

    Raises:
        ConfigError: for a regression target or a reference group not named in
            ``data.sensitive``.
        DataError: for a reference group no training row has (naming those present).
    """
    from assayml.explain.bias_report import reference_group
    from assayml.utils.groups import missing_name_of

    if task == "regression" and cfg.data.sensitive:
        raise ConfigError(
            "data.sensitive: bias metrics compare favourable outcomes of a classifier, and "
            f"{cfg.data._target_}'s labels are a regression target"
        )
    stray = sorted(set(references) - set(cfg.data.sensitive))
    if stray:
        raise ConfigError(f"data.reference_groups: {stray} not in data.sensitive")
    for name, value in references.items():
        reference_group(train[name], value, name, missing_name_of(train[name], train[name]))


def _plain(node: Any) -> dict[str, Any]:
    from omegaconf import DictConfig, OmegaConf

    return OmegaConf.to_container(node) if isinstance(node, DictConfig) else dict(node or {})


def module_profile(cfg: AssayConfig) -> dict[str, Any]:
    """The profile ``prepare`` wrote for the DataModule (task, classes, shapes)."""
    profile = read_json(Path(cfg.paths.prepared_dir) / PROFILE_FILE, "prepare")
    if profile.get("source") != SOURCE:
        raise ConfigError(
            f"{cfg.paths.prepared_dir}/{PROFILE_FILE} was prepared from a table, but data is "
            f"{cfg.data._target_}: run `assay prepare` with this config first"
        )
    return profile


def stable_json(obj: Any) -> str:
    """JSON with sorted keys: the same inputs give byte-identical files."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False, default=str) + "\n"


# Why prepare needs each loader beside train_dataloader.
LOADER_USES = {
    "val_dataloader": "train selects the best epoch and stops early on the validation split",
    "test_dataloader": "evaluate, explain and baseline read the test split",
}


def _rows(module, method: str) -> int | None:
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        loader = getattr(module, method)()
    except (MisconfigurationException, NotImplementedError) as err:
        raise ConfigError(
            f"data: {type(module).__name__} has no {method}(), and {LOADER_USES[method]}: "
            f"define {method}() ({err})"
        ) from err
    if loader is None:
        raise ConfigError(
            f"data: {type(module).__name__}.{method}() returned None, and {LOADER_USES[method]}"
        )
    dataset = getattr(loader, "dataset", None)
    try:
        return len(dataset) if dataset is not None else None
    except TypeError:  # an iterable dataset has no length
        return None


def _files_only(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.is_file()]


def revision_paths(
    node: dict[str, Any], files: list[str], copy: Path, root: str | Path
) -> dict[str, Any]:
    """Constructor arguments (``{name: new value}``) that name a declared path or a path
    inside one, pointed into ``copy``. Paths match as resolved against the project
    ``root`` (``./data/x``, ``data/x/`` and ``<root>/data/x`` all name ``data/x``), in
    nested dicts and lists too. Under ``data.rev`` an argument must be redirected: else the
    DataModule reads the workspace while the record says the revision (a ConfigError)."""
    roots = _root_aliases(root)
    declared = [os.path.normpath(rel) for rel in files]
    examined: list[str] = []
    overrides = {}
    for key, value in node.items():
        if key in DATA_RESERVED:
            continue
        new = _redirect(value, f"data.{key}", roots, declared, copy, examined)
        if new != value:
            overrides[key] = new
    if not overrides:
        found = ", ".join(examined) if examined else "none (no string arguments)"
        raise ConfigError(
            f"data.rev={node.get('rev')}: no argument of {node['_target_']} names a path in "
            f"data.files {list(files)}, so it would read the workspace, not the revision. "
            f"Arguments examined: {found}"
        )
    return overrides


def _redirect(value, key, roots, declared, copy, examined):
    if isinstance(value, dict):
        return {
            k: v if k == "_target_" else _redirect(v, f"{key}.{k}", roots, declared, copy, examined)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _redirect(v, f"{key}[{i}]", roots, declared, copy, examined)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or not value:
        return value
    examined.append(f"{key}={value!r}")
    rel = _relative_to_root(value, roots)
    if rel is None:
        return value
    for path in declared:
        if rel == path or rel.startswith(path + "/"):
            return str(copy / rel)
    return value


def _root_aliases(root: str | Path) -> list[Path]:
    """The project root as written (absolute) and with symlinks resolved."""
    written = Path(os.path.abspath(root))
    return [written] if written == written.resolve() else [written, written.resolve()]


def _relative_to_root(value: str, roots: list[Path]) -> str | None:
    """``value`` as a normalised path relative to the project root, or None if outside."""
    path = Path(os.path.normpath(roots[0] / Path(value).expanduser()))  # absolute: kept
    for base in roots:
        if path == base or base in path.parents:
            return path.relative_to(base).as_posix()
    return None
