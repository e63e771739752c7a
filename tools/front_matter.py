"""A paper's front matter from its first page and the PDF's metadata: the whole title, the authors, the year, the
journal and the DOI, whichever reader read the body.

Publishers fill the PDF's metadata unevenly: a title cut short ("A loss-of-function mutation in"), an HTML entity
("&lambda;"), a template's name ("Proceedings Template - WORD"), a file name; often the journal and DOI sit in the
"subject" field ("BMC Biology, https://doi.org/10.1186/..."). So the title printed largest on the first page wins,
and the metadata fills in what the page does not say.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_YEAR = r"((?:19|20)\d\d)"
# Where a first page states its year, most specific first.
_YEAR_CLUES = (re.compile(r"\bpublished(?: online)?:?[^\n\d]{0,20}(?:\d{1,2}[^\n\d]{1,15})?" + _YEAR, re.IGNORECASE),
               re.compile(r"(?:©|\(c\)|copyright)\s*(?:the authors?\s*)?" + _YEAR, re.IGNORECASE),
               re.compile(r"\b[A-Z][A-Za-z.&\s]{2,60}\s\(" + _YEAR + r"\)\s*\d+\s*[:,]"),  # "BMC Biology (2024) 22:37"
               re.compile(r"\b" + _YEAR + r"[;,]\s*\d+\s*[:(]"))  # "2021;13(11):2172", "2024, 52:"
_NOT_A_TITLE = re.compile(r"^(open( access)?|research( article)?|original (research|article)|article|review( article)?|"
                          r"untitled|proceedings template.*|microsoft word\b.*|\S+\.(pdf|docx?|tex)|[\d\s.]+)$",
                          re.IGNORECASE)
# A line that says where the paper is or under which terms, not what it is called.
_LICENCE_OR_LINK = re.compile(r"licen[cs]ed? under|creative commons|all rights reserved|©|"
                              r"copyright\s*(?:\(c\)|\d{4})|\bdoi\s*:|doi\.org|https?://|www\.", re.IGNORECASE)
# A first page's labelled line: "Keywords: ...", "Edited by: ...", "*Correspondence: ...".
_FRONT_LABEL = re.compile(r"^\W*(key ?words|edited by|reviewed by|correspondence|citation|received|accepted|"
                          r"published|abbreviations|specialty section|academic editor)\s*:", re.IGNORECASE)
_SECTION_NAME = re.compile(r"^\W*(abstract|references|bibliography|introduction|contents|acknowledge?ments?|"
                           r"supplementary( material| information)?)\W*$", re.IGNORECASE)
# An affiliation or corresponding-author mark after a name: "Anne Focke 1*," "J. Smith2,†".
_NAME_MARK = re.compile(r"\b[A-Z][\w.'-]*\s+[A-Z][a-z'-]+\s?(?:\d{1,2}(?:\s?,\s?\d{1,2})*\*?|\*|†|‡)"
                        r"(?=\s*(?:,|and\b|&|$))")
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|\band\b|&)\s*")
_MANGLED_ENTITY = re.compile(r"#_#x([0-9a-f]{2,6});", re.IGNORECASE)  # "&#x0117;" as some PDF writers store it
_HONORIFIC = re.compile(r"\b(?:dr|prof|professor|phd|md|msc|bsc|mph|dphil|frcp\w*)\b\.?", re.IGNORECASE)
# Metadata "authors" that are a template's owner or a group, not a person.
_NOT_A_PERSON = re.compile(r"\b(services?|computing|collaborations?|administrator|user|unknown|microsoft|corporation|"
                           r"office|team|consortium|author|editor|publisher|elsevier|springer)\b", re.IGNORECASE)


@dataclass(frozen=True)
class FrontMatter:
    title: str | None
    authors: list[str]
    year: int | None
    venue: str | None
    doi: str | None


def is_banner(text: str) -> bool:
    """A first page's label that is not a heading: "OPEN ACCESS", "RESEARCH ARTICLE", "Original article"."""
    return bool(_NOT_A_TITLE.match(text.strip()))


def is_author_line(text: str) -> bool:
    """A list of authors with their affiliation marks ("Anne Focke 1*, Christian Stockinger 1 and ...")."""
    return len(_NAME_MARK.findall(text)) >= 2


