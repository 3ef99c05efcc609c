"""Alerts on violations, delivered to real HTTP receivers on 127.0.0.1 and a real command:
retries until a failing receiver recovers; a receiver that never answers costs a bounded
time, is recorded as failed, and the monitoring result is written all the same."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assayml.config.monitor_schema import AlertsConfig
from assayml.monitor.executions import execute
from tests import cli_fork
from tests.conftest import cli_env
from tests.monitor.watch_helpers import capture, history, make_watch, shifted

ASSAY = [sys.executable, "-m", "assayml.cli.main"]


class Receiver:
    """An HTTP server in a thread: answers each POST with the next of ``statuses`` (the
    last one repeats), or sleeps ``stall`` seconds first; keeps the bodies it got."""

    def __init__(self, statuses=(200,), stall: float = 0.0) -> None:
        self.bodies: list[dict] = []
        self.statuses, self.stall = list(statuses), stall
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                time.sleep(receiver.stall)
                index = min(len(receiver.bodies), len(receiver.statuses)) - 1
                self.send_response(receiver.statuses[index])
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/SECRET"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def back_home():
    home = os.getcwd()
    yield
    os.chdir(home)


def drifted_watch(credit_project, tmp_path, alerts, **kw):
    watch = make_watch(credit_project, tmp_path, settle_s=0, alerts=alerts, **kw)
    capture(watch.folder, shifted(500, 31), watch.deployed)
    return watch


def test_retries_until_the_receiver_recovers(credit_project, tmp_path, back_home) -> None:
    with Receiver(statuses=(503, 500, 200)) as receiver:
        alerts = AlertsConfig(webhook=receiver.url, retries=3, backoff_s=0.05, timeout_s=5)
        watch = drifted_watch(credit_project, tmp_path, alerts)
        line = execute(watch)
    outcome = line["alerts"]
    assert outcome["status"] == "sent"
    webhook = outcome["targets"][0]
    assert [a["outcome"] for a in webhook["attempts"]] == ["HTTP 503", "HTTP 500", "HTTP 200"]
    assert webhook["target"] == f"http://127.0.0.1:{receiver.url.split(':')[2].split('/')[0]}"
    assert "SECRET" not in json.dumps(line)  # the URL's path (Slack's token) is not recorded
    body = receiver.bodies[-1]
    folder = watch.out / line["execution"]
    violations = json.loads((folder / "violations.json").read_text())["violations"]
    assert body["violations"] == violations and body["execution"] == line["execution"]
    assert body["text"].startswith(f"assay monitor: {len(violations)} violation")
    assert "income: baseline_drift_check" in body["text"]
    assert json.loads((folder / "alerts.json").read_text()) == outcome
    assert history(watch.out)[-1]["alerts"]["status"] == "sent"


def test_a_receiver_that_never_answers(credit_project, tmp_path, back_home) -> None:
    command_out = tmp_path / "alert.json"
    script = f"import sys; open({str(command_out)!r}, 'w').write(sys.stdin.read())"
    command = [sys.executable, "-c", script]
    with Receiver(stall=5) as receiver:
        alerts = AlertsConfig(
            webhook=receiver.url, command=command, retries=1, timeout_s=0.5, backoff_s=0.1
        )
        watch = drifted_watch(credit_project, tmp_path, alerts)
        started = time.monotonic()
        line = execute(watch)
        elapsed = time.monotonic() - started
    webhook, run = line["alerts"]["targets"]
    assert line["alerts"]["status"] == "partial"
    assert not webhook["ok"] and len(webhook["attempts"]) == 2
    assert all(a["outcome"] == "timed out after 0.5 s" for a in webhook["attempts"])
    assert run["ok"] and json.loads(command_out.read_text())["violations"]
    assert elapsed < 4.5  # bounded by retries x timeout, not by the receiver
    folder = watch.out / line["execution"]
    assert json.loads((folder / "violations.json").read_text())["violations"]  # written
    assert history(watch.out)[-1]["alerts"]["status"] == "partial"
    state = json.loads((watch.out / "state.json").read_text())
    assert state["last_execution"] == line["execution"]  # and marked read


def test_no_alert_on_a_clean_execution_unless_always(credit_project, tmp_path, back_home):
    from tests.monitor.watch_helpers import fresh

    with Receiver() as receiver:
        watch = make_watch(
            credit_project, tmp_path, settle_s=0, alerts=AlertsConfig(webhook=receiver.url)
        )
        capture(watch.folder, fresh(300, 32), watch.deployed)
        assert execute(watch)["alerts"] == {"status": "none"} and receiver.bodies == []
        watch.baseline.settings.alerts.when = "always"
        capture(watch.folder, fresh(300, 33), watch.deployed)
        assert execute(watch)["alerts"]["status"] == "sent"
        assert receiver.bodies[0]["violations"] == []


@pytest.mark.slow
def test_webhook_on_the_command_line(credit_project, tmp_path, back_home) -> None:
    """`assay monitor IN --webhook URL`: the receiver gets the alert; a webhook nobody
    listens on fails the alert, not the run (exit 3, outputs written)."""
    data = tmp_path / "shifted.csv"
    shifted(400, 34).to_csv(data, index=False)

    def assay(url, out, *extra):
        return cli_fork.run(
            [*ASSAY, "monitor", str(data), "--webhook", url, "--out", str(out), *extra],
            cwd=credit_project,
            env=cli_env(),
            capture_output=True,
            text=True,
        )

    with Receiver() as receiver:
        sent = assay(receiver.url, tmp_path / "a")
    assert sent.returncode == 3, sent.stderr
    assert receiver.bodies and "alert sent" in sent.stdout
    assert json.loads((tmp_path / "a" / "alerts.json").read_text())["status"] == "sent"
    dead = assay("http://127.0.0.1:9/", tmp_path / "b", "monitor.alerts.backoff_s=0")
    assert dead.returncode == 3, dead.stderr
    assert "alert failed" in dead.stdout
    assert (tmp_path / "b" / "violations.json").is_file()
    failed = json.loads((tmp_path / "b" / "alerts.json").read_text())
    assert failed["status"] == "failed" and len(failed["targets"][0]["attempts"]) == 4
    bad = assay("ftp://example.org/", tmp_path / "c")
    assert bad.returncode == 2 and "--webhook: monitor.alerts.webhook must be" in bad.stderr
