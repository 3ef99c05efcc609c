"""The production loop end to end, on credit data with an injected shift: drift found ->
retrained on the new data version (dvc exp run with data.rev) -> the challenger wins on
labelled post-shift traffic -> promoted -> the next execution is clean; every step in the
audit trail."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from assayml.data.credit import generate_credit
from tests.conftest import REPO
from tests.repo_helpers import commit_data_version, dvc_run, git, make_project_repo, run_env

ASSAY = (sys.executable, "-m", "assayml.cli.main")
# the pipeline's choices beyond conf/'s defaults: given to compose, then to each experiment
SETUP = (
    "data=credit_file",
    "model=logreg",
    "explain.methods=[integrated_gradients]",
    "explain.rows=first:2",
)


def shifted(rows: int, seed: int) -> pd.DataFrame:
    """After the shift: incomes 2.5 times higher, and repayment now goes the other way."""
    frame = generate_credit(rows, seed=seed)
    frame["income"] = frame["income"] * 2.5
    frame["repaid"] = 1 - frame["repaid"]
    return frame


def credit_file_config() -> str:
    spec = yaml.safe_load((REPO / "conf" / "data" / "credit_synthetic.yaml").read_text())
    for key in ("n_rows", "bias", "generator_seed"):
        spec.pop(key)
    spec.update(name="credit_file", source="file", path="data/raw/credit.csv")
    return yaml.safe_dump(spec, sort_keys=False)


def serve_and_capture(repo: Path, frame: pd.DataFrame, folder: str) -> pd.DataFrame:
    """Requests scored by the production version and captured; their labels by id."""
    frame.drop(columns=["repaid"]).to_csv(repo / f"{folder}.csv", index=False)
    run_env(
        repo,
        *ASSAY,
        "predict",
        f"{folder}.csv",
        f"{folder}-out.csv",
        "--model",
        "credit@production",
        "--capture",
        folder,
    )
    ids = [
        json.loads(line)["id"]
        for f in sorted((repo / folder).glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    return pd.DataFrame({"id": ids, "repaid": frame["repaid"].to_numpy()})


@pytest.mark.slow
def test_drift_retrain_challenger_wins_promoted_next_execution_clean(tmp_path: Path) -> None:
    repo = make_project_repo(tmp_path / "repo", max_epochs=15)
    (repo / "conf" / "data" / "credit_file.yaml").write_text(credit_file_config())
    commit_data_version(
        repo, "data/raw/credit.csv", generate_credit(1500, seed=0).to_csv(index=False), "v1"
    )
    commit_data_version(
        repo, "data/raw/credit.csv", shifted(1500, seed=1).to_csv(index=False), "v2"
    )
    run_env(repo, *ASSAY, "compose", *SETUP, "data.rev=v1")
    dvc_run(repo, "repro", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "champion on v1")
    run_env(repo, *ASSAY, "registry", "register", "models", "--name", "credit")
    run_env(repo, *ASSAY, "registry", "approve", "credit", "1", "--reason", "baseline model")
    run_env(repo, *ASSAY, "registry", "promote", "credit", "1", "--stage", "production")

    # the world shifts: the champion serves, the monitor finds drift
    labels = serve_and_capture(repo, shifted(600, seed=2), "week1")
    labels.to_csv(repo / "week1-labels.csv", index=False)
    first = run_env(
        repo,
        *ASSAY,
        "monitor",
        "week1",
        "--model",
        "credit@production",
        "--out",
        "reports/monitor/week1",
        check=False,
    )
    assert first.returncode == 3, first.stdout + first.stderr
    violations = json.loads((repo / "reports/monitor/week1/violations.json").read_text())
    assert any(v["feature_name"] == "income" for v in violations["violations"])

    loop = run_env(
        repo,
        *ASSAY,
        "retrain",
        "credit",
        "--traffic",
        "week1",
        "--ground-truth",
        "week1-labels.csv",
        "--data-rev",
        "v2",
        "--json",
        *[arg for value in SETUP for arg in ("--set", value)],
        check=False,
    )
    assert loop.returncode == 0, loop.stdout + loop.stderr
    outcome = json.loads(loop.stdout)
    assert outcome["champion"] == "credit@1" and outcome["challenger"] == "credit@2"
    result = outcome["compare"]
    assert result["rows"] == 600 and result["challenger_significantly_better"] is True
    assert result["metrics"]["challenger"]["accuracy"] > result["metrics"]["champion"]["accuracy"]
    assert outcome["promoted"] is True
    shown = run_env(repo, *ASSAY, "registry", "show", "credit", "2").stdout
    assert "Approved, stage production" in shown and "won champion/challenger" in shown
    assert "stage -" in run_env(repo, *ASSAY, "registry", "show", "credit", "1").stdout

    # the next week's traffic, served by the new production version: clean
    serve_and_capture(repo, shifted(600, seed=5), "week2")
    second = run_env(
        repo,
        *ASSAY,
        "monitor",
        "week2",
        "--model",
        "credit@production",
        "--out",
        "reports/monitor/week2",
        check=False,
    )
    assert second.returncode == 0, second.stdout + second.stderr

    trail = [json.loads(x) for x in (repo / "audit" / "audit.jsonl").open()]
    actions = [e["action"] for e in trail]
    start = actions.index("retrain.start")
    steps = actions[start:]
    for step in (
        "stage.train",
        "registry.register",
        "registry.compare",
        "registry.approve",
        "registry.promote",
        "retrain.done",
    ):
        assert step in steps, steps
    assert steps.index("registry.compare") < steps.index("registry.approve")
    assert steps.index("registry.promote") < steps.index("retrain.done")
    assert actions.index("monitor.run") < start  # the drift came first
    done = trail[start + steps.index("retrain.done")]
    assert done["details"]["promoted"] is True and done["user"] == "assay-retrain"
    assert run_env(repo, *ASSAY, "audit", "verify").returncode == 0
