from pathlib import Path

import pymupdf
import pytest

from tests.conftest import PAPERS
from tests.pdf_factory import PROSE, write_encrypted_pdf, write_image_only_pdf, write_journal_pdf, write_pdf
from tools.documents import DocumentError
from tools.pdf import clean_text, parse_pdf, read_with_fonts


def test_real_papers_have_titles_sections_and_valid_pages() -> None:
    expected_titles = {
        "acl_N18-3011.pdf": "Construction of the Literature Graph in Semantic Scholar",
        "acl_2020.acl-main.207.pdf":
            "SPECTER: Document-level Representation Learning using Citation-informed Transformers",
        "acl_2020.acl-main.447.pdf": "S2ORC: The Semantic Scholar Open Research Corpus",
    }
    for name, title in expected_titles.items():
        document = parse_pdf(PAPERS / name)
        assert document.title == title
        headings = [section.title for section in document.sections]
        assert "Abstract" in headings
        assert any(h.startswith("1 Introduction") for h in headings)
        pages = {block.page for section in document.sections for block in section.blocks}
        assert min(pages) == 1 and max(pages) <= document.page_count
        assert document.paper_id == f"sha256:{document.sha256[:16]}"


def test_reference_list_is_not_body_text() -> None:
    document = parse_pdf(PAPERS / "acl_N18-3011.pdf")
    body = " ".join(block.text for section in document.sections for block in section.blocks)
    # Entries of the paper's reference list (page 8) must not be indexed as body text.
    for reference_title in ("Frustratingly easy domain adaptation", "Search needs a shake-up",
                            "Content-based citation recommendation"):
        assert reference_title not in body


def test_two_columns_read_left_column_first(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "columns.pdf", [[
        (320, 100, "Right column comes second\nin reading order."),
        (60, 100, "Left column comes first\nin reading order."),
        (60, 400, "Left column, lower down,\nstill before the right one."),
    ]])
    blocks = [b.text for s in parse_pdf(path).sections for b in s.blocks]
    assert blocks == ["Left column comes first in reading order.",
                      "Left column, lower down, still before the right one.",
                      "Right column comes second in reading order."]


def test_running_header_and_page_number_are_dropped(tmp_path: Path) -> None:
    pages = [[(60, 30, "Journal of Tests 2024"), (60, 200, f"Body text of page {n} is kept."), (290, 820, str(n))]
             for n in (1, 2)]
    document = parse_pdf(write_pdf(tmp_path / "furniture.pdf", pages))
    blocks = [(b.text, b.page) for s in document.sections for b in s.blocks]
    assert blocks == [("Body text of page 1 is kept.", 1), ("Body text of page 2 is kept.", 2)]


def test_a_running_head_below_the_margin_is_dropped_where_it_repeats(tmp_path: Path) -> None:
    """ACM's journals set their running head ("Paper Plain: Making Medical Research Papers ... 27") at 9-11% of
    the page, below the margin where furniture was looked for, and it was read into the text between two
    sentences. A short line in the outer bands on three pages or more, its numbers aside, is a running head; a
    line there that does not repeat is the paper's, and the first page's title stays."""
    head = "Reading Support for Medical Papers"
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    pages = [[(60, 80, head if n == 1 else f"{head} {n}" if n % 2 else f"{n} Authors et al."),
              (60, 300, f"Body text of page {n} is kept."), (60, 770, f"A closing {words[n - 1]} line stays.")]
             + ([(290, 80, str(n))] if n % 2 == 0 else []) for n in range(1, 9)]
    document = parse_pdf(write_pdf(tmp_path / "running.pdf", pages))
    blocks = [b.text for s in document.sections for b in s.blocks]
    text = " ".join(blocks)
    assert f"{head} 3" not in text and "Authors et al." not in text and not any(b.isdigit() for b in blocks)
    assert all(f"A closing {word} line stays." in text for word in words)
    assert all(f"Body text of page {n}" in text for n in range(1, 9))
    assert document.title == head or head in text  # the first page's line is the paper's


