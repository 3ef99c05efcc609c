"""Progress: a Rich bar on terminals, plain epoch lines in logs."""

from __future__ import annotations

import io

from lightning.pytorch.callbacks import RichProgressBar

from assayml.train.progress import EpochLines, build_progress
from tests.stages.helpers import run_stages


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_a_rich_bar_refreshing_about_twenty_times_an_epoch() -> None:
    bar = build_progress(400, Terminal())
    assert isinstance(bar, RichProgressBar) and bar.refresh_rate == 20


def test_logs_get_one_line_per_epoch(make_cfg, capsys) -> None:
    assert isinstance(build_progress(400, io.StringIO()), EpochLines)
    run_stages(make_cfg("trainer.enable_progress_bar=true"), ("prepare", "features", "train"))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch")]
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all("train/loss" in line and "val/loss" in line for line in lines)
