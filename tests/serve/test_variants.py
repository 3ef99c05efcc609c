"""`assay serve --variant REF=WEIGHT ... --shadow REF` on a real uvicorn on 127.0.0.1, from a
registry holding two credit models (other seeds, other weights): keyless requests split in
the weights' proportions (within a binomial tolerance computed here), a key always lands on
the variant its SHA-256 names (recomputed here), each answer is the answering model's own
(checked against the model loaded in this process), per-variant metrics count exactly what
each variant answered, the shadow's captured predictions sit beside the live ones under the
same ids and equal that model's own, and a shadow that raises on every request never fails
one. Bad variant options exit 2 naming the option."""

from __future__ import annotations

import hashlib
import json
import math
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from assayml.data.credit import generate_credit
from assayml.serve.deployed import load_deployed
from assayml.serve.server import predict_rows
from tests.serve.conftest import assay, start_serve
from tests.serve.test_metrics import scrape, value
from tests.trust_helpers import plant_os_system, reseal

WEIGHTS = {"credit@production": 0.8, "credit@2": 0.2}
REQUESTS = 400  # keyless, one row each
FLOAT32 = {"rel": 1e-6, "abs": 1e-9}


def rows(count: int, seed: int) -> list[dict]:
    frame = generate_credit(count, seed=seed).drop(columns="repaid")
    return json.loads(frame.to_json(orient="records"))


def stop(process) -> None:
    process.send_signal(signal.SIGINT)  # graceful: the captures are flushed
    assert process.wait(timeout=60) == 0, process.stderr.read()


def expected(folder: Path, batch: list[dict]) -> list[dict]:
    """What the model in ``folder`` answers for ``batch``, computed in this process."""
    return predict_rows(load_deployed(str(folder)), batch, 0.5)


def assert_same(answer: dict, want: dict) -> None:
    assert answer["prediction"] == want["prediction"]
    assert answer["probability_1"] == pytest.approx(want["probability_1"], **FLOAT32)


def variant_args(registry: Path, *extra: str) -> list[str]:
    args = ["--registry", str(registry), *extra]
    for ref, weight in WEIGHTS.items():
        args += ["--variant", f"{ref}={weight * 10:g}"]  # 8 and 2: normalised by serve
    return args


@pytest.mark.slow
def test_weighted_sticky_routing_and_per_variant_metrics(
    two_versions, credit_project, second_model, tmp_path
) -> None:
    process, url = start_serve(tmp_path, *variant_args(two_versions))
    try:
        meta = httpx.get(f"{url}/metadata").json()
        assert [(v["name"], v["weight"], v["role"]) for v in meta["variants"]] == [
            ("credit@production", 0.8, "live"),
            ("credit@2", 0.2, "live"),
        ]
        assert [v["model"].split(":")[0] for v in meta["variants"]] == ["credit@1", "credit@2"]
        before = scrape(url)
        sent = [rows(1, seed) for seed in range(REQUESTS)]

        def post(batch: list[dict], key: str | None = None) -> dict:
            headers = {"X-Assay-Key": key} if key is not None else {}
            response = httpx.post(f"{url}/predict", json={"rows": batch}, headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            assert response.headers["X-Assay-Variant"] == body["variant"]
            return body

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(post, sent))
        counts = Counter(a["variant"] for a in answers)
        for name, weight in WEIGHTS.items():  # 4 standard deviations of a binomial count
            tolerance = 4 * math.sqrt(REQUESTS * weight * (1 - weight))
            assert abs(counts[name] - REQUESTS * weight) <= tolerance, counts

        folders = {"credit@production": credit_project / "models", "credit@2": second_model}
        for name, folder in folders.items():  # each answer is its own model's
            mine = [(b, a) for b, a in zip(sent, answers, strict=True) if a["variant"] == name]
            want = expected(folder, [b[0] for b, _ in mine])
            for (_, answer), row in zip(mine, want, strict=True):
                assert_same(answer["predictions"][0], row)
        after = scrape(url)
        for name in WEIGHTS:
            labels = {"handler": "/predict", "variant": name, "status": "200"}
            moved = value(after, "assay_requests_total", **labels) - value(
                before, "assay_requests_total", **labels
            )
            assert moved == counts[name]
            assert value(after, "assay_rows_scored_total", variant=name) == counts[name]

        keys = [f"customer-{i}" for i in range(40)]
        for key in keys:  # the same key, the same variant, every time
            landed = {post(rows(2, 0), key)["variant"] for _ in range(3)}
            assert landed == {_variant_of(key)}, key
    finally:
        process.kill()


