"""Pick the reader for a file by its content (PDF magic) and suffix; every reader yields Documents
(or per-item errors)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from tools.documents import Document, DocumentError
from tools.jats import parse_jats
from tools.pdf import parse_pdf
from tools.records import read_jsonl
from tools.tei import parse_tei
from tools.xmltext import local

SUPPORTED_SUFFIXES = (".pdf", ".nxml", ".xml", ".jsonl")


def _starts_with(path: Path, magic: bytes) -> bool:
    """The file's own bytes decide its reader, not its name: a PDF called `notes.jsonl` is read as a PDF."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(magic)) == magic
    except OSError:
        return False


def iter_documents(path: Path) -> Iterator[Document | DocumentError]:
    """The papers in a file (a PDF, JATS or GROBID TEI file holds one, a JSONL file many). A file or record
    that cannot be read yields a DocumentError naming it and the reason, and reading goes on."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        yield DocumentError(path, "no such file")
        return
    if suffix not in SUPPORTED_SUFFIXES:
        readable = ", ".join(SUPPORTED_SUFFIXES)
        yield DocumentError(path, f"unsupported file type {suffix or '(none)'}; SciSynth reads {readable}")
        return
    is_pdf = _starts_with(path, b"%PDF-")
    if suffix == ".jsonl" and not is_pdf:
        yield from read_jsonl(path)
        return
    try:
        if is_pdf or suffix == ".pdf":
            yield parse_pdf(path)
        else:
            yield parse_tei(path) if _root_element(path) == "TEI" else parse_jats(path)
    except DocumentError as error:
        yield error


def read_documents(path: Path) -> list[Document | DocumentError]:
    """`iter_documents` as a list: what a child process reading an untrusted file sends back."""
    return list(iter_documents(path))


def _root_element(path: Path) -> str:
    """The XML file's root element name (TEI or JATS's article), read without parsing the rest."""
    try:
        for _event, element in etree.iterparse(str(path), events=("start",), resolve_entities=False,
                                                no_network=True, load_dtd=False):
            return local(element.tag)
    except etree.XMLSyntaxError:
        return ""  # the reader reports the syntax error with its position
    return ""


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files named directly, plus the supported files found under any folder, in a stable order."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES))
        else:
            files.append(path)
    return files
