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
import threading
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.runtime import Runtime
from service.errors import NoPagesError, UnknownPaperError
from store.catalog import PaperRow, page_at
from tools.documents import sha256_of_file
from tools.isolation import IsolationError, ParseLimits, run_isolated
from tools.page_render import DEFAULT_ZOOM, QuoteLocation, RenderedPage, quote_tokens, render

log = logging.getLogger(__name__)
MAX_QUOTE = 3000  # characters: a quote is a sentence or a table row, not a page
RENDER_LIMITS = ParseLimits(seconds=30.0, memory_mb=1024)
CACHE_BYTES = 500 * 1024 * 1024  # drawn pages kept on disk
PRUNE_EVERY = 50  # writes between two prunings of the cache
DRAWING_AT_ONCE = 2  # pages drawn at the same time in one process (the machine's cores)


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
    location: QuoteLocation | None  # None when no PDF page was drawn (`note` says why, if there is a PDF)
    page_count: int | None
    keys: dict[int, str] = field(default_factory=dict)  # page -> the cache key of its drawn picture
    note: str | None = None

    def public(self) -> dict[str, Any]:
        return {"paper_id": self.paper_id, "title": self.title, "page": self.page, "has_pdf": self.has_pdf,
                "page_count": self.page_count, "note": self.note,
                "passage": asdict(self.passage) if self.passage else None,
                "highlight": self.location.public() if self.location else None}


def stored_pdf(row: PaperRow) -> Path | None:
    """The paper's PDF file, if it has one here."""
    if not row.path or Path(row.path).suffix.lower() != ".pdf":
        return None
    path = Path(row.path)
    return path if path.is_file() else None


