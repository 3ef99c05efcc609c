"""`assay predict IN OUT` at its trust boundary: OUT that is a folder or the input itself is
refused (exit 2, nothing written, no temporary left); rows the model cannot take (booleans
for numbers, infinities, values overflowing its float32 input) go to the rejects file with
a reason, as schema failures do."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assayml.cli.serve_commands import run_predict
from assayml.data.credit import generate_credit
from assayml.serve.finite import nonfinite_outputs


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "new.csv"
    path.parent.mkdir()
    generate_credit(20, seed=3).drop(columns="repaid").to_csv(path, index=False)
    return path


def predict(credit_project: Path, *args: str) -> int:
    return run_predict([*args, "--model", str(credit_project / "models")])


def leftovers(*folders: Path) -> list[str]:
    return [p.name for f in folders for p in f.iterdir() if ".tmp." in p.name]


def test_out_a_folder_exits_2_and_writes_nothing(credit_project, table, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert predict(credit_project, str(table), str(out)) == 2
    assert "is a folder; give a file path such as" in capsys.readouterr().err
    rejects = tmp_path / "rejects"
    rejects.mkdir()
    code = predict(credit_project, str(table), str(tmp_path / "p.csv"), "--rejects", str(rejects))
    assert code == 2 and "the rejects file is a folder" in capsys.readouterr().err
    assert list(out.iterdir()) == [] and not (tmp_path / "p.csv").exists()
    assert leftovers(tmp_path, out, table.parent) == []


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink"])
def test_out_the_input_exits_2_and_leaves_it_alone(
    credit_project, table, tmp_path, capsys, spelling
):
    before = table.read_bytes()
    out = {
        "same": table,
        "dotted": table.parent / ".." / "in" / "." / table.name,
        "symlink": tmp_path / "link.csv",
        "hardlink": tmp_path / "hard.csv",
    }[spelling]
    if spelling == "symlink":
        out.symlink_to(table)
    if spelling == "hardlink":
        os.link(table, out)
    assert predict(credit_project, str(table), str(out)) == 2
    assert "is the input file" in capsys.readouterr().err
    assert table.read_bytes() == before and leftovers(tmp_path, table.parent) == []


def test_rejects_the_input_or_out_exits_2(credit_project, table, tmp_path, capsys):
    out = str(tmp_path / "p.csv")
    assert predict(credit_project, str(table), out, "--rejects", str(table)) == 2
    assert "the rejects file is the input file" in capsys.readouterr().err
    assert predict(credit_project, str(table), out, "--rejects", out) == 2
    assert "are the same file" in capsys.readouterr().err
    assert not Path(out).exists()


def test_non_finite_and_boolean_rows_go_to_rejects(credit_project, tmp_path, capsys):
    frame = generate_credit(12, seed=4).drop(columns="repaid")
    frame["loan_amount"] = frame["loan_amount"].astype(float)
    frame.loc[2, "loan_amount"] = np.inf
    frame.loc[5, "loan_amount"] = 1e308  # finite, but not as the model's float32 input
    frame.loc[7, "age"] = 150  # a schema failure, as before
    frame.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "p.csv"
    assert predict(credit_project, str(tmp_path / "new.csv"), str(out)) == 0
    assert "predicted 9 rows" in capsys.readouterr().out
    predicted = pd.read_csv(out)
    assert np.isfinite(predicted["probability_1"]).all() and len(predicted) == 9
    rejects = pd.read_csv(f"{out}.rejects.csv")
    reasons = dict(zip(rejects["loan_amount"], rejects["reject_reason"], strict=True))
    assert list(rejects["age"]) == [frame.loc[i, "age"] for i in (2, 5, 7)]  # input order
    assert reasons[np.inf] == "loan_amount: inf is not a finite number"
    assert "loan_amount: 1e+308 overflows the model's float32 input" in reasons[1e308]

    frame = generate_credit(6, seed=5).drop(columns="repaid")
    frame["late_payments"] = frame["late_payments"] > 0  # booleans for an int column
    frame.to_parquet(tmp_path / "bool.parquet")
    assert predict(credit_project, str(tmp_path / "bool.parquet"), str(tmp_path / "b.csv")) == 0
    rejects = pd.read_csv(tmp_path / "b.csv.rejects.csv")
    assert len(rejects) == 6 and rejects["reject_reason"].str.contains("is a boolean").all()


def test_nonfinite_outputs_names_rows() -> None:
    outputs = pd.DataFrame(
        {"prediction": [0, 1, 0], "probability_1": [0.2, np.nan, 0.4], "note": ["a", "b", "c"]}
    )
    assert [p.row for p in nonfinite_outputs(outputs)] == [1]
