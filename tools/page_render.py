"""The cited page of a PDF as a picture, with the quote's words highlighted where they are printed.

A quote is a span of the text SciSynth read from the PDF, which is not the page's text layer character for
character: ligatures were expanded, words broken at a line end were joined, a sentence may run on to the next
page or column. So the quote is found by words, not by string search: the page's words (and the next page's, for
a quote that runs on) are normalised the same way as the quote's (letters and digits only, so "evalu-" + "ation"
and "state-of-the-art" compare equal), aligned in order, and the densest run that covers most of the quote is
highlighted, from its first word to its last. When too little of the quote is found, nothing is highlighted and
the result says so: a wrong highlight is worse than none.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

import pymupdf

MIN_ZOOM, MAX_ZOOM, DEFAULT_ZOOM = 0.5, 3.0, 1.5
MAX_SIDE_PIXELS = 3000  # a poster-sized page is drawn smaller rather than as a 100-megapixel image
# Share of the quote's words a run must match, in order, to be highlighted. Chosen on 300 seeded sentences of the
# shared PDFs (seed 0; 0.6: 0.993 found, 1.3% "found" on a page where they are not printed; 0.8: 0.973 and 0%);
# held out (benchmarks/bench_evidence_views.py, seed 1; and 200 sentences of 4 PDFs of other publishers): 0.980
# found, 1.0% and 2.1% on a wrong page, where 0.6 gave 1.7% and 4.1%. What is left is near-duplicate sentences.
FOUND_SHARE = 0.8
HIGHLIGHT = (1.0, 0.85, 0.0)

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in PDF points, origin top left


@dataclass(frozen=True)
class _Word:
    token: str  # letters and digits, lower case
    page: int  # 1-based
    line: tuple[int, int]  # (block, line) on its page: boxes of one line merge into one highlight
    boxes: tuple[Box, ...]  # two for a word broken at a line end


@dataclass
class QuoteLocation:
    """Where a quote lies on its page and, when it runs on, the next one."""

    found: bool
    coverage: float  # share of the quote's words found in order (0 when nothing was asked)
    boxes: dict[int, list[Box]] = field(default_factory=dict)  # page -> highlight boxes, one per line

    @property
    def pages(self) -> list[int]:
        return sorted(self.boxes)

    def public(self) -> dict:
        return {"found": self.found, "coverage": round(self.coverage, 3),
                "pages": [{"page": page, "boxes": [[round(v, 1) for v in box] for box in self.boxes[page]]}
                          for page in self.pages]}


@dataclass(frozen=True)
class RenderedPage:
    png: bytes
    page: int
    page_count: int
    width: int
    height: int
    location: QuoteLocation


def normalise(word: str) -> str:
    """What two spellings of a word have in common: NFKC (ligatures), lower case, letters and digits only."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", word).lower() if ch.isalnum())


def quote_tokens(quote: str) -> list[str]:
    return [token for token in (normalise(word) for word in quote.split()) if token]


def page_words(document: pymupdf.Document, page: int) -> list[_Word]:
    """The page's words in the order MuPDF reads them, a word broken by a hyphen at a line end joined."""
    raw = document[page - 1].get_text("words")
    words: list[_Word] = []
    pending: tuple[str, tuple[int, int], Box] | None = None
    for x0, y0, x1, y1, text, block, line, _ in raw:
        box, where = (x0, y0, x1, y1), (block, line)
        if pending is not None:
            head, head_line, head_box = pending
            pending = None
            if where != head_line:  # the broken word's second half starts the next line
                words.append(_Word(normalise(head + text), page, head_line, (head_box, box)))
                continue
            words.append(_Word(normalise(head), page, head_line, (head_box,)))
        if text.endswith(("-", "\u00ad", "\u2010")) and len(text) > 1:
            pending = (text.rstrip("-\u00ad\u2010"), where, box)
            continue
        words.append(_Word(normalise(text), page, where, (box,)))
    if pending is not None:
        words.append(_Word(normalise(pending[0]), page, pending[1], (pending[2],)))
    return [word for word in words if word.token]


def _densest_run(blocks: list[tuple[int, int, int]], quote_length: int) -> tuple[int, int, int]:
    """(first page word, last page word, words matched) of the run of matching blocks that matches most words
    within a stretch of the page not much longer than the quote (common words match all over a page)."""
    span_limit = int(quote_length * 1.3) + 10
    best = (0, -1, 0)
    for first in range(len(blocks)):
        matched = 0
        for last in range(first, len(blocks)):
            start, end = blocks[first][0], blocks[last][0] + blocks[last][2]
            if end - start > span_limit:
                break
            matched += blocks[last][2]
            if matched > best[2]:
                best = (start, end - 1, matched)
    return best


def locate(document: pymupdf.Document, page: int, quote: str) -> QuoteLocation:
    """The quote's words on `page` and, if it runs on, the next page."""
    wanted = quote_tokens(quote)
    if not wanted:
        return QuoteLocation(found=False, coverage=0.0)
    words = page_words(document, page)
    if page < document.page_count:
        words += page_words(document, page + 1)
    matcher = SequenceMatcher(None, [w.token for w in words], wanted, autojunk=False)
    blocks = [(a, b, size) for a, b, size in matcher.get_matching_blocks() if size]
    first, last, matched = _densest_run(blocks, len(wanted))
    coverage = matched / len(wanted)
    if coverage < FOUND_SHARE:
        return QuoteLocation(found=False, coverage=coverage)
    lines: dict[tuple[int, tuple[int, int]], list[Box]] = {}
    for word in words[first:last + 1]:
        lines.setdefault((word.page, word.line), []).extend(word.boxes)
    boxes: dict[int, list[Box]] = {}
    for (on_page, _), line_boxes in lines.items():
        boxes.setdefault(on_page, []).append((min(b[0] for b in line_boxes), min(b[1] for b in line_boxes),
                                              max(b[2] for b in line_boxes), max(b[3] for b in line_boxes)))
    return QuoteLocation(found=True, coverage=coverage, boxes=boxes)


def clamp_zoom(zoom: float, page_rect: pymupdf.Rect) -> float:
    zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
    return min(zoom, MAX_SIDE_PIXELS / max(page_rect.width, page_rect.height, 1.0))


def render(path: str | Path, page: int, quote: str = "", zoom: float = DEFAULT_ZOOM,
           located_on: int | None = None) -> RenderedPage:
    """Page `page` (1-based) of the PDF at `path` as PNG, with the quote highlighted where it lies on it. The
    quote is looked for from page `located_on` (default: this page), so the page after a cited page shows the
    quote's continuation. Raises ValueError for a page the file does not have."""
    with pymupdf.open(path) as document:
        if not 1 <= page <= document.page_count:
            raise ValueError(f"page {page} is not in this paper: it has {document.page_count} pages")
        start = located_on or page
        if not 1 <= start <= document.page_count:
            raise ValueError(f"page {start} is not in this paper: it has {document.page_count} pages")
        location = locate(document, start, quote) if quote.strip() else QuoteLocation(found=False, coverage=0.0)
        target = document[page - 1]
        for box in location.boxes.get(page, []):
            annotation = target.add_highlight_annot(pymupdf.Rect(box))
            annotation.set_colors(stroke=HIGHLIGHT)
            annotation.update()
        scale = clamp_zoom(zoom, target.rect)
        pixmap = target.get_pixmap(matrix=pymupdf.Matrix(scale, scale), annots=True)
        return RenderedPage(pixmap.tobytes("png"), page, document.page_count, pixmap.width, pixmap.height,
                            location)

