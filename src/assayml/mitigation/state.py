"""``models/mitigation.json``: the method, its fitted state and its figures on the
validation split. Written at train (so the manifest seals it), read back as plain data:
loading checks its shape and never imports or unpickles anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assayml.errors import ArtifactError
from assayml.mitigation import FORMAT_VERSION, STATE_FILE

OPERATORS = (">", "<")


def read_state(models_dir: str | Path) -> dict[str, Any] | None:
    """The folder's mitigation record, or None when it has none (method none)."""
    path = Path(models_dir) / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ArtifactError(f"{path}: unreadable mitigation state: {err}") from err
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{path}: unsupported mitigation state format")
    post = state.get("postprocess")
    if post is not None:
        _check_postprocess(post, path)
    return state


def postprocess_state(models_dir: str | Path) -> dict[str, Any] | None:
    """The post-processing thresholds to apply at predict time, or None."""
    state = read_state(models_dir)
    return None if state is None else state.get("postprocess")


def _check_postprocess(post: Any, path: Path) -> None:
    """Refuse a state whose numbers could not be applied (an edit the manifest missed in a
    folder saved without one, or a bug): a clear error, not a wrong decision."""
    try:
        encoding = post["encoding"]
        assert encoding["kind"] in ("one_hot", "numeric") and isinstance(encoding["column"], str)
        assert isinstance(post["seed"], int) and post["unknown_group"] in ("unmitigated", "fail")
        for rule in post["groups"].values():
            assert 0.0 <= float(rule["p0"]) <= 1.0 and 0.0 <= float(rule["p1"]) <= 1.0
            for op in (rule["operation0"], rule["operation1"]):
                assert op["operator"] in OPERATORS
                float(op["threshold"])
    except (AssertionError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise ArtifactError(f"{path}: malformed post-processing state ({err!r})") from None
