"""Seeing the evidence: a quote in its passage, the cited PDF page drawn with the quote highlighted (in process for
the operator's files, in a bounded child for uploads), the stored PDF, and what is said when there is no page to
show. Over HTTP on the shared PDFs and on the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pymupdf
from fastapi.testclient import TestClient

from agent.runtime import Runtime
from api.app import create_app
from api.page_links import page_link
from retrieval.embeddings import Embedder
from tests.conftest import PAPERS, make_runtime
from tests.test_claim_check import _trials
from tests.test_cli import scisynth

SPECTER_QUOTE = "SPECTER requires only the title and abstract of the given input paper"


def _specter(client: TestClient) -> str:
    papers = client.get("/v1/papers").json()["papers"]
    return next(p["paper_id"] for p in papers if p["title"].startswith("SPECTER"))


def test_a_quote_opens_on_its_page_highlighted(library: Runtime) -> None:
    with TestClient(create_app(runtime=library)) as client:
        paper = _specter(client)
        view = client.get(f"/v1/papers/{paper}/quote", params={"text": SPECTER_QUOTE}).json()
        assert view["passage"]["text"][view["passage"]["start"]:view["passage"]["end"]] == SPECTER_QUOTE
        assert view["page"] == view["passage"]["page"] == 3 and view["page_count"] == 13
        highlight = view["highlight"]
        assert highlight["found"] and highlight["coverage"] == 1.0
        image = highlight["images"][0]
        with pymupdf.open(next(PAPERS.glob("acl_2020.acl-main.207.pdf"))) as document:
            printed = document[2].search_for("requires only the title")
        assert printed and any(box[0] < word.x1 and word.x0 < box[2] and box[1] < word.y1 and word.y0 < box[3]
                               for box in image["boxes"] for word in printed)
        assert len(image["url"]) < 200  # the drawn page by its key, however long the quote
        picture = client.get(image["url"])
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
        assert picture.headers["x-quote-found"] == "yes" and picture.content.startswith(b"\x89PNG")
        same = client.get(f"/v1/papers/{paper}/pages/3.png", params={"quote": f"  {SPECTER_QUOTE}. "})
        assert same.content == picture.content  # spacing and punctuation do not make another picture
        assert client.get(image["url"].replace("/pages/3.png", "/pages/4.png")).status_code == 404
        cached = list((library.settings.storage.cache_dir / "pages").glob("*.png"))
        assert cached, "the page drawn for the quote is kept for the picture request"
        plain = client.get(f"/v1/papers/{paper}/pages/1.png", params={"zoom": 0.5})
        assert plain.headers["x-quote-found"] == "none" and len(plain.content) < len(picture.content)
        pdf = client.get(view["pdf_url"])
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-disposition"].startswith("inline")


def test_what_is_said_when_there_is_nothing_to_draw(library: Runtime) -> None:
    with TestClient(create_app(runtime=library)) as client:
        paper = _specter(client)
        missing = client.get(f"/v1/papers/{paper}/pages/99.png")
        assert missing.status_code == 404
        assert missing.json()["detail"] == "page 99 is not in this paper: it has 13 pages"
        assert client.get(f"/v1/papers/{paper}/pages/1.png", params={"zoom": 40}).status_code == 422
        assert client.get("/v1/papers/no-such-paper/pages/1.png").status_code == 404
        elsewhere = client.get(f"/v1/papers/{paper}/quote", params={"text": "Protein folding in yeast is slow.",
                                                                     "page": 2}).json()
        assert elsewhere["passage"] is None and not elsewhere["highlight"]["found"]
        assert elsewhere["highlight"]["images"][0]["boxes"] == []  # the page is shown, nothing highlighted
        assert client.get(f"/v1/papers/{paper}/quote", params={"text": "x" * 3001}).status_code == 422
        far = client.get(f"/v1/papers/{paper}/pages/1.png", params={"quote": "x", "from": 999})
        assert far.status_code == 404 and "from its page or the page before" in far.json()["detail"]
        unknown = client.get(f"/v1/papers/{paper}/pages/1.png", params={"drawn": "0" * 64})
        assert unknown.status_code == 404 and "no longer kept" in unknown.json()["detail"]
        beyond = client.get(f"/v1/papers/{paper}/quote", params={"text": SPECTER_QUOTE, "page": 99}).json()
        assert beyond["passage"] is not None and beyond["highlight"] is None  # the passage stands
        assert beyond["note"] == "page 99 is not in this paper: it has 13 pages"


def test_papers_without_a_pdf_show_the_passage_and_uploads_are_drawn_in_a_bounded_child(
        tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path / "home", embedder)
    uploads = runtime.settings.storage.papers_dir / "uploads"
    uploads.mkdir(parents=True)
    upload = uploads / "upload.pdf"
    shutil.copy(PAPERS / "acl_N18-3011.pdf", upload)
    moved = tmp_path / "moved.pdf"
    shutil.copy(PAPERS / "acl_2020.acl-main.447.pdf", moved)
    runtime.ingestor.ingest_paths([_trials(tmp_path), upload, moved])
    with TestClient(create_app(runtime=runtime)) as client:
        papers = {p["title"][:12]: p["paper_id"] for p in client.get("/v1/papers").json()["papers"]}
        trial = client.get("/v1/papers/trial-a/quote", params={"text": "aspirin"}).json()
        assert trial["highlight"] is None and trial["pdf_url"] is None and "aspirin" in trial["passage"]["text"]
        refused = client.get("/v1/papers/trial-a/pages/1.png")
        assert refused.status_code == 404 and "it was read from jsonl, not a PDF" in refused.json()["detail"]
        graph = papers["Construction"]
        drawn = client.get(f"/v1/papers/{graph}/pages/1.png", params={"quote": "Semantic Scholar"})
        assert drawn.status_code == 200 and drawn.headers["x-quote-found"] == "yes"  # drawn in a bounded child
        moved.write_bytes(moved.read_bytes() + b"\n% changed\n")
        changed = client.get(f"/v1/papers/{papers['S2ORC: The S']}/pages/1.png")
        assert changed.status_code == 404 and "changed since it was read" in changed.json()["detail"]
        moved.unlink()
        gone = client.get(f"/v1/papers/{papers['S2ORC: The S']}/pdf")
        assert gone.status_code == 404 and "no longer where it was read" in gone.json()["detail"]
    runtime.engine.dispose()


def test_show_on_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert scisynth(home, "ingest", str(PAPERS / "acl_2020.acl-main.207.pdf"), str(_trials(tmp_path))).returncode == 0
    papers = json.loads(scisynth(home, "library", "--json").stdout)["papers"]
    specter = next(p["paper_id"] for p in papers if p["title"].startswith("SPECTER"))
    assert "Transformers — Cohan et al." in scisynth(home, "library").stdout  # who wrote it, as citations say
    run = scisynth(home, "show", specter, "--quote", SPECTER_QUOTE, "-o", str(tmp_path / "page.png"))
    assert run.returncode == 0, run.stderr
    assert "wrote page 3 of 13" in run.stderr and "quote highlighted" in run.stderr
    assert (tmp_path / "page.png").read_bytes().startswith(b"\x89PNG")
    passage = scisynth(home, "show", "trial-a", "--quote", "aspirin")
    assert passage.returncode == 0 and ">>>aspirin<<<" in passage.stdout
    no_pages = scisynth(home, "show", "trial-a", "--page", "1", "-o", str(tmp_path / "x.png"))
    assert no_pages.returncode == 2 and "has no pages to show: it was read from jsonl" in no_pages.stderr
    not_there = scisynth(home, "show", specter, "--quote", "Protein folding in yeast is slow.")
    assert not_there.returncode == 2 and "not a verbatim span" in not_there.stderr
    # -o for a paper with no pages: the passage, and why no picture (not "say which page")
    no_picture = scisynth(home, "show", "trial-a", "--quote", "aspirin", "-o", str(tmp_path / "y.png"))
    assert no_picture.returncode == 0 and ">>>aspirin<<<" in no_picture.stdout
    assert "has no PDF pages to draw" in no_picture.stderr and not (tmp_path / "y.png").exists()
    drawn_nowhere = scisynth(home, "show", specter, "--quote", "Protein folding in yeast is slow.", "-o",
                             str(tmp_path / "z.png"))
    assert drawn_nowhere.returncode == 2 and "the quote is not in this paper's text" in drawn_nowhere.stderr
    # how the PDF was read: its sections in order with their first pages, never its reference list
    contents = json.loads(scisynth(home, "contents", specter, "--json").stdout)
    sections = [s["section"] for s in contents["sections"]]
    assert sections.index("Abstract") < sections.index("1 Introduction") < sections.index("5 Results")
    assert {"section": "2 Model > 2.3 Citation-Based Pretraining Objective", "page": 3} in contents["sections"]
    assert not any(s.lower().startswith("references") for s in sections)
    assert f"the reference list: scisynth refs {specter}" in scisynth(home, "contents", specter).stdout
    unknown = scisynth(home, "contents", "no-such-paper")
    assert unknown.returncode == 2 and "no paper no-such-paper in the library" in unknown.stderr


def test_signed_page_links_are_limited_per_address_and_refuse_bad_tokens(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path / "home", embedder, public_url="http://testserver", link_secret="s" * 40,
                           rate_limit_per_minute=2, api_keys="lab-key")
    runtime.ingestor.ingest_paths([PAPERS / "acl_2020.acl-main.207.pdf"])
    paper = runtime.catalog.papers()[0].paper_id
    link = page_link(runtime.settings.service, paper, 3, SPECTER_QUOTE)
    assert link is not None
    path = link.removeprefix("http://testserver")
    with TestClient(create_app(runtime=runtime)) as client:
        assert client.get(path).status_code == 200  # no key
        assert client.get("/v1/shared/pages/a.%C3%A9.png").status_code == 404  # not a token: no 500
        limited = client.get(path)
        assert limited.status_code == 429 and "Retry-After" in limited.headers
        assert client.get("/v1/shared/other").status_code == 401  # only the page route is keyless
    runtime.engine.dispose()
