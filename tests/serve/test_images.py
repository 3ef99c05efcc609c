"""Predict and serve a user's LightningModule trained on PNG images: a folder or a file to
`assay predict`, a PNG body to a real `assay serve` on 127.0.0.1."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import torch

from tests import cli_fork
from tests.conftest import cli_env
from tests.serve.conftest import start_serve

ASSAY = [sys.executable, "-m", "assayml.cli.main"]


def assay(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [*ASSAY, *args], cwd=cwd, capture_output=True, text=True, env=cli_env(), timeout=300
    )


def expected(project: Path, files: list[Path]) -> np.ndarray:
    """The module's own class probabilities for ``files``, computed here."""
    from assayml.examples.digits_folder import read_image_folder
    from assayml.models.artifact import load_model

    module, _ = load_model(project / "models")
    images, _ = read_image_folder(project / "data/raw/digits_png")
    every = sorted((project / "data/raw/digits_png").glob("*/*.png"))
    index = [every.index(f) for f in files]
    with torch.no_grad():
        return torch.softmax(module(images[index]).double(), dim=1).numpy()


@pytest.mark.slow
def test_predict_a_folder_of_pngs(digits_project: Path, tmp_path: Path) -> None:
    folder = digits_project / "data/raw/digits_png/7"
    out = tmp_path / "predictions.csv"
    result = assay(digits_project, "predict", str(folder), str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    files = sorted(folder.glob("*.png"))
    assert table["file"].tolist() == [str(f) for f in files]
    probabilities = table[[f"probability_{c}" for c in range(10)]].to_numpy()
    np.testing.assert_allclose(probabilities, expected(digits_project, files), atol=1e-6)
    assert (table["prediction"] == probabilities.argmax(axis=1)).all()


@pytest.mark.slow
def test_predict_refuses_an_image_of_the_wrong_size(digits_project: Path, tmp_path) -> None:
    from PIL import Image

    png = tmp_path / "big.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(png)
    result = assay(digits_project, "predict", str(png), str(tmp_path / "out.csv"))
    assert result.returncode == 2
    assert "16x16 pixels; the model takes 8x8" in result.stderr
    table = tmp_path / "rows.csv"
    table.write_text("a\n1\n")
    result = assay(digits_project, "predict", str(table), str(tmp_path / "out.csv"))
    assert result.returncode == 2 and "takes PNG images" in result.stderr


@pytest.fixture
def image_server(digits_project: Path, tmp_path: Path):
    process, url = start_serve(digits_project, "--capture", str(tmp_path / "captured"))
    yield url
    process.kill()


def test_serve_answers_a_png_upload(digits_project: Path, image_server: str) -> None:
    png = sorted((digits_project / "data/raw/digits_png/4").glob("*.png"))[0]
    answer = httpx.post(
        f"{image_server}/predict",
        content=png.read_bytes(),
        headers={"Content-Type": "image/png"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    record = answer.json()["predictions"][0]
    probabilities = [record[f"probability_{c}"] for c in range(10)]
    np.testing.assert_allclose(probabilities, expected(digits_project, [png])[0], atol=1e-6)
    assert record["capture_id"]
    meta = httpx.get(f"{image_server}/metadata", timeout=30).json()
    assert meta["inputs"]["image"] == [1, 8, 8]
    wrong_kind = httpx.post(f"{image_server}/predict", json={"rows": []}, timeout=30)
    assert wrong_kind.status_code == 415
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(buffer, format="PNG")
    wrong_size = httpx.post(
        f"{image_server}/predict",
        content=buffer.getvalue(),
        headers={"Content-Type": "image/png"},
        timeout=30,
    )
    assert wrong_size.status_code == 422 and "5x5 pixels" in wrong_size.text
    garbage = httpx.post(
        f"{image_server}/predict", content=b"not a png", headers={"Content-Type": "image/png"}
    )
    assert garbage.status_code == 422
    from tests.serve.test_metrics import scrape, value

    samples = scrape(image_server)  # one answered, three refused, all by the one variant
    predict = {"handler": "/predict", "variant": "models"}
    assert value(samples, "assay_requests_total", **predict, status="200") == 1
    assert value(samples, "assay_request_errors_total", **predict, status="422") == 2
    assert value(samples, "assay_request_errors_total", **predict, status="415") == 1
    assert value(samples, "assay_rows_scored_total", variant="models") == 1
    assert value(samples, "assay_capture_queue_records", role="live") == 1
