"""Zero-drop swap: `assay serve --model credit@production` on a real uvicorn on 127.0.0.1,
under load from several client threads, while `assay registry promote` moves production to
another version. No request fails, each client's answers switch once from the old model to
the new one (never back), and every answer equals what the model it names gives for those
rows (computed in this process). The swap is also triggered by ``POST /admin/reload``
(refused without the admin token), and a promoted version that the trust rules refuse is
never loaded: the server keeps the model it has."""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import assay, start_serve
from tests.serve.test_metrics import scrape, value
from tests.serve.test_variants import assert_same, expected, rows
from tests.trust_helpers import forge_version, plant_os_system

CLIENTS = 6


class Load:
    """CLIENTS threads posting (2 rows each, their own rows) until stopped; every outcome
    kept: (client, rows index, status or the exception's name, response json)."""

    def __init__(self, url: str) -> None:
        self.url, self.stop = url, threading.Event()
        self.batches = [rows(2, seed) for seed in range(CLIENTS * 5)]
        self.outcomes: list[tuple[int, int, object, dict | None]] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(CLIENTS)
        self._futures = [self._pool.submit(self._client, k) for k in range(CLIENTS)]

    def _client(self, k: int) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            i = 0
            while not self.stop.is_set():
                index = k * 5 + i % 5
                try:
                    response = http.post("/predict", json={"rows": self.batches[index]})
                    outcome = (k, index, response.status_code, response.json())
                except httpx.HTTPError as err:
                    outcome = (k, index, type(err).__name__, None)
                with self._lock:
                    self.outcomes.append(outcome)
                i += 1

    def answered(self) -> int:
        with self._lock:
            return len(self.outcomes)

    def wait_until(self, done, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)

    def finish(self) -> list[tuple[int, int, object, dict | None]]:
        self.stop.set()
        for future in self._futures:
            future.result()
        self._pool.shutdown()
        return self.outcomes

    def latest_models(self) -> set[str]:
        with self._lock:
            last = {}
            for k, _, _, body in self.outcomes:
                last[k] = body["model"].split(":")[0] if body else None
            return set(last.values()) if len(last) == CLIENTS else set()


def check_switch(outcomes, load: Load, folders: dict[str, Path]) -> None:
    """No failure; each client's answers go from v1 to v2 once; each answer is its model's."""
    assert [o for o in outcomes if o[2] != 200] == []
    for k in range(CLIENTS):
        models = [body["model"].split(":")[0] for c, _, _, body in outcomes if c == k]
        switch = models.index("credit@2")
        assert set(models[:switch]) == {"credit@1"} and set(models[switch:]) == {"credit@2"}
    want = {
        (name, index): expected(folder, batch)
        for name, folder in folders.items()
        for index, batch in enumerate(load.batches)
    }
    for _, index, _, body in outcomes:
        name = body["model"].split(":")[0]
        for answer, row in zip(body["predictions"], want[name, index], strict=True):
            assert_same(answer, row)


@pytest.mark.slow
def test_promotion_swaps_the_model_under_load_without_a_failed_request(
    two_versions, credit_project, second_model, tmp_path
) -> None:
    args = ("--model", "credit@production", "--registry", str(two_versions))
    process, url = start_serve(tmp_path, *args, "--reload-interval", "0.5")
    load = Load(url)
    try:
        load.wait_until(lambda: load.answered() >= 60)
        promoted = assay(
            tmp_path, "registry", "--registry", str(two_versions), "promote", "credit", "2",
            "--stage", "production",
        )  # fmt: skip
        assert promoted.returncode == 0, promoted.stderr
        load.wait_until(lambda: load.latest_models() == {"credit@2"})
        count = load.answered()
        load.wait_until(lambda: load.answered() >= count + 60)  # and on, on the new model
    finally:
        outcomes = load.finish()
    folders = {"credit@1": credit_project / "models", "credit@2": second_model}
    check_switch(outcomes, load, folders)
    samples = scrape(url)
    labels = {"variant": "credit@production", "role": "live"}
    assert value(samples, "assay_model_swaps_total", **labels) == 1
    info = dict(next(labels for name, labels in samples if name == "assay_model_info"))
    assert info["version"] == "2" and info["lineage_id"].startswith("credit@2:")
    process.kill()


@pytest.mark.slow
def test_admin_reload_swaps_on_demand_and_needs_the_token(
    two_versions, credit_project, second_model, tmp_path
) -> None:
    args = ("--model", "credit@production", "--registry", str(two_versions))
    process, url = start_serve(tmp_path, *args, "--reload-interval", "0", "--admin-token", "s3")
    load = Load(url)
    try:
        load.wait_until(lambda: load.answered() >= 30)
        base = ("registry", "--registry", str(two_versions))
        assert (
            assay(tmp_path, *base, "promote", "credit", "2", "--stage", "production").returncode
            == 0
        )
        time.sleep(1)  # no polling: nothing moves by itself
        assert load.latest_models() == {"credit@1"}
        assert httpx.post(f"{url}/admin/reload").status_code == 403
        wrong = {"Authorization": "Bearer s4"}
        assert httpx.post(f"{url}/admin/reload", headers=wrong).status_code == 403
        right = {"Authorization": "Bearer s3"}
        done = httpx.post(f"{url}/admin/reload", headers=right, timeout=60)
        assert done.status_code == 200, done.text
        [variant] = done.json()["variants"]
        assert variant["swapped"] and variant["now"].startswith("credit@2:")
        load.wait_until(lambda: load.latest_models() == {"credit@2"})

        # a forged production version whose model names os.system: refused, never loaded
        hostile, marker = tmp_path / "hostile", tmp_path / "ran"
        shutil.copytree(credit_project / "models", hostile)
        plant_os_system(hostile, marker)
        forge_version(two_versions, "credit", hostile, version=3)
        refused = httpx.post(f"{url}/admin/reload", headers=right, timeout=60)
        assert refused.status_code == 409
        [variant] = refused.json()["variants"]
        assert variant["now"].startswith("credit@2:") and not variant["swapped"]
        assert "os.system" in variant["error"]
        count = load.answered()
        load.wait_until(lambda: load.answered() >= count + 30)
    finally:
        outcomes = load.finish()
    assert not marker.exists()
    check_switch(outcomes, load, {"credit@1": credit_project / "models", "credit@2": second_model})
    process.kill()
