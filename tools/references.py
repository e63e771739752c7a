"""Reference lists read from a PDF's lines: where each entry starts, and its title, authors, year, DOI and
arXiv id.

No kept Python library parses free-text references offline without a model server (GROBID and AnyStyle
need Java or Ruby services), so this is a careful parser for the common styles: author-year (ACL, APA:
"Authors. 2017. Title. Venue."), Vancouver (BMC, PLOS, PubMed: "1. Smith J, Lee A. Title. J Name.
2019;12:3."), and IEEE ('[1] A. Smith and B. Lee, "Title," in Proc. ...'). It is checked against GROBID's
parses of the shared papers in tests and benchmarks/bench_parsing.py.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from tools.arxiv_ids import ARXIV_ID, is_arxiv_id, without_version
from tools.documents import Reference

MARKER = re.compile(r"^\s*(\[\d{1,4}\]|\d{1,3}\.(?=\s)|\(\d{1,4}\))\s*")  # "1999." is a year, "[1999]" a marker
# A DOI's suffix ends at whitespace, quotes, angle brackets, braces and backslashes: none occurs in a DOI one can
# register today, and braces or a backslash in a stored DOI would break out of a BibTeX field on export.
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>{}\\]+)", re.IGNORECASE)
_ARXIV = re.compile(rf"(?:arXiv:\s*|arxiv\.org/abs/)({ARXIV_ID.pattern})", re.IGNORECASE)
_YEAR = re.compile(r"(?<![\d/.])(1[89]\d\d|20[0-4]\d)[a-z]?(?![\d/])")
_QUOTED_TITLE = re.compile(r"[\"“]([^\"”]{8,300}?)[,.]?[\"”]")
# A period ending a segment ("?" stays inside titles), not an initial ("J. Smith", "Smith J.") nor "et al.".
_SEGMENT_END = re.compile(r"(?<!\b[A-Z])(?<!\bal)(?<!\bet)(?<!e\.g)(?<!i\.e)(?<!\bvs)(?<!\bcf)\.\s+(?=\S)")
_Y = r"(?:1[89]\d\d|20[0-4]\d)[a-z]?"  # "2017", "2017a", "1859"
_AUTHOR_YEAR = re.compile(rf"^(?P<authors>.+?)[.,]?\s+(?:\({_Y}\)[.,:]?|{_Y}[.,:])\s+(?P<rest>.+)$")
_NAME = r"[^\W\d_][\w'’\-]*(?:\s[^\W\d_][\w'’\-]*)*\s[A-Z]{1,3}"  # "Smith J", "van der Berg AB"
_VANCOUVER = re.compile(rf"^(?P<authors>(?:{_NAME},\s*)*{_NAME}(?:,?\s*et\s+al)?)\.\s+(?P<rest>.+)$")


def normalise_doi(doi: str | None) -> str | None:
    """"https://doi.org/10.1/X", "doi:10.1/x" -> "10.1/x": DOIs compare case-insensitively, without a prefix."""
    if not doi:
        return None
    match = _DOI.search(doi)
    return match.group(1).rstrip(".,;)").lower() if match else None


def _clean(text: str) -> str:
    return " ".join(text.split()).strip(" .,;:")


def _segments(text: str) -> list[str]:
    return [s for s in (_clean(part) for part in _SEGMENT_END.split(text)) if s]


def _authors(text: str) -> tuple[str, ...]:
    names = re.split(r",\s*(?:and\s+)?|\s+and\s+|;\s*|\s*&\s*", text.replace("et al.", "").replace("et al", ""))
    return tuple(n for n in (_clean(name) for name in names) if n and any(c.isalpha() for c in n))


def _title_and_authors(body: str) -> tuple[str, tuple[str, ...]]:
    quoted = _QUOTED_TITLE.search(body)
    if quoted:  # IEEE: authors, "Title," venue
        return _clean(quoted.group(1)), _authors(body[:quoted.start()])
    author_year = _AUTHOR_YEAR.match(body)
    if author_year and len(author_year.group("authors")) < 400:  # ACL/APA: authors. year. title. venue
        rest = _segments(author_year.group("rest"))
        return (rest[0] if rest else ""), _authors(author_year.group("authors"))
    vancouver = _VANCOUVER.match(body)
    if vancouver:  # Vancouver: Smith J, Lee AB. Title. Journal. 2019;16:34.
        rest = _segments(vancouver.group("rest"))
        return (rest[0] if rest else ""), _authors(vancouver.group("authors"))
    segments = _segments(body)
    if len(segments) >= 2:  # unknown style: the longest of the first two segments is most often the title
        first, second = segments[0], segments[1]
        return (second, _authors(first)) if len(second) >= len(first) else (first, ())
    return (segments[0] if segments else ""), ()


def parse_reference(raw: str) -> Reference:
    """One reference entry's fields; those it does not state are None or empty."""
    text = " ".join(raw.split())
    body = MARKER.sub("", text, count=1)
    doi = _DOI.search(body)
    arxiv = _ARXIV.search(body)
    years = _YEAR.findall(body)
    title, authors = _title_and_authors(body)
    arxiv_id = without_version(arxiv.group(1)) if arxiv and is_arxiv_id(arxiv.group(1)) else None
    return Reference(title=title, authors=authors, year=int(years[0][:4]) if years else None,
                     doi=normalise_doi(doi.group(1)) if doi else None, arxiv_id=arxiv_id, raw=text)


def split_entries(lines: Iterable[tuple[float, str]]) -> list[str]:
    """Group a reference list's lines (indent from their column's left edge, text) into entries. A numbered
    list ("[3]", "3.", "(3)" counting up) starts an entry at each marker; otherwise an entry starts at the left
    edge and its other lines hang indented."""
    kept = [(x0, text.strip()) for x0, text in lines if text.strip() and not text.strip().isdigit()]
    numbers = [int(re.sub(r"\D", "", match.group(1))) for _, text in kept if (match := MARKER.match(text))]
    counting = sum(b == a + 1 for a, b in itertools.pairwise(numbers))
    numbered = len(numbers) >= 2 and counting >= 0.8 * (len(numbers) - 1)
    entries: list[list[str]] = []
    for x0, text in kept:
        starts = bool(MARKER.match(text)) if numbered else x0 <= 2.0
        if starts or not entries:
            entries.append([text])
        else:
            entries[-1].append(text)
    return ["\n".join(entry) for entry in entries]
