"""Journal PDFs of other publishers (the multi-publisher corpus, ../shared/data/pdf-corpus): a parse the font
reader doubts is read again by the layout model, whether the file came from a trusted folder or an upload read in
a bounded child; and what a turn quotes from such a paper is its own Results, Discussion and limitations, never an
entry of its reference list."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evals.datasets import default_data_dir
from evals.pdf_structure import normal
from retrieval.embeddings import Embedder
from retrieval.ingest import parse_file
from tests.conftest import ask, make_runtime
from tools.isolation import ParseLimits
from tools.pdf import parse_pdf
from tools.sections import is_body_section

CORPUS = default_data_dir("pdf-corpus")
pytestmark = pytest.mark.skipif(CORPUS is None, reason="needs ../shared/data/pdf-corpus")
# A 2014 BMC article (two columns, headings the font reader cannot tell from the body, a numbered reference list
# with no bold in it): the layout the issue was filed on.
BMC = "bmc_hsr_example2"


def _gold(folder: str) -> dict:
    assert CORPUS is not None
    return json.loads((CORPUS / folder / "gold.json").read_text())


def _reference_texts(folder: str) -> list[str]:
    gold = _gold(folder)
    return [normal(gold["first_reference"])[:50], normal(gold["last_reference"])[:50]]


def test_a_journal_article_the_font_reader_doubts_is_read_by_the_layout_model() -> None:
    assert CORPUS is not None
    document = parse_pdf(CORPUS / BMC / "paper.pdf")
    gold = _gold(BMC)
    assert document.reader == "layout model" and "no reference list found" in (document.reader_note or "")
    assert normal(document.title) == normal(gold["title"])
    assert (document.year, document.doi) == (2014, None)  # the DOI is printed on no page of this PDF
    found = {normal(h.title) for h in document.headings}
    assert {"background", "methods", "results", "discussion", "conclusions", "references"} <= found
    assert len(document.references) >= 0.8 * gold["n_references"]
    body = normal(" ".join(b.text for s in document.sections for b in s.blocks))
    assert not any(entry in body for entry in _reference_texts(BMC))


def test_an_upload_read_in_a_bounded_child_is_read_again_by_the_layout_model_outside_it() -> None:
    """The child that reads an upload only notes its doubts; the layout model then reads the file in a child of its
    own, so a long paper's second reading cannot cost the upload its first."""
    assert CORPUS is not None
    [(origin, document)] = list(parse_file(CORPUS / BMC / "paper.pdf", ParseLimits(seconds=60, memory_mb=2048)))
    assert origin.endswith("paper.pdf") and document.reader == "layout model"
    assert document.doubts == [] or len(document.doubts) < 2


def _paper_with_references_first(path: Path, pages: int) -> Path:
    """A made-up paper whose first page heads "References" before its body: the layout model files all of it as
    the reference list."""
    import pymupdf

    body = "The measured lysis time rose with holin expression in every strain we tested. " * 6
    with pymupdf.open() as pdf:
        for number in range(pages):
            page = pdf.new_page()
            page.insert_text((72, 72), "References" if number == 0 else f"{number} Methods", fontsize=14)
            page.insert_textbox(pymupdf.Rect(72, 100, 540, 700), body, fontsize=10)
        pdf.save(path)
    return path


def test_a_second_reading_that_fails_keeps_the_first_and_says_why_without_server_paths(tmp_path: Path) -> None:
    (tmp_path / "secret-folder").mkdir()
    document = parse_pdf(_paper_with_references_first(tmp_path / "secret-folder" / "upload.pdf", 6))
    assert document.reader == "fonts" and "the layout model could not read it" in (document.reader_note or "")
    assert "secret-folder" not in document.reader_note and "no text layer" not in document.reader_note
    assert document.title != "References"


def test_a_document_longer_than_the_layout_model_reads_in_its_limit_is_not_sent_to_it(tmp_path: Path) -> None:
    from tools.pdf import read_with_fonts
    from tools.pdf_confidence import SECOND_READING_PAGES, second_reading

    path = _paper_with_references_first(tmp_path / "long.pdf", 2)
    first = read_with_fonts(path)
    first.page_count, first.doubts, first.reader_note = SECOND_READING_PAGES + 1, ["0 headings"], None
    kept = second_reading(path, first)
    assert kept is first and kept.reader == "fonts" and "was not tried" in (kept.reader_note or "")


@pytest.mark.parametrize(("doi", "first_doubts", "second_doubts", "kept"), [
    ("10.1/x", 2, 2, "layout model"),  # a tie on a journal article: the model reads their layouts better
    (None, 1, 1, "fonts"),  # a tie on a preprint (ATLAS and CMS's letter): the reader it was built on
    (None, 2, 1, "layout model"), ("10.1/x", 1, 2, "fonts")])