class PageCache:
    """Drawn pages as PNG files with their highlight boxes beside them, named by a key of everything that changes
    the picture; at most CACHE_BYTES on disk (the least recently written go first)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._writes = 0

    @staticmethod
    def key(row: PaperRow, page: int, located_on: int, zoom: float, quote: str) -> str:
        """The same key for quotes that differ only in spacing and punctuation (they highlight the same words)."""
        words = " ".join(quote_tokens(quote))
        return hashlib.sha256(f"{row.paper_id}|{row.sha256}|{page}|{located_on}|{zoom:.2f}|{words}".encode()
                              ).hexdigest()

    def get(self, key: str, paper_id: str | None = None) -> RenderedPage | None:
        png = self.folder / f"{key}.png"
        try:
            meta = json.loads(png.with_suffix(".json").read_text())
            if paper_id is not None and meta.get("paper_id") != paper_id:
                return None
            boxes = {int(on): [tuple(box) for box in on_page] for on, on_page in meta["boxes"].items()}
            return RenderedPage(png.read_bytes(), meta["page"], meta["page_count"], meta["width"], meta["height"],
                                QuoteLocation(meta["found"], meta["coverage"], boxes))
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, paper_id: str, picture: RenderedPage) -> None:
        png = self.folder / f"{key}.png"
        meta = {"paper_id": paper_id, "page": picture.page, "page_count": picture.page_count,
                "width": picture.width, "height": picture.height, "found": picture.location.found,
                "coverage": picture.location.coverage,
                "boxes": {str(p): boxes for p, boxes in picture.location.boxes.items()}}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write(png.with_suffix(".json"), json.dumps(meta).encode())
            _write(png, picture.png)
        except OSError as error:  # a full disk costs the cache, not the picture
            log.warning("page cache not written: %s", error)
        self._writes += 1
        if self._writes % PRUNE_EVERY == 0:
            self.prune()

    def prune(self) -> None:
        with suppress(OSError):  # another process pruning at the same moment
            pictures = sorted(((p.stat().st_mtime, p.stat().st_size, p) for p in self.folder.glob("*.png")),
                              reverse=True)
            kept = 0
            for _, size, picture in pictures:
                kept += size
                if kept > CACHE_BYTES:
                    picture.unlink(missing_ok=True)
                    picture.with_suffix(".json").unlink(missing_ok=True)


@dataclass
class PageService:
    runtime: Runtime
    _verified: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # path -> (size, mtime, inode) hashed
    _drawing: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(DRAWING_AT_ONCE))
    _keys_lock: threading.Lock = field(default_factory=threading.Lock)
    _key_locks: dict[str, threading.Lock] = field(default_factory=dict)
    cache: PageCache = field(init=False)  # one per service: its count of writes decides when to prune

    def __post_init__(self) -> None:
        self.cache = PageCache(self.runtime.settings.storage.cache_dir / "pages")

    def _paper(self, paper_id: str) -> PaperRow:
        row = self.runtime.catalog.find_paper(paper_id)
        if row is None:
            raise UnknownPaperError(paper_id)
        return row

    def pdf(self, paper_id: str) -> tuple[PaperRow, Path]:
        """The paper and its stored PDF, unchanged since it was read (NoPagesError otherwise). The file is hashed
        again only when its size, time or inode changed since it was last found unchanged."""
        row = self._paper(paper_id)
        path = stored_pdf(row)
        if path is None:
            what = "its PDF file is no longer where it was read" if row.path and row.path.lower().endswith(".pdf") \
                else f"it was read from {row.source}, not a PDF"
            raise NoPagesError(f"paper {paper_id} has no pages to show: {what}. A quote from it is shown in its "
                               "passage instead (scisynth show ID --quote TEXT; GET /v1/papers/ID/quote?text=...)")
        stat = path.stat()
        seen = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if row.sha256 and self._verified.get(str(path)) != seen:
            if sha256_of_file(path) != row.sha256:
                raise NoPagesError(f"the PDF of paper {paper_id} changed since it was read; ingest it again to see "
                                   "its pages")
            self._verified[str(path)] = seen
        return row, path

    def passage(self, paper_id: str, quote: str) -> QuotedPassage | None:
        """The passage of the paper that holds `quote` verbatim, or None."""
        for chunk in self.runtime.catalog.chunks_of(paper_id):
            start = chunk.text.find(quote)
            if start >= 0:
                return QuotedPassage(chunk.section, page_at(chunk.page_spans, start) if chunk.page_spans else None,
                                     chunk.text, start, start + len(quote))
        return None

    def quote(self, paper_id: str, quote: str, page: int | None = None, zoom: float = DEFAULT_ZOOM,
              draw: bool = True) -> QuoteView:
        """Where a quote is: its passage and, when `draw`, its highlighted PDF page(s), drawn now and cached for
        the picture requests that follow. `page`: the cited page, when the quote alone does not say it. A page that
        cannot be drawn leaves the passage, with a note saying why."""
        row = self._paper(paper_id)
        passage = self.passage(paper_id, quote)
        page = page or (passage.page if passage else None)
        has_pdf = stored_pdf(row) is not None
        view = QuoteView(row.paper_id, row.title, page, passage, has_pdf, None, row.page_count)
        if not (has_pdf and page and draw):
            return view
        try:
            drawn = self._keyed_pages(paper_id, page, quote, zoom)
        except NoPagesError as error:
            return replace(view, note=str(error))
        first = drawn[0][1]
        return replace(view, location=first.location, page_count=first.page_count,
                       keys={picture.page: key for key, picture in drawn})

    def pages(self, paper_id: str, page: int, quote: str = "", zoom: float = DEFAULT_ZOOM) -> list[RenderedPage]:
        """The cited page with the quote highlighted and, when the quote runs on, the next page too."""
        return [picture for _, picture in self._keyed_pages(paper_id, page, quote, zoom)]

    def _keyed_pages(self, paper_id: str, page: int, quote: str, zoom: float) -> list[tuple[str, RenderedPage]]:
        first = self._keyed_page(paper_id, page, quote, zoom, page)
        if page + 1 in first[1].location.boxes:
            return [first, self._keyed_page(paper_id, page + 1, quote, zoom, page)]
        return [first]

    def page(self, paper_id: str, page: int, quote: str = "", zoom: float = DEFAULT_ZOOM,
             located_on: int | None = None) -> RenderedPage:
        """One page as PNG, with the quote (looked for from page `located_on`: this page or the one before, where
        a quote running on began) highlighted. At most DRAWING_AT_ONCE pages are drawn at a time, and a page asked
        for twice at once is drawn once."""
        return self._keyed_page(paper_id, page, quote, zoom, located_on or page)[1]

    def _keyed_page(self, paper_id: str, page: int, quote: str, zoom: float, located_on: int
                    ) -> tuple[str, RenderedPage]:
        """The page and its cache key (what an image address names it by)."""
        if located_on not in (page, page - 1):
            raise NoPagesError("a quote is looked for from its page or the page before, not from page "
                               f"{located_on}")
        row, path = self.pdf(paper_id)
        zoom = snap(zoom)
        key = self.cache.key(row, page, located_on, zoom, quote)
        with self._keys_lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            picture = self.cache.get(key)
            if picture is None:
                with self._drawing:
                    picture = self._draw(path, paper_id, page, quote, zoom, located_on)
                self.cache.put(key, row.paper_id, picture)
        with self._keys_lock:
            self._key_locks.pop(key, None)
        return key, picture

    def drawn(self, paper_id: str, key: str) -> RenderedPage | None:
        """A picture drawn before for this paper, by its cache key (what the quote view's image addresses carry, so
        they stay short however long the quote)."""
        self.pdf(paper_id)  # the paper is still here, its file unchanged
        return self.cache.get(key, paper_id)

    def _draw(self, path: Path, paper_id: str, page: int, quote: str, zoom: float, located_on: int) -> RenderedPage:
        """Draw in this process a file the operator ingested from their own disk (as ingest reads it); in a bounded
        child one that came from elsewhere (an upload, an arXiv download, a Zotero attachment: all kept under the
        papers folder), where a crafted file could make MuPDF decode a gigapixel image."""
        try:
            if self.runtime.settings.storage.papers_dir.resolve() in path.resolve().parents:
                return run_isolated(render, RENDER_LIMITS, f"a page of {paper_id}", str(path), page, quote, zoom,
                                    located_on)
            return render(str(path), page, quote, zoom, located_on)
        except ValueError as error:  # a page the file does not have
            raise NoPagesError(str(error)) from error
        except IsolationError as error:
            raise NoPagesError(f"the page could not be drawn: {error}") from error


def snap(zoom: float) -> float:
    """Zoom in quarter steps (bounds are tools.page_render.clamp_zoom's): a few pictures per page, not one per
    decimal."""
    return round(zoom * 4) / 4


def _write(path: Path, data: bytes) -> None:
    """Write through a file of its own, then rename: two processes drawing the same page never mix their bytes."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.replace(temporary, path)
