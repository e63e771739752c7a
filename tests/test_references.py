"""Reference entries as journals and conferences print them, and lists split into entries."""

from __future__ import annotations

import pytest

from tests.conftest import DATA, ask
from tools.jats import parse_jats
from tools.references import normalise_doi, parse_reference, split_entries


@pytest.mark.parametrize(("raw", "title", "authors", "year", "doi", "arxiv_id"), [
    ("Iz Beltagy, Kyle Lo, and Arman Cohan. 2019. SciBERT: A Pretrained Language Model for Scientific Text. In "
     "EMNLP.", "SciBERT: A Pretrained Language Model for Scientific Text", ("Iz Beltagy", "Kyle Lo", "Arman Cohan"),
     2019, None, None),
    ("12. Smith J, Lee AB, Müller K. Gait kinematics after stroke: a cohort study. J Neuroeng Rehabil. "
     "2019;16:34. doi:10.1186/s12984-019-0503-4.", "Gait kinematics after stroke: a cohort study",
     ("Smith J", "Lee AB", "Müller K"), 2019, "10.1186/s12984-019-0503-4", None),
    ('[3] A. Vaswani, N. Shazeer and B. Lee, "Attention is all you need," in Proc. NeurIPS, 2017, '
     "arXiv:1706.03762v5.", "Attention is all you need", ("A. Vaswani", "N. Shazeer", "B. Lee"), 2017, None,
     "1706.03762"),
    ("Murphy FA, Gibbs EPJ, Horzinek MC (1999) Veterinary virology. San Diego: Academic Press.",
     "Veterinary virology", ("Murphy FA", "Gibbs EPJ", "Horzinek MC"), 1999, None, None),
    ("3. Alvarez-Garcia M, Chen X, et al. Wearable sensors in rehabilitation? A review. PLoS One. 2021;16(3):e0247.",
     "Wearable sensors in rehabilitation? A review", ("Alvarez-Garcia M", "Chen X"), 2021, None, None),
])
def test_common_reference_styles(raw: str, title: str, authors: tuple, year: int, doi: str | None,
                                 arxiv_id: str | None) -> None:
    reference = parse_reference(raw)
    assert (reference.title, reference.authors, reference.year, reference.doi, reference.arxiv_id) == (
        title, authors, year, doi, arxiv_id)


def test_hanging_indent_and_numbered_lists_split_into_entries() -> None:
    hanging = [(0, "Waleed Ammar, Matthew E. Peters, Chandra Bhagavat-"), (11, "ula, and Russell Power. 2017."),
               (11, "2017. Semeval task 10."), (0, "Isabelle Augenstein. 2017. Semeval."), (0, "2278")]
    assert len(split_entries(hanging)) == 2  # a line starting "2017." is no marker; page numbers dropped
    flush = [(0, "1. Smith J. A title that runs"), (0, "over two lines. J Biol. 2019;1:2."), (0, "2. Lee A. Other."),
             (0, "3. Chen X. Third. 2020."), (0, "4. Wu Y. Fourth. 2021.")]
    assert [e.split("\n")[0][:2] for e in split_entries(flush)] == ["1.", "2.", "3.", "4."]


def test_jats_reference_lists_use_their_tags() -> None:
    document = parse_jats(DATA / "pmc-jats" / "s2orc__PMC7417471.nxml")
    assert len(document.references) == 206 and all(r.year for r in document.references)
    assert sum(bool(r.doi) for r in document.references) >= 100
    assert document.references[0].title.startswith("A review on graphene-based nanocomposites")


def test_references_link_versioned_arxiv_ids_and_doi_urls(tmp_path, embedder) -> None:
    from tests.conftest import make_runtime
    from tools.documents import Block, Document, Reference, Section

    runtime = make_runtime(tmp_path, embedder)
    body = [Section("Body", [Block("Graph neural networks for molecules are studied here at length.", None)])]
    cited = Document("1706.03762v5", "Attention is all you need for molecular graph learning", "jsonl", body,
                     arxiv_id="1706.03762v5")
    journal = Document("PMC1", "Measuring oral health with a conceptual framework for dentists", "jats", body,
                       doi="10.1186/1472-6831-8-11")
    citing = Document("PMC2", "A paper citing both of them in its reference list", "jats", body, references=[
        Reference("Attention is all you need for molecular graph learning", arxiv_id="1706.03762"),
        Reference("Some other title", doi=normalise_doi("https://doi.org/10.1186/1472-6831-8-11"))])
    for document in (cited, journal, citing):
        runtime.ingestor.ingest_document(document)
    assert [r["in_library"] for r in runtime.citation_graph.references("PMC2")] == ["1706.03762v5", "PMC1"]
    for paper_id in ("1706.03762v5", "PMC1"):
        citing_papers = runtime.citation_graph.cited_by(runtime.catalog.find_paper(paper_id))
        assert [p.paper_id for p in citing_papers] == ["PMC2"]


def test_a_runaway_reference_title_is_stored_capped() -> None:
    from store.catalog import MAX_REFERENCE_TITLE, reference_rows
    from tools.documents import Document, Reference

    document = Document("x", "A paper", "jsonl", [], references=[Reference("word " * 20_000)])
    [row] = reference_rows(document)
    assert len(row.title) == MAX_REFERENCE_TITLE and row.position == 1


def test_a_question_about_a_paper_pulls_in_the_library_papers_it_cites(tmp_path, embedder) -> None:
    from tests.conftest import make_runtime
    from tools.documents import Block, Document, Reference, Section

    runtime = make_runtime(tmp_path, embedder, use_arxiv=False)
    focal = Document("focal", "Graph transformers predict molecular properties from atom graphs", "jats", [
        Section("Results", [Block("Graph transformers predicted solubility of small molecules with low error.", 1)]),
        Section("Discussion", [Block("Attention over atom graphs improved solubility prediction for drugs.", 2)]),
    ], references=[Reference("Message passing networks for quantum chemistry on small organic molecules")])
    cited = Document("cited", "Message passing networks for quantum chemistry on small organic molecules", "jats", [
        Section("Results", [Block("Message passing reached chemical accuracy on thirteen quantum properties.", 3)])])
    unrelated = Document("other", "Soil moisture sensing with low-cost capacitive probes in vineyards", "jats", [
        Section("Results", [Block("Capacitive probes tracked soil moisture within five percent in vineyards.", 4)])])
    for document in (cited, unrelated, focal):
        runtime.ingestor.ingest_document(document)

    about_focal = ask(runtime, "How well do graph transformers predict solubility of molecules?")
    search = next(e["detail"] for e in about_focal["trace"] if e["node"] == "search")
    assert "(1 from papers in the library that focal cites)" in search

    spread = ask(runtime, "How accurate are capacitive soil moisture probes?")  # not about the focal paper
    assert "cites" not in next(e["detail"] for e in spread["trace"] if e["node"] == "search")
