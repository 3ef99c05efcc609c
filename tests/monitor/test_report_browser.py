"""The monitoring report opened in headless Chromium: it renders without console errors or
network requests (self-contained), every feature's histogram is drawn, and a screenshot is
taken."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assayml.data.credit import generate_credit
from assayml.monitor.inputs import Current, load_baseline
from assayml.monitor.run import monitor, write_outputs
from assayml.serve.deployed import load_deployed


def chromium_path() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)


@pytest.mark.skipif(chromium_path() is None, reason="no Chromium on this machine")
def test_report_renders_in_chromium(credit_project: Path, tmp_path, monkeypatch) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.chdir(credit_project)
    frame = generate_credit(500, seed=21)
    frame["income"] *= 1.5
    current = Current(frame, None, None, "shifted.csv")
    baseline = load_baseline("monitoring")
    report = monitor(current, baseline, load_deployed())
    write_outputs(report, baseline, current, tmp_path / "monitor")
    page_path = tmp_path / "monitor" / "report.html"
    errors, requests = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--headless", "--disable-gpu"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        drawn = page.evaluate(
            "[...document.querySelectorAll('.features svg')].map(s => [s.getAttribute("
            "'aria-label'), s.getBoundingClientRect().width, s.querySelectorAll('rect').length])"
        )
        text = page.inner_text("body")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    names = {f["name"] for f in baseline.statistics["features"]}
    assert {label for label, _, _ in drawn} == names
    assert all(width > 0 and bars >= 2 for _, width, bars in drawn)  # baseline and current
    assert "income" in text and "baseline_drift_check" in text and "retrain" in text
    assert "model quality (accuracy)" in text and "bias group=B.DPPL" in text
    assert (tmp_path / "report.png").stat().st_size > 20_000
    assert json.loads((tmp_path / "monitor" / "violations.json").read_text())["violations"]


@pytest.mark.skipif(chromium_path() is None, reason="no Chromium on this machine")
def test_execution_report_with_trends_renders(credit_project: Path, tmp_path) -> None:
    """An execution's page lists the executions (links to the earlier ones' pages) and
    draws one trend per statistic; every image decodes and nothing is fetched."""
    import os

    from assayml.monitor.executions import execute
    from tests.monitor.watch_helpers import capture, fresh, make_watch, shifted

    playwright = pytest.importorskip("playwright.sync_api")
    home = os.getcwd()
    try:
        watch = make_watch(credit_project, tmp_path, settle_s=0)
        lines = []
        for seed, frame in ((51, fresh(300, 51)), (52, fresh(300, 52)), (53, shifted(300, 53))):
            capture(watch.folder, frame, watch.deployed)
            lines.append(execute(watch))
            assert lines[-1] is not None, seed
    finally:
        os.chdir(home)
    errors, requests = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--headless", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto((watch.out / lines[-1]["execution"] / "report.html").as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "[...document.images].map(i => [i.alt, i.complete && i.naturalWidth > 0])"
        )
        links = page.evaluate("[...document.links].map(a => a.href)")
        plots = page.evaluate(
            "[...document.querySelectorAll('svg[aria-label$=\" trend\"]')].map(s => ["
            "s.getAttribute('aria-label'), "
            "s.getBoundingClientRect().width, s.querySelectorAll('circle').length])"
        )
        text = page.inner_text("body")
        page.screenshot(path=str(tmp_path / "trends.png"), full_page=True)
        browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert images == []  # every figure is inline SVG
    assert {label for label, _, _ in plots} == {f"{n} trend" for n in lines[-1]["statistics"]}
    assert all(width == 240 and 1 <= dots <= 3 for _, width, dots in plots)
    assert [Path(u).parent.name for u in links] == [lines[1]["execution"], lines[0]["execution"]]
    assert "Executions (last 3)" in text and "drift:income" in text
