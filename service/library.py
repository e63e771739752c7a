"""The paper library's use cases, shared by the CLI, the HTTP API, Slack and the job worker: list, read, search,
add (files, arXiv, a reference manager's export, a Zotero library), delete, export and reindex.

The library is shared by the deployment; a paper is deleted only by the key that added it or an admin (`owner`
None is the operator at the command line, who may delete anything).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.gaps import FoundGap, OpenQuestionFinder
from agent.importing import BibliographyImporter, ImportReport
from agent.runtime import Runtime
from agent.zotero_sync import SyncReport, zotero_sync
from retrieval.ingest import IngestResult
from retrieval.search import Passage, RetrieverKind, SearchFilter
from service.errors import NotYoursError, UnknownPaperError
from store.catalog import PaperRow
from tools.citation_export import export
from tools.zotero import ZoteroLibrary


@dataclass(frozen=True)
class ListedPaper:
    """A paper as the library lists it: its record and how much of it SciSynth read and links."""

    row: PaperRow
    passages: int
    references: int  # entries of its reference list
    cited_by: int  # library papers citing it


@dataclass(frozen=True)
class PaperContents:
    sections: list[tuple[str, int | None]]  # (section, first page), in reading order
    open_questions: list[FoundGap]

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        """Sections and open questions as the API and `scisynth contents --json` show them."""
        return {"sections": [{"section": section, "page": page} for section, page in self.sections],
                "open_questions": [{"text": gap.sentence.text, "kind": gap.kind, "section": gap.passage.section,
                                    "page": gap.passage.page_of(gap.sentence.start)} for gap in self.open_questions]}


@dataclass
class LibraryService:
    runtime: Runtime
    _cited: tuple[str, Counter[str]] | None = None  # (catalog version, paper -> library papers citing it)

    def cited_counts(self) -> Counter[str]:
        """Paper id -> how many library papers cite it, read once per version of the library."""
        version = self.runtime.catalog.version()
        if self._cited is None or self._cited[0] != version:
            self._cited = (version, Counter(cited for _, cited in self.runtime.citation_graph.links()))
        return self._cited[1]

    def listing(self, text: str | None = None, sort: str = "added", descending: bool = False, offset: int = 0,
                limit: int = 100) -> tuple[list[ListedPaper], int]:
        """A page of the papers matching `text` (title, authors, venue, DOI, id), sorted by one of
        store.sorts.LIBRARY_SORTS, with their counts; and how many papers match."""
        catalog = self.runtime.catalog
        cited = self.cited_counts()
        if sort == "cited_by":  # counted from the whole library's links, so sorted here
            rows, total = catalog.listing(text, limit=None)
            rows = sorted(rows, key=lambda row: cited[row.paper_id], reverse=descending)[offset:offset + limit]
        else:
            rows, total = catalog.listing(text, sort, descending, offset, limit)
        counts = catalog.counts([row.paper_id for row in rows])
        return [ListedPaper(row, *counts[row.paper_id], cited[row.paper_id]) for row in rows], total

    def listed(self, paper_id: str) -> ListedPaper:
        """One paper with its counts."""
        row = self.paper(paper_id)
        passages, references = self.runtime.catalog.counts([row.paper_id])[row.paper_id]
        return ListedPaper(row, passages, references, self.cited_counts()[row.paper_id])

    def contents(self, paper_id: str) -> PaperContents:
        """The paper's table of contents and the open questions it states."""
        row = self.paper(paper_id)
        finder = OpenQuestionFinder(self.runtime.searcher, self.runtime.scorer, quality=self.runtime.settings.answer)
        return PaperContents(self.runtime.catalog.sections(row.paper_id), finder.of_paper(row.paper_id, row.title))

    def papers(self, offset: int = 0, limit: int | None = 100) -> list[PaperRow]:
        return self.runtime.catalog.papers(offset=offset, limit=limit)

    def count(self) -> int:
        return self.runtime.catalog.paper_count()

    def paper(self, paper_id: str) -> PaperRow:
        row = self.runtime.catalog.find_paper(paper_id)
        if row is None:
            raise UnknownPaperError(paper_id)
        return row

    def references(self, paper_id: str) -> list[dict[str, Any]]:
        """The paper's parsed reference list; `in_library` names the library paper an entry cites, if any."""
        return self.runtime.citation_graph.references(self.paper(paper_id).paper_id)

    def cited_by(self, paper_id: str) -> list[PaperRow]:
        """The library papers whose reference lists cite this paper."""
        return self.runtime.citation_graph.cited_by(self.paper(paper_id))

    def search(self, query: str, k: int = 10, retriever: RetrieverKind = "hybrid", where: SearchFilter | None = None,
               mmr_balance: float | None = None) -> list[Passage]:
        return self.runtime.searcher.search(query, k=k, retriever=retriever, where=where, mmr_balance=mmr_balance)

    def delete(self, paper_id: str, owner: str | None = None, admin: bool = True) -> None:
        """Remove a paper, its passages and vectors: by its adder (`owner`) or an admin."""
        row = self.paper(paper_id)
        if not admin and (row.added_by is None or row.added_by != owner):
            raise NotYoursError("only the key that added this paper, or an admin, may delete it")
        self.runtime.ingestor.delete(paper_id)

    def export(self, papers: list[PaperRow], fmt: str) -> str:
        """The papers as BibTeX, RIS or CSL-JSON. Keys are fixed against every library paper that could share one
        (a key holds the year: the papers of the same years), so a paper keeps its key in any export."""
        neighbours = self.runtime.catalog.papers_of_years({paper.year for paper in papers})
        return export([p.as_reference() for p in papers], fmt, [p.as_reference() for p in neighbours])

    def ingest(self, paths: list[Path], owner: str | None = None, untrusted: bool = False,
               on_paper: Callable[[IngestResult], None] | None = None) -> list[IngestResult]:
        """Add every paper in the files. `untrusted` (an upload): each file is read in a bounded child process."""
        limits = self.runtime.settings.jobs.parse_limits if untrusted else None
        return self.runtime.ingestor.ingest_paths(paths, on_paper=on_paper, added_by=owner, limits=limits)

    def fetch(self, arxiv_ids: list[str], owner: str | None = None, with_pdf: bool = True) -> list[IngestResult]:
        """arXiv papers by id, with their PDFs unless `with_pdf` is False (ArxivError when arXiv cannot be
        reached)."""
        return self.runtime.fetcher.fetch(arxiv_ids, with_pdf=with_pdf, added_by=owner)

    def import_bibliography(self, path: Path, owner: str | None = None, read_local_files: bool = True,
                            on_entry: Callable[[IngestResult], None] | None = None) -> ImportReport:
        """A BibTeX or RIS export (BibliographyError when the file cannot be read). `read_local_files` False for an
        uploaded file: its `file` fields name paths on the uploader's machine, not the server's."""
        settings = self.runtime.settings
        importer = BibliographyImporter(self.runtime.catalog, self.runtime.ingestor,
                                        self.runtime.fetcher if settings.arxiv.use_arxiv else None,
                                        read_local_files=read_local_files, limits=settings.jobs.parse_limits)
        return importer.import_file(path, on_entry=on_entry, added_by=owner)

    def sync_zotero(self, library: str, collection: str | None = None, owner: str | None = None,
                    on_item: Callable[[IngestResult], None] | None = None) -> SyncReport:
        """A Zotero library (or collection) in (ZoteroError when Zotero cannot be read)."""
        return zotero_sync(self.runtime).sync(ZoteroLibrary.parse(library), collection, added_by=owner,
                                              on_item=on_item)

    def reindex(self, on_batch: Callable[[int], None] | None = None) -> int:
        """Embed every passage again into the (empty) vector index; returns how many."""
        count = self.runtime.ingestor.reindex(on_batch=on_batch)
        if self.runtime.scorer.stored is not None:  # what it had read of the old vectors
            self.runtime.scorer.stored.forget()
        return count
