"""The config tree composes, validates, and rejects bad keys, types and values by name."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from assayml.config import compose, config_hash, to_typed
from assayml.config.custom_models import resolve_builder
from assayml.config.load import canonical_json
from assayml.config.models import BUILTIN_MODEL_SCHEMAS, ModelConfig
from assayml.config.schema import AssayConfig, Task
from assayml.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"
GROUP_OPTIONS = {
    group: sorted(p.stem for p in (CONF / group).glob("*.yaml"))
    for group in ("data", "features", "model", "trainer", "logger", "paths", "experiment")
}


@pytest.mark.parametrize(
    "group,option",
    [(g, o) for g, options in GROUP_OPTIONS.items() for o in options if g != "experiment"],
)
def test_every_group_option_composes_and_validates(group: str, option: str) -> None:
    overrides = [f"{group}={option}"]
    if group == "model" and option == "cnn":
        overrides.append("data=digits")  # the cnn reads data.image_shape
    if group == "data" and option == "file":
        overrides.append("data.path=any.csv")
    cfg = to_typed(compose(overrides, CONF))
    assert isinstance(cfg, AssayConfig)


@pytest.mark.parametrize("experiment", GROUP_OPTIONS["experiment"])
def test_every_experiment_fully_specifies_a_valid_run(experiment: str) -> None:
    cfg = to_typed(compose([f"experiment={experiment}"], CONF))
    assert cfg.data.name and cfg.model.name
    assert OmegaConf.to_yaml(OmegaConf.structured(cfg), resolve=True)


def test_experiment_credit_baseline_sets_what_it_says() -> None:
    cfg = to_typed(compose(["experiment=credit_baseline"], CONF))
    assert (cfg.data.name, cfg.model.name, cfg.seed, cfg.data.bias) == (
        "credit_synthetic",
        "logreg",
        7,
        0.2,
    )


@pytest.mark.parametrize(
    "override,named",
    [
        ("model.hiden=3", "model.hiden"),
        ("seed=abc", "seed"),
        ("trainer.max_epoch=3", "trainer.max_epoch"),
        ("model=transformer", "model/transformer"),
        ("data=imagenet", "data/imagenet"),
        ("train.batch_size=many", "train.batch_size"),
    ],
)
def test_compose_time_errors_name_the_key(override: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        compose([override], CONF)


@pytest.mark.parametrize(
    "override,message",
    [
        ("data.split.train=0.9", "sum to 1"),
        ("model.dropout=1.5", "dropout"),
        ("model.lr=0", "lr"),
        ("trainer.max_epochs=0", "max_epochs"),
        ("seed=-1", "non-negative"),
        ("data.bias=0.9", "bias"),
        ("train.batch_size=0", "batch_size"),
    ],
)
def test_values_out_of_range_fail_validation_naming_the_group(override: str, message: str) -> None:
    group = override.split(".")[0].split("=")[0]
    with pytest.raises(ConfigError, match=rf"{group}\b.*{message}"):
        to_typed(compose([override], CONF))


def test_a_misspelt_key_in_a_yaml_file_fails_at_compose_time(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(CONF, tmp_path / "conf")
    mlp = tmp_path / "conf" / "model" / "mlp.yaml"
    mlp.write_text(mlp.read_text().replace("hidden: 64", "hiden: 64"))
    with pytest.raises(ConfigError, match="hiden"):
        compose([], tmp_path / "conf")


def typed_leaves(value: object) -> object:
    """Every leaf with its type, so that 1 == 1.0 == True cannot pass."""
    if isinstance(value, dict):
        return {key: typed_leaves(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [typed_leaves(item) for item in value]
    return (value, type(value))


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["data=wine", "model=logreg", "seed=3", "trainer.max_epochs=4"],
        ["data=file", "data.path=any.csv", "model=residual_mlp"],
        *[[f"experiment={e}"] for e in GROUP_OPTIONS["experiment"]],
    ],
)
def test_a_composed_config_and_its_plain_copy_validate_alike(overrides: list[str]) -> None:
    """The same typed values from a config Hydra composed and from its values as plain
    YAML (params.yaml); the composed config is left as it was (interpolations unresolved)."""
    cfg = compose(overrides, CONF)
    before = OmegaConf.to_yaml(cfg)
    plain = OmegaConf.create(OmegaConf.to_container(cfg))
    composed, from_plain = to_typed(cfg), to_typed(plain)
    assert typed_leaves(dataclasses.asdict(composed)) == typed_leaves(
        dataclasses.asdict(from_plain)
    )
    assert OmegaConf.to_yaml(cfg) == before


@pytest.mark.parametrize("added", ["+trainer.bogus=3", "+paths.typo_dir=x", "+extra=1"])
def test_a_key_added_with_plus_that_no_schema_has_is_refused_by_name(added: str) -> None:
    """Hydra lets `+key=...` add a key to a typed node; validation must still refuse it,
    from the composed config as from params.yaml."""
    key = added[1:].split("=")[0].split(".")[-1]
    cfg = compose([added], CONF)
    with pytest.raises(ConfigError, match=rf"Key '{key}' not in") as composed:
        to_typed(cfg)
    with pytest.raises(ConfigError) as plain:
        to_typed(OmegaConf.create(OmegaConf.to_container(cfg)))
    assert str(composed.value) == str(plain.value)


def test_params_yaml_path_validates_like_compose() -> None:
    """A params.yaml (plain YAML, no schema attached) goes through the same checks."""
    plain = OmegaConf.create(OmegaConf.to_container(compose([], CONF), resolve=True))
    assert to_typed(plain) == to_typed(compose([], CONF))
    plain.model.hiden = 3
    with pytest.raises(ConfigError, match="hiden"):
        to_typed(plain)


@pytest.mark.parametrize(
    "overrides", [[], *[[f"experiment={e}"] for e in GROUP_OPTIONS["experiment"]]]
)
def test_composed_config_has_no_hydra_interpolations(overrides: list[str]) -> None:
    """${hydra:...} in a stored value breaks DVC's composition of params.yaml, which
    composes without the hydra node and resolves everything."""
    cfg = compose(overrides, CONF)
    assert "${hydra:" not in OmegaConf.to_yaml(cfg)
    OmegaConf.resolve(cfg)  # what DVC does: every interpolation must resolve


def test_config_hash_is_stable_and_sensitive() -> None:
    a, b = to_typed(compose([], CONF)), to_typed(compose([], CONF))
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(to_typed(compose(["seed=1"], CONF)))


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["data=wine", "uncertainty=ensemble", "model=logreg"],
        ["experiment=digits_folder", "tags=[a,b]"],
        ["model/scheduler=cosine", "logger=many", "debug=default"],
        ["model=residual_mlp"],
    ],
)
def test_canonical_json_is_what_omegaconf_structured_gives(overrides) -> None:
    """canonical_json converts the typed config itself; hashes must stay those of the
    structured route they replaced (records and locks hold them)."""
    cfg = to_typed(compose(overrides, CONF))
    container = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True, enum_to_str=True)
    container.pop("hydra", None)
    assert json.loads(canonical_json(cfg)) == container
    assert canonical_json(cfg) == json.dumps(container, separators=(",", ":"), default=str)


def test_validations_share_nothing_through_the_kept_schema_templates() -> None:
    """to_typed fills copies of schemas it built once: a value one config set, or a
    failed validation that stopped halfway, must not show in the next config."""
    wine = compose(["data=wine", "model=logreg", "seed=3", "train.batch_size=16"], CONF)
    default = compose([], CONF)
    first = to_typed(default)
    to_typed(wine)
    broken = OmegaConf.to_container(default)
    broken["train"]["batch_size"] = "many"
    with pytest.raises(ConfigError, match="batch_size"):
        to_typed(OmegaConf.create(broken))
    again = to_typed(default)
    assert again == first and again.seed == 42 and again.data.name == "breast_cancer"
    assert again.train.batch_size == first.train.batch_size != 16
    typed_wine = to_typed(wine)
    assert (typed_wine.seed, typed_wine.train.batch_size, typed_wine.data.name) == (3, 16, "wine")


def test_config_hash_sees_the_order_of_columns() -> None:
    """Column order is feature order: the same columns in another order train another
    model, so the hash must differ (a sorted-keys hash would call them equal)."""
    plain = OmegaConf.to_container(compose([], CONF), resolve=True)
    columns = yaml.safe_load((CONF / "schemas" / f"{plain['data']['schema']}.yaml").read_text())
    plain["data"].update(schema=None, columns=dict(reversed(list(columns.items()))))
    assert config_hash(to_typed(OmegaConf.create(plain))) != config_hash(
        to_typed(compose([], CONF))
    )


def test_task_is_an_enum_and_defaults_match_the_data() -> None:
    assert to_typed(compose(["data=diabetes"], CONF)).data.task is Task.regression


@pytest.mark.parametrize("schema", list(BUILTIN_MODEL_SCHEMAS.values()))
def test_model_schema_fields_are_the_builder_arguments(schema: type[ModelConfig]) -> None:
    base = {f.name for f in dataclasses.fields(ModelConfig)}
    arch = {f.name for f in dataclasses.fields(schema)} - base
    builder = resolve_builder(schema._target_)
    params = set(inspect.signature(builder).parameters) - {"in_features", "out_features"}
    assert arch == params


def test_a_custom_builder_gets_a_schema_from_its_signature() -> None:
    cfg = OmegaConf.to_container(compose([], CONF), resolve=True)
    cfg["model"] = {
        "_target_": "tests.models.custom_builder.build_wide",
        "name": "wide",
        "width": 8,
    }
    typed = to_typed(OmegaConf.create(cfg))
    assert typed.model.width == 8 and typed.model.lr == 1e-3
    cfg["model"]["widht"] = 9
    with pytest.raises(ConfigError, match="widht"):
        to_typed(OmegaConf.create(cfg))
