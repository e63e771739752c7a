"""The typed document every parser produces: paper -> sections -> blocks with page numbers."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path


class DocumentError(Exception):
    """A file could not be read as a paper. The message names the file and says what to do."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self) -> tuple:
        """Rebuilt from its two fields when it crosses a process boundary (tools/isolation.py)."""
        return DocumentError, (self.path, self.reason)


@dataclass(frozen=True)
class Block:
    """A paragraph, caption or table of a paper; `page` is 1-based, as a PDF viewer shows it, and None for
    sources without pages (JATS, JSONL). A table's text is its caption, then the table in Markdown
    (`table_block`)."""

    text: str
    page: int | None
    kind: str = "paragraph"


def table_block(caption: str, rows: Sequence[Sequence[str]], page: int | None) -> Block:
    """A table as a block: its caption on the first line, then a Markdown table, one line per row (the first
    row is the header; short rows are padded)."""
    width = max(len(row) for row in rows)

    def line(cells: Sequence[str]) -> str:
        padded = [" ".join(cell.split()).replace("|", "\\|") for cell in cells] + [""] * (width - len(cells))
        return "| " + " | ".join(padded) + " |"

    header, *body = rows
    # The delimiter row as short as Markdown allows ("|-|-|"): it is repeated in every passage of a table and
    # costs encoder tokens per column.
    markdown = "\n".join([line(header), "|" + "-|" * width, *(line(row) for row in body)])
    return Block(text=f"{' '.join(caption.split()) or 'Table'}\n{markdown}", page=page, kind="table")


FRONT_MATTER = "Front matter"  # what a PDF reader calls the text before the first heading


@dataclass
class Section:
    """A section with its heading path ("Methods > Participants"); `run_in` when its last heading opened a
    paragraph (a bold lead, "Participants. Twenty adults...") rather than standing on a line of its own."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    run_in: bool = False


@dataclass(frozen=True)
class Reference:
    """One entry of a paper's reference list, as parsed (fields it did not give are None or empty)."""

    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    venue: str | None = None
    raw: str = ""


@dataclass(frozen=True)
class Heading:
    """A heading as the reader found it: its text as printed, its level (its depth in the outline: 1 = top) and its
    page."""

    title: str
    level: int
    page: int | None = None


@dataclass
class Document:
    paper_id: str
    title: str
    source: str
    sections: list[Section]
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    sha256: str | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    path: str | None = None
    page_count: int | None = None
    abstract: str | None = None
    license: str | None = None
    references: list[Reference] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)  # the table of contents, back matter included
    venue: str | None = None
    reader: str | None = None  # which reader produced it (a PDF may be read twice: tools/pdf.py)
    reader_note: str | None = None  # why the second reader ran, when it did
    doubts: list[str] = field(default_factory=list)  # what looked wrong in the first reader's parse


# C0 controls but tab, newline and carriage return, and DEL: never text, and PostgreSQL refuses NUL in a string.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(text: str) -> str:
    return _CONTROL.sub("", text)


def without_control_characters(document: Document) -> Document:
    """The document with control characters removed from every string a reader or an import gave it (titles,
    authors, text, references), before any of it is chunked or stored."""
    def optional(text: str | None) -> str | None:
        return plain_text(text) if text is not None else None

    return replace(
        document, paper_id=plain_text(document.paper_id), title=plain_text(document.title),
        authors=[plain_text(a) for a in document.authors], abstract=optional(document.abstract),
        license=optional(document.license), doi=optional(document.doi),
        sections=[Section(plain_text(s.title), [replace(b, text=plain_text(b.text)) for b in s.blocks], s.run_in)
                  for s in document.sections],
        references=[replace(r, title=plain_text(r.title), authors=tuple(plain_text(a) for a in r.authors),
                            venue=optional(r.venue), raw=plain_text(r.raw), doi=optional(r.doi))
                    for r in document.references])


def title_key(title: str) -> str:
    """A title reduced to lower-case letters and digits: how two records of one paper (a PDF and its GROBID
    parse, a reference and the paper it names) are matched."""
    return re.sub(r"[^0-9a-z]+", "", unicodedata.normalize("NFKD", title).lower())


def reading_note(reader: str | None, note: str) -> str:
    """How a PDF was read, for a person: the layout model's note lists the doubts the font reader's parse raised
    (not the layout model's result), the font reader's why the layout model's parse was not kept."""
    if reader == "layout model":
        return f"read by the layout model, as the font reader's parse had: {note}"
    return f"read by the font reader: {note}"


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file so a reader sees the old one or the whole new one, never half (a crash mid-write included)."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for piece in iter(lambda: handle.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def paper_id_from_sha256(sha256: str) -> str:
    """A stable id for a file with no better identity (DESIGN: derived from its sha256)."""
    return f"sha256:{sha256[:16]}"
