"""GROBID TEI XML (what GROBID and S2ORC pipelines produce from PDFs) into a Document: title, authors, year,
DOI, abstract, sections with their numbered headings, paragraphs, figure and table captions, and the
bibliography as structured references, so a researcher's existing GROBID output ingests as it is.

Read with the safe parser of tools/xmltext.py (no entities, DTDs or network). Citation callouts in the text
("(Devlin et al., 2019)") are kept, as in PDFs; formulas are left out.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from tools.arxiv_ids import is_arxiv_id, without_version
from tools.documents import Block, Document, DocumentError, Reference, Section, paper_id_from_sha256, sha256_of_file
from tools.xmltext import load_root, local, text_of

TEI = "{http://www.tei-c.org/ns/1.0}"
_SKIPPED = frozenset({"formula"})
_YEAR = re.compile(r"(1[89]|20)\d\d")


def _find(element: etree._Element | None, path: str) -> etree._Element | None:
    return element.find(path.replace("t:", TEI)) if element is not None else None


def _findall(element: etree._Element | None, path: str) -> list[etree._Element]:
    return element.findall(path.replace("t:", TEI)) if element is not None else []


def _text(element: etree._Element | None) -> str:
    return text_of(element, _SKIPPED)


def _person(author: etree._Element) -> str:
    name = _find(author, "t:persName")
    return " ".join(filter(None, [*(_text(f) for f in _findall(name, "t:forename")), _text(_find(name, "t:surname"))]))


def _year(element: etree._Element | None) -> int | None:
    for date in _findall(element, ".//t:date"):
        found = _YEAR.search(date.get("when", "") or _text(date))
        if found:
            return int(found.group(0))
    return None


def _reference(entry: etree._Element) -> Reference | None:
    """One biblStruct: an article's title (analytic) or a book's (monogr), authors, year, DOI, arXiv id."""
    title = _text(_find(entry, "t:analytic/t:title")) or _text(_find(entry, "t:monogr/t:title"))
    if not title:
        return None
    authors = tuple(a for a in (_person(a) for a in _findall(entry, ".//t:author")) if a)
    arxiv = next((_text(i) for i in _findall(entry, ".//t:idno") if (i.get("type") or "").lower() == "arxiv"), "")
    arxiv = without_version(arxiv.removeprefix("arXiv:").strip())
    doi = next((_text(i) for i in _findall(entry, ".//t:idno") if (i.get("type") or "").upper() == "DOI"), "")
    venue = _text(_find(entry, "t:monogr/t:title")) if _find(entry, "t:analytic/t:title") is not None else ""
    return Reference(title=title, authors=authors, year=_year(_find(entry, "t:monogr/t:imprint")),
                     doi=doi or None, arxiv_id=arxiv if is_arxiv_id(arxiv) else None, venue=venue or None,
                     raw=" ".join(filter(None, [", ".join(authors), title, venue])))


def _division(div: etree._Element, sections: list[Section], default_title: str) -> None:
    head = _find(div, "t:head")
    number = head.get("n", "") if head is not None else ""
    title = " ".join(filter(None, [number, _text(head)])) or default_title
    section = Section(title)
    for child in div:
        name = local(child.tag)
        if name == "p" and (text := _text(child)):
            section.blocks.append(Block(text, page=None))
        elif name == "figure":
            caption = " ".join(filter(None, [_text(_find(child, "t:head")), _text(_find(child, "t:label")),
                                             _text(_find(child, "t:figDesc"))]))
            if caption:
                section.blocks.append(Block(caption, page=None, kind="caption"))
        elif name == "div":
            _division(child, sections, title)
    if section.blocks:
        sections.append(section)


def parse_tei(path: Path) -> Document:
    path = Path(path)
    root = load_root(path)
    if local(root.tag) != "TEI":
        raise DocumentError(path, f"not a TEI document (root element <{local(root.tag)}>)")
    header = _find(root, "t:teiHeader")
    source = _find(header, "t:fileDesc/t:sourceDesc/t:biblStruct")
    abstract = " ".join(_text(p) for p in _findall(header, "t:profileDesc/t:abstract//t:p")) or _text(
        _find(header, "t:profileDesc/t:abstract"))
    sections: list[Section] = [Section("Abstract", [Block(abstract, page=None)])] if abstract else []
    for div in _findall(root, "t:text/t:body/t:div"):
        _division(div, sections, "Body")
    for figure in _findall(root, "t:text/t:body/t:figure"):  # GROBID puts captions after the sections
        caption = " ".join(filter(None, [_text(_find(figure, "t:head")), _text(_find(figure, "t:figDesc"))]))
        if caption:
            kind = "Tables" if figure.get("type") == "table" else "Figures"
            if not sections or sections[-1].title != kind:
                sections.append(Section(kind))
            sections[-1].blocks.append(Block(caption, page=None, kind="caption"))
    for div in _findall(root, "t:text/t:back/t:div"):
        if div.get("type") != "references":
            _division(div, sections, (div.get("type") or "Appendix").title())
    if not sections:
        raise DocumentError(path, "the TEI document has no abstract or body text")
    references = [r for r in (_reference(e) for e in _findall(root, ".//t:listBibl/t:biblStruct")) if r]
    sha256 = sha256_of_file(path)
    doi = next((_text(i) for i in _findall(source, ".//t:idno") if (i.get("type") or "").upper() == "DOI"), "")
    return Document(
        paper_id=paper_id_from_sha256(sha256),
        title=_text(_find(header, "t:fileDesc/t:titleStmt/t:title")) or path.stem, source="tei",
        sections=sections, authors=[a for a in (_person(a) for a in _findall(source, "t:analytic/t:author")) if a],
        year=_year(_find(source, "t:monogr/t:imprint")) or _year(_find(header, "t:fileDesc/t:publicationStmt")),
        sha256=sha256, doi=doi or None, path=str(path.resolve()), abstract=abstract or None, references=references,
    )
