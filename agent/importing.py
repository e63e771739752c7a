"""Importing a reference manager's export (BibTeX or RIS) into the library.

Each entry becomes a paper the way a researcher would expect: an arXiv id is fetched from arXiv (PDF and
all, through the polite client); a `file` field naming a readable local PDF is ingested from it, under the
entry's own title, authors, year and DOI (a reference manager's metadata beats a PDF's); anything else is kept
as a metadata-only paper (title, authors, year, DOI, abstract when the export has one) that searches and
citations can still use. An entry already in the library is left alone, so importing twice changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from agent.papers import PaperFetcher
from retrieval.ingest import Ingestor, IngestResult
from store.catalog import REFERENCE_SOURCE, Catalog, PaperRow
from tools.arxiv_client import ArxivError
from tools.bibliography import BadEntry, BibliographyError, BibRecord, read_bibliography
from tools.documents import Block, Document, DocumentError, Section
from tools.isolation import IsolationError, ParseLimits, run_isolated
from tools.pdf import parse_pdf
from tools.pdf_confidence import settled

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    results: list[IngestResult]  # one per entry read, in file order
    skipped: list[BadEntry]  # entries that could not be read, with their line

    def public(self) -> dict:
        counts = {status: sum(r.status == status for r in self.results) for status in ("added", "unchanged", "failed")}
        return {"results": [r.public() for r in self.results], "counts": counts,
                "skipped": [{"line": b.line, "reason": b.reason} for b in self.skipped]}


def metadata_document(record: BibRecord) -> Document:
    """A paper known only from its reference: the abstract when there is one, else the reference itself, so
    its title, venue and year are searchable and citable."""
    reference = ". ".join(filter(None, [record.title, record.venue, str(record.year or "")])) + "."
    section = Section("Abstract", [Block(record.abstract, None)]) if record.abstract else Section(
        "Reference", [Block(reference, None)])
    # Any script's title identifies it (title_key keeps only Latin letters and digits), with its authors and year.
    identity = record.doi or record.arxiv_id or "|".join(
        [unicodedata.normalize("NFKC", record.title).casefold(), *record.authors, str(record.year or "")])
    return Document(
        paper_id=f"doi:{record.doi}" if record.doi else f"bib:{hashlib.sha256(identity.encode()).hexdigest()[:16]}",
        title=record.title, source=REFERENCE_SOURCE, sections=[section], authors=list(record.authors),
        year=record.year, doi=record.doi, arxiv_id=record.arxiv_id, abstract=record.abstract, venue=record.venue)


class BibliographyImporter:
    def __init__(self, catalog: Catalog, ingestor: Ingestor, fetcher: PaperFetcher | None,
                 read_local_files: bool = True, limits: ParseLimits | None = None) -> None:
        """`limits`: how long and with how much memory the file and each PDF it names may be read (in a child
        process: tools/isolation.py)."""
        self.catalog = catalog
        self.limits = limits or ParseLimits()
        self.ingestor = ingestor
        self.fetcher = fetcher  # None when arXiv is switched off: arXiv entries are kept as metadata
        # False for a file uploaded to the service: its `file` fields name paths on the uploader's machine, and
        # the server must not ingest whatever PDF of its own such a path happens to name.
        self.read_local_files = read_local_files

    def import_file(self, path: Path, on_entry: Callable[[IngestResult], None] | None = None,
                    added_by: str | None = None) -> ImportReport:
        """Import every readable entry of a .bib or .ris file (BibliographyError when the file is unreadable).
        Entries kept as references are ingested in batches (one transaction and one index save each), the
        arXiv and PDF ones one by one; results stay in file order."""
        records, skipped = self.read(path)
        for bad in skipped:
            log.info("%s:%d skipped: %s", path, bad.line, bad.reason)
        results: list[IngestResult | None] = []
        waiting: list[tuple[int, str, Document, str | None]] = []  # result slot, origin, reference, note

        def flush() -> None:
            done = self.ingestor.ingest_batch([(origin, document) for _, origin, document, _ in waiting], added_by)
            for (slot, _, _, note), result in zip(waiting, done, strict=True):
                results[slot] = _noted(result, note)
                if on_entry:
                    on_entry(result)
            waiting.clear()

        for record in records:
            origin = f"{path}:{record.line}"
            outcome = self._resolve(record, origin, added_by)
            results.append(outcome if isinstance(outcome, IngestResult) else None)
            if isinstance(outcome, IngestResult):
                if on_entry:
                    on_entry(outcome)
                continue
            waiting.append((len(results) - 1, origin, *outcome))
            if len(waiting) >= self.ingestor.batch_papers:
                flush()
        if waiting:
            flush()
        return ImportReport([r for r in results if r is not None], skipped)

    def read(self, path: Path) -> tuple[list[BibRecord], list[BadEntry]]:
        """The file's entries, read in a child process within the limits (BibliographyError when it cannot be)."""
        try:
            return run_isolated(read_bibliography, self.limits, Path(path).name, path)
        except IsolationError as error:
            raise BibliographyError(f"{path}: {error}") from error

    def _known(self, record: BibRecord) -> PaperRow | None:
        """The library paper this entry names, if any: its arXiv id, or what ingest itself matches (id, DOI, or
        title with a shared author)."""
        by_arxiv = self.catalog.find_paper(record.arxiv_id) if record.arxiv_id else None
        return by_arxiv or self.ingestor.known_paper(metadata_document(record))

    def import_record(self, record: BibRecord, origin: str, added_by: str | None = None) -> IngestResult:
        """One entry into the library (a paper already there comes back "unchanged")."""
        outcome = self._resolve(record, origin, added_by)
        if isinstance(outcome, IngestResult):
            return outcome
        document, note = outcome
        return _noted(self.ingestor.ingest_document(document, origin, added_by), note)

    def _resolve(self, record: BibRecord, origin: str, added_by: str | None
                 ) -> IngestResult | tuple[Document, str | None]:
        """The entry's result when it is known or came from arXiv or a PDF; else the reference to keep (with a
        note saying why the paper itself could not be had). The paper itself, once arXiv has it or a readable PDF
        is attached, is added for `added_by`; a reference that key had kept then goes, one another key owns stays
        (an import never deletes or takes over another key's paper). Otherwise a known entry is left as it is
        (importing again changes nothing)."""
        known = self._known(record)
        if known is not None and known.source != REFERENCE_SOURCE:
            return IngestResult(origin, "unchanged", known.paper_id, known.title)
        note = record.note
        if record.arxiv_id and self.fetcher is not None:
            try:
                papers = self.fetcher.arxiv.lookup([record.arxiv_id])
            except ArxivError as error:
                note = _joined(note, f"arXiv unreachable ({error}); kept the reference, import again to fetch the "
                                     "paper")
            else:
                if papers:
                    result = self.fetcher.ingest(papers[0], added_by=added_by)
                    result.path = origin
                    return self._replacing(known, result, added_by)
                note = _joined(note, f"arXiv has no {record.arxiv_id}; kept the reference")
        if record.files and not self.read_local_files:
            note = _joined(note, "the entry's PDF is on your machine, not the server's; upload the PDF to add its "
                                 "full text")
        for pdf in record.files if self.read_local_files else ():
            try:
                document = settled(run_isolated(parse_pdf, self.limits, pdf.name, pdf))
            except (DocumentError, IsolationError) as error:
                note = _joined(note, f"{pdf}: {getattr(error, 'reason', error)}; kept the reference")
                continue
            titled, mismatch = _with_record_metadata(document, record)
            result = self.ingestor.ingest_document(titled, origin, added_by)
            return self._replacing(known, _noted(result, mismatch), added_by)
        if known is not None:
            return IngestResult(origin, "unchanged", known.paper_id, known.title, error=note)
        return metadata_document(record), note

    def _replacing(self, reference: PaperRow | None, result: IngestResult, added_by: str | None) -> IngestResult:
        """The full text's result; the reference it supersedes is removed when `added_by` owns it."""
        if (reference is not None and result.paper_id not in (None, reference.paper_id)
                and result.status != "failed" and reference.added_by == added_by):
            self.ingestor.delete(reference.paper_id)
        return result


def _title_words(title: str) -> set[str]:
    return {word for word in re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKD", title).lower()) if len(word) > 2}


def _with_record_metadata(document: Document, record: BibRecord) -> tuple[Document, str | None]:
    """The PDF under the entry's title, authors, year, venue and DOI (a reference manager's metadata beats what a PDF's
    first page gives); when the PDF's own title shares under half its words with the entry's, a note says so, so
    a mislabelled attachment is seen rather than silently renamed."""
    own, entry = _title_words(document.title), _title_words(record.title)
    differs = len(own) >= 3 and len(own & entry) < len(own) / 2
    note = f"the PDF's own title reads {document.title[:120]!r}; kept the entry's title" if differs else None
    return replace(document, title=record.title, authors=list(record.authors) or document.authors,
                   year=record.year or document.year, doi=record.doi or document.doi, arxiv_id=record.arxiv_id,
                   venue=record.venue or document.venue), note


def _joined(*notes: str | None) -> str | None:
    return "; ".join(note for note in notes if note) or None


def _noted(result: IngestResult, note: str | None) -> IngestResult:
    if note and result.status == "added":
        result.error = note
    return result
