"""The router and the variant options, in process: weights normalised, keyless draws split
in the weights' proportions (binomial tolerance), a zero weight never chosen, a key's
variant recomputed here from its SHA-256; and the capture writer's extra fields and given
ids (what a shadow's records use)."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path

import pytest

from assayml.errors import BadInputError
from assayml.serve.capture import CaptureWriter
from assayml.serve.routing import Router, key_point, parse_variants


def test_weights_are_normalised_in_the_order_given() -> None:
    specs = parse_variants(["churn@3=9", "churn@4=1", "models/other=0"])
    assert [(s.ref, s.weight) for s in specs] == [
        ("churn@3", 0.9),
        ("churn@4", 0.1),
        ("models/other", 0.0),
    ]
    assert parse_variants(["a=b=0.5"])[0].ref == "a=b"  # the last "=" splits


@pytest.mark.parametrize("text", ["churn@3", "=1", "churn@3=", "churn@3=inf", "churn@3=-0.1"])
def test_a_bad_variant_is_refused_naming_it(text: str) -> None:
    with pytest.raises(BadInputError, match=f"--variant {text!r}"):
        parse_variants([text])


def test_keyless_draws_follow_the_weights() -> None:
    weights, draws = [0.6, 0.0, 0.3, 0.1], 20_000
    router = Router(weights, seed=3)
    counts = Counter(router.pick() for _ in range(draws))
    assert counts[1] == 0
    for index, weight in enumerate(weights):
        sigma = math.sqrt(draws * weight * (1 - weight))
        assert abs(counts[index] - draws * weight) <= 4 * sigma + 1e-9


def test_the_same_seed_routes_the_same_sequence() -> None:
    first, second = Router([0.5, 0.5], seed=9), Router([0.5, 0.5], seed=9)
    assert [first.pick() for _ in range(200)] == [second.pick() for _ in range(200)]


def test_a_key_lands_where_its_hash_says() -> None:
    router = Router([0.25, 0.75])
    for i in range(500):
        key = f"user-{i}"
        digest = hashlib.sha256(key.encode()).hexdigest()
        point = int(digest[:16], 16) // 2**11 / 2**53  # 53 bits of the first 8 bytes
        assert key_point(key) == point
        assert router.pick(key) == (0 if point < 0.25 else 1)
        assert router.pick(key) == router.pick(key)


def test_capture_extra_fields_and_given_ids(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path, sample_rate=0.0, flush_every=1)
    given = writer.capture([{"x": 1}], [{"prediction": 0}], "m@1:abc", {"shadow": True}, ["id-7"])
    assert given == ["id-7"]  # given ids are kept whatever the sampling
    assert writer.capture([{"x": 2}], [{"prediction": 1}], "m@1:abc") == [None]  # sampled out
    writer.close()
    [path] = tmp_path.glob("capture-*.jsonl")
    [record] = [json.loads(line) for line in path.read_text().splitlines()]
    assert record["id"] == "id-7" and record["shadow"] is True and record["inputs"] == {"x": 1}
    assert (writer.captured, writer.files, writer.pending) == (1, 1, 0)
