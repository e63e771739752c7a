"""Safe XML for paper formats (JATS, GROBID TEI): a parser that never resolves entities, loads DTDs or
touches the network (no XXE, no billion laughs), a size cap, and readable text of an element."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from tools.documents import DocumentError

MAX_BYTES = 50 * 1024 * 1024
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                         remove_comments=True, remove_pis=True)


def local(tag: object) -> str:
    """An element's name without its namespace ("" for comments and the like)."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def load_root(path: Path) -> etree._Element:
    """The document's root element; DocumentError for a missing, oversized or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise DocumentError(path, "no such file")
    if path.stat().st_size > MAX_BYTES:
        raise DocumentError(path, f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        return etree.parse(str(path), PARSER).getroot()
    except etree.XMLSyntaxError as error:
        raise DocumentError(path, f"not well-formed XML ({error})") from error


# A JATS callout to a figure, a table, a section or supplementary material is part of its sentence ("(Figure
# 2A)", "Table 1 shows"): read even where callouts are skipped; a bibliographic or footnote callout is not.
_READ_CALLOUTS = frozenset({"fig", "table", "supplementary-material", "sec", "app", "boxed-text", "disp-formula",
                            "scheme", "chem"})


def _skipped(node: etree._Element, skipped: frozenset[str]) -> bool:
    name = local(node.tag)
    return name in skipped and not (name == "xref" and node.get("ref-type") in _READ_CALLOUTS)


def text_of(element: etree._Element | None, skipped: frozenset[str] = frozenset()) -> str:
    """Readable text of an element, white space folded; elements named in `skipped` (citation callouts,
    formulas, tables) are left out, and the empty brackets they leave behind removed."""
    if element is None:
        return ""
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        if _skipped(node, skipped):
            if node.tail:
                parts.append(node.tail)
            return
        if node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
        if node.tail and node is not element:
            parts.append(node.tail)

    walk(element)
    text = " ".join("".join(parts).split())
    return re.sub(r"\s+([,.;:)])", r"\1", re.sub(r"[\[(]\s*[,;–-]*\s*[\])]", "", text)).strip()
