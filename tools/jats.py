"""PubMed Central JATS XML full text into a Document: title, authors, abstract, sections, captions, and the
reference list (tagged fields where the citation has them; the free-text parser where it does not).

Read with the safe parser of tools/xmltext.py (no entities, DTDs or network).
"""

from __future__ import annotations

import re
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
# In a paragraph's text, a figure or table set inside it (as some publishers nest them) is left out: it becomes a
# block of its own.
_SKIPPED_IN_PARAGRAPHS = _SKIPPED | {"table-wrap", "fig"}
MAX_SPAN = 50  # a cell spanning more columns or rows than this is taken to span this many
_SPAN = re.compile(r"[0-9]{1,4}")


def _text(element: etree._Element | None, skipped: frozenset[str] = _SKIPPED) -> str:
    """Readable text: citation callouts and formulas left out (callouts to figures and tables kept)."""
    return text_of(element, skipped)


def _span(cell: etree._Element, name: str) -> int:
    value = (cell.get(name) or "1").strip()
    return min(MAX_SPAN, max(1, int(value))) if _SPAN.fullmatch(value) else 1


def _table_rows(wrap: etree._Element) -> list[list[str]]:
    """A table's rows of cell texts, laid on a grid: a cell spanning columns is followed by empty cells and a
    cell spanning rows leaves its column empty in the rows below, so every value stays under its header."""
    rows: list[list[str]] = []
    pending: dict[int, int] = {}  # column -> rows still covered by a cell from a row above
    for row in wrap.iterfind(".//{*}table//{*}tr"):
        cells: list[str] = []
        for cell in (c for c in row if local(c.tag) in ("th", "td")):
            while pending.get(len(cells), 0) > 0:  # a column still covered from above
                pending[len(cells)] -= 1
                cells.append("")
            for offset in range(_span(cell, "colspan")):
                if (rows_below := _span(cell, "rowspan") - 1) > 0:
                    pending[len(cells)] = rows_below
                cells.append("" if offset else _text(cell))
        while pending.get(len(cells), 0) > 0:
            pending[len(cells)] -= 1
            cells.append("")
        if any(cells):
            rows.append(cells)
    return rows


def _nested_blocks(paragraph: etree._Element) -> list[Block]:
    """Tables and figures set inside a paragraph, as blocks of their own."""
    return [block for child in paragraph.iterfind(".//*") if local(child.tag) in ("fig", "table-wrap")
            if (block := _float_block(child)) is not None]


def _float_block(element: etree._Element) -> Block | None:
    """A figure's caption, or a table with its caption (a table without rows: its caption)."""
    caption = " ".join(filter(None, [_text(element.find("{*}label")), _text(element.find("{*}caption"))]))
    rows = _table_rows(element) if local(element.tag) == "table-wrap" else []
    if rows:
        return table_block(caption, rows, page=None)
    return Block(text=caption, page=None, kind="caption") if caption else None


MAX_PATH_PARTS = 4  # a section path keeps its top part (its role) and its innermost ones: deep nesting stays short


def _section_blocks(section: etree._Element, parent: str, sections: list[Section]) -> None:
    """A section and the ones inside it, each titled by its path ("Methods > Animals and housing"), as the PDF
    readers title theirs: a part's role (methods, an introduction) is in its parent's heading."""
    own = _text(section.find("title"))
    parts = [*parent.split(" > "), own] if parent and own else [own or parent or "Body"]
    title = " > ".join(parts if len(parts) <= MAX_PATH_PARTS else [parts[0], *parts[1 - MAX_PATH_PARTS:]])
    current = Section(title=title)
    sections.append(current)
    for child in section:
        name = local(child.tag)
        if name == "p":
            text = _text(child, _SKIPPED_IN_PARAGRAPHS)
            if text:
                current.blocks.append(Block(text=text, page=None))
            current.blocks.extend(_nested_blocks(child))
        elif name in ("fig", "table-wrap") and (block := _float_block(child)) is not None:
            current.blocks.append(block)
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


