"""The evidence behind a quote, to look at: the passage that holds it (any paper), the cited page of a PDF drawn
with the quote highlighted, and the stored PDF itself.

A page is drawn from the stored file in a bounded child process (the file came from whoever uploaded it) and the
picture is cached under the cache folder, so a second look costs a file read. The file is checked against the
hash it had when it was read: a file changed since would put highlights on text the citation never quoted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from agent.runtime import Runtime
from service.errors import NoPagesError, UnknownPaperError
from store.catalog import PaperRow, page_at
from tools.documents import sha256_of_file
from tools.isolation import IsolationError, ParseLimits, run_isolated
from tools.page_render import DEFAULT_ZOOM, QuoteLocation, RenderedPage, render, render_cited

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_QUOTE = 3000  # characters: a quote is a sentence or a table row, not a page
RENDER_LIMITS = ParseLimits(seconds=30.0, memory_mb=1024)
CACHED_PAGES = 2000  # pictures kept; the oldest half goes when there are more


@dataclass(frozen=True)
class QuotedPassage:
    """The passage of a paper holding a quote, and where the quote starts and ends in it."""

    section: str
    page: int | None
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class QuoteView:
    paper_id: str
    title: str
    page: int | None  # the page the quote starts on, when known
    passage: QuotedPassage | None  # None: the quote is not a span of this paper's text
    has_pdf: bool
    location: QuoteLocation | None  # None when there is no PDF page to look on
    page_count: int | None

    def public(self) -> dict[str, Any]:
        return {"paper_id": self.paper_id, "title": self.title, "page": self.page, "has_pdf": self.has_pdf,
                "page_count": self.page_count,
                "passage": asdict(self.passage) if self.passage else None,
                "highlight": self.location.public() if self.location else None}


def stored_pdf(row: PaperRow) -> Path | None:
    """The paper's PDF file, if it has one here."""
    if not row.path or Path(row.path).suffix.lower() != ".pdf":
        return None
    path = Path(row.path)
    return path if path.is_file() else None


