"""The web page in a real headless Chromium (Debian's, driven by Playwright): ask, watch the answer
stream in, open a citation's passage. Saves a screenshot to tests/artifacts/."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import bibtexparser
import pytest

from api.app import create_app
from retrieval.embeddings import Embedder
from tests.conftest import PAPERS, ROOT, make_runtime, running_server
from tests.test_api import server  # noqa: F401 - the uvicorn fixture

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def web_page(url: str) -> Iterator[Page]:
    """The web page opened in Debian's Chromium at a desktop size; the browser closes after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        yield page
        browser.close()


def test_ask_stream_and_open_a_citation(server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: .ci/run installs it with apt-get (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with web_page(server) as page:
        page.fill("#question", "How does SPECTER use citations?")
        page.click("#send")
        answer = page.locator(".msg.assistant").last
        expect(page.locator(".status", has_text="answered by")).to_be_visible(timeout=120_000)
        expect(answer.locator("a.cite").first).to_be_visible()
        answer.locator("a.cite").first.click()
        card = page.locator("#passage-card")
        expect(card).to_be_visible()
        expect(card.locator(".quote:not(.also)")).not_to_be_empty()
        assert "SPECTER" in card.inner_text() or "page" in card.inner_text()
        picture = card.locator("img.page-image").first  # the cited page, drawn with the quote highlighted
        expect(picture).to_be_visible(timeout=30_000)
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
        cited_page = int(picture.get_attribute("data-page") or 0)
        _highlight_covers_the_quote(server, card.locator(".quote:not(.also)").inner_text(), cited_page)
        page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)
        picture.click()  # enlarged, as a researcher reads it
        page.screenshot(path=str(ARTIFACTS / "cited-page.png"))
        picture.click()
        # the passage's other cited sentence is shown on its own page too, highlighted, at a click
        also = card.locator(".quote.also").first
        expect(also).not_to_be_empty()
        card.locator(".quote.also + a.show-quote").first.click()
        picture = card.locator("img.page-image").first
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
        _highlight_covers_the_quote(server, also.inner_text(), int(picture.get_attribute("data-page") or 0))
        expect(page.locator(".conv")).not_to_have_count(0)
        with page.expect_download() as download:  # the cited papers, as a BibTeX file to save
            page.click("#export")
        saved = download.value
        assert saved.suggested_filename.endswith("-references.bib")
        entries = bibtexparser.parse_string(Path(saved.path()).read_text()).entries
        assert "SPECTER" in " ".join(entry["title"] for entry in entries)
        expect(page.locator("#export-status")).to_have_text(f"Saved {saved.suggested_filename}")
    assert (ARTIFACTS / "web-page.png").stat().st_size > 10_000


def _highlight_covers_the_quote(url: str, quote: str, page: int) -> None:
    """The boxes the server highlights overlap where PyMuPDF finds the quote's first words printed."""
    import httpx
    import pymupdf

    papers = httpx.get(f"{url}/v1/papers").json()["papers"]
    views = [httpx.get(f"{url}/v1/papers/{p['paper_id']}/quote", params={"text": quote}).json() for p in papers]
    view = next(v for v in views if v.get("passage"))
    assert view["highlight"]["found"] and view["highlight"]["images"][0]["page"] == page
    boxes = [box for image in view["highlight"]["images"] if image["page"] == page for box in image["boxes"]]
    path = next(p for p in sorted(PAPERS.glob("*.pdf"))
                if httpx.get(f"{url}/v1/papers/{view['paper_id']}/pdf").content == p.read_bytes())
    with pymupdf.open(path) as document:
        printed = document[page - 1].search_for(" ".join(quote.split()[:3]))
    assert printed, "the quote's first words are printed on the cited page"
    assert any(box[0] < word.x1 and word.x0 < box[2] and box[1] < word.y1 and word.y0 < box[3]
               for box in boxes for word in printed)


def test_hostile_library_text_never_runs_as_script(tmp_path: Path, embedder: Embedder) -> None:
    """Titles, ids, sections and passage text written to attack the page are shown as text: no script
    runs while the library is listed, a question cites the hostile record, and its citation is opened."""
    from playwright.sync_api import expect, sync_playwright

    payload = '"><img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    records = tmp_path / "hostile.jsonl"
    records.write_text(json.dumps({
        "paper_id": f"x1{payload}", "metadata": {"title": f"Axolotl limb regeneration {payload}"},
        "body_text": [{"section": f"Results {payload}", "text": "Axolotl limb regeneration requires nerve "
                       f"signals {payload} from the wound epidermis to form a blastema."}]}) + "\n")
    runtime = make_runtime(tmp_path / "home", embedder)
    assert runtime.ingestor.ingest_paths([records])[0].status == "added"
    with running_server(create_app(runtime=runtime)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url)
        page.click("#tab-library")
        expect(page.locator("#papers tr")).to_have_count(1)
        assert payload in page.locator("#papers").inner_text()
        page.click("#tab-chat")
        page.fill("#question", "What does axolotl limb regeneration require?")
        page.click("#send")
        expect(page.locator(".status", has_text="answered by")).to_be_visible(timeout=120_000)
        page.locator(".msg.assistant a.cite").first.click()
        expect(page.locator("#passage-card")).to_contain_text("Results")
        expect(page.locator("#passage-card mark")).to_contain_text("Axolotl")  # no PDF: the passage, quote marked
        page.click("#tab-map")
        expect(page.locator("#map circle.map-paper")).to_have_count(1)
        assert payload in (page.locator("#map circle title").text_content() or "")
        assert page.evaluate("window.__xss") is None and dialogs == []
        assert page.locator("#papers img, #messages img, #passage img, script:not([src])").count() == 0
        browser.close()


def test_map_tab_draws_every_paper_and_a_click_opens_it(server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    with web_page(server) as page:
        page.click("#tab-map")
        points = page.locator("#map circle.map-paper")
        expect(points).to_have_count(3)
        expect(page.locator("#map text.map-label")).not_to_have_count(0)
        expect(page.locator("#map line.map-link")).not_to_have_count(0)  # the two papers citing the third
        expect(page.locator("#map-status")).to_contain_text("3 papers")
        before = page.locator("#map svg").get_attribute("viewBox")
        page.mouse.move(700, 500)
        page.mouse.wheel(0, -400)
        expect(page.locator("#map svg")).not_to_have_attribute("viewBox", before or "")
        page.screenshot(path=str(ARTIFACTS / "library-map.png"))
        title = points.first.locator("title").text_content() or ""
        points.first.click(force=True)
        expect(page.locator("#paper-view")).to_contain_text(title.rsplit(" (", 1)[0])
        expect(page.locator("#library-view")).to_be_visible()


def test_library_shows_references_and_citing_papers(server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    with web_page(server) as page:
        page.click("#tab-library")
        expect(page.locator("#library-count")).to_have_text("3 papers")
        page.click("#library-table th[data-sort=cited_by]")  # most cited first
        expect(page.locator("#papers tr").first).to_contain_text("Construction of the Literature Graph")
        assert page.locator("#papers tr").first.locator("td.number").all_inner_texts()[-1] == "2"
        page.screenshot(path=str(ARTIFACTS / "library-table.png"))
        page.fill("#library-filter", "s2orc")
        expect(page.locator("#papers tr")).to_have_count(1)
        page.fill("#library-filter", "")
        expect(page.locator("#papers tr")).to_have_count(3)
        page.locator("#papers tr button.link", has_text="Construction of the Literature Graph").click()
        view = page.locator("#paper-view")
        expect(view.locator("h4", has_text="Cited by 2 library papers")).to_be_visible()
        expect(view.locator("ol.contents")).to_contain_text("Introduction")
        expect(view).to_contain_text("SPECTER")
        view.locator("li button.link", has_text="SPECTER").click()  # open a citing paper's own view
        expect(view.locator("h4", has_text="1 in your library")).to_be_visible()
        expect(view.locator("li", has_text="Construction of the literature graph")).to_contain_text("in library")


def test_hypothesize_shows_the_open_questions_the_papers_state(server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    with web_page(server) as page:
        page.select_option("#mode", "hypothesize")
        page.fill("#question", "citation-informed document embeddings")
        page.click("#send")
        expect(page.locator(".status", has_text="answered by")).to_be_visible(timeout=120_000)
        card = page.locator("#hypotheses .open-questions")
        expect(card.locator("h4")).to_have_text("Open questions in your library (stated by the papers' authors)")
        expect(card).to_contain_text("(future work)")
        card.locator("a.cite").first.click()
        expect(page.locator("#passage-card")).to_contain_text("Future Work")


def test_check_a_claim_shows_the_verdict_and_opens_a_quote(server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    with web_page(server) as page:
        page.select_option("#mode", "check")
        page.fill("#question", "S2ORC is a corpus of 81.1M English-language academic papers spanning many "
                               "academic disciplines")
        page.click("#send")
        card = page.locator(".msg.check")
        expect(card.locator("h4")).to_have_text("Verdict: supported", timeout=120_000)
        expect(card.locator(".paper-stance.supports")).to_contain_text("S2ORC")
        card.locator("a.cite").first.click()
        expect(page.locator("#passage-card")).to_contain_text("81.1M")
        expect(page.locator("#passage-card")).to_contain_text("page 1")
        page.screenshot(path=str(ARTIFACTS / "check-a-claim.png"), full_page=True)
        # reading arXiv first is asked for by the box beside the mode; this server has arXiv off and says so
        page.check("#check-arxiv")
        page.fill("#question", "S2ORC is a corpus of academic papers")
        page.click("#send")
        expect(page.locator(".msg.assistant").last).to_contain_text("SCISYNTH_USE_ARXIV=false", timeout=60_000)
        expect(page.locator("#messages > .status")).to_have_count(0)  # the "reading arXiv" status is gone
        page.select_option("#mode", "contradictions")
        expect(page.locator("#check-arxiv-label")).to_be_hidden()
        page.fill("#question", "scientific paper corpora and citation graphs")
        page.click("#send")
        expect(page.locator(".msg.contradictions .status")).to_contain_text("pairs compared", timeout=120_000)


def test_tables_tab_builds_a_table_opens_a_cell_and_downloads_it(server: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    with web_page(server) as page:
        page.click("#tab-tables")
        page.fill("#table-query", "citation-informed document embeddings")
        page.fill("#table-n", "3")
        page.select_option("#table-preset", "ml")
        page.fill("#table-columns", "How many papers are in the corpus?\nWhich metric is reported?")
        page.click("#table-build")
        expect(page.locator("#table-status")).to_have_text("3 papers", timeout=120_000)
        expect(page.locator("#table-grid tbody tr")).to_have_count(3)
        expect(page.locator("#table-grid thead th")).to_have_count(8)  # the papers, 5 preset columns and 2 asked
        expect(page.locator("#table-grid tbody th .venue").filter(has_text="Cohan et al. 2020")).to_have_count(1)
        unread = page.locator("#table-grid td.not-reported").first  # the Task column: no value pattern, no model
        expect(unread).to_have_text("not read (needs a model)")
        unread.click()
        expect(page.locator("#table-cell")).to_contain_text("a configured model reads it")
        cell = page.locator("#table-grid td.reported").first
        cell.click()
        quote = page.locator("#table-cell .quote")
        expect(quote).not_to_be_empty()
        page.locator("#table-cell summary").click()
        expect(page.locator("#table-cell mark")).to_have_text(quote.inner_text())  # the quote, marked in its passage
        page.screenshot(path=str(ARTIFACTS / "evidence-table.png"), full_page=True)
        page.select_option("#table-format", "csv")
        with page.expect_download() as download:
            page.click("#table-save")
        saved = download.value
        assert saved.suggested_filename.startswith("table-") and saved.suggested_filename.endswith(".csv")
        assert Path(saved.path()).read_text().startswith("paper_id,title,year,byline,Task,Task: quote")
        page.check("#table-arxiv")  # reading arXiv's papers first: this server has arXiv off and says so
        page.click("#table-build")
        expect(page.locator("#table-status")).to_contain_text("SCISYNTH_USE_ARXIV=false", timeout=60_000)