def plausible_title(text: str) -> bool:
    """Whether a line could be a paper's title: a few words; not a banner, a template's name or a file name, a
    licence or link line, a section's name, a labelled line ("Keywords: ..."), or a list of authors with their
    affiliation marks."""
    words = text.split()
    return (2 <= len(words) <= 40 and any(c.isalpha() for c in text) and not _NOT_A_TITLE.match(text.strip())
            and not _LICENCE_OR_LINK.search(text) and not _SECTION_NAME.match(text) and not _FRONT_LABEL.match(text)
            and not is_author_line(text))


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def choose_title(printed: str | None, metadata_title: str | None) -> str | None:
    """The title printed on the first page when there is one; the metadata's when the page gave none, or when the
    printed one is only its beginning (a title set over lines the reader split)."""
    meta = " ".join(html.unescape(metadata_title or "").split())
    meta = meta if plausible_title(meta) else ""
    printed = " ".join((printed or "").split())
    if printed and plausible_title(printed):
        if meta and len(_key(meta)) > len(_key(printed)) and _key(meta).startswith(_key(printed)):
            return meta
        return printed
    return meta or None


def doi_in(text: str) -> str | None:
    """The first DOI in the text with a suffix of a few characters at least (zero-width spaces, which some
    publishers set inside a DOI to let it break, removed)."""
    for match in _DOI.finditer(re.sub(r"[\u200b\u00ad\u2060]", "", text)):
        doi = match.group(1).rstrip(".,;)]")
        if len(doi.split("/", 1)[1]) >= 4:
            return doi.lower()
    return None


def year_in(text: str) -> int | None:
    for clue in _YEAR_CLUES:
        if match := clue.search(text):
            return int(match.group(1))
    return None


def venue_in(subject: str | None) -> str | None:
    """The journal named at the start of the metadata's subject ("Nature Communications, doi:..."), when the
    subject is a citation line: not the abstract, a list of keywords ("ATLAS, CMS"), or a code ("acl", "N18-3")."""
    subject = " ".join((subject or "").split())
    head = re.split(r",|\bdoi\b|https?://|\d{4}", subject, maxsplit=1, flags=re.IGNORECASE)[0].strip(" .;:")
    pieces = [piece.strip() for piece in subject.split(",") if piece.strip()]
    keywords = len(pieces) >= 2 and all(len(p.split()) <= 3 and not re.search(r"\d|doi|http", p, re.IGNORECASE)
                                        for p in pieces)
    code = re.search(r"\d", head) or head == head.lower()
    return head if head and len(head.split()) <= 8 and len(subject) < 200 and not keywords and not code and \
        not head.lower().startswith(("abstract", "doi")) else None


def authors_in(metadata_author: str | None) -> list[str]:
    """The people the metadata names as authors: entities decoded, degrees and titles dropped, and a template's
    owner or a collaboration ("End User Computing Services", "CMS Collaborations") left out."""
    decoded = _MANGLED_ENTITY.sub(lambda m: chr(int(m.group(1), 16)), html.unescape(metadata_author or ""))
    names = _HONORIFIC.sub("", re.sub(r"\{?\bet al\.?\}?", "", decoded))
    parts = (" ".join(part.split()).strip(" .") for part in _AUTHOR_SPLIT.split(names))
    return [name for name in parts if not _NOT_A_PERSON.search(name) and (
        len(name.split()) >= 2 or (len(name) > 2 and " " not in name and name[:1].isupper() and "." in name))]


def read_front_matter(first_pages_text: str, printed_title: str | None, metadata: dict[str, str]) -> FrontMatter:
    """The front matter from the text of the first page (or two) and the PDF's metadata dictionary."""
    subject = metadata.get("subject") or ""
    created = re.match(r"D:" + _YEAR, metadata.get("creationDate") or "")
    return FrontMatter(
        title=choose_title(printed_title, metadata.get("title")),
        authors=authors_in(metadata.get("author")),
        year=year_in(first_pages_text) or year_in(subject) or (int(created.group(1)) if created else None),
        venue=venue_in(subject),
        doi=doi_in(subject) or doi_in(first_pages_text))
