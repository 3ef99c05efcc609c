"""Quicker Hydra composition, with the same results.

One ``compose`` of ``conf/`` took ~0.3 s on 2 cores, and every ``assay`` command, DVC
stage, sweep job and test composes at least once (Hydra's ``get_mode`` composes a second
time); config composition was over a quarter of the CPU of the quick test suite. A profile
put ~40% of a compose in four places that Hydra 1.3 and OmegaConf 2.3 offer no setting
for, so they are replaced here, in the process that composes:

- OmegaConf parses YAML with PyYAML's pure-Python parser (2 ms a config file here);
  PyYAML's libyaml parser with the same resolvers and constructors gives the same values
  ~9x quicker. OmegaConf builds its loader class anew for every file, too. A text holding
  a tab or a character PyYAML's reader refuses still goes to PyYAML's own parser: libyaml
  accepts some tabs that PyYAML refuses, and words those errors differently.
- Hydra parses each config file again in every compose. A text is now parsed once per
  process: later loads of the same text, from that file or another (a copy of ``conf/``
  elsewhere, as every test project and sweep job folder holds), get a deep copy of that
  config (~3x quicker than building it again), so what one compose changes never reaches
  the next. A parsed config holds nothing of its path (only an error names it, and errors
  are not kept). A changed file is a different key, and a file that fails to parse is never kept:
  its error (and a file that is not UTF-8) becomes one of Hydra's composition errors,
  which every command reports in a few lines with exit code 2 (Hydra printed a parse
  error with a traceback).
- Hydra builds a config of the group choices so far for every config it expands (a fifth
  of a compose), to resolve interpolated defaults (``- db: ${group}``); it is now built
  only for a defaults list that holds one, the only place Hydra reads it.
- Each compose deep-copies the config repository, and with it the whole ConfigStore (every
  schema: ~20 ms), only to keep its list of sources apart; the store itself is read-only
  there (it hands out deep copies of its nodes), so the copy now shares it. A deep copy of
  Hydra's global state (the joblib launcher's, ``hydra.initialize``'s backup) therefore
  holds the live store rather than a snapshot; nothing stores into it while composing.

Hand-written because neither library has a switch for any of this. Installed only under
the releases it was written and tested against (Hydra 1.3, OmegaConf 2.3): under any other
nothing is replaced (composing at the old speed) and ``tests/config/test_hydra_speedups.py``
says so; those tests also compose every option of every config group both ways and
compare the results as typed values.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

_STOCK_LOADER: list[Any] = []  # OmegaConf's get_yaml_loader, once replaced
_STOCK_LOADS: dict[type, Any] = {}  # each FileConfigSource class -> its own load_config
_STOCK_MAP: list[Any] = []  # Hydra's _create_interpolation_map, once replaced
_LOADER: list[type] = []  # ours, built once
_PARSED: OrderedDict[str, Any] = OrderedDict()  # config text -> its parsed config
_PAUSED: list[bool] = []
_PARSED_LIMIT = 512  # config files kept parsed: a project has tens; bounded for long runs
_PARSED_LOCK = threading.Lock()  # sweeps may compose in threads
RELEASES = {"hydra": "1.3.", "omegaconf": "2.3."}  # what the replacements were made for


def install() -> None:
    """Put the quicker paths in place (idempotent; cheap to call again).

    Hydra's plugin scan (once a process, at its first compose) executes its core plugin
    modules again, defining ``FileConfigSource`` and ``StructuredConfigSource`` anew, and
    then registers those: so this patches whichever classes are current, and runs again
    from our own plugin module (``hydra_plugins.assayml_schema``), which that scan executes
    after Hydra's own.
    """
    if _PAUSED or not _releases_known():
        return
    try:
        import omegaconf._utils as omegaconf_utils
        from hydra._internal import defaults_list
        from hydra._internal.core_plugins import file_config_source, structured_config_source
    except ImportError:  # a release that moved them: compose as it comes
        return

    if callable(getattr(omegaconf_utils, "get_yaml_loader", None)) and (
        omegaconf_utils.get_yaml_loader is not _libyaml_loader
    ):
        _STOCK_LOADER[:] = [omegaconf_utils.get_yaml_loader]
        omegaconf_utils.get_yaml_loader = _libyaml_loader
    files = getattr(file_config_source, "FileConfigSource", None)
    if callable(getattr(files, "load_config", None)) and files.load_config is not _load_once:
        _STOCK_LOADS[files] = files.load_config
        files.load_config = _load_once
    structured = getattr(structured_config_source, "StructuredConfigSource", None)
    if structured is not None and "__deepcopy__" not in vars(structured):
        structured.__deepcopy__ = _copy_sharing_the_store
    stock_map = getattr(defaults_list, "_create_interpolation_map", None)
    if callable(stock_map) and stock_map is not _interpolation_map_if_read:
        _STOCK_MAP[:] = [stock_map]
        defaults_list._create_interpolation_map = _interpolation_map_if_read


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Hydra's and OmegaConf's own functions while the block runs (for the tests and the
    benchmark that compare): :func:`install` does nothing meanwhile."""
    _uninstall()
    _PAUSED.append(True)
    try:
        yield
    finally:
        _PAUSED.pop()
        install()


