"""Safe YAML reading on libyaml's parser where PyYAML was built with it.

``yaml.safe_load`` parses in pure Python: a 30 KB dvc.lock takes ~150 ms, and the walks
through history (``assay forget``, comparing commits) parse one per commit. ``CSafeLoader``
is the same safe loader (resolver and constructors) on libyaml's parser: ~13x quicker, the
same values, the same ``yaml.YAMLError`` classes on bad input.
"""

from __future__ import annotations

from typing import Any

import yaml

# PyYAML's wheels bundle libyaml; a build without it has no CSafeLoader.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str | bytes) -> Any:
    """What ``yaml.safe_load(text)`` returns, parsed in C where possible."""
    return yaml.load(text, Loader=LOADER)
