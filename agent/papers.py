"""Finding and fetching papers from arXiv into the library: metadata lookup, safe PDF download, parse,
ingest; the abstract alone when the PDF cannot be had, so the paper is still searchable and citable."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from agent.keywords import content_words
from retrieval.ingest import Ingestor, IngestResult
from store.catalog import Catalog
from tools.acquire import DownloadError, FetchPolicy, FetchRefusedError, download_pdf
from tools.arxiv_client import ArxivClient, ArxivError, ArxivPaper, build_query
from tools.arxiv_ids import is_arxiv_id, without_version
from tools.documents import Block, Document, DocumentError, Section
from tools.pdf import parse_pdf

log = logging.getLogger(__name__)


def arxiv_document(paper: ArxivPaper, pdf: Document | None = None) -> Document:
    """The paper under its arXiv identity: metadata from arXiv, body from the PDF when there is one."""
    sections = pdf.sections if pdf else [Section("Abstract", [Block(paper.abstract, page=None)])]
    return Document(
        paper_id=paper.base_id, title=paper.title, source="arxiv", sections=sections, authors=paper.authors,
        year=paper.published.year if paper.published else None, sha256=pdf.sha256 if pdf else None,
        arxiv_id=paper.arxiv_id, doi=paper.doi, path=pdf.path if pdf else None,
        page_count=pdf.page_count if pdf else None, abstract=paper.abstract,
    )


@dataclass
class PaperFetcher:
    arxiv: ArxivClient
    ingestor: Ingestor
    papers_dir: Path
    policy: FetchPolicy
    max_bytes: int = 50 * 1024 * 1024

    def _pdf(self, paper: ArxivPaper) -> Document:
        url = f"{self.arxiv.pdf_url}{paper.arxiv_id}"
        target = self.papers_dir / (re.sub(r"[^\w.-]", "_", paper.arxiv_id) + ".pdf")
        download_pdf(url, target, self.policy, self.max_bytes)
        return parse_pdf(target)

    def fetch(self, ids: list[str], with_pdf: bool = True, added_by: str | None = None) -> list[IngestResult]:
        """Ingest arXiv papers by id; unknown or malformed ids come back as "failed" results."""
        valid = [i for i in ids if is_arxiv_id(i)]
        papers = {p.base_id: p for p in self.arxiv.lookup(valid)} if valid else {}
        results: list[IngestResult] = []
        for requested in ids:
            if not is_arxiv_id(requested):
                results.append(IngestResult(requested[:80], "failed", error="not an arXiv id (e.g. 2104.12255)"))
                continue
            paper = papers.get(without_version(requested))
            if paper is None:
                results.append(IngestResult(requested, "failed", requested, error="not found on arXiv"))
                continue
            results.append(self.ingest(paper, with_pdf, added_by))
        return results

    def ingest(self, paper: ArxivPaper, with_pdf: bool = True, added_by: str | None = None) -> IngestResult:
        """Ingest one arXiv record (from a look-up or a search): its PDF when it can be had, else its abstract."""
        pdf, note = None, None
        if with_pdf:
            try:
                pdf = self._pdf(paper)
            except (FetchRefusedError, DownloadError, DocumentError) as error:
                note = f"abstract only: {error}"
                log.warning("%s: %s", paper.arxiv_id, note)
        result = self.ingestor.ingest_document(arxiv_document(paper, pdf), paper.abs_url, added_by)
        result.error = note if result.status == "added" else result.error
        return result


ARXIV_OFF = ("reading arXiv's papers is turned off here (SCISYNTH_USE_ARXIV=false or SCISYNTH_PAPERS_PER_TURN=0): "
             "leave out --arxiv, or turn it on")
_SHOWN_ERROR = 160  # characters of an arXiv failure a trace line shows (the log has all of it)
_LINK = re.compile(r"\b(?:https?|ftp)://\S+|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?")


def arxiv_query(text: str, year_from: int | None = None, year_to: int | None = None) -> str:
    """The arXiv search for a question or a claim: its first content words, within the years when given."""
    return build_query(" ".join(content_words(text)[:8]), since=date(year_from, 1, 1) if year_from else None,
                       until=date(year_to, 12, 31) if year_to else None)


@dataclass
class NewPaperReader:
    """Reads into the library what arXiv has on a claim or a query and the library lacks, before the library is
    read: a check or a table should not rest only on the papers a researcher already added. At most `most` papers
    are read (each a PDF download and a parse) of the `results` best arXiv finds; they stay in the library."""

    arxiv: ArxivClient
    fetcher: PaperFetcher
    catalog: Catalog
    most: int = 2
    results: int = 5

    def read_new(self, text: str, added_by: str | None = None, year_from: int | None = None,
                 year_to: int | None = None) -> str:
        """What was searched and read, as a line to show. arXiv failing is said there, not raised: the library
        still answers. `added_by`: the key the papers are added for (it may delete them); years: only papers
        submitted within them."""
        if not content_words(text):
            return "no word of it can be searched on arXiv (only Latin letters are): the library alone was read"
        try:
            found = self.arxiv.search(arxiv_query(text, year_from, year_to), max_results=self.results)
        except ArxivError as error:
            log.warning("arXiv search failed: %s", error)
            reason = _LINK.sub("arXiv's API", str(error))  # not the address of a mirror the server is set to use
            reason = reason if len(reason) <= _SHOWN_ERROR else reason[:_SHOWN_ERROR - 1] + "…"
            return f"arXiv could not be searched ({reason}): the library alone was read"
        new = [paper for paper in found if self.catalog.find_paper(paper.base_id) is None]
        results = [self.fetcher.ingest(paper, added_by=added_by) for paper in new[:self.most]]
        added = [r.paper_id + (" (abstract only)" if r.error else "") for r in results if r.status == "added"]
        known = [r.paper_id for r in results if r.status == "unchanged"]
        failed = [f"{r.paper_id}: {r.error}" for r in results if r.status == "failed"]
        parts = [f"arXiv: {len(found)} result{'' if len(found) == 1 else 's'}, {len(new)} not in the library",
                 f"read into it: {', '.join(added) or 'none'}"]
        if len(new) > self.most:
            parts.append(f"{len(new) - self.most} left unread (at most {self.most} a time)")
        if known:
            parts.append(f"already in the library under another id: {', '.join(known)}")
        if failed:
            parts.append(f"could not read: {'; '.join(failed)}")
        return "; ".join(parts)
