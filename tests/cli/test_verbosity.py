"""--quiet / --verbose across commands, and progress: plain lines in logs, a bar on a
terminal, nothing when quiet."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from assayml.progress import Steps, track
from assayml.verbosity import ENV, take_flags
from tests.cli.test_sweeps import assay
from tests.conftest import REPO, TINY


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path


CHEAP = ("explain.methods=[saliency]", "explain.global_rows=20", "explain.samples=20")
LOGS = (*TINY[:-2], "trainer.enable_progress_bar=true", "logger=none")  # epoch lines on


def test_flags_are_taken_anywhere_before_a_double_dash(monkeypatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert take_flags(["train", "-q", "seed=1", "--", "-v"]) == ["train", "seed=1", "--", "-v"]
    import os

    assert os.environ[ENV] == "quiet"
    assert take_flags(["--verbose", "runs"]) == ["runs"] and os.environ[ENV] == "verbose"


@pytest.mark.slow
def test_normal_runs_show_stage_lines_epochs_and_step_progress(project: Path) -> None:
    result = assay(project, "run", *LOGS, *CHEAP)
    assert result.returncode == 0, result.stderr
    assert "train     models" in result.stdout and "explain   reports/explain" in result.stdout
    assert "epoch 3/3" in result.stderr  # plain lines: stderr is a pipe here, as in CI
    assert "explain [+" in result.stderr and "4/4 bias" in result.stderr
    assert "\x1b[" not in result.stderr  # no terminal control codes in a log


@pytest.mark.slow
def test_quiet_runs_say_nothing_and_still_write_everything(project: Path) -> None:
    result = assay(project, "--quiet", "run", *LOGS, *CHEAP)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert (project / "metrics" / "evaluate.json").is_file()
    report = assay(project, "report", "-q")
    assert report.returncode == 0 and report.stdout == ""
    assert (project / "reports" / "report.html").is_file()
    bad = assay(project, "-q", "train", "data.split.train=0.5")  # errors still reach stderr
    assert bad.returncode == 2 and "error" in bad.stderr


@pytest.mark.slow
def test_quiet_sweeps_print_no_summary(project: Path) -> None:
    result = assay(
        project,
        "run",
        "-m",
        "seed=1,2",
        *TINY,
        *CHEAP,
        "-q",
        f"hydra.sweep.dir={project / 'sweep'}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and "Launching" not in result.stderr
    assert (project / "sweep" / "summary.md").is_file()


@pytest.mark.slow
def test_verbose_shows_library_messages_hashes_and_tracebacks(project: Path) -> None:
    result = assay(project, "-v", "prepare")
    assert result.returncode == 0, result.stderr
    assert "prepare: " in result.stderr and "train.parquet  md5 " in result.stderr
    assert assay(project, "features").returncode == 0
    train = assay(project, "train", "--verbose", *TINY)
    assert "GPU available" in train.stdout + train.stderr  # Lightning's banner, kept
    bad = assay(project, "prepare", "data.split.train=0.5", "-v")
    assert bad.returncode == 2 and "Traceback" in bad.stderr and "error" in bad.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_steps_draw_a_bar_on_a_terminal_and_lines_in_a_log(monkeypatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        with Steps("explain", 2, stream=stream) as steps:
            steps.next("local")
            steps.next("global")
    assert "\x1b[" in terminal.getvalue()  # Rich's control codes
    assert log.getvalue().splitlines()[-1].endswith("2/2 global")
    monkeypatch.setenv(ENV, "quiet")
    quiet = io.StringIO()
    with Steps("explain", 1, stream=quiet) as steps:
        steps.next("local")
    assert list(track(range(3), "rows", 3, stream=quiet)) == [0, 1, 2]
    assert quiet.getvalue() == ""


def test_track_ends_with_a_complete_line(monkeypatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    log = io.StringIO()
    assert list(track(range(5), "rows", 5, stream=log)) == list(range(5))
    assert log.getvalue().splitlines()[-1].startswith("  rows: 5/5")