def test_which_parse_a_second_reading_keeps(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, doi: str | None,
                                            first_doubts: int, second_doubts: int, kept: str) -> None:
    from tools import pdf_confidence
    from tools.documents import Document

    def parse(reader: str, count: int) -> Document:
        document = Document(paper_id="p", title="A plausible title of a paper", source="x.pdf", sections=[], doi=doi,
                            page_count=12, reader=reader)
        document.doubts = [f"doubt {n}" for n in range(count)]
        return document

    second = parse("layout model", second_doubts)
    monkeypatch.setattr(pdf_confidence, "run_isolated", lambda *args: second)
    monkeypatch.setattr(pdf_confidence, "doubts", lambda document: document.doubts)
    chosen = pdf_confidence.second_reading(tmp_path / "x.pdf", parse("fonts", first_doubts))
    assert chosen.reader == kept and chosen.reader_note


def test_a_turn_on_journal_articles_quotes_their_findings_and_limitations_not_their_references(
        tmp_path: Path, embedder: Embedder) -> None:
    assert CORPUS is not None
    runtime = make_runtime(tmp_path / "home", embedder)
    papers = [BMC, "hindawi_rrp_2010"]
    results = runtime.ingestor.ingest_paths([CORPUS / folder / "paper.pdf" for folder in papers])
    assert [r.status for r in results] == ["added", "added"]
    assert results[0].reader == "layout model" and results[0].reader_note
    listed = {p.paper_id: p for p in runtime.catalog.papers()}
    assert listed[results[0].paper_id].reader == "layout model"
    references = [text for folder in papers for text in _reference_texts(folder)]
    for question, mode in [("What were the barriers to setting up a quality improvement process in the hospital?",
                            "ask"),
                           ("What were the limitations of the study?", "ask"),
                           ("How do patients experience structured heart failure programmes?", "hypothesize")]:
        result = ask(runtime, question, mode=mode)
        quoted = [(c["section"], c["quote"]) for c in result["citations"]] + [
            (q["section"], q["text"]) for q in result.get("open_questions", [])]
        assert quoted, result
        # who wrote each cited paper, read from its byline (BMC's metadata names no one)
        bylines = {c["byline"] for c in result["citations"]}
        assert bylines and bylines <= {"Agyeman-Duah et al. 2014", "Tully et al. 2010"}, bylines
        for section, text in quoted:
            assert is_body_section(section), (question, section, text)
            assert not re.match(r"^\s*\[?\d+[.\]]\s+[A-Z][a-z]+ [A-Z]{1,3}\b", text), (question, text)
            assert not any(entry in normal(text) for entry in references), (question, text)


def test_the_layout_model_reader_files_an_appended_peer_review_as_back_matter(tmp_path: Path) -> None:
    from tests.pdf_factory import write_journal_pdf
    from tests.unit.test_pdf import JOURNAL_HEADINGS, PEER_REVIEW, VANCOUVER
    from tools.pdf_model_reader import read_with_layout
    from tools.sections import APPENDED

    document = read_with_layout(write_journal_pdf(tmp_path / "f1000.pdf", JOURNAL_HEADINGS, {1: ("hebo", 12), 2: (
        "hebo", 10)}, VANCOUVER, appended=PEER_REVIEW))
    titles = [s.title for s in document.sections]
    assert titles[-2:] == [f"{APPENDED} > Open Peer Review", f"{APPENDED} > Author Response"]
    assert not any(is_body_section(title) for title in titles[-2:]) and all(map(is_body_section, titles[:-2]))
    assert len(document.references) == 3  # the review's text is not taken for references


def test_the_authors_are_read_from_the_byline_when_the_metadata_names_only_the_first() -> None:
    from tools.pdf import read_with_fonts

    assert CORPUS is not None
    # Springer: metadata "Natascia Vedovato", the page a "·" list over two lines
    springer = read_with_fonts(CORPUS / "springer_diabetologia_2024" / "paper.pdf")
    assert springer.authors == ["Natascia Vedovato", "Maria V. Salguero", "Siri Atma W. Greeley", "Christine H. Yu",
                                "Louis H. Philipson", "Frances M. Ashcroft"]
    # Nature Communications: marks, ORCID icons and corresponding-author envelopes between the names
    nature = read_with_fonts(CORPUS / "nature_ncomms_2022" / "paper.pdf")
    assert len(nature.authors) == 13 and nature.authors[-1] == "Vincent J. J. Martin"
    # Hindawi: no metadata title, a "Received ..." line printed largest; the title is the one above the byline
    hindawi = read_with_fonts(CORPUS / "hindawi_rrp_2010" / "paper.pdf")
    assert hindawi.title == "Patient Experiences of Structured Heart Failure Programmes"
    assert hindawi.authors[-1] == "Hannah M. McGee"
