"""The web page in a real headless Chromium (Debian's, driven by Playwright): ask, watch the answer
stream in, open a citation's passage. Saves a screenshot to tests/artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_api import server  # noqa: F401 - the uvicorn fixture

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"


def test_ask_stream_and_open_a_citation(server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: .ci/run installs it with apt-get (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(server)
        page.fill("#question", "How does SPECTER use citations?")
        page.click("#send")
        answer = page.locator(".msg.assistant").last
        expect(page.locator(".status", has_text="answered by")).to_be_visible(timeout=120_000)
        expect(answer.locator("a.cite").first).to_be_visible()
        answer.locator("a.cite").first.click()
        card = page.locator("#passage-card")
        expect(card).to_be_visible()
        expect(card.locator(".quote")).not_to_be_empty()
        assert "SPECTER" in card.inner_text() or "page" in card.inner_text()
        page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)
        expect(page.locator(".conv")).not_to_have_count(0)
        browser.close()
    assert (ARTIFACTS / "web-page.png").stat().st_size > 10_000
