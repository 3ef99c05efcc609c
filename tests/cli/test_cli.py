"""The `assay` command line as users run it: real subprocesses in a project folder."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assayml.cli.main import FULL_COLLECTION_AFTER
from tests import cli_fork
from tests.card_helpers import fill_file_card
from tests.conftest import REPO, TINY, cli_env
from tests.stages.helpers import all_files

MINE = """\
name: mine
source: file
path: data/raw/mine.csv
target: y
task: binary
columns:
  x1: {dtype: float, min: 0, max: 100}
  x2: {dtype: float, nullable: true}
  colour: {dtype: category, allowed: [red, green, blue]}
  y: {dtype: int, min: 0, max: 1}
card:
  owner: Test team
  contact: tests@example.org
  licence: proprietary
  source: made up by the test
  allowed_uses: [testing assayml]
  forbidden_uses: []
  personal_data: false
  retention: until the test ends
  access: [tests]
"""


def assay(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [sys.executable, "-m", "assayml.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=600,
    )


def table(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x1 = rng.uniform(0, 100, size=n)
    return pd.DataFrame(
        {
            "x1": x1.round(3),
            "x2": rng.normal(size=n).round(3),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "y": (x1 > 50).astype(int),
        }
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A project with user data (conf/data/mine.yaml + a CSV) and one complete run."""
    import shutil

    root = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "conf", root / "conf")
    fill_file_card(root / "conf")
    (root / "conf" / "data" / "mine.yaml").write_text(MINE)
    (root / "data" / "raw").mkdir(parents=True)
    table().to_csv(root / "data" / "raw" / "mine.csv", index=False)
    result = assay(root, "run", "data=mine", *TINY)
    assert result.returncode == 0, result.stderr
    return root


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys; from assayml.cli.main import main; main(['--help']); "
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'lightning', 'hydra', 'dvc', 'pandas', 'sklearn', 'omegaconf')]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "prepare" in result.stdout and "evaluate" in result.stdout


def test_an_assay_process_makes_full_collections_rare() -> None:
    """The console script's entry sets the GC thresholds (assayml.cli.main.collect_less)."""
    code = (
        "import atexit, gc, sys; atexit.register(lambda: print(gc.get_threshold())); "
        "sys.argv = ['assay', '--version']; from assayml.cli.main import entry; entry()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    default = subprocess.run(
        [sys.executable, "-c", "import gc; print(gc.get_threshold())"],
        capture_output=True,
        text=True,
        check=True,
    )
    young, middle, full = ast.literal_eval(result.stdout.splitlines()[-1])
    assert (young, middle, full) == (*ast.literal_eval(default.stdout)[:2], 1000)
    assert FULL_COLLECTION_AFTER == 1000 > ast.literal_eval(default.stdout)[2]


