"""`assay runs compare A B` across git commits and DVC experiments, in real git + DVC
repositories: a two-stage pipeline of small scripts (fast), and this project's pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from assayml.cli.runs_command import run_runs
from assayml.experiments.commits import _same
from tests.repo_helpers import copy_repo, dvc, dvc_run, git, init_repo

PREPARE = """import pathlib, shutil
pathlib.Path("data/prepared").mkdir(parents=True, exist_ok=True)
shutil.copy("data/raw/rows.csv", "data/prepared/rows.csv")
"""
TRAIN = """import hashlib, json, pathlib, yaml
params = yaml.safe_load(open("params.yaml"))
rows = open("data/prepared/rows.csv").read().split()
weights = f"{params['model']['lr']}:{len(rows)}".encode()
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path("models/model.safetensors").write_bytes(weights)
sha = hashlib.sha256(weights).hexdigest()
pathlib.Path("models/model.json").write_text(json.dumps({"weights_sha256": sha}))
pathlib.Path("metrics").mkdir(exist_ok=True)
metrics = {"accuracy": round(0.5 + params["model"]["lr"] * 10, 6), "rows": len(rows)}
pathlib.Path("metrics/evaluate.json").write_text(json.dumps(metrics))
"""
PIPELINE = {
    "stages": {
        "prepare": {
            "cmd": "python src/prepare.py",
            "deps": ["data/raw", "src/prepare.py"],
            "outs": ["data/prepared"],
        },
        "train": {
            "cmd": "python src/train.py",
            "deps": ["data/prepared", "src/train.py"],
            "params": ["model"],
            "outs": ["models"],
            "metrics": [{"metrics/evaluate.json": {"cache": False}}],
        },
    }
}


def write_params(repo: Path, lr: float, epochs: float, flag: object) -> None:
    doc = {"seed": 1, "model": {"lr": lr, "epochs": epochs, "flag": flag}}
    (repo / "params.yaml").write_text(yaml.safe_dump(doc))


def repro_and_commit(repo: Path, message: str) -> None:
    dvc_run(repo, "repro", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


@pytest.fixture
def small_repo(tmp_path: Path) -> Path:
    """Two commits of a real `dvc repro`: the second changes model.lr, model.flag (1 ->
    true), the training script and the raw data; model.epochs goes 2 -> 2.0 (same number)."""
    return build_small_repo(init_repo(tmp_path / "repo"))


def build_small_repo(repo: Path) -> Path:
    (repo / "src").mkdir()
    (repo / "src" / "prepare.py").write_text(PREPARE)
    (repo / "src" / "train.py").write_text(TRAIN)
    (repo / "data" / "raw").mkdir(parents=True)
    (repo / "data" / "raw" / "rows.csv").write_text("a\nb\nc\n")
    (repo / "dvc.yaml").write_text(yaml.safe_dump(PIPELINE, sort_keys=False))
    write_params(repo, 0.001, 2, 1)
    repro_and_commit(repo, "first run")
    write_params(repo, 0.003, 2.0, True)
    (repo / "src" / "train.py").write_text(TRAIN + "# tuned\n")
    (repo / "data" / "raw" / "rows.csv").write_text("a\nb\nc\nd\n")
    repro_and_commit(repo, "second run")
    return repo


def compare(repo: Path, monkeypatch, capsys, *refs: str) -> tuple[int, str, str]:
    monkeypatch.chdir(repo)
    code = run_runs(["compare", *refs])
    out = capsys.readouterr()
    return code, out.out, out.err


def at(repo: Path, rev: str, path: str) -> dict:
    return json.loads(git(repo, "show", f"{rev}:{path}"))


def test_compare_two_commits(small_repo: Path, monkeypatch, capsys) -> None:
    code, out, _ = compare(small_repo, monkeypatch, capsys, "HEAD~1", "HEAD", "--json")
    assert code == 0
    diff = json.loads(out)
    assert [side["ref"] for side in diff["revisions"]] == ["HEAD~1", "HEAD"]
    assert diff["revisions"][1]["commit"] == git(small_repo, "rev-parse", "HEAD").strip()
    # typed: 2 and 2.0 are the same number; 1 and true are not the same value
    assert diff["params"] == {"model.flag": [1, True], "model.lr": [0.001, 0.003]}
    before = at(small_repo, "HEAD~1", "metrics/evaluate.json")
    after = at(small_repo, "HEAD", "metrics/evaluate.json")
    for key in ("accuracy", "rows"):
        assert diff["metrics"][key] == [
            before[key],
            after[key],
            round(after[key] - before[key], 6),
        ]
    assert diff["metrics"]["accuracy"][2] == pytest.approx(0.02)
    assert diff["code"] == ["src/train.py"]  # not dvc.lock, params.yaml, metrics, data
    assert diff["data"]["changed"] == ["data/prepared", "data/raw"]
    lock = yaml.safe_load(git(small_repo, "show", "HEAD:dvc.lock"))
    assert diff["data"]["paths"]["data/raw"][1] == lock["stages"]["prepare"]["deps"][0]["md5"]
    weights = diff["weights"]
    assert (
        weights["sha256"][1]
        == json.loads((small_repo / "models/model.json").read_text())["weights_sha256"]
    )
    assert weights["sha256"][0] and weights["sha256"][0] != weights["sha256"][1]
    assert weights["same"] is False

    code, text, _ = compare(small_repo, monkeypatch, capsys, "HEAD~1", "HEAD")
    assert code == 0
    assert "model.lr: 0.001 -> 0.003" in text and "model.epochs" not in text
    assert "code: 1 files changed\n  src/train.py" in text
    assert "data/raw: " in text and "weights: " in text


@pytest.mark.slow
def test_compare_in_a_dvc_project_below_the_git_root(tmp_path: Path, monkeypatch, capsys):
    """`dvc init --subdir`: dvc.lock, .dvc files and code paths are the project's, not the
    git root's."""
    top = init_repo(tmp_path / "top")
    project = top / "project"
    project.mkdir()
    dvc_run(project, "init", "--subdir", "-q")
    build_small_repo(project)
    code, out, _ = compare(project, monkeypatch, capsys, "HEAD~1", "HEAD", "--json")
    assert code == 0
    diff = json.loads(out)
    assert diff["params"] == {"model.flag": [1, True], "model.lr": [0.001, 0.003]}
    assert diff["code"] == ["src/train.py"]
    assert diff["data"]["changed"] == ["data/prepared", "data/raw"]
    lock = yaml.safe_load(git(top, "show", "HEAD:project/dvc.lock"))
    assert diff["data"]["paths"]["data/raw"][1] == lock["stages"]["prepare"]["deps"][0]["md5"]


