"""`assay monitor --watch DIR`: executions read each closed capture file once, remember
what they read in a state file, survive a crash between outputs and state, and keep a
history whose trends the report draws; schedules come from `monitor.schedule`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest

from assayml.monitor.executions import (
    append_history,
    execute,
    history_line,
    new_id,
    write_execution,
)
from assayml.monitor.inputs import captured_current
from assayml.monitor.run import monitor
from assayml.monitor.watch import closed_pieces, load_state, read_pieces
from tests import cli_fork
from tests.conftest import cli_env
from tests.monitor.watch_helpers import age, capture, fresh, history, make_watch, shifted

ASSAY = [sys.executable, "-m", "assayml.cli.main"]


@pytest.fixture
def back_home():
    home = os.getcwd()
    yield
    os.chdir(home)


def test_each_closed_file_is_read_once(credit_project, tmp_path, back_home) -> None:
    watch = make_watch(credit_project, tmp_path)
    ids, _ = capture(watch.folder, fresh(1200, 21), watch.deployed)  # 500 + 500 + 200
    age(watch.folder)
    last = min(watch.folder.glob("capture-*.jsonl"), key=lambda p: p.stat().st_size)
    os.utime(last)  # the 200-record file changed just now: still being written
    first = execute(watch)
    assert first["rows"] == 1000 and len(first["files"]) == 2
    assert last.name not in {f["name"] for f in first["files"]}
    assert "1 capture files still being written" in watch.notes
    assert execute(watch) is None  # nothing new: no execution, no history line
    assert len(history(watch.out)) == 1
    age(watch.folder)
    second = execute(watch)
    assert second["rows"] == 200 and [f["name"] for f in second["files"]] == [last.name]
    assert second["execution"] > first["execution"]
    lines = history(watch.out)
    assert [line["execution"] for line in lines] == [first["execution"], second["execution"]]
    state = json.loads((watch.out / "state.json").read_text())
    assert state["last_execution"] == second["execution"]
    assert sum(f["lines"] for f in state["files"].values()) == 1200 == len(ids)
    assert {f["execution"] for f in state["files"].values()} == {h["execution"] for h in lines}
    folder = watch.out / second["execution"]
    assert {p.name for p in folder.iterdir()} == {
        "violations.json",
        "monitor.json",
        "report.html",
        "execution.json",
    }
    report = json.loads((folder / "monitor.json").read_text())
    assert json.loads((folder / "execution.json").read_text()) == {
        k: v for k, v in second.items() if k != "alerts"
    }
    for name, drift in report["drift"].items():  # the history holds the report's figures
        assert second["statistics"][f"drift:{name}"]["value"] == drift["statistic"]
    page = (folder / "report.html").read_text()
    assert "Executions (last 2)" in page and f"../{first['execution']}/report.html" in page
    assert page.count(" trend' width=") == len(second["statistics"])


def test_a_file_that_grows_is_read_from_where_it_stopped(credit_project, tmp_path, back_home):
    """A quiet file that gets more records later (an idle server), and a last line still
    being written: whole lines only, none read twice, line numbers kept for errors."""
    watch = make_watch(credit_project, tmp_path, settle_s=0)
    source = tmp_path / "source"
    capture(source, fresh(300, 22), watch.deployed, rotate=1000)
    lines = next(source.glob("*.jsonl")).read_bytes().splitlines(keepends=True)
    target = watch.folder / "capture-grows.jsonl"
    target.write_bytes(b"".join(lines[:100]) + lines[100][:40])  # torn: no newline yet
    assert execute(watch)["rows"] == 100
    assert execute(watch) is None  # the torn line is not read, and that is said
    assert "capture-grows.jsonl: 40 bytes after its last newline left unread" in watch.notes[0]
    with open(target, "ab") as handle:
        handle.write(lines[100][40:] + b"".join(lines[101:250]))
    second = execute(watch)
    assert second["rows"] == 150
    assert second["files"][0]["start"] == len(b"".join(lines[:100]))
    assert second["files"][0]["first_line"] == 101
    with open(target, "ab") as handle:
        handle.write(b"".join(lines[250:260]) + b'{"id": "x", "inp\n' + lines[260])
    with pytest.raises(Exception, match=r"capture-grows.jsonl: line 261 is not a JSON record"):
        execute(watch)
    state = load_state(watch.out / "state.json", watch.folder)
    assert state["files"]["capture-grows.jsonl"]["lines"] == 250  # the bad piece: unread


def test_a_crash_before_the_state_is_saved_is_rolled_forward(
    credit_project, tmp_path, back_home
) -> None:
    """The process died after the execution's folder was in place, before its history line
    and state: the next call finishes that execution's bookkeeping instead of reading the
    same records again."""
    watch = make_watch(credit_project, tmp_path, settle_s=0)
    capture(watch.folder, fresh(300, 23), watch.deployed)
    first = execute(watch)
    capture(watch.folder, fresh(200, 24), watch.deployed)
    state = load_state(watch.out / "state.json", watch.folder)
    pieces, _ = closed_pieces(watch.folder, state, 0)
    records, pieces = read_pieces(watch.folder, pieces)
    current = captured_current(records, "crashed")
    report = monitor(current, watch.baseline, watch.deployed)
    crashed = new_id(state["last_execution"])
    line = history_line(crashed, report, pieces)
    write_execution(watch.out / crashed, report, watch.baseline, current, line, [first])
    # ... killed here: no history line, no state
    assert execute(watch) is None  # nothing read twice
    assert f"recovered execution {crashed} (its state was not saved)" in watch.notes
    assert [line["execution"] for line in history(watch.out)] == [first["execution"], crashed]
    state = load_state(watch.out / "state.json", watch.folder)
    assert state["last_execution"] == crashed
    assert sum(f["lines"] for f in state["files"].values()) == 500
    # killed after the history line, before the state: the line is not written twice
    capture(watch.folder, fresh(100, 35), watch.deployed)
    pieces, _ = closed_pieces(watch.folder, state, 0)
    records, pieces = read_pieces(watch.folder, pieces)
    current = captured_current(records, "crashed again")
    report = monitor(current, watch.baseline, watch.deployed)
    again = new_id(crashed)
    line = history_line(again, report, pieces)
    write_execution(watch.out / again, report, watch.baseline, current, line, history(watch.out))
    append_history(watch.out, line)
    assert execute(watch) is None
    assert [h["execution"] for h in history(watch.out)] == [first["execution"], crashed, again]
    state = load_state(watch.out / "state.json", watch.folder)
    assert state["last_execution"] == again
    assert sum(f["lines"] for f in state["files"].values()) == 600


def test_executions_that_find_drift(credit_project, tmp_path, back_home) -> None:
    watch = make_watch(credit_project, tmp_path, settle_s=0)
    capture(watch.folder, fresh(600, 25), watch.deployed)
    clean = execute(watch)
    capture(watch.folder, shifted(600, 26), watch.deployed)
    drifted = execute(watch)
    assert clean["violations"] == 0 and clean["recommendation"] == "none"
    assert drifted["violations"] >= 1 and "baseline_drift_check" in drifted["checks"]
    assert drifted["statistics"]["drift:income"]["violation"] is True
    assert drifted["recommendation"] == "retrain"
    found = json.loads((watch.out / drifted["execution"] / "violations.json").read_text())
    assert ("income", "baseline_drift_check") in {
        (v["feature_name"], v["constraint_check_type"]) for v in found["violations"]
    }


def test_rows_per_variant(credit_project, tmp_path, back_home) -> None:
    """Records of `assay serve --variant` carry the variant that answered: counted."""
    watch = make_watch(credit_project, tmp_path, settle_s=0)
    capture(watch.folder, fresh(300, 29), watch.deployed, extra={"variant": "churn@3"})
    capture(watch.folder, fresh(100, 30), watch.deployed, extra={"variant": "churn@4"})
    line = execute(watch)
    assert line["variants"] == {"churn@3": 300, "churn@4": 100} and line["rows"] == 400


def test_the_schedule_runs_executions_on_its_fire_times(credit_project, tmp_path, back_home):
    from apscheduler.triggers.cron import CronTrigger

    from assayml.cli.monitor_command import _one
    from assayml.monitor.schedule import run_scheduled

    watch = make_watch(credit_project, tmp_path, settle_s=0)
    capture(watch.folder, fresh(300, 27), watch.deployed)
    started = time.monotonic()
    every_second = CronTrigger(second="*", timezone=UTC)
    codes = run_scheduled(lambda: _one(watch), every_second, max_executions=3)
    assert codes == [0, 0, 0] and time.monotonic() - started >= 2  # one per second
    assert len(history(watch.out)) == 1  # the later two found nothing new


def test_cron_expressions(tmp_path) -> None:
    from datetime import datetime

    from assayml.config.monitor_schema import MonitorConfig, cron_trigger

    start = datetime(2026, 12, 1, tzinfo=UTC)  # a Tuesday
    sunday = cron_trigger("30 6 * * 0").get_next_fire_time(None, start)
    assert sunday.strftime("%A %H:%M") == "Sunday 06:30"  # cron's 0 (APScheduler's: Monday)
    assert cron_trigger("0 0 * * 7").get_next_fire_time(None, start).strftime("%A") == "Sunday"
    weekdays = cron_trigger("0 9 * * 1-5").get_next_fire_time(None, start)
    assert weekdays.strftime("%A %H") == "Tuesday 09"
    for bad in ("61 * * * *", "* * *", "hourly", "0 0 * * 8", "0 0 32 * *"):
        with pytest.raises(ValueError, match=r"monitor\.schedule"):
            MonitorConfig(schedule=bad)


@pytest.mark.slow
def test_command_line(credit_project, tmp_path, back_home) -> None:
    """Exit 0 and a note when nothing is new, 3 when an execution finds violations, 2 for
    a bad schedule, a missing folder or IN given beside --watch."""

    def assay(*args):
        return cli_fork.run(
            [*ASSAY, "monitor", *args, "--out", str(tmp_path / "out")],
            cwd=credit_project,
            env=cli_env(),
            capture_output=True,
            text=True,
        )

    folder = tmp_path / "captured"
    folder.mkdir()
    empty = assay("--watch", str(folder))
    assert empty.returncode == 0, empty.stderr
    assert "nothing new" in empty.stdout
    from assayml.serve.deployed import load_deployed

    os.chdir(credit_project)
    capture(folder, shifted(400, 28), load_deployed())
    age(folder)
    found = assay("--watch", str(folder))
    assert found.returncode == 3, found.stderr
    assert "baseline_drift_check" in found.stdout and "report: " in found.stdout
    bad = assay("--watch", str(folder), "monitor.schedule=61 * * * *")
    assert bad.returncode == 2
    assert "monitor.schedule '61 * * * *' is not a cron expression" in bad.stderr
    both = assay("x.csv", "--watch", str(folder))
    assert both.returncode == 2 and "give IN" in both.stderr
    missing = assay("--watch", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "nowhere: no such capture folder" in missing.stderr
    typo = assay("--watch", str(folder), "monitor.alerts.webhok=http://x")
    assert typo.returncode == 2 and "webhok" in typo.stderr


def test_operational_settings_from_conf_and_the_command_line(project) -> None:
    """schedule, history, settle_s, label_window and alerts come from conf/ (never from
    the baseline) and monitor.KEY=VALUE; a cron line the shell unquoted is taken as is."""
    from assayml.errors import ConfigError
    from assayml.monitor.operations import operational_settings, split_overrides

    args = ["monitor.alpha=0.01", "monitor.schedule=*/5 * * * *", "monitor.alerts.retries=0"]
    operational, checks = split_overrides(args)
    assert checks == ["monitor.alpha=0.01"]
    settings = operational_settings([*operational, "monitor.alerts.command=[notify, x]"])
    assert settings.schedule == "*/5 * * * *" and settings.alerts.retries == 0
    assert settings.alerts.command == ["notify", "x"] and settings.settle_s == 60
    conf = project / "conf" / "monitor" / "default.yaml"
    text = conf.read_text().replace("schedule: null", "schedule: '0 6 * * 1'")
    conf.write_text(text.replace("history: 20", "history: 5"))
    from_conf = operational_settings([])
    assert from_conf.schedule == "0 6 * * 1" and from_conf.history == 5
    with pytest.raises(ConfigError, match=r"monitor\.webhok|webhok"):
        operational_settings(["monitor.alerts.webhok=http://x"])
    with pytest.raises(ConfigError, match=r"monitor\.history must lie in \[2, 1000\]"):
        operational_settings(["monitor.history=1"])
    with pytest.raises(ConfigError, match=r"monitor\.alerts\.webhook must be an http"):
        operational_settings(["monitor.alerts.webhook=file:///etc/passwd"])


def _killed_when(process, out: Path, moment: str) -> bool:
    """SIGKILL ``process`` as soon as ``moment`` is seen in ``out`` (polled every 2 ms):
    "writing" a temporary folder, "written" an execution folder, "history" a history
    line more; False when it finished first."""
    import signal

    def count() -> int:
        path = out / "history.jsonl"
        return len(path.read_text().splitlines()) if path.is_file() else 0

    lines = count()
    folders = {p.name for p in out.iterdir()} if out.is_dir() else set()
    while process.poll() is None:
        now = {p.name for p in out.iterdir()} if out.is_dir() else set()
        seen = {
            "writing": any(".tmp." in n for n in now),
            "written": any(n[:1].isdigit() for n in now - folders),
            "history": count() > lines,
        }[moment]
        if seen:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    return False


def _unsaved_executions(out: Path) -> list[str]:
    """Execution folders written whole but later than the state's last execution: what a
    monitor killed between its outputs and its state leaves for the next one to recover."""
    from assayml.monitor.executions import ID_PATTERN, RECORD, STATE

    state = out / STATE
    last = (json.loads(state.read_text()).get("last_execution") if state.is_file() else None) or ""
    found = (r.parent.name for r in out.glob(f"*/{RECORD}") if ID_PATTERN.fullmatch(r.parent.name))
    return sorted(name for name in found if name > last)


@pytest.mark.slow
def test_killed_monitors_lose_and_repeat_nothing(credit_project, tmp_path, back_home) -> None:
    """`assay monitor --watch` killed (SIGKILL) while writing an execution's folder, just
    after it, and just after its history line, with new traffic between calls, then left
    to finish: every captured record is in exactly one execution, the state agrees with
    the history, and every execution's folder is whole."""
    from itertools import pairwise

    from assayml.serve.deployed import load_deployed

    os.chdir(credit_project)
    deployed = load_deployed()
    folder, out = tmp_path / "captured", tmp_path / "out"
    command = [*ASSAY, "monitor", "--watch", str(folder), "--out", str(out)]
    command.append("monitor.settle_s=0")
    total, killed = 0, []
    # The last kill must leave an execution whose state was not saved, so the final run has
    # something to recover; a kill can land a moment late (history and state written within
    # the 2 ms poll), so "written" is aimed again, a bounded number of times, until one does.
    moments = ("writing", "written", "history", "written", "written", "written", "written")
    for round_, moment in enumerate(moments):
        ids, _ = capture(folder, fresh(150, 60 + round_), deployed, rotate=100)
        total += len(ids)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        process = cli_fork.popen(command, cwd=credit_project, env=cli_env(), **quiet)
        killed.append(_killed_when(process, out, moment))
        if round_ >= 3 and _unsaved_executions(out):
            break
    assert _unsaved_executions(out), killed  # no kill among seven landed before the state
    final = cli_fork.run(command, cwd=credit_project, env=cli_env(), capture_output=True)
    assert final.returncode == 0, final.stderr
    assert sum(killed) >= 3, killed  # the kills landed where they were aimed
    assert b"recovered execution" in final.stdout
    assert not _unsaved_executions(out)
    lines = history(out)
    assert len({h["execution"] for h in lines}) == len(lines)
    covered: dict[str, list[tuple[int, int]]] = {}
    for line in lines:
        folder_files = {p.name for p in (out / line["execution"]).iterdir()}
        assert {"violations.json", "monitor.json", "report.html", "execution.json"} <= folder_files
        for piece in line["files"]:
            covered.setdefault(piece["name"], []).append((piece["start"], piece["end"]))
    for name, spans in covered.items():  # each file's bytes once, in order, all of them
        spans.sort()
        assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in pairwise(spans))
        assert spans[-1][1] == (folder / name).stat().st_size
    assert set(covered) == {p.name for p in folder.glob("capture-*.jsonl")}
    assert sum(h["rows"] for h in lines) == total
    state = json.loads((out / "state.json").read_text())
    assert sum(f["lines"] for f in state["files"].values()) == total
    assert state["last_execution"] == lines[-1]["execution"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_a_capture_folder_read_whole_leaves_out_a_line_being_written(tmp_path) -> None:
    """`assay monitor captured/` while the server writes: the unfinished last line is left
    out, not taken for a torn record."""
    from assayml.monitor.inputs import read_current

    record = {"id": "1", "inputs": {"age": 30}, "outputs": {"prediction": 1}}
    text = json.dumps(record) + "\n" + json.dumps(record | {"id": "2"})[:30]
    (tmp_path / "capture-a.jsonl").write_text(text)
    current = read_current(tmp_path)
    assert current.ids.tolist() == ["1"] and current.frame["age"].tolist() == [30]
