"""Champion/challenger on production traffic: captured requests joined to labels that
arrived later, the decision in the audit trail."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from tests.trust_helpers import assay


@pytest.mark.slow
def test_compare_on_captured_traffic_with_late_labels(credit_project: Path, tmp_path: Path):
    root = tmp_path / "project"
    shutil.copytree(credit_project, root)
    for _ in range(2):
        done = assay(root, "registry", "register", "models", "--name", "credit")
        assert done.returncode == 0, done.stderr
    test = pd.read_parquet(root / "data" / "prepared" / "test.parquet")
    test.drop(columns=["repaid"]).to_csv(root / "requests.csv", index=False)
    served = assay(root, "predict", "requests.csv", "out.csv", "--capture", "captured")
    assert served.returncode == 0, served.stderr
    records = [
        json.loads(line)
        for f in sorted((root / "captured").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    assert len(records) == len(test)
    # labels for 80 % of the requests arrive, as floats, plus three for unknown ids
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(len(records), int(0.8 * len(records)), replace=False))
    labels = pd.DataFrame(
        {
            "id": [records[i]["id"] for i in chosen],
            "repaid": test["repaid"].to_numpy()[chosen].astype(float),
        }
    )
    extra = pd.DataFrame({"id": ["nope1", "nope2", "nope3"], "repaid": [1.0, 0.0, 1.0]})
    pd.concat([labels, extra]).to_csv(root / "labels.csv", index=False)

    compare = ("registry", "compare", "credit", "1", "2", "--traffic", "captured")
    result = assay(root, *compare, "--ground-truth", "labels.csv", "--json", "--by", "carol")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["rows"] == len(chosen)
    assert outcome["holdout"]["unmatched_labels"] == 3
    assert outcome["holdout"]["captured_rows"] == len(records)
    # the models score the captured inputs as they were served: accuracy by sklearn on
    # the served classes of the labelled requests
    served_class = [records[i]["outputs"]["prediction"] for i in chosen]
    expected = accuracy_score(labels["repaid"].astype(int), np.asarray(served_class, int))
    assert abs(outcome["metrics"]["champion"]["accuracy"] - expected) < 1e-12
    assert outcome["test"]["p_value"] == 1.0  # the same model twice
    assert outcome["challenger_significantly_better"] is False
    entry = json.loads((root / "audit" / "audit.jsonl").read_text().splitlines()[-1])
    assert entry["action"] == "registry.compare" and entry["user"] == "carol"
    assert entry["subject"] == "credit@1 vs credit@2"
    assert entry["details"]["rows"] == len(chosen)
    assert entry["details"]["challenger_significantly_better"] is False
    text = assay(root, *compare, "--ground-truth", "labels.csv")
    assert f"{len(chosen)} of {len(records)} captured requests labelled" in text.stdout
    alone = assay(root, *compare)
    assert alone.returncode == 2 and "go together" in alone.stderr
