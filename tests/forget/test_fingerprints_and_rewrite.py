"""Row fingerprints recorded by prepare, and the raw file rewritten without rows."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from assayml.data.fingerprints import FINGERPRINT_FILE, key_fingerprints, row_fingerprints
from assayml.errors import DataError
from assayml.forget.rewrite import without_rows_csv, without_rows_parquet
from tests.data.test_card import visits


def by_formula(row: dict) -> str:
    """The documented canonical form, written out independently of the module."""
    parts = []
    for name in sorted(row):
        value = row[name]
        if value is None or (isinstance(value, float) and np.isnan(value)):
            text = "null"
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = json.dumps(str(value), ensure_ascii=False)
        parts.append(f"{json.dumps(name, ensure_ascii=False)}={text}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def test_row_fingerprints_follow_the_canonical_form_in_any_column_order() -> None:
    frame = pd.DataFrame(
        {"b": ["x", None, "é"], "a": [1.5, np.nan, 0.1 + 0.2], "c": [2.0, 3.0, 4.0]}
    )
    prints = row_fingerprints(frame)
    expected = [by_formula(row) for row in frame.to_dict("records")]
    assert prints.tolist() == expected
    assert row_fingerprints(frame[["c", "a", "b"]]).tolist() == expected
    assert len(set(prints)) == 3
    # 0.30000000000000004 is not 0.3: exact values, not their rounded text
    assert row_fingerprints(frame.assign(a=[1.5, np.nan, 0.3])).iloc[2] != prints.iloc[2]


def test_prepare_records_one_fingerprint_per_prepared_row(project, make_cfg) -> None:
    from assayml.stages.prepare import run_prepare

    table = visits()
    table.to_csv(project / "visits.csv", index=False)
    cfg = make_cfg(
        "data=file", "data.path=visits.csv", "data.target=outcome", "data.key=patient_id"
    )
    run_prepare(cfg)
    prepared = project / "data" / "prepared"
    prints = pd.read_parquet(prepared / FINGERPRINT_FILE)
    assert list(prints.columns) == ["split", "row", "fingerprint", "key"]
    validated = pd.read_csv(project / "visits.csv")
    for split in ("train", "val", "test"):
        part = pd.read_parquet(prepared / f"{split}.parquet")
        assert not [c for c in part.columns if c.startswith("__assay")]
        mine = prints[prints["split"] == split].reset_index(drop=True)
        assert mine["row"].tolist() == list(range(len(part)))
        # each prepared row's own fingerprint, computed here from that row
        assert mine["fingerprint"].tolist() == [by_formula(r) for r in part.to_dict("records")]
        keys = key_fingerprints(part["patient_id"]).tolist()
        assert mine["key"].tolist() == keys
    assert len(prints) == len(validated)


def test_prepare_refuses_a_key_column_with_gaps(project, make_cfg) -> None:
    from assayml.stages.prepare import run_prepare

    table = visits()
    table.loc[5, "patient_id"] = None
    table.to_csv(project / "visits.csv", index=False)
    cfg = make_cfg(
        "data=file", "data.path=visits.csv", "data.target=outcome", "data.key=patient_id"
    )
    with pytest.raises(DataError, match=r"row 5: data.key 'patient_id' is missing"):
        run_prepare(cfg)


CSV = 'id,note,x\r\n1,"two\r\nlines",0.10\r\n\r\n2,plain,1e3\r\n3,"quoted, comma",-0\r\n'


def test_csv_rewrite_keeps_every_other_record_byte_for_byte() -> None:
    frame = pd.read_csv(io.BytesIO(CSV.encode()))
    assert len(frame) == 3
    out = without_rows_csv(CSV.encode(), np.array([False, True, False]), "t.csv")
    assert out.decode() == 'id,note,x\r\n1,"two\r\nlines",0.10\r\n\r\n3,"quoted, comma",-0\r\n'
    kept = pd.read_csv(io.BytesIO(out))
    assert kept["id"].tolist() == [1, 3] and kept["note"][0] == "two\r\nlines"


def test_csv_rewrite_refuses_when_records_and_rows_disagree() -> None:
    with pytest.raises(DataError, match="3 CSV records but 2 table rows"):
        without_rows_csv(CSV.encode(), np.array([False, True]), "t.csv")


def test_parquet_rewrite_drops_only_the_marked_rows() -> None:
    frame = pd.DataFrame({"k": [1, 2, 3], "v": [0.5, None, 2.5]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    out = pd.read_parquet(
        io.BytesIO(without_rows_parquet(buffer.getvalue(), np.array([0, 1, 0], bool)))
    )
    pd.testing.assert_frame_equal(out, frame.iloc[[0, 2]].reset_index(drop=True))
