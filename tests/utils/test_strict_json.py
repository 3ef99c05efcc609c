"""No JSON we write holds NaN or Infinity: files go through utils/io.to_json (strict), and
audit entries carry non-finite figures as null."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assayml.utils.io import to_json, write_json_atomic


def test_no_json_we_write_holds_nan_or_infinity(tmp_path) -> None:
    for bad in (float("nan"), float("inf"), -float("inf"), np.float64("nan")):
        with pytest.raises(ValueError):
            to_json({"value": bad})
        with pytest.raises(ValueError):
            write_json_atomic(tmp_path / "x.json", {"nested": [1, bad]})
        assert not (tmp_path / "x.json").exists()  # nothing half-written either
    assert json.loads(to_json({"value": None})) == {"value": None}


def test_audit_details_with_non_finite_figures_are_written_strict(tmp_path) -> None:
    from assayml.audit.log import append, audit_path

    append(tmp_path, "test", "x", details={"p": float("nan"), "d": [1.0, float("inf")]})
    line = audit_path(tmp_path).read_text().splitlines()[-1]
    assert "NaN" not in line and "Infinity" not in line
    assert json.loads(line)["details"] == {"p": None, "d": [1.0, None]}