def _venue(root: etree._Element) -> str | None:
    """The journal's title (JATS 1.0 and later wrap it in a title group; NLM 2.x did not)."""
    journal = root.find("front/journal-meta")
    if journal is None:
        return None
    return _text(journal.find("journal-title-group/journal-title")) or _text(journal.find("journal-title")) or None


_NOT_THE_ABSTRACT = {"teaser", "graphical", "toc", "summary", "short", "web-summary", "editor", "author-highlights"}


def _main_abstract(meta: etree._Element) -> etree._Element | None:
    """The article's abstract: one with no type, else the first that is not a teaser, a graphical or a summary
    one (some articles put their teaser first)."""
    abstracts = list(meta.iterfind("abstract"))
    plain = [a for a in abstracts if not a.get("abstract-type")]
    return next(iter(plain or [a for a in abstracts if a.get("abstract-type") not in _NOT_THE_ABSTRACT]), None)


def _abstract_parts(abstract: etree._Element | None) -> list[tuple[str, str]]:
    """A structured abstract's parts as (label, text): ("Background", ...), ("Methods > Design", ...) for a part
    inside a part; text outside its parts has no label. Each element is read on its own: read whole, a label ran
    into the sentence after it ("...target tissues.ObjectiveWe examined...")."""
    if abstract is None:
        return []
    parts: list[tuple[str, str]] = []

    def read(element: etree._Element, path: str) -> None:
        loose: list[str] = []
        for child in element:
            if local(child.tag) in ("title", "label"):
                continue
            if local(child.tag) == "sec":
                if loose:  # text before a part inside this one comes first
                    parts.append((path, " ".join(loose)))
                    loose = []
                title = _text(child.find("title")).rstrip(" :.")
                read(child, f"{path} > {title}" if path and title else path or title)
            elif text := _text(child):
                loose.append(text)
        if loose:
            parts.append((path, " ".join(loose)))

    read(abstract, "")
    if not parts and (text := _text(abstract)):  # text straight inside <abstract>, no elements
        parts.append(("", text))
    return parts


def _abstract_sections(parts: list[tuple[str, str]]) -> list[Section]:
    """"Abstract", or "Abstract > Background", "Abstract > Objective"...: a parsed PDF's structured abstract reads
    the same, so a Background or an Objective is known as one (tools/sections.py: sets_the_question_up)."""
    sections: list[Section] = []
    for label, text in parts:
        title = f"Abstract > {label}" if label else "Abstract"
        if sections and sections[-1].title == title:
            sections[-1].blocks.append(Block(text, page=None))
        else:
            sections.append(Section(title, [Block(text, page=None)]))
    return sections


def parse_jats(path: Path) -> Document:
    path = Path(path)
    root = load_root(path)
    if local(root.tag) != "article":
        raise DocumentError(path, f"not a JATS article (root element <{local(root.tag)}>)")
    meta = root.find("front/article-meta")
    if meta is None:
        raise DocumentError(path, "JATS article without <article-meta>")
    parts = _abstract_parts(_main_abstract(meta))
    sections = _abstract_sections(parts)
    abstract = " ".join(f"{label}: {text}" if label else text for label, text in parts)
    body = root.find("body")
    if body is not None:
        loose = Section("Body")
        for child in body:
            if local(child.tag) == "sec":
                _section_blocks(child, "", sections)
            elif local(child.tag) == "p" and _text(child):
                loose.blocks.append(Block(_text(child), page=None))
        if loose.blocks:
            sections.insert(len(_abstract_sections(parts)), loose)
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
        year=min(int(y) for y in years) if years else None, sha256=sha256, doi=doi, venue=_venue(root),
        path=str(path.resolve()), abstract=abstract or None, license=_license(root),
        references=[r for r in map(_reference, root.iterfind("back/ref-list//ref")) if r is not None],
    )