@pytest.mark.slow
def test_cfg_job_prints_the_composed_config(trained: Path) -> None:
    result = assay(trained, "train", "model=logreg", "seed=7", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert (
        "seed: 7" in result.stdout
        and "_target_: assayml.models.networks.build_logreg" in result.stdout
    )
    assert "hydra:" not in result.stdout


def test_run_wrote_every_stage_and_printed_a_summary(trained: Path) -> None:
    for path in (
        "data/prepared/train.parquet",
        "artifacts/features/transform.json",
        "models/model.safetensors",
        "metrics/evaluate.json",
    ):
        assert (trained / path).is_file()


def test_outside_a_project_is_a_clear_error(tmp_path: Path) -> None:
    result = assay(tmp_path, "train")
    assert result.returncode == 2 and "conf/config.yaml not found" in result.stderr


def test_unknown_command() -> None:
    result = assay(REPO, "trian")
    assert result.returncode == 2 and "unknown command 'trian'" in result.stderr


BAD_FILES = {
    "range.csv": (
        lambda t: t.assign(x1=t["x1"].where(t.index != 4, 250.0)),
        "column 'x1', check less_than_or_equal_to(100.0): rows 4",
    ),
    "text.csv": (
        lambda t: t.astype({"x2": object}).assign(
            x2=t["x2"].astype(object).where(t.index != 7, "seven")
        ),
        "column 'x2', check coerce_dtype('float64'): rows 7",
    ),
    "category.csv": (
        lambda t: t.assign(colour=t["colour"].where(t.index != 2, "mauve")),
        "column 'colour', check isin",
    ),
    "header_only.csv": (lambda t: t.iloc[:0], "no rows"),
    "no_target.csv": (lambda t: t.drop(columns="y"), "target column 'y' is missing"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_data_exits_2_naming_the_problem_and_keeps_outputs(trained: Path, name: str) -> None:
    make, message = BAD_FILES[name]
    make(table()).to_csv(trained / "data" / "raw" / name, index=False)
    before = all_files(trained)
    result = assay(trained, "prepare", "data=mine", f"data.path=data/raw/{name}")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert all_files(trained) == before


@pytest.mark.parametrize(
    "args,message",
    [
        (["prepare", "data=mine", "data.path=data/raw/missing.csv"], "data/raw/missing.csv"),
        (["prepare", "data=imagenet"], "Could not find 'data/imagenet'"),
        (["prepare", "data.name=iris"], "unknown built-in data set 'iris'"),
        (["train", "model=transformer"], "Could not find 'model/transformer'"),
        (["train", "model.hiden=3"], "model.hiden"),
        (["train", "trainer.max_epochs=-1"], "max_epochs"),
        pytest.param(  # over 10 s: a training process starts before the check
            ["train", "train.resume=true", "paths.checkpoints_dir=nowhere"],
            "no checkpoint",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_bad_config_exits_2_and_keeps_outputs(trained: Path, args: list[str], message: str) -> None:
    before = all_files(trained)
    result = assay(trained, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stdout + result.stderr
    assert all_files(trained) == before


def test_empty_file_exits_2(trained: Path) -> None:
    (trained / "data" / "raw" / "empty.csv").write_text("")
    result = assay(trained, "prepare", "data=mine", "data.path=data/raw/empty.csv")
    assert result.returncode == 2 and "empty" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("target", ["models/model.safetensors", "checkpoints/last.ckpt"])
def test_tampered_or_unreadable_checkpoints_exit_2(trained: Path, target: str) -> None:
    path = trained / target
    original = path.read_bytes()
    path.write_bytes(original[:-64] + bytes(64))
    try:
        before = all_files(trained)
        args = ["evaluate"] if target.startswith("models") else ["train", "train.resume=true"]
        result = assay(trained, *args, "data=mine", *TINY)
        assert result.returncode == 2, result.stderr
        assert (
            "SHA-256" if target.startswith("models") else "unreadable checkpoint"
        ) in result.stderr
        assert all_files(trained) == before
    finally:
        path.write_bytes(original)


@pytest.mark.slow
@pytest.mark.parametrize("args", [["data=digits", "model=cnn"], ["data=diabetes", "model=mlp"]])
def test_run_on_images_and_regression(tmp_path: Path, args: list[str]) -> None:
    import json
    import shutil

    shutil.copytree(REPO / "conf", tmp_path / "conf")
    fill_file_card(tmp_path / "conf")
    result = assay(
        tmp_path, "run", *args, "trainer.max_epochs=5", "trainer.enable_progress_bar=false"
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics" / "evaluate.json").read_text())
    if "digits" in args[0]:
        assert metrics["accuracy"] > 0.85
    else:
        assert metrics["r2"] > 0.2


@pytest.mark.parametrize(
    "args", [["--help"], ["completion", "bash"], ["prepare", "data=wine", *TINY]]
)
def test_a_reader_that_went_away_gets_no_traceback(args: list[str], project: Path) -> None:
    """`assay ... | head`: the pipe's read end is closed before assay writes (so the write
    fails every time, not by timing); assay ends quietly with the shell's SIGPIPE status,
    a stage's summary line included (stages catch their own errors)."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = cli_fork.run(
            [sys.executable, "-m", "assayml.cli.main", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            cwd=project,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141
