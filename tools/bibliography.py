"""Reference-manager exports read into records: BibTeX (bibtexparser 2, LaTeX accents decoded) and RIS
(rispy), as Zotero, Mendeley and JabRef write them.

A record keeps what an import needs: identity (DOI, arXiv id), bibliographic fields, the abstract when the
export has one, and the PDFs its `file` field points to. An entry that cannot be read is reported with its
line and skipped; the rest of the file is still read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import bibtexparser
import rispy
from bibtexparser import middlewares
from bibtexparser.model import Entry

from tools.arxiv_ids import ARXIV_ID, is_arxiv_id, without_version
from tools.references import normalise_doi

MAX_BYTES = 20 * 1024 * 1024
MAX_ENTRIES = 5000  # an import holds the ingest worker for about 0.2 s an entry; split larger exports
# LaTeX decoding (pylatexenc) grows faster than a field's length (a 1 MB abstract: 16 s), and no real title or
# abstract comes near this; a longer field is cut at a word boundary before decoding, and the entry says so.
MAX_FIELD_CHARS = 20_000
# arXiv ids where exports put them: eprint fields, "arXiv:2004.07180" in a journal or note, abs/pdf URLs, and
# arXiv's own DOIs (10.48550/arXiv.2004.07180).
_ARXIV_MENTION = re.compile(rf"(?:arxiv[:.\s]\s*|arxiv\.org/(?:abs|pdf)/)({ARXIV_ID.pattern})", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")


class BibliographyError(Exception):
    """The whole file cannot be read (not a bibliography, too large, not text)."""


@dataclass(frozen=True)
class BibRecord:
    key: str
    title: str
    line: int  # 1-based line where the entry starts in its file
    authors: tuple[str, ...] = ()
    year: int | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    venue: str | None = None
    abstract: str | None = None
    files: tuple[Path, ...] = ()  # PDFs the entry's `file` field names, resolved against the export's folder
    note: str | None = None  # what the import changed in the entry (a field cut to MAX_FIELD_CHARS)


@dataclass(frozen=True)
class BadEntry:
    line: int
    reason: str


def arxiv_id_in(*texts: str | None) -> str | None:
    for text in texts:
        if text and is_arxiv_id(text.strip()):
            return without_version(text.strip())
        match = _ARXIV_MENTION.search(text or "")
        if match and is_arxiv_id(match.group(1)):
            return without_version(match.group(1))
    return None


def year_in(text: object) -> int | None:
    match = _YEAR.search(str(text or ""))
    return int(match.group(1)) if match else None


def _local_pdf(value: str, folder: Path) -> Path | None:
    """A PDF path as exports write it (absolute, relative to the export's folder, or a file:// URL)."""
    value = value.replace("\\:", ":").strip()  # Mendeley escapes a drive's colon: C\:/Users/...
    if value.lower().startswith("file://"):
        value = unquote(urlparse(value).path)
    if not value.lower().endswith(".pdf"):
        return None
    return Path(value) if Path(value).is_absolute() else folder / value


def _pdfs(field: str, folder: Path) -> tuple[Path, ...]:
    """PDF paths of a BibTeX `file` field: Zotero "Title:/path/x.pdf:application/pdf", JabRef ":x.pdf:PDF"
    (relative to the .bib), Mendeley ":C$\\backslash$:/x.pdf:pdf"; several separated by ";"."""
    paths = []
    for part in field.replace("$\\backslash$", "\\").split(";"):
        pieces = part.split(":")
        path = _local_pdf(":".join(pieces[1:-1]) if len(pieces) >= 3 else part, folder)  # description:path:type
        if path is not None:
            paths.append(path)
    return tuple(paths)


def _person(name: object) -> str:
    """ "Jörg Müller" from bibtexparser's name parts (first von last, jr)."""
    parts = getattr(name, "first", []) + getattr(name, "von", []) + getattr(name, "last", [])
    text = " ".join(parts) or str(name)
    return f"{text}, {' '.join(name.jr)}" if getattr(name, "jr", None) else text


def _clean(text: object) -> str:
    return " ".join(str(text or "").replace("{", "").replace("}", "").split())


def _cut_long_fields(entry: Entry) -> str | None:
    """Cut every field longer than MAX_FIELD_CHARS at a word boundary (before LaTeX decoding, which is
    super-linear in a field's length); a note naming the fields cut, or None."""
    cut = []
    for field in entry.fields:
        value = str(field.value)
        if len(value) > MAX_FIELD_CHARS:
            field.value = value[:MAX_FIELD_CHARS].rsplit(None, 1)[0]
            cut.append(field.key)
    return f"{', '.join(cut)} cut to {MAX_FIELD_CHARS:,} characters" if cut else None


def read_bibtex(text: str, folder: Path) -> tuple[list[BibRecord], list[BadEntry]]:
    library = bibtexparser.parse_string(text)
    blocks = len(library.entries) + len(library.failed_blocks)
    if blocks > MAX_ENTRIES:  # counted as the parser splits the file, however the entries are written
        raise BibliographyError(f"{blocks:,} entries, more than {MAX_ENTRIES:,} in one import; split the export "
                                "(by collection or year)")
    # File paths as written, taken before LaTeX decoding (it would turn "~" into a no-break space and "%" into a
    # comment); the middlewares return decoded copies, so the file is parsed once.
    raw_files = {entry.key: str(entry.fields_dict["file"].value) for entry in library.entries
                 if "file" in entry.fields_dict}
    notes = {entry.key: note for entry in library.entries if (note := _cut_long_fields(entry))}
    for middleware in (middlewares.LatexDecodingMiddleware(), middlewares.SeparateCoAuthors(),
                       middlewares.SplitNameParts()):
        library = middleware.transform(library)
    records, bad = [], [BadEntry(block.start_line + 1, _failure(block)) for block in library.failed_blocks]
    for entry in library.entries:
        fields = {field.key.lower(): field.value for field in entry.fields}
        title = _clean(fields.get("title"))
        if not title:
            bad.append(BadEntry(entry.start_line + 1, f"@{entry.entry_type}{{{entry.key}}} has no title"))
            continue
        authors = fields.get("author") or []
        eprint = fields.get("eprint") if str(fields.get("archiveprefix", fields.get("eprinttype", "arxiv"))
                                             ).lower() == "arxiv" else None
        records.append(BibRecord(
            key=entry.key, title=title, line=entry.start_line + 1,
            authors=tuple(p for a in authors if (p := _person(a)).lower() != "others") if isinstance(authors, list)
            else (_clean(authors),),
            year=year_in(fields.get("year") or fields.get("date")), doi=normalise_doi(fields.get("doi")),
            arxiv_id=arxiv_id_in(eprint, fields.get("journal"), fields.get("url"), fields.get("note"),
                               fields.get("doi")),
            venue=_clean(fields.get("journal") or fields.get("booktitle")) or None,
            abstract=_clean(fields.get("abstract")) or None, files=_pdfs(raw_files.get(entry.key, ""), folder),
            note=notes.get(entry.key)))
    return records, sorted(bad, key=lambda b: b.line)


def _failure(block: object) -> str:
    error = getattr(block, "error", None)
    reason = " ".join(str(getattr(error, "abort_reason", "") or error or "syntax error").split())
    return f"not a valid BibTeX entry: {reason}"


def _listed(value: object) -> list[str]:
    """rispy gives a tag that may repeat as a list, and some single tags as a string."""
    return [str(v) for v in value] if isinstance(value, list) else [str(value)] if value else []


_RIS_START = re.compile(r"^TY  - ", re.MULTILINE)


def read_ris(text: str, folder: Path) -> tuple[list[BibRecord], list[BadEntry]]:
    """Each record ("TY  - " to "ER  - ") read on its own, so one bad record does not lose the others."""
    records, bad = [], []
    starts = [match.start() for match in _RIS_START.finditer(text)]
    line, counted = 1, 0
    for start, end in zip(starts, [*starts[1:], len(text)][:len(starts)], strict=True):
        line, counted = line + text.count("\n", counted, start), start  # counted once: large files stay linear
        try:  # rispy raises plain IOError, ValueError or KeyError on a bad record
            parsed = rispy.loads(text[start:end])
        except (OSError, ValueError, KeyError, TypeError) as error:
            bad.append(BadEntry(line, f"not a valid RIS record ({error})"))
            continue
        if len(parsed) != 1:
            bad.append(BadEntry(line, "RIS record without its end line (ER  - )"))
            continue
        fields = parsed[0]
        title = _clean(fields.get("title") or fields.get("primary_title") or fields.get("translated_title"))
        if not title:
            bad.append(BadEntry(line, "RIS record without a title (TI or T1)"))
            continue
        urls = _listed(fields.get("urls"))
        abstract = _clean(fields.get("abstract"))
        note = f"abstract cut to {MAX_FIELD_CHARS:,} characters" if len(abstract) > MAX_FIELD_CHARS else None
        records.append(BibRecord(
            key=fields.get("id") or f"ris-{line}", title=title, line=line,
            authors=tuple(_listed(fields.get("authors") or fields.get("first_authors"))),
            year=year_in(fields.get("year") or fields.get("publication_year") or fields.get("date")),
            doi=normalise_doi(fields.get("doi")),
            arxiv_id=arxiv_id_in(*urls, fields.get("doi"), fields.get("notes_abstract"), *_listed(fields.get("notes"))),
            venue=_clean(fields.get("journal_name") or fields.get("secondary_title")) or None,
            abstract=abstract[:MAX_FIELD_CHARS] or None, note=note,
            files=tuple(path for key in ("file_attachments1", "file_attachments2") for value in _listed(fields.get(key))
                        if (path := _local_pdf(value, folder)) is not None)))
    if not starts and text.strip():
        bad.append(BadEntry(1, "no RIS record found (records start with 'TY  - ')"))
    return records, bad


def bibliography_text(path: Path) -> tuple[str, bool]:
    """The file's text and whether it is RIS (else BibTeX), after the checks that cost no parsing: it exists, is
    at most MAX_BYTES, is UTF-8 and looks like one of the two (BibliographyError otherwise). The service runs this
    while a request waits; `read_bibliography` parses, in a job."""
    path = Path(path)
    if not path.is_file():
        raise BibliographyError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise BibliographyError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB; split the export")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise BibliographyError(f"{path}: not UTF-8 text ({error.reason}); export it as UTF-8") from error
    is_ris = path.suffix.lower() == ".ris" or (path.suffix.lower() != ".bib" and bool(_RIS_START.search(text)))
    if not is_ris and "@" not in text:
        raise BibliographyError(f"{path}: neither BibTeX (.bib) nor RIS (.ris)")
    if is_ris and (records := len(_RIS_START.findall(text))) > MAX_ENTRIES:  # the records read_ris splits off
        raise BibliographyError(f"{path}: {records:,} entries, more than {MAX_ENTRIES:,} in one import; split the "
                                "export (by collection or year)")
    return text, is_ris


def read_bibliography(path: Path) -> tuple[list[BibRecord], list[BadEntry]]:
    """Records of a .bib or .ris file (by its suffix, else by its content), and the entries that were skipped.
    Untrusted files are read through tools.isolation (see agent/importing.py)."""
    text, is_ris = bibliography_text(path)
    try:
        records, bad = (read_ris if is_ris else read_bibtex)(text, Path(path).parent)
    except BibliographyError as error:
        raise BibliographyError(f"{path}: {error}") from error
    if not records and not bad:
        raise BibliographyError(f"{path}: no entries found (BibTeX entries start with @, RIS records with 'TY  - ')")
    return records, bad