def test_headings_atop_their_pages_are_no_running_head(tmp_path: Path) -> None:
    """"2 Experiment 1", "3 Experiment 2"... atop pages share a running head's key once numbers are folded: a line
    numbered as a heading is never dropped as one."""
    pages = [[(60, 90, f"{n + 1} Experiment {n}"), (60, 300, f"Body text of experiment {n} is kept.")]
             for n in range(1, 6)]
    document = read_with_fonts(write_pdf(tmp_path / "experiments.pdf", pages))
    printed = " ".join([s.title for s in document.sections] + [b.text for s in document.sections for b in s.blocks])
    assert all(f"Experiment {n}" in printed and f"Body text of experiment {n}" in printed for n in range(1, 6))


def test_hyphenation_and_ligatures_are_repaired() -> None:
    assert clean_text("retriev-\nal of the first") == "retrieval of the first"
    assert clean_text("retriev-\nal works") == "retrieval works"
    assert clean_text("SciB-\nERT model") == "SciB-ERT model"


@pytest.mark.parametrize(("make", "reason"), [
    (lambda p: p.write_text("not a pdf at all"), "not a PDF"),
    (lambda p: write_encrypted_pdf(p), "encrypted"),
    (lambda p: write_image_only_pdf(p), "no text layer"),
    (lambda p: p.write_bytes((PAPERS / "acl_N18-3011.pdf").read_bytes()[:4000]), "PDF"),
])
def test_bad_pdfs_raise_a_clear_error(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "bad.pdf"
    make(path)
    with pytest.raises(DocumentError) as caught:
        parse_pdf(path)
    assert reason in caught.value.reason
    assert str(path) in str(caught.value)


def test_missing_file() -> None:
    with pytest.raises(DocumentError, match="no such file"):
        parse_pdf(Path("/nonexistent/paper.pdf"))


def test_ligatures_expanded_on_real_paper() -> None:
    document = parse_pdf(PAPERS / "acl_2020.acl-main.207.pdf")
    text = " ".join(b.text for s in document.sections for b in s.blocks)
    assert "ﬁ" not in text and "ﬂ" not in text
    assert "scientific" in text and "fine-tun" in text  # the ligatures came out as plain letters


def test_outline_names_unnumbered_headings_and_captions_are_blocks(tmp_path: Path) -> None:
    path = tmp_path / "outlined.pdf"
    pdf = pymupdf.open()
    page = pdf.new_page()
    page.insert_text((72, 100), "Our Approach")
    page.insert_text((72, 140), "We describe the approach in full detail here.")
    page.insert_text((72, 200), "Figure 1: The pipeline at a glance.")
    pdf.set_toc([[1, "Our Approach", 1]])
    pdf.save(path)
    document = parse_pdf(path)
    assert [s.title for s in document.sections] == ["Our Approach"]
    assert [(b.text, b.kind) for b in document.sections[0].blocks] == [
        ("We describe the approach in full detail here.", "paragraph"),
        ("Figure 1: The pipeline at a glance.", "caption")]


def test_page_cap_refuses_huge_documents(tmp_path: Path) -> None:
    path = tmp_path / "huge.pdf"
    pdf = pymupdf.open()
    for _ in range(5000):
        pdf.new_page(width=100, height=100)
    pdf.save(path)
    with pytest.raises(DocumentError, match="5000 pages"):
        parse_pdf(path)


JOURNAL_HEADINGS = [(1, "Background"), (1, "Methods"), (2, "Participants"), (2, "Kinematics recording"),
                    (1, "Results"), (2, "Step length"), (1, "Discussion"), (1, "Conclusions")]
VANCOUVER = ["1. Smith J, Lee AB, Müller K. Gait kinematics after stroke: a cohort study. J Neuroeng Rehabil. "
             "2019;16:34. doi:10.1186/s12984-019-0503-4.",
             "2. Alvarez-Garcia M, Chen X, et al. Wearable sensors in rehabilitation? A review. PLoS One. "
             "2021;16(3):e0247.",
             "3. Okafor C, Yilmaz D. Treadmill training and balance in older adults. Gait Posture. 2018;61:12-9."]


@pytest.mark.parametrize("fonts", [
    {1: ("hebo", 12), 2: ("hebo", 10)},  # BMC/Springer: bold, sub-headings bold at body size
    {1: ("helv", 14), 2: ("helv", 12)},  # larger regular type, no bold at all
    {1: ("hebo", 10), 2: ("heit", 10)},  # bold and italic at the body size: italic alone is not a heading
])
def test_unnumbered_journal_headings_come_from_fonts(tmp_path: Path, fonts: dict) -> None:
    document = parse_pdf(write_journal_pdf(tmp_path / "journal.pdf", JOURNAL_HEADINGS, fonts, VANCOUVER))
    titles = [s.title for s in document.sections]
    assert document.title == "Kinematic signatures of gait after stroke"
    if fonts[2][0] == "heit":  # only the bold level stands out; the italic lines stay in the body
        assert titles == ["Background", "Methods", "Results", "Discussion", "Conclusions"]
    else:
        assert titles == ["Background", "Methods", "Methods > Participants", "Methods > Kinematics recording",
                          "Results", "Results > Step length", "Discussion", "Conclusions"]
    assert [r.title for r in document.references] == [
        "Gait kinematics after stroke: a cohort study", "Wearable sensors in rehabilitation? A review",
        "Treadmill training and balance in older adults"]
    assert document.references[0].doi == "10.1186/s12984-019-0503-4" and document.references[2].year == 2018
    body = " ".join(b.text for s in document.sections for b in s.blocks)
    assert "Gait kinematics after stroke" not in body and "Participants walked" in body


def _paragraph_with_lead(page: pymupdf.Page, y: float, lead: str, text: str, number: str = "") -> None:
    """A two-line paragraph opening with `lead` in bold (after a list item's `number` in regular type), the rest
    in regular type on the same line."""
    x = 72 + pymupdf.get_text_length(number + " ", fontname="helv", fontsize=10) if number else 72
    if number:
        page.insert_text((72, y), number, fontname="helv", fontsize=10)
    page.insert_text((x, y), lead, fontname="hebo", fontsize=10)
    page.insert_text((x + pymupdf.get_text_length(lead + " ", fontname="hebo", fontsize=10), y), text,
                     fontname="helv", fontsize=10)
    page.insert_text((72, y + 12), "and the second line of the same paragraph goes on in regular type.",
                     fontname="helv", fontsize=10)


def _titled_page(heading: str) -> tuple[pymupdf.Document, pymupdf.Page]:
    """A new PDF whose first page has a 16 pt bold title and a 12 pt bold `heading` under it."""
    pdf = pymupdf.open()
    page = pdf.new_page(width=595, height=842)
    page.insert_text((72, 80), "Gait after stroke in twenty adults", fontname="hebo", fontsize=16)
    page.insert_text((72, 110), heading, fontname="hebo", fontsize=12)
    return pdf, page


def test_run_in_headings_open_subsections(tmp_path: Path) -> None:
    """"Participants. Twenty adults..." (bold lead, then a new sentence) opens "Methods > Participants"; a bold
    subject that goes on as a sentence, or a numbered list item with a bold word, does not."""
    pdf, page = _titled_page("Methods")
    _paragraph_with_lead(page, 130, "Participants.", "Twenty adults took part after giving consent, and")
    _paragraph_with_lead(page, 170, "Kinematics recording", "Joint angles were recorded at one hundred hertz")
    _paragraph_with_lead(page, 210, "SPECTER", "outperforms every baseline that we compared on these tasks")
    _paragraph_with_lead(page, 250, "Random", "A random baseline draws vectors from a normal law,", number="1.")
    pdf.save(tmp_path / "run-in.pdf")
    document = parse_pdf(tmp_path / "run-in.pdf")
    sections = {section.title: section for section in document.sections}
    assert list(sections) == ["Methods > Participants", "Methods > Kinematics recording"]
    assert sections["Methods > Participants"].run_in
    assert sections["Methods > Participants"].blocks[0].text.startswith("Twenty adults took part")
    later = " ".join(block.text for block in sections["Methods > Kinematics recording"].blocks)
    assert "SPECTER outperforms every baseline" in later and "1. Random A random baseline" in later


def test_bold_labels_and_back_matter_names_are_not_run_in_headings(tmp_path: Path) -> None:
    """A bold caption label ("Fig. 2 Kaplan-Meier...", as Springer sets it), a theorem, and an author's name in
    Author contributions stay text."""
    pdf, page = _titled_page("Results")
    _paragraph_with_lead(page, 130, "Fig. 2", "Kaplan-Meier curves of the two groups over five years of follow")
    _paragraph_with_lead(page, 170, "Theorem 1.", "Every bounded monotone sequence of real numbers converges,")
    page.insert_text((72, 210), "Author contributions", fontname="hebo", fontsize=12)
    _paragraph_with_lead(page, 230, "Smith J.", "Designed the study and wrote the first draft of the paper")
    pdf.save(tmp_path / "labels.pdf")
    document = parse_pdf(tmp_path / "labels.pdf")
    assert [s.title for s in document.sections] == ["Results", "Author contributions"]
    assert not any(s.run_in for s in document.sections)


def test_papers_the_font_reader_reads_well_are_read_once() -> None:
    """ACL-like papers raise no doubt, so they stay with the fast reader (tools/pdf_confidence.py)."""
    for path in sorted(PAPERS.glob("*.pdf")):
        document = parse_pdf(path)
        assert (document.reader, document.doubts, document.reader_note) == ("fonts", [], None), path


PEER_REVIEW = [("Open Peer Review", "Referee Report 29 January 2015. The results section should report the age "
                                    "of every recaptured shark, and the conclusions overstate what was found."),
               ("Author Response", "We thank the reviewer and have added the ages of all recaptured animals.")]


def test_a_peer_review_appended_after_the_references_is_back_matter_not_findings(tmp_path: Path) -> None:
    from tools.pdf import read_with_fonts
    from tools.sections import APPENDED, is_body_section

    document = read_with_fonts(write_journal_pdf(tmp_path / "f1000.pdf", JOURNAL_HEADINGS, {1: ("hebo", 12), 2: (
        "hebo", 10)}, VANCOUVER, appended=PEER_REVIEW))
    by_section = {s.title: " ".join(b.text for b in s.blocks) for s in document.sections}
    review = [title for title, text in by_section.items() if "reviewer" in text or "Referee Report" in text]
    assert review == [f"{APPENDED} > Open Peer Review", f"{APPENDED} > Author Response"]
    assert not any(is_body_section(title) for title in review)
    assert is_body_section("Results > Step length") and "Results > Step length" in by_section
    assert [r.title for r in document.references][:1] == ["Gait kinematics after stroke: a cohort study"]
    assert [h.title for h in document.headings][-3:] == [APPENDED, "Open Peer Review", "Author Response"]


def test_a_section_about_peer_review_before_the_references_is_the_papers_own(tmp_path: Path) -> None:
    from tools.pdf import read_with_fonts
    from tools.sections import is_body_section

    headings = [(1, "Background"), (1, "Peer review"), (1, "Results")]
    document = read_with_fonts(write_journal_pdf(tmp_path / "meta.pdf", headings, {1: ("hebo", 12), 2: (
        "hebo", 10)}, VANCOUVER))
    assert [s.title for s in document.sections] == ["Background", "Peer review", "Results"]
    assert all(is_body_section(s.title) for s in document.sections)


def test_a_download_cover_sheet_after_the_references_is_back_matter(tmp_path: Path) -> None:
    from tools.pdf import read_with_fonts
    from tools.sections import APPENDED

    document = read_with_fonts(write_journal_pdf(
        tmp_path / "cover.pdf", JOURNAL_HEADINGS, {1: ("hebo", 12), 2: ("hebo", 10)}, VANCOUVER, appended=[
            ("Updated information and services", "These can be found at the journal's web site."),
            ("Email alerting service", "Receive free email alerts when new articles cite this article.")]))
    assert [s.title for s in document.sections][-2:] == [f"{APPENDED} > Updated information and services",
                                                          f"{APPENDED} > Email alerting service"]


def test_an_appendix_after_the_references_stays_the_papers_own(tmp_path: Path) -> None:
    from tools.pdf import read_with_fonts
    from tools.sections import is_body_section

    document = read_with_fonts(write_journal_pdf(
        tmp_path / "review.pdf", JOURNAL_HEADINGS, {1: ("hebo", 12), 2: ("hebo", 10)}, VANCOUVER, appended=[
            ("Peer review of electronic search strategies", "Two librarians checked every search string."),
            ("Appendix B", "Sensitivity analyses gave the same pooled estimate.")]))
    titles = [s.title for s in document.sections]
    assert titles[-2:] == ["Peer review of electronic search strategies", "Appendix B"]
    assert all(map(is_body_section, titles[-2:]))


def test_a_cover_sheet_before_the_article_does_not_end_it(tmp_path: Path) -> None:
    """A download cover sheet first (its "References" label, then "Email alerting service"), then the article."""
    from tools.pdf import read_with_fonts
    from tools.sections import APPENDED

    pdf = pymupdf.open()
    cover = pdf.new_page(width=595, height=842)
    for y, text in [(100, "References"), (130, "This article cites 35 articles."), (170, "Email alerting service"),
                    (200, "Receive free email alerts when new articles cite this article.")]:
        cover.insert_text((72, y), text, fontname="hebo" if y in (100, 170) else "helv", fontsize=12 if y in (
            100, 170) else 10)
    article = write_journal_pdf(tmp_path / "article.pdf", JOURNAL_HEADINGS, {1: ("hebo", 12), 2: ("hebo", 10)},
                                VANCOUVER)
    with pymupdf.open(article) as pages:
        pdf.insert_pdf(pages)
    pdf.save(tmp_path / "with-cover.pdf")
    pdf.close()
    document = read_with_fonts(tmp_path / "with-cover.pdf")
    titles = [s.title for s in document.sections]
    assert any(t.endswith("Results > Step length") for t in titles) and not any(APPENDED in t for t in titles)


def test_operators_a_math_font_printed_as_latin1_letters_are_repaired() -> None:
    """Some publishers' fonts encode "=" and "+" as "¼" and "þ": a quote must read "P = 0.03", not "P ¼ 0.03";
    a real quarter and a real thorn stay."""
    assert clean_text("effect (d ¼ 0.42, P ¼ .001) in CD4þ T cells,\nn ¼ 285") == (
        "effect (d = 0.42, P = .001) in CD4+ T cells, n = 285")
    assert clean_text("about ¼ of the patients of Guðþór Þórsson") == "about ¼ of the patients of Guðþór Þórsson"
    assert clean_text("(P¼0.03; β ¼ 0.21) in CD8þCD4þ T cells") == "(P=0.03; β = 0.21) in CD8+CD4+ T cells"


def test_a_margin_stamp_is_not_the_title_and_a_byline_is_no_heading(tmp_path: Path) -> None:
    """arXiv prints its stamp up the left margin, larger than the title: it was read as the title, or (below the
    first blocks) kept the title from being found, so that the title's lines became headings; a byline set in the
    headings' type became a section named after the authors, holding the abstract."""
    pdf = pymupdf.open()
    page = pdf.new_page(width=595, height=842)
    page.insert_text((72, 80), "Gait after stroke in twenty adults", fontname="hebo", fontsize=16)
    page.insert_text((72, 100), "and their recovery over one year", fontname="hebo", fontsize=16)
    page.insert_text((72, 130), "Anne Focke,1 Olle Hernell,2 Marie-Louise Berg1", fontname="hebo", fontsize=12)
    page.insert_text((30, 600), "arXiv:2203.00130v1 [cs.HC] 28 Feb 2022", fontsize=20, rotate=90)
    page.insert_textbox(pymupdf.Rect(72, 150, 523, 400), "Step length grew after training. " + PROSE * 3,
                        fontname="helv", fontsize=10)
    page.insert_text((72, 420), "1 Introduction", fontname="hebo", fontsize=12)
    page.insert_textbox(pymupdf.Rect(72, 430, 523, 700), PROSE * 4, fontname="helv", fontsize=10)
    pdf.save(tmp_path / "stamped.pdf")
    document = parse_pdf(tmp_path / "stamped.pdf")
    assert document.title == "Gait after stroke in twenty adults and their recovery over one year"
    assert [s.title for s in document.sections] == ["Front matter", "1 Introduction"]
    assert "Step length grew" in document.sections[0].blocks[0].text
    assert not any("arXiv:2203" in b.text for s in document.sections for b in s.blocks)


def _first_page(lines: list[tuple[float, str, float]], boxes: list[tuple[float, float, str]]
                ) -> tuple[pymupdf.Document, pymupdf.Page]:
    """A new PDF whose first page has bold `lines` (y, text, size) and paragraphs in `boxes` (top, bottom, text)."""
    pdf = pymupdf.open()
    page = pdf.new_page(width=595, height=842)
    for y, text, size in lines:
        page.insert_text((72, y), text, fontname="hebo", fontsize=size)
    for top, bottom, text in boxes:
        page.insert_textbox(pymupdf.Rect(72, top, 523, bottom), text, fontname="helv", fontsize=10)
    return pdf, page


def test_a_first_pages_banner_is_no_section(tmp_path: Path) -> None:
    """IJSEM sets "Taxonomic Note" beside the title in the headings' type: the whole paper was one section named
    after its article type."""
    pdf, _ = _first_page([(80, "Taxonomic Note", 12), (110, "Gait after stroke in twenty adults", 16),
                          (320, "Methods", 12)], [(125, 300, PROSE * 2), (330, 600, PROSE * 3)])
    pdf.save(tmp_path / "note.pdf")
    document = parse_pdf(tmp_path / "note.pdf")
    assert [s.title for s in document.sections] == ["Front matter", "Methods"]
    assert document.title == "Gait after stroke in twenty adults"


def test_a_sideways_table_and_a_case_report_heading_below_the_title_are_kept(tmp_path: Path) -> None:
    """Only text at an angle in a side margin is furniture, and only a label before the first page's text is a
    banner: a table set sideways inside the page keeps its rows, and "Case report" further down heads a section."""
    pdf, page = _first_page([(80, "Gait after stroke in one adult", 16), (120, "Introduction", 12),
                             (350, "Case report", 12)],
                            [(130, 330, PROSE * 3), (360, 560, "A 54-year-old man walked slowly. " + PROSE * 2)])
    for n, row in enumerate(["Step length 0.42 0.51", "Cadence 88 97"]):
        page.insert_text((300 + 14 * n, 780), row, fontname="helv", fontsize=9, rotate=90)
    pdf.save(tmp_path / "case.pdf")
    document = parse_pdf(tmp_path / "case.pdf")
    assert [s.title for s in document.sections] == ["Introduction", "Case report"]
    text = " ".join(b.text for s in document.sections for b in s.blocks)
    assert "Step length 0.42 0.51" in text and "Cadence 88 97" in text and "A 54-year-old man" in text


def test_back_matter_is_named_by_its_whole_label_not_a_results_heading_that_starts_alike() -> None:
    """BMC's "Sources of support" and a "Disclaimer" are back matter (their "views ... do not necessarily represent
    those of the NIH" was listed as an open question); "Funding implications" in a Discussion is the paper's own."""
    from tools.sections import is_back_matter

    assert is_back_matter("Sources of support") and is_back_matter("Disclaimer") and is_back_matter("Funding Statement")
    assert not is_back_matter("Discussion > Funding implications") and not is_back_matter("Funding policy and costs")
