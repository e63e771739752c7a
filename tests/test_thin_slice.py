"""The foundation slice over the three real PDFs: ingest, search to the page, ask with verbatim quotes."""

from __future__ import annotations

import re
import unicodedata

import pymupdf
import pytest

from agent.runtime import Runtime
from tests.conftest import PAPERS, ask
from tools.pdf import parse_pdf

PAGES = [("acl_N18-3011.pdf", 2), ("acl_N18-3011.pdf", 5), ("acl_2020.acl-main.207.pdf", 3),
         ("acl_2020.acl-main.207.pdf", 7), ("acl_2020.acl-main.447.pdf", 2), ("acl_2020.acl-main.447.pdf", 6)]


def squash(text: str) -> str:
    """Layout-free form for comparing with the PDF's own text: letters and digits only."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text)).lower()


def raw_page_text(pdf_name: str, page: int) -> str:
    with pymupdf.open(PAPERS / pdf_name) as pdf:
        return squash(pdf[page - 1].get_text())


def phrase_from_page(pdf_name: str, page: int) -> str:
    """Fifteen words from the middle of the longest paragraph on the page (a paragraph: not a table's Markdown)."""
    blocks = [b for s in parse_pdf(PAPERS / pdf_name).sections for b in s.blocks
              if b.page == page and b.kind == "paragraph"]
    words = max(blocks, key=lambda b: len(b.text)).text.split()
    return " ".join(words[10:25])


@pytest.mark.parametrize(("pdf_name", "page"), PAGES)
def test_search_finds_the_paper_and_page_of_a_phrase(library: Runtime, pdf_name: str, page: int) -> None:
    phrase = phrase_from_page(pdf_name, page)
    assert squash(phrase) in raw_page_text(pdf_name, page)
    top = library.searcher.search(phrase, k=5)[0]
    paper = library.catalog.find_paper(top.paper_id)
    assert paper is not None and paper.path.endswith(pdf_name)
    assert top.page == page


@pytest.mark.parametrize(("pdf_name", "page"), PAGES[::2])
def test_ask_cites_the_page_with_a_verbatim_quote(library: Runtime, pdf_name: str, page: int) -> None:
    phrase = phrase_from_page(pdf_name, page)
    result = ask(library, f"What do the papers say about: {phrase}?")
    assert result["citations"], result["answer"]
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", result["answer"])}
    assert markers == {c["n"] for c in result["citations"]}
    for citation in result["citations"]:
        paper = library.catalog.find_paper(citation["paper_id"])
        cited_pdf = paper.path.rsplit("/", 1)[-1]
        assert squash(citation["quote"]) in raw_page_text(cited_pdf, citation["page"]), citation
    assert any(c["page"] == page and library.catalog.find_paper(c["paper_id"]).path.endswith(pdf_name)
               for c in result["citations"])


def test_reingest_is_a_no_op(library: Runtime) -> None:
    papers, chunks, vectors = library.catalog.paper_count(), library.catalog.chunk_count(), library.store.count
    results = library.ingestor.ingest_paths(sorted(PAPERS.glob("*.pdf")))
    assert {r.status for r in results} == {"unchanged"}
    assert (library.catalog.paper_count(), library.catalog.chunk_count(), library.store.count) == (
        papers, chunks, vectors)
    assert vectors == chunks


def test_unrelated_question_gets_an_honest_answer(library: Runtime) -> None:
    result = ask(library, "What is the melting point of tungsten carbide in kelvin?")
    assert result["citations"] == []
    assert "no passage in the library that answers" in result["answer"]
