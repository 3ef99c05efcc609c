"""`assay report`: one self-contained page for the workspace, a run and a registry version,
each section present when its stage ran; opened in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assayml.data.credit import generate_credit
from tests import cli_fork
from tests.conftest import CREDIT, REPO, TINY, cli_env
from tests.monitor.test_report_browser import chromium_path


def assay(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [sys.executable, "-m", "assayml.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**cli_env(), "ASSAY_USER": "tester"},
        timeout=900,
    )


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project run end to end, monitored once, registered, approved; then reported."""
    root = tmp_path_factory.mktemp("report")
    shutil.copytree(REPO / "conf", root / "conf")
    shifted = generate_credit(400, seed=5)
    shifted["income"] *= 2
    shifted.to_csv(root / "new.csv", index=False)
    steps = (
        ("run", *TINY, *CREDIT),
        ("monitor", "new.csv"),
        ("registry", "register", "models", "--name", "credit"),
        ("registry", "approve", "credit", "1", "--reason", "validated"),
        ("report",),
        ("report", "credit@1"),
    )
    for step in steps:
        result = assay(root, *step)
        assert result.returncode in (0, 3), (step, result.stderr)  # monitor: 3 = drift found
    return root


def text_of(page: Path) -> str:
    return page.read_text(encoding="utf-8")


@pytest.mark.slow
def test_workspace_report_has_every_section(reported: Path) -> None:
    page = text_of(reported / "reports" / "report.html")
    for section in (
        'id="config"',
        'id="data"',
        'id="metrics"',
        'id="uncertainty"',
        'id="explain"',
        'id="bias"',
        'id="lineage"',
        'id="audit"',
        'id="monitor"',
    ):
        assert section in page, section
    assert "n_rows: 2000" in page  # the config, as YAML
    assert "stage.train" in page and "monitor.run" in page and "hash chain intact" in page
    assert "baseline_drift_check" in page and "income" in page  # the monitor's violation
    assert "group=B vs A" in page  # bias per group against the reference
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_registry_version_report_is_built_from_what_the_registry_stored(reported: Path) -> None:
    shutil.rmtree(reported / "plots")  # the run's own files are not needed any more
    page = text_of(reported / "reports" / "report-credit-v1.html")
    assert "Model credit@1" in page and "Approved" in page and "validated" in page
    assert 'id="uncertainty"' in page and 'id="explain"' in page and 'id="lineage"' in page
    assert "registry.approve" in page
    # evaluate.figures and explain.figures=data (the defaults): the report draws the
    # figures from the JSON the version stored
    for label in ("ROC", "Confusion matrix", "Reliability", "Uncertainty", "Accuracy vs coverage"):
        assert f"aria-label='{label}'" in page, label
    assert "aria-label='global importance: mean |SHAP|'" in page and "PDP and ICE" in page
    result = assay(reported, "report", "credit@1", "--out", "again.html")
    assert result.returncode == 0, result.stderr
    assert "aria-label='Reliability'" in text_of(reported / "again.html")


def test_a_run_shows_only_the_sections_of_the_stages_it_ran(tmp_path: Path) -> None:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    assert assay(tmp_path, "prepare").returncode == 0
    runs = list((tmp_path / ".assay" / "runs").iterdir())
    result = assay(tmp_path, "report", runs[0].name)
    assert result.returncode == 0, result.stderr
    page = text_of(runs[0] / "report.html")
    assert 'id="data"' in page and 'id="config"' in page and 'id="audit"' in page
    for absent in ('id="metrics"', 'id="explain"', 'id="lineage"', 'id="monitor"'):
        assert absent not in page, absent


def test_unknown_refs_are_bad_input(reported: Path) -> None:
    for ref in ("nosuchrun", "credit@9", "other@1"):
        result = assay(reported, "report", ref)
        assert result.returncode == 2 and "error" in result.stderr, ref


@pytest.mark.skipif(chromium_path() is None, reason="no Chromium on this machine")
def test_report_opens_in_chromium_with_every_image_loaded(reported: Path, tmp_path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    errors, requests = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--headless", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto((reported / "reports" / "report.html").as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate("[...document.images].map(i => [i.alt, i.naturalWidth])")
        headings = page.evaluate("[...document.querySelectorAll('h2')].map(h => h.innerText)")
        drawn = page.evaluate(
            "[...document.querySelectorAll('svg[aria-label]')]"
            ".map(s => [s.getAttribute('aria-label'), s.getBoundingClientRect().width])"
        )
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert all(width > 0 for _, width in images)
    # evaluate.figures and explain.figures=data (the defaults): the figures are inline SVG
    svgs = dict(drawn)
    assert svgs["global importance: mean |SHAP|"] > 0 and svgs["row 0: kernel_shap"] > 0
    assert svgs["ROC"] > 0 and svgs["Confusion matrix"] > 0 and svgs["Reliability"] > 0
    assert "Calibration and uncertainty" in headings and "Monitoring" in headings
    assert (tmp_path / "report.png").stat().st_size > 50_000
