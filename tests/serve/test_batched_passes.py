"""One shared pass for several requests, in process (the server's own function, a real
trained model): an MC-dropout model's answers do not depend on which requests share the
pass (its draws are made per request), bit for bit; and a request refused in a shared pass
fails alone while the others keep their answers."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from fastapi.exceptions import RequestValidationError

from assayml.config import compose, to_typed
from assayml.serve.deployed import load_deployed
from assayml.serve.server import answer_requests
from tests.conftest import REPO, TINY
from tests.stages.helpers import run_stages


@pytest.fixture(scope="module")
def mc_model(tmp_path_factory: pytest.TempPathFactory):
    """A tiny MC-dropout model (8 draws) and its test rows as JSON records."""
    root = tmp_path_factory.mktemp("mc")
    shutil.copytree(REPO / "conf", root / "conf")
    overrides = [*TINY, "uncertainty=mc_dropout", "uncertainty.samples=8"]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        run_stages(to_typed(compose(overrides, root / "conf")), ("prepare", "features", "train"))
    deployed = load_deployed(str(root / "models"))
    assert deployed.sampling.mc_samples == 8
    frame = pd.read_parquet(root / "data" / "prepared" / "test.parquet")
    return deployed, json.loads(frame[deployed.schema["inputs"]].to_json(orient="records"))


def test_mc_dropout_answers_do_not_depend_on_the_requests_sharing_the_pass(mc_model) -> None:
    deployed, rows = mc_model
    requests = [rows[i : i + 1 + i % 4] for i in range(0, 60, 5)]  # 1 to 4 rows each
    shared = answer_requests(deployed, requests, 0.5)
    alone = [answer_requests(deployed, [request], 0.5)[0] for request in requests]
    assert {s.requests for _, s in shared} == {len(requests)}  # one pass for all
    assert [records for records, _ in shared] == [records for records, _ in alone]
    assert any(r["mutual_information"] > 0 for records, _ in shared for r in records)


def test_a_refused_request_fails_alone_and_the_others_keep_their_answers(mc_model) -> None:
    deployed, rows = mc_model
    requests = [rows[i : i + 2] for i in range(0, 12, 2)]
    bad = [dict(rows[0]), {**rows[1], deployed.schema["inputs"][0]: 1e308}]
    answers = answer_requests(deployed, [*requests[:3], bad, *requests[3:]], 0.5)
    refused, shared = answers[3]
    assert isinstance(refused, RequestValidationError) and shared.retried
    assert [e["loc"] for e in refused.errors()] == [
        ("body", "rows", 1, deployed.schema["inputs"][0])
    ]
    others = answers[:3] + answers[4:]
    assert [records for records, _ in others] == [
        answer_requests(deployed, [request], 0.5)[0][0] for request in requests
    ]
    assert all(s.retried and s.requests == 1 for _, s in others)
