"""Alerts on violations: a webhook POST (JSON with a Slack-compatible ``text``) and/or a
command that gets the same JSON on stdin, each with retries and a timeout per attempt.

An alert is sent after the monitoring result is written and its outcome is returned, never
raised: a receiver that is down or never answers costs at most
``(retries + 1) * timeout_s`` plus the back-off, and the result stays as written."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

from assayml.config.monitor_schema import AlertsConfig
from assayml.utils.io import finite

MAX_LISTED = 10  # violations spelled out in the text; the JSON carries them all


def payload(report: dict[str, Any], execution: str | None, report_path: str) -> dict[str, Any]:
    """What every alert carries; ``text`` is what Slack (or a chat bridge) shows."""
    found = report["violations"]
    verdict = report["recommendation"]
    head = (
        f"assay monitor: {len(found)} violation{'s' * (len(found) != 1)} in "
        f"{report['rows']} rows of {report['source']} (model {report['model']}); "
        f"recommendation: {verdict['action']}"
    )
    lines = [
        f"- {v['feature_name']}: {v['constraint_check_type']} ({v['description']})"
        for v in found[:MAX_LISTED]
    ]
    if len(found) > MAX_LISTED:
        lines.append(f"- and {len(found) - MAX_LISTED} more")
    lines.append(f"report: {report_path}")
    return finite(
        {
            "text": "\n".join([head, *lines]),
            "execution": execution,
            "time": report["time"],
            "model": report["model"],
            "source": report["source"],
            "rows": report["rows"],
            "violations": found,
            "recommendation": verdict,
            "report": report_path,
        }
    )


def send(cfg: AlertsConfig, body: dict[str, Any], webhook: str | None = None) -> dict[str, Any]:
    """Deliver ``body`` to the webhook (``webhook`` overrides the config's) and the command.
    Returns ``{"status": "sent" | "failed" | "partial", "targets": [...]}``, each target
    with its attempts (HTTP status or error, seconds)."""
    targets = []
    url = webhook or cfg.webhook
    if url:
        targets.append(_deliver("webhook", _shown(url), lambda: _post(url, body, cfg), cfg))
    if cfg.command:
        command = list(cfg.command)
        targets.append(_deliver("command", command[0], lambda: _run(command, body, cfg), cfg))
    ok = [t["ok"] for t in targets]
    status = "sent" if all(ok) else "failed" if not any(ok) else "partial"
    return {"status": status, "targets": targets}


def _deliver(kind: str, shown: str, attempt, cfg: AlertsConfig) -> dict[str, Any]:
    attempts = []
    for number in range(cfg.retries + 1):
        if number:
            time.sleep(cfg.backoff_s * 2 ** (number - 1))
        started = time.monotonic()
        ok, outcome = attempt()
        attempts.append({"outcome": outcome, "seconds": round(time.monotonic() - started, 3)})
        if ok:
            break
    return {"kind": kind, "target": shown, "ok": ok, "attempts": attempts}


def _post(url: str, body: dict[str, Any], cfg: AlertsConfig) -> tuple[bool, str]:
    import httpx

    try:
        # timeout bounds connecting, sending and each wait for the answer
        answer = httpx.post(url, json=body, timeout=cfg.timeout_s)
    except httpx.TimeoutException:
        return False, f"timed out after {cfg.timeout_s} s"
    except Exception as err:  # any failure is the alert's, never the run's
        return False, f"{type(err).__name__}: {err}"
    return answer.is_success, f"HTTP {answer.status_code}"


def _run(command: list[str], body: dict[str, Any], cfg: AlertsConfig) -> tuple[bool, str]:
    try:
        done = subprocess.run(  # an argv list, no shell: the config names a program
            command,
            input=json.dumps(body),
            capture_output=True,
            text=True,
            timeout=cfg.timeout_s,
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {cfg.timeout_s} s"
    except (OSError, ValueError) as err:  # not found, not executable, a NUL in an argument
        return False, f"cannot run {command[0]}: {getattr(err, 'strerror', None) or err}"
    detail = done.stderr.strip().splitlines()[-1:] if done.returncode else []
    return done.returncode == 0, f"exit {done.returncode}" + "".join(f": {d}" for d in detail)


def _shown(url: str) -> str:
    """The webhook as recorded: scheme and host only (a Slack URL's path is its secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def wanted(cfg: AlertsConfig, webhook: str | None, violations: int) -> bool:
    """Whether this result calls for an alert at all."""
    configured = bool(webhook or cfg.webhook or cfg.command)
    return configured and (violations > 0 or cfg.when == "always")
