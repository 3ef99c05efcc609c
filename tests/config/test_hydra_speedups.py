"""The quicker composition (assayml.config.hydra_speedups) gives what Hydra and OmegaConf
give on their own: every config group option of conf/, interpolated defaults, edited files,
parse errors, and YAML's corner cases compared as typed values."""

from __future__ import annotations

import math
import pathlib
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
import yaml
from omegaconf import OmegaConf

from assayml.config import compose
from assayml.config import hydra_speedups as speedups
from assayml.errors import ConfigError
from tests import cli_fork
from tests.conftest import cli_env

CONF = Path(__file__).resolve().parents[2] / "conf"
GROUPS: dict[str, list[str]] = {}
for _path in sorted(CONF.rglob("*.yaml")):
    if _path.parent != CONF and _path.parent.name != "schemas":
        GROUPS.setdefault(str(_path.parent.relative_to(CONF)), []).append(_path.stem)
# Every option of every group, in few composes: round i picks the i-th option (cycling) of
# each top-level group, all on one command line; the groups under model/ and hydra/ go
# with model=mlp (whose defaults hold a scheduler), and each experiment alone (it sets
# other groups itself).
NESTED = {group: options for group, options in GROUPS.items() if "/" in group}
TOP = {g: o for g, o in GROUPS.items() if g not in NESTED and g != "experiment"}


def _rounds(groups: dict[str, list[str]], *fixed: str) -> list[list[str]]:
    largest = max(map(len, groups.values()))
    return [
        [*fixed, *(f"{group}={options[i % len(options)]}" for group, options in groups.items())]
        for i in range(largest)
    ]


ROUNDS = [
    *_rounds(TOP),
    *_rounds(NESTED, "model=mlp"),
    *([f"experiment={name}"] for name in GROUPS["experiment"]),
]


def typed(value: Any) -> Any:
    """``value`` with the type of every leaf beside it, so 1 == 1.0 == True cannot pass."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return ("nan", float)
    return (value, type(value))


def composed(overrides: list[str], config_dir: Path = CONF) -> Any:
    """The whole config Hydra composes, its own node included, as typed plain values; or
    the error, as text."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from assayml.config.store import register_configs

    register_configs()
    try:
        with initialize_config_dir(str(config_dir), version_base="1.3"):
            cfg = hydra_compose("config", overrides=overrides, return_hydra_config=True)
    except Exception as err:  # compared, not raised: both paths must fail alike
        return f"{type(err).__name__}: {err}"
    return typed(OmegaConf.to_container(cfg, resolve=False))


def both_ways(overrides: list[str], config_dir: Path = CONF) -> tuple[Any, Any]:
    with speedups.paused():
        stock = composed(overrides, config_dir)
    return stock, composed(overrides, config_dir)


def test_the_speedups_are_in_place_when_composing() -> None:
    import omegaconf._utils
    from hydra._internal import defaults_list
    from hydra._internal.sources_registry import SourcesRegistry

    compose([], CONF)
    assert speedups._releases_known(), "a Hydra or OmegaConf release these were not made for"
    assert SourcesRegistry.instance().resolve("file").load_config is speedups._load_once
    structured = SourcesRegistry.instance().resolve("structured")
    assert vars(structured)["__deepcopy__"] is speedups._copy_sharing_the_store
    assert omegaconf._utils.get_yaml_loader is speedups._libyaml_loader
    assert defaults_list._create_interpolation_map is speedups._interpolation_map_if_read
    with speedups.paused():
        assert SourcesRegistry.instance().resolve("file").load_config is not speedups._load_once


def test_the_defaults_compose_alike() -> None:
    stock, fast = both_ways([])
    assert isinstance(stock, dict) and "hydra" in stock
    assert fast == stock


@pytest.mark.parametrize("overrides", ROUNDS, ids=range(len(ROUNDS)))
def test_every_group_option_composes_alike(overrides: list[str]) -> None:
    stock, fast = both_ways(overrides)
    assert not isinstance(stock, str), stock
    assert fast == stock


