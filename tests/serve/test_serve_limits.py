"""`assay serve` at its trust boundary: a real uvicorn process on 127.0.0.1 refuses what the
model cannot take (non-finite or overflowing numbers, booleans for numbers, unknown fields:
422 naming row and field; bodies or row counts over the limits set on its command line:
413), keeps the connection serving, and captures only what it answered."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assayml.data.credit import generate_credit
from tests.serve.conftest import start_serve

MAX_BODY, MAX_ROWS = 65_536, 50  # set on the command line: small, so the test is quick
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def limited(credit_project: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server with small limits, capturing into its own folder; one client whose single
    connection every request of the module shares (a reset would surface as an error)."""
    root = tmp_path_factory.mktemp("limits")
    process, url = start_serve(
        root,
        "--model",
        str(credit_project / "models"),
        "--max-body-bytes",
        str(MAX_BODY),
        "--max-rows",
        str(MAX_ROWS),
        "--capture",
        str(root / "captured"),
    )
    client = httpx.Client(base_url=url, headers=JSON, timeout=60)
    yield process, client, root / "captured"
    client.close()
    if process.poll() is None:
        process.kill()


def rows(count: int, seed: int = 0) -> list[dict]:
    frame = generate_credit(count, seed=seed).drop(columns="repaid")
    return json.loads(frame.to_json(orient="records"))


def with_literal(field: str, literal: str, row: int = 1) -> str:
    """A 3-row body whose row ``row`` has ``field`` set to a raw JSON(-ish) literal."""
    batch = rows(3)
    batch[row][field] = "@@"
    return json.dumps({"rows": batch}).replace('"@@"', literal)


def assert_still_serving(client: httpx.Client) -> None:
    answer = client.post("/predict", content=json.dumps({"rows": rows(2, seed=9)}))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 2


@pytest.mark.parametrize(
    ("field", "literal", "kind"),
    [
        ("loan_amount", "NaN", "finite_number"),
        ("loan_amount", "-Infinity", "finite_number"),
        ("loan_amount", "Infinity", "finite_number"),
        ("loan_amount", "1e400", "finite_number"),  # parses to inf
        ("loan_amount", '"nan"', "finite_number"),  # a string pydantic would read as NaN
        ("income", "NaN", "finite_number"),  # nullable: NaN is still not "missing"
        ("loan_amount", "1e308", "finite_number"),  # finite float64, inf as float32 input
        ("loan_amount", "true", "number_type"),
        ("age", "false", "number_type"),  # an int column
        ("late_payments", "1e300", "int_range"),  # beyond int64
    ],
)
def test_bad_numbers_get_422_naming_row_and_field(limited, field, literal, kind) -> None:
    _, client, _ = limited
    refused = client.post("/predict", content=with_literal(field, literal))
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]  # renders, though the input was NaN
    assert error["loc"] == ["body", "rows", 1, field] and error["type"] == kind
    if literal == "1e308":
        assert "overflows the model's float32 input" in error["msg"]
    assert_still_serving(client)


def test_unknown_top_level_field_and_bad_json_get_422(limited) -> None:
    _, client, _ = limited
    extra = client.post("/predict", content=json.dumps({"rows": rows(1), "debug": True}))
    assert extra.status_code == 422
    assert [e["loc"] for e in extra.json()["detail"]] == [["body", "debug"]]
    broken = client.post("/predict", content=b'{"rows": [')
    assert broken.status_code == 422 and broken.json()["detail"][0]["type"] == "json_invalid"
    assert client.post("/predict", content=b'{"rows": []}').status_code == 422
    nested = client.post("/predict", content=b"[" * 60_000)  # the parser's recursion limit
    assert nested.status_code == 422 and "nests too deeply" in nested.text
    assert_still_serving(client)


def padded(size: int) -> bytes:
    """A valid request body of exactly ``size`` bytes (JSON allows trailing spaces)."""
    body = json.dumps({"rows": rows(3)}).encode()
    return body + b" " * (size - len(body))


def chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """A generator body: httpx sends it chunked, with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_body_limit_declared_and_streamed(limited) -> None:
    _, client, _ = limited
    assert client.post("/predict", content=padded(MAX_BODY)).status_code == 200
    declared = client.post("/predict", content=padded(MAX_BODY + 1))
    assert declared.status_code == 413
    assert f"over the limit of {MAX_BODY} bytes" in declared.json()["detail"]
    assert "--max-body-bytes" in declared.json()["detail"]
    huge = client.post("/predict", content=b" " * (50 << 20))  # 50 MB, refused unread
    assert huge.status_code == 413
    assert_still_serving(client)
    streamed = client.post("/predict", content=chunks(padded(MAX_BODY + 1)))
    assert streamed.status_code == 413 and "--max-body-bytes" in streamed.json()["detail"]
    assert client.post("/predict", content=chunks(padded(MAX_BODY))).status_code == 200
    assert_still_serving(client)


def test_row_limit(limited) -> None:
    _, client, _ = limited
    small = [{"age": 30}] * (MAX_ROWS + 1)  # counted before any row is validated
    refused = client.post("/predict", content=json.dumps({"rows": small}))
    assert refused.status_code == 413
    assert f"{MAX_ROWS + 1} rows is over the limit of {MAX_ROWS}" in refused.json()["detail"]
    assert client.post("/predict", content=json.dumps({"rows": rows(MAX_ROWS)})).status_code == 200
    assert_still_serving(client)


def test_only_answered_rows_are_captured_and_no_request_failed(limited) -> None:
    """Runs last in the module: stops the server and reads what it captured."""
    process, client, captured = limited
    answered = client.post("/predict", content=json.dumps({"rows": rows(4, seed=3)}))
    ids = {p["capture_id"] for p in answered.json()["predictions"]}
    process.send_signal(signal.SIGINT)  # graceful: the capture is flushed
    assert process.wait(timeout=30) == 0
    log = process.stderr.read()
    assert "Traceback" not in log and "Exception in ASGI" not in log, log
    records = [json.loads(line) for f in captured.glob("capture-*.jsonl") for line in f.open()]
    assert ids <= {r["id"] for r in records}
    # Every captured input is a whole, finite row: nothing refused got in.
    loans = [r["inputs"]["loan_amount"] for r in records]
    assert loans and all(isinstance(v, float) and v < 1e300 for v in loans)
