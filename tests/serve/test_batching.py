"""Micro-batching in `assay serve`: two real uvicorn processes on 127.0.0.1 serving the same
model, one merging concurrent requests (``--max-batch 8``) and one answering each alone
(``--max-batch 1``), give the same answers to many concurrent requests of different
sizes; a request refused inside a shared pass fails alone; no pass of several requests
holds more than 8 rows; the capture holds every answered row once, under its id; a lone
client never waits; and bad batching options exit 2 naming the option."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from assayml.data.credit import generate_credit
from assayml.serve.batching import ACTIVE_S
from tests import cli_fork
from tests.conftest import cli_env
from tests.serve.conftest import ASSAY, start_serve

MAX_BATCH = 8  # rows; small, so that requests of 1-5 rows often do not all fit
MAX_WAIT_MS = 100
CLIENTS = 16
# Merged, the model's float32 matrix products run over more rows at once, and the BLAS
# kernels sum in another order: a logit may differ in its last bit or two.
FLOAT32 = {"rel": 1e-6, "abs": 1e-9}


class Server:
    """A running server and every request it answered with 200: (rows, response json)."""

    def __init__(self, process: subprocess.Popen, url: str, capture: Path | None) -> None:
        self.process, self.url, self.capture = process, url, capture
        self.answered: list[tuple[list[dict], dict]] = []
        self._lock = threading.Lock()

    def post(self, http: httpx.Client, rows: list[dict]) -> httpx.Response:
        response = http.post(f"{self.url}/predict", json={"rows": rows})
        if response.status_code == 200:
            with self._lock:
                self.answered.append((rows, response.json()))
        return response

    def batching(self) -> dict:
        return httpx.get(f"{self.url}/metadata", timeout=30).json()["batching"]


@pytest.fixture(scope="module")
def servers(credit_project: Path, tmp_path_factory: pytest.TempPathFactory):
    """(batched, unbatched): the credit model; the batched one captures and waits up to
    100 ms for other connections' requests, so that concurrent requests surely meet."""
    root = tmp_path_factory.mktemp("batching")
    model = ("--model", str(credit_project / "models"))
    capture = root / "captured"
    merging = ("--max-batch", str(MAX_BATCH), "--max-wait-ms", str(MAX_WAIT_MS))
    with ThreadPoolExecutor(2) as pool:  # both start at once
        first = pool.submit(start_serve, root, *model, *merging, "--capture", str(capture))
        second = pool.submit(start_serve, root, *model, "--max-batch", "1")
        batched, alone = Server(*first.result(), capture), Server(*second.result(), None)
    yield batched, alone
    for server in (batched, alone):
        if server.process.poll() is None:
            server.process.kill()


def rows(count: int, seed: int) -> list[dict]:
    frame = generate_credit(count, seed=seed).drop(columns="repaid")
    return json.loads(frame.to_json(orient="records"))