def _variant_of(key: str) -> str:
    """The variant a key lands on, computed here: SHA-256's first 53 bits over 2**53
    against the cumulative weights (0.8, then 1.0)."""
    point = (int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") >> 11) / 2**53
    return "credit@production" if point < 0.8 else "credit@2"


@pytest.mark.slow
def test_shadow_is_captured_beside_the_live_answer_and_never_returned(
    two_versions, credit_project, second_model, tmp_path
) -> None:
    capture = tmp_path / "cap"
    args = ["--model", "credit@production", "--registry", str(two_versions)]
    process, url = start_serve(tmp_path, *args, "--shadow", "credit@2", "--capture", str(capture))
    sent = [rows(3, seed) for seed in range(30)]
    with httpx.Client(base_url=url, timeout=60) as http:
        answers = [http.post("/predict", json={"rows": batch}).json() for batch in sent]
    assert {a["variant"] for a in answers} == {"credit@production"}
    assert {a["model"].split(":")[0] for a in answers} == {"credit@1"}
    live_want = expected(credit_project / "models", [r for b in sent for r in b])
    for answer, want in zip([p for a in answers for p in a["predictions"]], live_want, strict=True):
        assert_same(answer, want)  # the live model's answer, not the shadow's
    shadow_rows = _wait_for(url, "assay_shadow_rows_total", 90, variant="credit@2")
    assert shadow_rows == 90
    stop(process)

    live = _records(capture)
    shadow = _records(capture / "shadow")
    assert len(live) == len(shadow) == 90
    assert {r["id"] for r in live} == {r["id"] for r in shadow}
    assert all(r["shadow"] is True and r["variant"] == "credit@2" for r in shadow)
    assert {r["model"].split(":")[0] for r in shadow} == {"credit@2"}
    assert all("shadow" not in r and r["variant"] == "credit@production" for r in live)
    by_id = {r["id"]: r for r in shadow}
    flat = [r for b in sent for r in b]
    ids = [p["capture_id"] for a in answers for p in a["predictions"]]
    shadow_want = expected(second_model, flat)
    for row, record_id, want in zip(flat, ids, shadow_want, strict=True):
        record = by_id[record_id]
        assert record["inputs"] == row
        assert_same(record["outputs"], want)  # what the shadow's model gives directly


@pytest.mark.slow
def test_a_shadow_that_raises_never_fails_a_request(credit_project, second_model, tmp_path) -> None:
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(second_model, broken)
    transform = json.loads((broken / "feature_transform.json").read_text())
    transform["numeric"][1]["scale"] = 1e-300  # income: every input overflows float32
    (broken / "feature_transform.json").write_text(json.dumps(transform))
    reseal(broken)
    with pytest.raises(Exception, match="overflows"):  # it raises, in this process too
        expected(broken, rows(1, 0))
    model = str(credit_project / "models")
    capture = tmp_path / "cap"
    process, url = start_serve(
        tmp_path, "--model", model, "--shadow", str(broken), "--capture", str(capture)
    )
    with httpx.Client(base_url=url, timeout=60) as http:
        statuses = [http.post("/predict", json={"rows": rows(2, s)}).status_code for s in range(25)]
    assert statuses == [200] * 25
    assert _wait_for(url, "assay_shadow_errors_total", 25, variant=str(broken)) == 25
    assert value(scrape(url), "assay_shadow_rows_total", variant=str(broken)) == 0
    stop(process)
    assert len(_records(capture)) == 50
    assert not list((capture / "shadow").glob("capture-*"))


def _wait_for(url: str, metric: str, target: float, **labels: str) -> float:
    """The metric once it reaches ``target`` (the shadow runs after the answers)."""
    import time

    deadline = time.monotonic() + 30
    while True:
        got = value(scrape(url), metric, **labels)
        if got >= target or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def _records(folder: Path) -> list[dict]:
    files = sorted(folder.glob("capture-*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--variant", "credit@1"], "--variant 'credit@1': give REF=WEIGHT"),
        (["--variant", "credit@1=heavy"], "the weight 'heavy'"),
        (["--variant", "credit@1=-1"], "the weight '-1'"),
        (["--variant", "credit@1=nan"], "the weight 'nan'"),
        (["--variant", "credit@1=0", "--variant", "credit@2=0"], "sum to 0"),
        (["--variant", "credit@1=1", "--variant", "credit@1=2"], "credit@1 is given twice"),
        (["--model", "credit@1", "--variant", "credit@2=1"], "not both"),
    ],
)
def test_bad_variant_options_exit_2_naming_them(tmp_path, args, named) -> None:
    done = assay(tmp_path, "serve", *args)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_unknown_references_exit_2_naming_the_option(two_versions, tmp_path) -> None:
    for args, named in (
        (["--variant", "credit@9=1"], "--variant credit@9: registry: credit has no version 9"),
        (
            ["--model", "credit@1", "--shadow", "nobody@1"],
            "--shadow nobody@1: registry: no model named 'nobody'",
        ),
    ):
        done = assay(tmp_path, "serve", "--registry", str(two_versions), *args)
        assert done.returncode == 2, done.stderr
        assert named in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_shadow_is_loaded_under_the_trust_rules(credit_project, tmp_path) -> None:
    hostile, marker = tmp_path / "hostile", tmp_path / "ran"
    import shutil

    shutil.copytree(credit_project / "models", hostile)
    plant_os_system(hostile, marker)
    model = str(credit_project / "models")
    done = assay(tmp_path, "serve", "--model", model, "--shadow", str(hostile))
    assert done.returncode == 2 and f"--shadow {hostile}" in done.stderr, done.stderr
    assert not marker.exists()
