"""`assay serve`: a real uvicorn process on 127.0.0.1, a registry reference, parallel
clients, per-field 422s, and data capture that loses and tears nothing; then `assay
monitor` on what it captured."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

from assayml.data.credit import generate_credit
from tests import cli_fork
from tests.conftest import cli_env
from tests.serve.conftest import start_serve

ASSAY = [sys.executable, "-m", "assayml.cli.main"]
CLIENTS, REQUESTS, ROWS = 16, 10, 3  # per client, rows per request


def assay(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [*ASSAY, *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, check=False
    )


@pytest.fixture
def production(credit_project: Path, tmp_path: Path) -> Path:
    """The credit model registered, approved and promoted to production in a fresh
    registry; returns the registry folder."""
    registry = tmp_path / "registry"
    base = ("registry", "--registry", str(registry))
    assert assay(credit_project, *base, "register", "models", "--name", "credit").returncode == 0
    assay(credit_project, *base, "approve", "credit", "1", "--reason", "validated")
    promoted = assay(credit_project, *base, "promote", "credit", "1", "--stage", "production")
    assert promoted.returncode == 0, promoted.stderr
    return registry


@pytest.fixture
def server(production: Path, tmp_path: Path):
    process, url = start_serve(
        tmp_path,
        "--model",
        "credit@production",
        "--registry",
        str(production),
        "--capture",
        str(tmp_path / "captured"),
        "--rotate",
        "100",
    )
    yield process, url
    if process.poll() is None:
        process.kill()


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C: uvicorn's graceful shutdown, which flushes the capture."""
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0, process.stderr.read()


def rows(count: int, seed: int) -> list[dict]:
    frame = generate_credit(count, seed=seed).drop(columns="repaid")
    return json.loads(frame.to_json(orient="records"))


def test_serve_validates_predicts_and_captures_every_request(server, tmp_path) -> None:
    process, url = server
    meta = httpx.get(f"{url}/metadata").json()
    assert meta["name"] == "credit" and meta["version"] == 1
    assert meta["lineage_id"].startswith("credit@1:") and meta["task"] == "binary"
    assert "group" in meta["inputs"] and httpx.get(f"{url}/health").json()["status"] == "ok"

    bad = rows(2, 0)
    bad[1]["age"] = 200
    refused = httpx.post(f"{url}/predict", json={"rows": bad})
    assert refused.status_code == 422
    assert ["body", "rows", 1, "age"] in [e["loc"] for e in refused.json()["detail"]]
    unknown = httpx.post(f"{url}/predict", json={"rows": [{**rows(1, 0)[0], "zip": "1"}]})
    assert unknown.status_code == 422 and "zip" in unknown.text
    wrong = httpx.post(f"{url}/predict", json={"rows": [{**rows(1, 0)[0], "purpose": "yacht"}]})
    assert wrong.status_code == 422 and "purpose" in wrong.text

    batches = [rows(ROWS, seed) for seed in range(CLIENTS * REQUESTS)]

    def client(first: int) -> list[dict]:
        # Plain HTTP to 127.0.0.1: verify=False spares loading the CA bundle per client
        with httpx.Client(base_url=url, timeout=60, verify=False) as http:
            out = []
            for batch in batches[first : first + REQUESTS]:
                response = http.post("/predict", json={"rows": batch})
                assert response.status_code == 200, response.text
                out += response.json()["predictions"]
            return out

    with ThreadPoolExecutor(CLIENTS) as pool:
        answered = [p for part in pool.map(client, range(0, len(batches), REQUESTS)) for p in part]
    sent = CLIENTS * REQUESTS * ROWS
    assert len(answered) == sent
    assert all(0 <= p["probability_1"] <= 1 and p["prediction"] in (0, 1) for p in answered)
    stop(process)

    files = sorted((tmp_path / "captured").glob("capture-*.jsonl"))
    records = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert len(records) == sent  # nothing lost, and every line whole JSON (none torn)
    assert len(files) == pytest.approx(sent / 100, abs=1)  # rotated every 100 records
    assert {r["id"] for r in records} == {p["capture_id"] for p in answered}
    assert {r["model"] for r in records} == {meta["lineage_id"]}
    first = next(r for r in records if r["id"] == answered[0]["capture_id"])
    assert first["inputs"] == batches[0][0]  # the input the client sent, as sent
    assert first["outputs"]["prediction"] == answered[0]["prediction"]


@pytest.mark.slow
def test_monitor_the_captured_traffic_with_late_labels(
    server, production, credit_project, tmp_path
) -> None:
    process, url = server
    frame = generate_credit(400, seed=5)
    features = json.loads(frame.drop(columns="repaid").to_json(orient="records"))
    ids = []
    with httpx.Client(base_url=url) as http:
        for start in range(0, len(features), 50):
            response = http.post("/predict", json={"rows": features[start : start + 50]})
            ids += [p["capture_id"] for p in response.json()["predictions"]]
    stop(process)
    pd.DataFrame({"capture_id": ids, "repaid": frame["repaid"]}).iloc[::2].to_csv(
        tmp_path / "labels.csv", index=False
    )
    result = assay(
        tmp_path,
        "monitor",
        "captured",
        "--labels",
        "labels.csv",
        "--model",
        "credit@production",
        "--registry",
        str(production),
        "--baseline",
        str(credit_project / "monitoring"),
    )
    report = json.loads((tmp_path / "reports" / "monitor" / "monitor.json").read_text())
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["rows"] == 400 and report["labelled_rows"] == 200
    assert report["model"].startswith("credit@1:") and report["model_quality"]["rows"] == 200
    assert report["violations"] == []  # the same distribution