def test_overrides_of_values_and_errors_compose_alike() -> None:
    overrides = ["model=mlp", "model.lr=0.003", "trainer.max_epochs=7", "+extra.key=[1,2.5,x]"]
    stock, fast = both_ways(overrides)
    assert fast == stock
    assert fast["model"]["lr"] == (0.003, float)
    stock, fast = both_ways(["model=no_such_model"])
    assert isinstance(stock, str) and "no_such_model" in stock
    assert fast == stock


def write_conf(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_interpolated_defaults_resolve_alike(tmp_path: Path) -> None:
    conf = write_conf(
        tmp_path,
        {
            "config.yaml": "defaults:\n  - db: mysql\n  - db_schema: ${db}\n  - _self_\n",
            "db/mysql.yaml": "driver: mysql\nport: 3306\n",
            "db/postgresql.yaml": "driver: postgresql\nport: 5432\n",
            "db_schema/mysql.yaml": "tables: [a, b]\n",
            "db_schema/postgresql.yaml": "tables: [c]\n",
        },
    )
    for overrides in ([], ["db=postgresql"]):
        stock, fast = both_ways(overrides, conf)
        assert not isinstance(stock, str), stock
        assert fast == stock
    assert fast["db_schema"]["tables"] == [("c", str)]


def test_each_load_of_a_kept_file_is_a_config_of_its_own(tmp_path: Path) -> None:
    from hydra._internal.core_plugins.file_config_source import FileConfigSource

    write_conf(tmp_path, {"m/a.yaml": "# @package _global_\nlr: 0.1\nlayers: [1, 2]\n"})
    source = FileConfigSource(provider="test", path=str(tmp_path))
    first = source.load_config("m/a.yaml")
    first.config.lr = 5.0
    first.config.layers.append(3)
    second = source.load_config("m/a.yaml")
    assert second.config is not first.config
    assert OmegaConf.to_container(second.config) == {"lr": 0.1, "layers": [1, 2]}
    assert second.header == {"package": "_global_"}


def test_an_edited_file_is_read_again_and_a_result_is_ours_to_change(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, {"config.yaml": "defaults:\n  - m: a\n", "m/a.yaml": "lr: 0.1\n"})
    first = compose([], conf)
    assert first.m.lr == 0.1
    first.m.lr = 99.0  # the next compose must not see this
    (conf / "m/a.yaml").write_text("lr: 0.2\n")  # same length, likely the same mtime
    assert compose([], conf).m.lr == 0.2
    (conf / "m/a.yaml").write_text("lr: 0.1\n")
    assert compose([], conf).m.lr == 0.1


def test_a_copy_of_a_config_folder_shares_the_parses_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(speedups, "_PARSED", OrderedDict())  # room for every parse below
    files = {"config.yaml": "defaults:\n  - m: a\n  - _self_\nseed: 7\n", "m/a.yaml": "lr: 0.1\n"}
    one = write_conf(tmp_path / "one", files)
    two = write_conf(tmp_path / "two", files)
    first = compose([], one)
    kept = len(speedups._PARSED)
    first.m.lr = 99.0
    second = compose([], two)  # the same texts, in another folder: parsed before
    assert len(speedups._PARSED) == kept
    assert OmegaConf.to_container(second) == {"m": {"lr": 0.1}, "seed": 7}
    (two / "m/a.yaml").write_text("lr: 0.3\n")
    assert compose([], two).m.lr == 0.3
    assert compose([], one).m.lr == 0.1
    (two / "m/a.yaml").write_text("lr: [0.3\n")  # a parse error names its own file
    with pytest.raises(ConfigError, match=rf'"{two}/m/a\.yaml", line 2'):
        compose([], two)
    (one / "m/a.yaml").write_text("lr: [0.3\n")
    with pytest.raises(ConfigError, match=rf'"{one}/m/a\.yaml", line 2'):
        compose([], one)


def test_a_bad_yaml_file_is_named_in_a_composition_error(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, {"config.yaml": "defaults:\n  - m: a\n", "m/a.yaml": "a: [1\n"})
    stock, fast = both_ways([], conf)
    # Hydra passed PyYAML's error on (and its commands printed it with a traceback); it
    # is now one of Hydra's composition errors, naming the same file and line (libyaml
    # words the syntax error its own way)
    assert stock.startswith("ParserError: ")
    assert fast.startswith("ConfigCompositionException: not valid YAML: ")
    where = f'in "{conf / "m/a.yaml"}", line 2'
    assert where in fast and where in stock
    (conf / "m/a.yaml").write_text("a: 1\na: 2\n")
    stock, fast = both_ways([], conf)
    assert "found duplicate key a" in stock and "found duplicate key a" in fast
    with pytest.raises(ConfigError, match=r'm/a\.yaml", line 2'):
        compose([], conf)


def test_a_command_names_a_bad_yaml_file_without_a_traceback(project: Path) -> None:
    (project / "conf" / "features" / "standard.yaml").write_text("scaler: [1\n")
    for command in ("prepare", "compose"):
        done = cli_fork.run(
            [sys.executable, "-m", "assayml.cli.main", command],
            capture_output=True,
            text=True,
            env=cli_env(),
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "features/standard.yaml" in done.stderr and "line 2" in done.stderr


TRICKY_YAML = """\
small: 1e-3
signed: +1.5e+3
dotted: .5
inf: .inf
nan: .nan
int: 1_000
octal: 0o17
old_octal: 017
hex: 0x1F
yes: yes
on: on
null_word: null
tilde: ~
stamp: 2026-12-03
stamp_time: 2026-12-03 10:00:00
text: "1e-3"
version: 1.10
anchor: &a {x: 1}
merged:
  <<: *a
  y: 2
seq: [1, 2.0, three, [4]]
path: !!python/object/apply:pathlib.Path [a, b]
posix: !!python/object/apply:pathlib.PosixPath [c]
"""


def test_the_libyaml_loader_reads_values_as_omegaconfs_own() -> None:
    import omegaconf._utils

    with speedups.paused():
        stock_loader = omegaconf._utils.get_yaml_loader()
        stock = yaml.load(TRICKY_YAML, Loader=stock_loader)
        stock_cfg = OmegaConf.to_container(OmegaConf.create(TRICKY_YAML))
    loader = speedups._libyaml_loader()
    assert isinstance(loader("a: 1\n"), yaml.CSafeLoader)  # libyaml's parser
    assert not isinstance(loader("a:\tb\n"), yaml.CSafeLoader)  # a tab: PyYAML's own
    fast = yaml.load(TRICKY_YAML, Loader=loader)
    assert typed(fast) == typed(stock)
    assert typed(OmegaConf.to_container(OmegaConf.create(TRICKY_YAML))) == typed(stock_cfg)
    assert fast["small"] == 0.001 and isinstance(fast["stamp"], str)
    assert fast["path"] == pathlib.Path("a", "b")
    bad_texts = (
        "a: 1\na: 2\n",
        "!!python/object/apply:os.system [ls]\n",
        "a: [1\n",
        "k:\tv\n",  # libyaml alone would take this tab
        "a: 1\n\tb: 2\n",
        "a: \x07\n",  # a control character
    )
    for bad in bad_texts:
        with pytest.raises(yaml.YAMLError) as stock_error:
            yaml.load(bad, Loader=stock_loader)
        with pytest.raises(yaml.YAMLError) as fast_error:
            yaml.load(bad, Loader=loader)
        assert type(fast_error.value) is type(stock_error.value)


def test_our_own_files_load_alike() -> None:
    files = [*CONF.rglob("*.yaml"), Path("params.yaml"), Path("dvc.yaml")]
    root = CONF.parent
    for path in files:
        path = root / path
        with speedups.paused():
            stock = OmegaConf.to_container(OmegaConf.load(path))
        assert typed(OmegaConf.to_container(OmegaConf.load(path))) == typed(stock), path


def test_the_kept_parses_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speedups, "_PARSED_LIMIT", 3)
    conf = write_conf(tmp_path, {"config.yaml": "defaults:\n  - m: a\n", "m/a.yaml": "k: 0\n"})
    for value in range(6):
        (conf / "m/a.yaml").write_text(f"k: {value}\n")
        assert compose([], conf).m.k == value
    assert len(speedups._PARSED) <= 3
    assert "k: 5\n" in speedups._PARSED
