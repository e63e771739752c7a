"""Library papers as references a researcher can paste into a manuscript: BibTeX (bibtexparser 2), RIS (rispy)
and CSL-JSON.

Keys are stable: the first author's surname, the year and the title's first long word ("cohan2020specter"), so
exporting again gives the same keys; two papers of the library that would share one get a suffix from their
own ids. BibTeX fields are escaped for LaTeX (& % $ # _ { } \\ ~ ^), which bibtexparser's LaTeX decoding reverses.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace

import bibtexparser
import rispy
from bibtexparser.model import Entry, Field

from tools.arxiv_ids import is_arxiv_id
from tools.references import normalise_doi

FORMATS = ("bibtex", "ris", "csl-json")
MEDIA_TYPES = {"bibtex": "application/x-bibtex", "ris": "application/x-research-info-systems",
               "csl-json": "application/vnd.citationstyles.csl+json"}
_STOP = frozenset({"the", "a", "an", "on", "of", "for", "and", "in", "to", "with", "from", "towards", "toward"})


@dataclass(frozen=True)
class ExportPaper:
    paper_id: str
    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    url: str | None = None
    venue: str | None = None  # the journal or proceedings


def _ascii(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower())


def _surname(author: str) -> str:
    """ "Lo, Kyle" and "Kyle Lo" -> "Lo"."""
    return author.split(",")[0].strip() if "," in author else (author.split() or [""])[-1]


def citation_key(paper: ExportPaper) -> str:
    word = next((w for w in re.findall(r"[^\W_]+", paper.title) if w.lower() not in _STOP and len(w) > 2), "paper")
    surname = _ascii(_surname(paper.authors[0])) if paper.authors else ""
    return f"{surname or 'anon'}{paper.year or 'nd'}{_ascii(word)}"


def keyed(papers: list[ExportPaper], library: list[ExportPaper] | None = None) -> list[tuple[str, ExportPaper]]:
    """(key, paper) pairs. A key two papers of the `library` (default: these papers) would share gets a suffix
    from each paper's id, so a paper keeps its key whichever part of the library is exported."""
    taken = Counter(citation_key(p) for p in {p.paper_id: p for p in [*(library or []), *papers]}.values())
    return [(key if taken[key] == 1 else f"{key}-{hashlib.sha256(p.paper_id.encode()).hexdigest()[:4]}", p)
            for p in papers for key in [citation_key(p)]]


_SAFE_URL = re.compile(r"^https?://[^\s\"'{}\\<>]+$")
_LATEX_SPECIAL = re.compile(r"([&%$#_{}])|(\\)|(~)|(\^)")


def _latex(text: str) -> str:
    """Text safe inside a BibTeX field LaTeX will typeset: & % $ # _ { } escaped, \\ ~ ^ spelled out."""
    return _LATEX_SPECIAL.sub(lambda m: f"\\{m.group(1)}" if m.group(1) else r"\textbackslash{}" if m.group(2)
                              else r"\textasciitilde{}" if m.group(3) else r"\textasciicircum{}", text)


def _given_family(author: str) -> dict[str, str]:
    if "," in author:
        family, given = (part.strip() for part in author.split(",", 1))
    else:
        *given_parts, family = author.split() or [""]
        given = " ".join(given_parts)
    return {"family": family, "given": given} if given else {"literal": family}


def _bibtex_name(author: str) -> str:
    names = _given_family(author)
    return names["literal"] if "literal" in names else f"{names['family']}, {names['given']}"


def _checked(paper: ExportPaper) -> ExportPaper:
    """The paper with identifiers a reference manager can trust: a DOI as `normalise_doi` reads it (no braces,
    backslashes or spaces can break out of a field), an arXiv id only when it is one, a URL only over http(s) with
    no space, quote or brace; and single-line strings (a newline would start a new RIS tag)."""
    url = paper.url if paper.url and _SAFE_URL.match(paper.url) else None
    return replace(paper, title=_one_line(paper.title), authors=tuple(_one_line(a) for a in paper.authors),
                   venue=_one_line(paper.venue) if paper.venue else None,
                   doi=normalise_doi(paper.doi), arxiv_id=paper.arxiv_id if is_arxiv_id(paper.arxiv_id or "") else None,
                   url=url)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def to_bibtex(papers: list[ExportPaper], library: list[ExportPaper] | None = None) -> str:
    entries = bibtexparser.Library()
    for key, paper in keyed([_checked(p) for p in papers], library):
        fields = {"title": f"{{{_latex(paper.title)}}}",
                  "author": " and ".join(_latex(_bibtex_name(a)) for a in paper.authors),
                  "journal": _latex(paper.venue or ""), "year": str(paper.year or ""), "doi": paper.doi or "",
                  "url": paper.url or "",
                  **({"eprint": paper.arxiv_id, "archiveprefix": "arXiv"} if paper.arxiv_id else {})}
        entries.add(Entry("misc" if paper.arxiv_id and not paper.doi else "article", key,
                          [Field(name, value) for name, value in fields.items() if value]))
    return bibtexparser.write_string(entries)


class _PlainRis(rispy.RisWriter):
    """RIS without rispy's "1." line before each record, which reference managers do not write."""

    def set_header(self, count: int) -> str:
        return ""


def to_ris(papers: list[ExportPaper], library: list[ExportPaper] | None = None) -> str:
    return rispy.dumps(implementation=_PlainRis, references=[{
        "type_of_reference": "UNPB" if paper.arxiv_id and not paper.doi else "JOUR", "id": key,
        "title": paper.title, "authors": list(paper.authors),
        **({"journal_name": paper.venue} if paper.venue else {}),
        **({"year": str(paper.year)} if paper.year else {}), **({"doi": paper.doi} if paper.doi else {}),
        **({"urls": [paper.url]} if paper.url else {})}
        for key, paper in keyed([_checked(p) for p in papers], library)])


def to_csl_json(papers: list[ExportPaper], library: list[ExportPaper] | None = None) -> str:
    return json.dumps([{
        "id": key, "type": "article" if paper.doi or not paper.arxiv_id else "manuscript", "title": paper.title,
        "author": [_given_family(a) for a in paper.authors],
        **({"issued": {"date-parts": [[paper.year]]}} if paper.year else {}),
        **({"container-title": paper.venue} if paper.venue else {}),
        **({"DOI": paper.doi} if paper.doi else {}), **({"URL": paper.url} if paper.url else {}),
        **({"number": f"arXiv:{paper.arxiv_id}"} if paper.arxiv_id else {})}
        for key, paper in keyed([_checked(p) for p in papers], library)],
        indent=2, ensure_ascii=False)


def export(papers: list[ExportPaper], fmt: str, library: list[ExportPaper] | None = None) -> str:
    """The papers in `fmt` (one of FORMATS), in the order given; keys fixed against the whole `library`."""
    writers = {"bibtex": to_bibtex, "ris": to_ris, "csl-json": to_csl_json}
    if fmt not in writers:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    return writers[fmt](papers, library)
