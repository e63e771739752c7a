"""PubMed Central JATS XML full text into a Document: title, authors, abstract, sections, captions, and the
reference list (tagged fields where the citation has them; the free-text parser where it does not).

Read with the safe parser of tools/xmltext.py (no entities, DTDs or network).
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from tools.documents import (
    Block,
    Document,
    DocumentError,
    Reference,
    Section,
    paper_id_from_sha256,
    sha256_of_file,
    table_block,
)
from tools.references import normalise_doi, parse_reference
from tools.xmltext import load_root, local, text_of

_SKIPPED = frozenset({"xref", "inline-formula", "disp-formula", "table", "graphic", "media", "tex-math"})


def _text(element: etree._Element | None) -> str:
    """Readable text: citation callouts and formulas left out."""
    return text_of(element, _SKIPPED)


def _table_rows(wrap: etree._Element) -> list[list[str]]:
    """A table's rows of cell texts; a cell spanning columns is followed by empty cells, so columns line up."""
    rows = []
    for row in wrap.iterfind(".//{*}table//{*}tr"):
        cells: list[str] = []
        for cell in row:
            if local(cell.tag) in ("th", "td"):
                span = cell.get("colspan", "1")
                cells += [text_of(cell, frozenset({"xref"}))] + [""] * (int(span) - 1 if span.isdigit() else 0)
        if any(cells):
            rows.append(cells)
    return rows


def _section_blocks(section: etree._Element, title_prefix: str, sections: list[Section]) -> None:
    title = _text(section.find("title")) or title_prefix or "Body"
    current = Section(title=title)
    sections.append(current)
    for child in section:
        name = local(child.tag)
        if name == "p":
            text = _text(child)
            if text:
                current.blocks.append(Block(text=text, page=None))
        elif name in ("fig", "table-wrap"):
            caption = " ".join(filter(None, [_text(child.find("label")), _text(child.find("caption"))]))
            rows = _table_rows(child) if name == "table-wrap" else []
            if rows:
                current.blocks.append(table_block(caption, rows, page=None))
            elif caption:
                current.blocks.append(Block(text=caption, page=None, kind="caption"))
        elif name == "sec":
            _section_blocks(child, title, sections)


def _reference(ref: etree._Element) -> Reference | None:
    citation = next((c for c in ref if local(c.tag) in ("element-citation", "mixed-citation", "citation",
                                                           "nlm-citation")), None)
    if citation is None:
        return None
    title = _text(citation.find("{*}article-title")) or _text(citation.find("{*}source"))
    if not title:  # an untagged citation: its text, parsed like a PDF's reference entry
        parsed = parse_reference(_text(citation))
        return parsed if parsed.title else None
    authors = tuple(" ".join(filter(None, [_text(n.find("{*}given-names")), _text(n.find("{*}surname"))]))
                    for n in citation.iterfind(".//{*}name"))
    year = (citation.findtext("{*}year") or "").strip()[:4]
    doi = citation.findtext("{*}pub-id[@pub-id-type='doi']")
    return Reference(title=title.rstrip(". "), authors=tuple(a for a in authors if a),
                     year=int(year) if year.isdigit() else None, doi=normalise_doi(doi),
                     raw=_text(citation)[:1000])


def _license(root: etree._Element) -> str | None:
    for element in root.iterfind(".//{*}permissions/{*}license"):
        for name, value in element.attrib.items():
            if etree.QName(name).localname == "href":
                return value
        return _text(element)[:300] or None
    return None


def parse_jats(path: Path) -> Document:
    path = Path(path)
    root = load_root(path)
    if local(root.tag) != "article":
        raise DocumentError(path, f"not a JATS article (root element <{local(root.tag)}>)")
    meta = root.find("front/article-meta")
    if meta is None:
        raise DocumentError(path, "JATS article without <article-meta>")
    sections: list[Section] = []
    abstract = _text(meta.find("abstract"))
    if abstract:
        sections.append(Section("Abstract", [Block(abstract, page=None)]))
    body = root.find("body")
    if body is not None:
        loose = Section("Body")
        for child in body:
            if local(child.tag) == "sec":
                _section_blocks(child, "", sections)
            elif local(child.tag) == "p" and _text(child):
                loose.blocks.append(Block(_text(child), page=None))
        if loose.blocks:
            sections.insert(1 if abstract else 0, loose)
    sections = [s for s in sections if s.blocks]
    if not sections:
        raise DocumentError(path, "the article has no abstract or body text")
    authors = [" ".join(filter(None, [_text(c.find("name/given-names")), _text(c.find("name/surname"))]))
               for c in meta.iterfind("contrib-group/contrib[@contrib-type='author']")]
    years = [y.text for y in meta.iterfind("pub-date/year") if y.text and y.text.strip().isdigit()]
    sha256 = sha256_of_file(path)
    doi = meta.findtext("article-id[@pub-id-type='doi']")
    pmc = meta.findtext("article-id[@pub-id-type='pmc']")
    return Document(
        paper_id=f"PMC{pmc.removeprefix('PMC')}" if pmc else paper_id_from_sha256(sha256),
        title=_text(meta.find("title-group/article-title")) or path.stem,
        source="jats", sections=sections, authors=[a for a in authors if a],
        year=min(int(y) for y in years) if years else None, sha256=sha256, doi=doi,
        path=str(path.resolve()), abstract=abstract or None, license=_license(root),
        references=[r for r in map(_reference, root.iterfind("back/ref-list//ref")) if r is not None],
    )
