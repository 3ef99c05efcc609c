"""Our DVCLive logger decides when to sync as DVCLive does, without inspect.stack()."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dvclive.lightning import DVCLiveLogger, _should_sync

from assayml.train.dvclive_logger import SYNC_CALLERS, FastDVCLiveLogger, called_from
from tests.stages.helpers import run_stages


def _caller(name: str):
    """A function named ``name`` that reports both decisions from inside itself."""

    def body():
        return called_from(SYNC_CALLERS), _should_sync()

    def outer():
        return body()

    outer.__code__ = outer.__code__.replace(co_name=name)
    return outer


@pytest.mark.parametrize("name", [*sorted(SYNC_CALLERS), "log_metrics", "on_train_end"])
def test_the_sync_decision_is_dvclives(name: str) -> None:
    ours, theirs = _caller(name)()
    assert ours == theirs == (name in SYNC_CALLERS)


def _logged(folder: Path) -> dict[str, list[list[str]]]:
    """Every DVCLive file under ``folder`` as rows of fields, without the timestamp column
    (wall-clock times differ between any two runs)."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rows = [line.split("\t") for line in path.read_text().splitlines()]
        if rows and "timestamp" in rows[0]:
            at = rows[0].index("timestamp")
            rows = [row[:at] + row[at + 1 :] for row in rows]
        files[str(path.relative_to(folder))] = rows
    return files


def test_a_training_logs_what_dvclives_own_logger_logs(make_cfg, project, monkeypatch) -> None:
    cfg = make_cfg("logger=dvclive", "trainer.max_epochs=3")
    run_stages(cfg, ("prepare", "features", "train"))
    ours = _logged(project / "dvclive")
    shutil.rmtree(project / "dvclive")
    # The reference: the same run through DVCLive's own log_metrics (its stack inspection).
    monkeypatch.setattr(FastDVCLiveLogger, "log_metrics", DVCLiveLogger.log_metrics)
    run_stages(cfg, ("train",))
    theirs = _logged(project / "dvclive")
    assert ours == theirs
    assert len(ours["plots/metrics/train/loss.tsv"]) == 1 + 3  # header and a row an epoch