@dataclass
class PageService:
    runtime: Runtime

    def _paper(self, paper_id: str) -> PaperRow:
        row = self.runtime.catalog.find_paper(paper_id)
        if row is None:
            raise UnknownPaperError(paper_id)
        return row

    def pdf(self, paper_id: str) -> tuple[PaperRow, Path]:
        """The paper and its stored PDF, unchanged since it was read (NoPagesError otherwise)."""
        row = self._paper(paper_id)
        path = stored_pdf(row)
        if path is None:
            what = "its PDF file is no longer where it was read" if row.path and row.path.lower().endswith(".pdf") \
                else f"it was read from {row.source}, not a PDF"
            raise NoPagesError(f"paper {paper_id} has no pages to show: {what}. A quote from it is shown in its "
                               "passage instead (scisynth show ID --quote TEXT; GET /v1/papers/ID/quote?text=...)")
        if row.sha256 and sha256_of_file(path) != row.sha256:
            raise NoPagesError(f"the PDF of paper {paper_id} changed since it was read; ingest it again to see its "
                               "pages")
        return row, path

    def passage(self, paper_id: str, quote: str) -> QuotedPassage | None:
        """The passage of the paper that holds `quote` verbatim, or None."""
        for chunk in self.runtime.catalog.chunks_of(paper_id):
            start = chunk.text.find(quote)
            if start >= 0:
                return QuotedPassage(chunk.section, page_at(chunk.page_spans, start) if chunk.page_spans else None,
                                     chunk.text, start, start + len(quote))
        return None

    def quote(self, paper_id: str, quote: str, page: int | None = None, zoom: float = DEFAULT_ZOOM) -> QuoteView:
        """Where a quote is: its passage, and on a PDF its highlighted page(s), drawn now and cached for the
        picture requests that follow. `page`: the cited page, when the quote alone does not say it."""
        row = self._paper(paper_id)
        passage = self.passage(paper_id, quote)
        page = page or (passage.page if passage else None)
        if stored_pdf(row) is None or page is None:
            return QuoteView(row.paper_id, row.title, page, passage, stored_pdf(row) is not None, None, row.page_count)
        pages = self.pages(paper_id, page, quote, zoom)
        return QuoteView(row.paper_id, row.title, page, passage, True, pages[0].location, pages[0].page_count)

    def pages(self, paper_id: str, page: int, quote: str = "", zoom: float = DEFAULT_ZOOM) -> list[RenderedPage]:
        """The cited page with the quote highlighted and, when the quote runs on, the next page too."""
        row, path = self.pdf(paper_id)
        cached = [self._cached(row, page, quote, zoom, page)]
        if cached[0] is not None and page + 1 in cached[0].location.boxes:
            cached.append(self._cached(row, page + 1, quote, zoom, page))
        if all(cached):
            return [c for c in cached if c is not None]
        drawn = self._draw(render_cited, path, paper_id, page, quote, zoom)
        for picture in drawn:
            self._keep(row, quote, zoom, page, picture)
        return drawn

    def page(self, paper_id: str, page: int, quote: str = "", zoom: float = DEFAULT_ZOOM,
             located_on: int | None = None) -> RenderedPage:
        """One page as PNG, with the quote (looked for from page `located_on`, default this one) highlighted."""
        row, path = self.pdf(paper_id)
        located_on = located_on or page
        cached = self._cached(row, page, quote, zoom, located_on)
        if cached is not None:
            return cached
        picture = self._draw(render, path, paper_id, page, quote, zoom, located_on)
        self._keep(row, quote, zoom, located_on, picture)
        return picture

    def _draw(self, function: Callable[..., T], path: Path, paper_id: str, *args: object) -> T:
        """Draw in this process a file the operator added (as ingest reads it), in a bounded child one that came
        as an upload (a crafted file can make MuPDF decode a gigapixel image)."""
        try:
            if self.runtime.settings.storage.papers_dir.resolve() / "uploads" in path.resolve().parents:
                return run_isolated(function, RENDER_LIMITS, f"a page of {paper_id}", str(path), *args)
            return function(str(path), *args)
        except ValueError as error:  # a page the file does not have
            raise NoPagesError(str(error)) from error
        except IsolationError as error:
            raise NoPagesError(f"the page could not be drawn: {error}") from error

    def _cache_file(self, row: PaperRow, page: int, quote: str, zoom: float, located_on: int) -> Path:
        key = hashlib.sha256(f"{row.sha256}|{page}|{located_on}|{zoom:.3f}|{quote}".encode()).hexdigest()
        return self.runtime.settings.storage.cache_dir / "pages" / f"{key}.png"

    def _cached(self, row: PaperRow, page: int, quote: str, zoom: float, located_on: int) -> RenderedPage | None:
        png = self._cache_file(row, page, quote, zoom, located_on)
        try:
            meta = json.loads(png.with_suffix(".json").read_text())
            boxes = {int(on): [tuple(box) for box in on_page] for on, on_page in meta["boxes"].items()}
            return RenderedPage(png.read_bytes(), page, meta["page_count"], meta["width"], meta["height"],
                                QuoteLocation(meta["found"], meta["coverage"], boxes))
        except (OSError, ValueError, KeyError):
            return None

    def _keep(self, row: PaperRow, quote: str, zoom: float, located_on: int, picture: RenderedPage) -> None:
        png = self._cache_file(row, picture.page, quote, zoom, located_on)
        meta = {"page_count": picture.page_count, "width": picture.width, "height": picture.height,
                "found": picture.location.found, "coverage": picture.location.coverage,
                "boxes": {str(p): boxes for p, boxes in picture.location.boxes.items()}}
        try:
            png.parent.mkdir(parents=True, exist_ok=True)
            _write(png.with_suffix(".json"), json.dumps(meta).encode())
            _write(png, picture.png)
            _prune(png.parent)
        except OSError as error:  # a full disk costs the cache, not the picture
            log.warning("page cache not written: %s", error)


def _write(path: Path, data: bytes) -> None:
    """Write through a file of its own, then rename: two requests drawing the same page never mix their bytes."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def _prune(folder: Path) -> None:
    pictures = list(folder.glob("*.png"))
    if len(pictures) <= CACHED_PAGES:
        return
    with suppress(OSError):  # another request pruning at the same moment
        for old in sorted(pictures, key=lambda p: p.stat().st_mtime)[:len(pictures) // 2]:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)