def test_same_commit_shows_no_change(small_repo: Path, monkeypatch, capsys) -> None:
    sha = git(small_repo, "rev-parse", "HEAD").strip()
    code, out, _ = compare(small_repo, monkeypatch, capsys, sha[:10], "main", "--json")
    diff = json.loads(out)
    assert code == 0 and diff["params"] == {} and diff["code"] == []
    assert diff["data"]["changed"] == [] and diff["weights"]["same"] is True
    assert all(delta == 0 for _, _, delta in diff["metrics"].values())
    # the commit before any pipeline (dvc init): nothing to read, nothing claimed
    code, text, _ = compare(small_repo, monkeypatch, capsys, "HEAD~2", "HEAD~2")
    assert code == 0 and "params:\n  same" in text
    assert "metrics:\n  none at either revision" in text and "weights: none" in text


def test_a_revision_that_names_nothing_exits_2(small_repo: Path, monkeypatch, capsys) -> None:
    code, _, err = compare(small_repo, monkeypatch, capsys, "HEAD", "no-such-thing")
    assert code == 2
    assert "no run matches 'no-such-thing'" in err and "DVC experiment" in err


def test_compare_a_dvc_experiment_by_name(small_repo: Path, monkeypatch, capsys) -> None:
    dvc(small_repo, "exp", "run", "-q", "-S", "model.lr=0.01", "-n", "bigger-lr")
    head = git(small_repo, "rev-parse", "HEAD").strip()
    code, out, _ = compare(small_repo, monkeypatch, capsys, "HEAD", "bigger-lr", "--json")
    assert code == 0
    diff = json.loads(out)
    side = diff["revisions"][1]
    assert side["experiment"] == "bigger-lr" and side["baseline"] == head
    assert diff["params"] == {"model.lr": [0.003, 0.01]}
    # the experiment's metrics, read at its commit (the workspace holds them too)
    ran = json.loads((small_repo / "metrics/evaluate.json").read_text())
    assert diff["metrics"]["accuracy"][1] == ran["accuracy"]
    assert diff["code"] == [] and diff["data"]["changed"] == []
    assert diff["weights"]["same"] is False


def test_typed_equality() -> None:
    assert _same(2, 2.0) and _same([1, 2], [1, 2]) and _same(None, None)
    assert not _same(True, 1) and not _same("1", 1) and not _same(0, None)


@pytest.mark.slow
def test_compare_through_the_project_pipeline(
    reproduced_repo: tuple[Path, str], tmp_path: Path, monkeypatch, capsys
) -> None:
    """`dvc repro` of this project's pipeline, then `dvc exp run -S model.lr=...`: the
    comparison shows the lr, the evaluate metrics' deltas and both weights' hashes."""
    repo = copy_repo(reproduced_repo[0], tmp_path / "repo")  # reproduced and committed
    base_card = json.loads((repo / "models" / "model.json").read_text())
    base_metrics = json.loads((repo / "metrics" / "evaluate.json").read_text())
    dvc_run(repo, "exp", "run", "-S", "model.lr=0.003", "-n", "lr3")
    exp_card = json.loads((repo / "models" / "model.json").read_text())
    exp_metrics = json.loads((repo / "metrics" / "evaluate.json").read_text())
    code, out, _ = compare(repo, monkeypatch, capsys, "HEAD", "lr3", "--json")
    assert code == 0
    diff = json.loads(out)
    assert diff["params"]["model.lr"] == [0.001, 0.003]
    for key in ("accuracy", "auroc"):
        a, b = base_metrics[key], exp_metrics[key]
        assert diff["metrics"][key] == [a, b, round(b - a, 6)]
    assert diff["weights"]["sha256"] == [base_card["weights_sha256"], exp_card["weights_sha256"]]
    assert diff["data"]["changed"] == [] and "data/prepared" in diff["data"]["paths"]
    assert diff["code"] == []