def _uninstall() -> None:
    import omegaconf._utils as omegaconf_utils
    from hydra._internal import defaults_list
    from hydra._internal.core_plugins import structured_config_source

    if _STOCK_LOADER:
        omegaconf_utils.get_yaml_loader = _STOCK_LOADER.pop()
    if _STOCK_MAP:
        defaults_list._create_interpolation_map = _STOCK_MAP.pop()
    while _STOCK_LOADS:
        files, load_config = _STOCK_LOADS.popitem()
        files.load_config = load_config
    structured = structured_config_source.StructuredConfigSource
    if vars(structured).get("__deepcopy__") is _copy_sharing_the_store:
        del structured.__deepcopy__
    _PARSED.clear()
    _LOADER.clear()


def _releases_known() -> bool:
    import hydra
    import omegaconf

    versions = {"hydra": hydra.__version__, "omegaconf": omegaconf.__version__}
    return all(versions[name].startswith(prefix) for name, prefix in RELEASES.items())


def _libyaml_loader() -> type:
    """OmegaConf's loader (its float resolver, no timestamps, the Path constructors, the
    duplicate-key check) on libyaml's parser, for text PyYAML's own reader would take as
    it is; built once."""
    if not _LOADER:
        import yaml

        stock = _STOCK_LOADER[0]()
        if not getattr(yaml, "__with_libyaml__", False):
            return stock

        class OmegaConfCLoader(yaml.CSafeLoader):
            yaml_implicit_resolvers = stock.yaml_implicit_resolvers
            yaml_constructors = stock.yaml_constructors

            construct_mapping = _unique_keys(yaml.CSafeLoader.construct_mapping)

        class OmegaConfLoaderByText:
            """Called as PyYAML calls a loader class; gives libyaml's loader, or OmegaConf's
            own for a text holding a tab or a character PyYAML refuses."""

            def __new__(cls, stream: Any) -> Any:
                if isinstance(stream, bytes):
                    return stock(stream)
                text = stream if isinstance(stream, str) else stream.read()
                source: Any = text
                if not isinstance(stream, str):
                    source = io.StringIO(text)
                    source.name = getattr(stream, "name", "<file>")  # what errors name
                if "\t" in text or yaml.reader.Reader.NON_PRINTABLE.search(text):
                    return stock(source)
                return OmegaConfCLoader(source)

        _LOADER.append(OmegaConfLoaderByText)
    return _LOADER[0]


def _unique_keys(construct_mapping: Any) -> Any:
    """OmegaConf's check that no mapping holds a key twice, before PyYAML's own. Written
    again here: OmegaConf's method calls ``super()`` bound to its own loader class, so it
    cannot be borrowed by one on libyaml."""
    import yaml

    def checked(self: Any, node: Any, deep: bool = False) -> Any:
        keys = set()
        for key_node, _ in node.value:
            if key_node.tag != yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG:
                continue
            if key_node.value in keys:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key_node.value}",
                    key_node.start_mark,
                )
            keys.add(key_node.value)
        return construct_mapping(self, node, deep=deep)

    return checked


def _load_once(self: Any, config_path: str) -> Any:
    """``FileConfigSource.load_config``, parsing each text once: a deep copy of the kept
    config for a text seen before, in whichever file."""
    import yaml
    from hydra.errors import ConfigCompositionException
    from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
    from omegaconf import OmegaConf

    full_path = os.path.realpath(os.path.join(self.path, self._normalize_file_name(config_path)))
    if not os.path.exists(full_path):
        raise ConfigLoadError(f"Config not found : {full_path}")
    try:
        with open(full_path, encoding="utf-8") as file:
            text = file.read()
    except UnicodeDecodeError as err:
        raise ConfigCompositionException(f"{full_path}: not UTF-8 text: {err}") from err
    key = text
    with _PARSED_LOCK:
        kept = _PARSED.get(key)
        if kept is not None:
            _PARSED.move_to_end(key)
    if kept is None:
        stream = io.StringIO(text)
        stream.name = full_path  # what a parse error names, as when read from the file
        try:
            kept = OmegaConf.load(stream)
        except yaml.YAMLError as err:
            # Hydra reports its own composition errors in a few lines, anything else with
            # a traceback; PyYAML's message names the file and line
            raise ConfigCompositionException(f"not valid YAML: {err}") from err
        with _PARSED_LOCK:
            _PARSED[key] = kept
            if len(_PARSED) > _PARSED_LIMIT:
                _PARSED.popitem(last=False)
    return ConfigResult(
        config=copy.deepcopy(kept),
        path=f"{self.scheme()}://{self.path}",
        provider=self.provider,
        header=ConfigSource._get_header_dict(text[:512]),
    )


def _interpolation_map_if_read(overrides: Any, defaults: list[Any], self_added: bool) -> Any:
    """Hydra's map for resolving interpolated defaults (``- db: ${group}``), only for a
    defaults list that holds one: Hydra builds it for every config it expands and reads it
    only for those, and it is pure (a new config from the choices so far)."""
    if not any(default.is_interpolation() for default in defaults):
        return None
    return _STOCK_MAP[0](overrides, defaults, self_added)


def _copy_sharing_the_store(self: Any, memo: dict[int, Any]) -> Any:
    """A copy of a ``StructuredConfigSource`` that reads the process's one ConfigStore."""
    clone = copy.copy(self)
    memo[id(self)] = clone
    return clone
