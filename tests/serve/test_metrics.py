"""`GET /metrics` of a real `assay serve` on 127.0.0.1: scraped before and after a known set
of requests, parsed with prometheus-client's own parser, every counter moves by exactly
what was sent; the model info names the weights' SHA-256 computed here from the file; the
capture figures match the files on disk; the process figures match /proc."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from assayml.data.credit import generate_credit
from tests import cli_fork
from tests.serve.conftest import start_serve

GOOD, BAD, ROWS = 7, 3, 4  # requests answered 200, refused 422; rows per good request

Samples = dict[tuple[str, frozenset], float]


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, metric: str, **labels: str) -> float:
    return samples.get((metric, frozenset(labels.items())), 0.0)


def rows(count: int, seed: int) -> list[dict]:
    return json.loads(
        generate_credit(count, seed=seed).drop(columns="repaid").to_json(orient="records")
    )


@pytest.fixture
def server(credit_project: Path, tmp_path: Path):
    model = str(credit_project / "models")
    process, url = start_serve(
        tmp_path, "--model", model, "--capture", str(tmp_path / "cap"), "--rotate", "10"
    )
    yield process, url, model
    process.kill()
    process.wait()


def test_metrics_count_exactly_the_requests_sent(server, credit_project, tmp_path) -> None:
    process, url, model = server
    before = scrape(url)
    with httpx.Client(base_url=url, timeout=30) as http:
        for seed in range(GOOD):
            assert http.post("/predict", json={"rows": rows(ROWS, seed)}).status_code == 200
        for seed in range(BAD):
            bad = rows(1, seed)
            bad[0]["age"] = -5
            assert http.post("/predict", json={"rows": bad}).status_code == 422
        too_big = http.post("/predict", content=b"x" * (1 << 23))
        assert too_big.status_code == 413
        assert http.get("/health").status_code == 200
    after = scrape(url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    predict = {"handler": "/predict", "variant": model}
    assert moved("assay_requests_total", **predict, status="200") == GOOD
    assert moved("assay_requests_total", **predict, status="422") == BAD
    assert moved("assay_request_errors_total", **predict, status="422") == BAD
    assert moved("assay_request_errors_total", **predict, status="200") == 0
    # refused on its declared length, before any variant took it
    assert moved("assay_requests_total", handler="/predict", variant="", status="413") == 1
    assert moved("assay_requests_total", handler="/health", variant="", status="200") == 1
    # the scrape before is counted once it is answered: it shows in the second scrape
    assert moved("assay_requests_total", handler="/metrics", variant="", status="200") == 1
    assert moved("assay_request_duration_seconds_count", variant=model) == GOOD + BAD
    assert moved("assay_request_duration_seconds_bucket", variant=model, le="+Inf") == GOOD + BAD
    assert moved("assay_request_duration_seconds_sum", variant=model) > 0
    assert moved("assay_rows_scored_total", variant=model) == GOOD * ROWS

    meta = httpx.get(f"{url}/metadata").json()
    weights = hashlib.sha256((credit_project / "models" / "model.safetensors").read_bytes())
    info = {
        "variant": model,
        "role": "live",
        "ref": model,
        "name": "models",
        "version": "",
        "lineage_id": meta["lineage_id"],
        "weights_sha256": weights.hexdigest(),
    }
    assert value(after, "assay_model_info", **info) == 1

    written = value(after, "assay_capture_records_total", role="live")
    queued = value(after, "assay_capture_queue_records", role="live")
    assert written + queued == GOOD * ROWS
    files = sorted((tmp_path / "cap").glob("capture-*.jsonl"))
    assert value(after, "assay_capture_files_total", role="live") == len(files)
    assert sum(len(f.read_text().splitlines()) for f in files) == written

    rss = _proc_rss(cli_fork.command_pid(process))
    assert value(after, "process_resident_memory_bytes") == pytest.approx(rss, rel=0.5)
    assert (
        value(after, "process_cpu_seconds_total") >= value(before, "process_cpu_seconds_total") > 0
    )


def _proc_rss(pid: int) -> int:
    """Resident bytes as the kernel reports them (VmRSS, kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_each_app_has_its_own_registry(credit_project: Path) -> None:
    """Two apps in one process count apart (no global registry, no duplicate-name error)."""
    from fastapi.testclient import TestClient

    from assayml.serve.deployed import load_deployed
    from assayml.serve.server import create_app

    deployed = load_deployed(str(credit_project / "models"))
    first, second = create_app(deployed), create_app(deployed)
    with TestClient(first) as a, TestClient(second) as b:
        assert a.post("/predict", json={"rows": rows(2, 0)}).status_code == 200
        count = 'assay_requests_total{handler="/predict",status="200",variant="models"}'
        assert f"{count} 1.0" in a.get("/metrics").text
        assert count not in b.get("/metrics").text