def burst(server: Server, requests: list[list[dict]]) -> list[httpx.Response]:
    """All requests at once from CLIENTS threads, started together."""
    start = threading.Barrier(CLIENTS)

    def client(k: int) -> list[httpx.Response]:
        # One connection per client, kept alive; plain HTTP, so no CA bundle to load
        with httpx.Client(timeout=60, verify=False) as http:
            start.wait()
            return [server.post(http, r) for r in requests[k::CLIENTS]]

    with ThreadPoolExecutor(CLIENTS) as pool:
        parts = list(pool.map(client, range(CLIENTS)))
    return [parts[i % CLIENTS][i // CLIENTS] for i in range(len(requests))]


def assert_same(batched: dict, alone: dict) -> None:
    """Same classes; probabilities and uncertainty equal to float32 rounding."""
    assert batched.keys() == alone.keys()
    assert batched["prediction"] == alone["prediction"]
    for key, value in alone.items():
        if key not in ("prediction", "capture_id"):
            assert batched[key] == pytest.approx(value, **FLOAT32), key


def test_a_lone_client_never_waits(servers) -> None:
    """One connection: nobody else can join its requests, so none waits."""
    batched, _ = servers
    time.sleep(ACTIVE_S + 0.1)  # connections of earlier tests no longer count as active
    before = batched.batching()
    with httpx.Client(timeout=60) as http:
        answers = [batched.post(http, rows(2, seed=i)) for i in range(20)]
    assert all(r.status_code == 200 for r in answers)
    after = batched.batching()
    assert after["requests"] == before["requests"] + 20
    assert after["waits"] == before["waits"]


def test_same_answers_batched_or_not(servers) -> None:
    batched, alone = servers
    requests = [rows(1 + i % 5, seed=i) for i in range(96)]  # 1 to 5 rows each
    merged = burst(batched, requests)
    single = burst(alone, requests)
    assert all(r.status_code == 200 for r in merged + single)
    shared = [int(r.headers["x-assay-batch-requests"]) for r in merged]
    assert max(shared) > 1, "no requests were merged: the test would prove nothing"
    assert {r.headers["x-assay-batch-requests"] for r in single} == {"1"}
    exact = 0
    for request, a, b in zip(requests, merged, single, strict=True):
        answers, expected = a.json()["predictions"], b.json()["predictions"]
        assert len(answers) == len(expected) == len(request)  # its own rows, in order
        for x, y in zip(answers, expected, strict=True):
            assert_same(x, y)
            exact += x["probability_1"] == y["probability_1"]
    assert exact > len(requests)  # most rows bit-identical; the rest within float32


def test_a_request_refused_in_a_shared_pass_fails_alone(servers) -> None:
    """1e308 passes the schema but overflows the float32 model input: the pass that holds
    it is refused, and its requests are answered one by one."""
    batched, alone = servers
    for attempt in range(5):  # until the bad request shared a pass (nearly always at once)
        requests = [rows(2, seed=100 + attempt * 20 + i) for i in range(20)]
        requests[7][1]["income"] = 1e308
        before = batched.batching()["retried_alone"]
        answers = burst(batched, requests)
        if batched.batching()["retried_alone"] > before:
            break
    else:
        pytest.fail("the bad request never shared a pass with others")
    refused = answers[7]
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["detail"]] == [["body", "rows", 1, "income"]]
    assert "overflows" in refused.text
    expected = burst(alone, requests[:7] + requests[8:])
    for answer, single in zip(answers[:7] + answers[8:], expected, strict=True):
        assert answer.status_code == 200, answer.text
        for x, y in zip(answer.json()["predictions"], single.json()["predictions"], strict=True):
            assert_same(x, y)


def test_no_pass_of_several_requests_holds_more_than_max_batch(servers) -> None:
    batched, _ = servers
    requests = [rows(1 + i % 5, seed=300 + i) for i in range(64)]
    requests[10] = rows(MAX_BATCH + 4, seed=9)  # larger than a batch: answered alone
    answers = burst(batched, requests)
    passes = [
        (int(r.headers["x-assay-batch-rows"]), int(r.headers["x-assay-batch-requests"]))
        for r in answers
    ]
    assert passes[10] == (MAX_BATCH + 4, 1)
    merged = [p for p in passes if p[1] > 1]
    assert merged and max(rows for rows, _ in merged) <= MAX_BATCH
    stats = batched.batching()
    assert stats["max_batch"] == MAX_BATCH and stats["largest_rows"] <= MAX_BATCH
    assert stats["largest_requests"] > 1


def test_the_capture_holds_every_answered_row_once_under_its_id(servers) -> None:
    batched, _ = servers
    requests = [rows(1 + i % 3, seed=500 + i) for i in range(48)]
    assert all(r.status_code == 200 for r in burst(batched, requests))
    batched.process.send_signal(signal.SIGINT)  # graceful: flushes the capture
    assert batched.process.wait(timeout=30) == 0
    files = sorted(batched.capture.glob("capture-*.jsonl"))
    records = {}
    for line in (x for f in files for x in f.read_text().splitlines()):
        record = json.loads(line)
        assert record["id"] not in records
        records[record["id"]] = record
    sent = [
        (row, out)
        for request, body in batched.answered
        for row, out in zip(request, body["predictions"], strict=True)
    ]
    assert len(records) == len(sent)  # every answered row once; refused ones not at all
    for row, out in sent:
        record = records[out["capture_id"]]
        assert record["inputs"] == row  # the row the client sent, as sent
        assert record["outputs"] == {k: v for k, v in out.items() if k != "capture_id"}
    assert len({r["model"] for r in records.values()}) == 1
    assert np.mean([len(request) for request, _ in batched.answered]) > 1


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--max-batch", "0", "must be at least 1, got 0"),
        ("--max-batch", "many", "must be a whole number, got 'many'"),
        ("--max-wait-ms", "-1", "must be a finite number, 0 or more, got '-1'"),
        ("--max-wait-ms", "nan", "must be a finite number, 0 or more, got 'nan'"),
    ],
)
def test_bad_batching_options_exit_2_naming_the_option(tmp_path, option, value, says) -> None:
    result = cli_fork.run(
        [*ASSAY, "serve", option, value],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"argument {option}: {says}" in result.stderr
