"""``safe_load`` parses on libyaml and gives exactly what PyYAML's pure-Python safe loader
gives, errors included."""

from __future__ import annotations

import pytest
import yaml

from assayml.utils.yaml_read import LOADER, safe_load
from tests.conftest import REPO

TRICKY = """
a: &base {x: 1e-3, y: 1.0e-3, z: .inf, n: ~, d: 2026-12-03, t: 2026-12-03 10:00:00}
b: *base
c: [yes, no, on, off, 0o17, 0x1F, 017, "017", 1_000, -.5, +1]
d: !!str 3
e: |
  two
  lines
f: "\\u00e9t\\u00e9"
"""


def test_the_loader_is_libyamls() -> None:
    # PyYAML's wheels bundle libyaml; without it dvc.lock parses about 13x slower.
    assert LOADER is yaml.CSafeLoader


@pytest.mark.parametrize("text", [TRICKY, "", "- 1\n- [2, 3]\n", "just a string"])
def test_the_same_values_as_the_pure_python_safe_loader(text: str) -> None:
    assert safe_load(text) == yaml.load(text, Loader=yaml.SafeLoader)


@pytest.mark.parametrize("name", ["dvc.lock", "params.yaml", "dvc.yaml"])
def test_our_pipeline_files_read_the_same(name: str) -> None:
    text = (REPO / name).read_text()
    assert safe_load(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text", ["a: [1, 2", "a: b: c", "!!python/object:os.system x", "\t- x"])
def test_bad_or_unsafe_input_raises_a_yaml_error_as_safe_load_does(text: str) -> None:
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError):
        safe_load(text)
