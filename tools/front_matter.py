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
import unicodedata
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

from tools.documents import FRONT_MATTER, Heading, Section
from tools.sections import HEADING_NUMBER

_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_YEAR = r"((?:19|20)\d\d)"
# Where a first page states its year, most specific first.
# ("Published" opens a line, follows a separator or a date: not "studies published between 2000 and 2015")
_YEAR_CLUES = (re.compile(r"(?:^|[/|;•·]|(?<=\d\d\d\d))[^\S\n]*published(?: online)?:?[^\n\d]{0,20}"
                          r"(?:\d{1,2}[^\n\d]{1,15})?" + _YEAR, re.IGNORECASE | re.MULTILINE),
               re.compile(r"(?:©|\(c\)|copyright)\s*(?:the authors?\s*)?" + _YEAR, re.IGNORECASE),
               re.compile(r"\b[A-Z][A-Za-z.&\s]{2,60}\s\(" + _YEAR + r"\)\s*\d+\s*[:,]"),  # "BMC Biology (2024) 22:37"
               re.compile(r"\b" + _YEAR + r"[;,]\s*\d+\s*[:(]"))  # "2021;13(11):2172", "2024, 52:"
_NOT_A_TITLE = re.compile(r"^(open( access)?|research( article| note| letter| paper)?|original (research|article|paper|"
                          r"investigation)|article|(mini[- ]?|systematic )?review( article)?|untitled|"
                          r"(short|rapid|brief) (communication|report)|letter|editorial|commentary|perspective|"
                          r"case report|technical note|"
                          r"proceedings template.*|microsoft word\b.*|\S+\.(pdf|docx?|tex|indd|rtf|odt|xml)|[\d\s.]+)$",
                          re.IGNORECASE)
# BMC's article types, printed above the title ("STUDY PROTOCOL", "METHODOLOGY"): never the title, but kept out of
# `is_banner`, which also rejects headings, and "Methodology" or "Study protocol" heads many a paper's section.
_ARTICLE_TYPE = re.compile(r"^(study\s+protocol|methodology(\s+article)?|debate|technical\s+advance|"
                           r"(software|database)\s+article|research(\s+article)?|"
                           r"(taxonomic|short|brief|clinical|methods?)\s+note)(\s+open\s+access)?$", re.IGNORECASE)
# A line that says where the paper is or under which terms, not what it is called.
_LICENCE_OR_LINK = re.compile(r"licen[cs]ed? under|creative commons|all rights reserved|©|"
                              r"copyright\s*(?:\(c\)|\d{4})|\bdoi\s*:|doi\.org|https?://|www\.|"
                              r"to cite this (?:version|article)", re.IGNORECASE)
# A first page's labelled line: "Keywords: ...", "Edited by: ...", "*Correspondence: ...".
_FRONT_LABEL = re.compile(r"^\W*(?:(key ?words|edited by|reviewed by|correspondence|citation|received|accepted|"
                          r"published|abbreviations|specialty section|academic editor)\s*:|(received|revised|accepted|"
                          r"published)( online)?:?\s+\d)", re.IGNORECASE)
_SECTION_NAME = re.compile(rf"^\W*{HEADING_NUMBER}(abstract|references|bibliography|introduction|contents|"
                           r"acknowledge?ments?|supplementary( material| information)?)\W*$", re.IGNORECASE)
# An affiliation or corresponding-author mark after a name: "Anne Focke 1*," "J. Smith2,†".
_NAME_MARK = re.compile(r"\b[A-Z][\w.'-]*\s+[A-Z][a-z'-]+\s?(?:\d{1,2}(?:\s?,\s?\d{1,2})*\*?|\*|†|‡)"
                        r"(?=\s*(?:,|and\b|&|$))")
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|\band\b|&)\s*")
_MANGLED_ENTITY = re.compile(r"#_#x([0-9a-f]{2,6});", re.IGNORECASE)  # "&#x0117;" as some PDF writers store it
# ("Md." before a name is Mohammad, not a degree: "Md. Hassan uz-Zaman")
_HONORIFIC = re.compile(r"\b(?:dr|prof|professor|phd|md(?!(?-i:\.\s+[A-Z][a-z]))|msc|bsc|mph|dphil|drph|scd|frc\w*|"
                        r"facp|facs)\b\.?|"
                        r"\b(?:ph|sc|m)\.\s?d\.?(?!\w)", re.IGNORECASE)  # "Ph.D", "M.D.", "Sc.D."
# Degrees a medical journal's byline sets after each name ("Emily M. Bucholz, MD, PhD, MPH,1,2,3 Adam L. Beckman,
# BS,4"), each a piece of its own: written as here (case matters: "Ma" is a surname), with its marks ("SM6").
_DEGREES = frozenset({
    "MD", "PhD", "MPH", "MS", "MSc", "BS", "BSc", "BA", "MA", "SM", "ScD", "DrPH", "RN", "BSN", "MSN", "NP", "DO",
    "DDS", "DMD", "DVM", "PharmD", "MBBS", "MBChB", "MBBCh", "MRCP", "FRCP", "FRCPC", "FRACP", "FACC", "FAHA", "FACP",
    "FACS", "MBA", "MSW", "MHS", "MSPH", "MPP", "MEd", "EdD", "PsyD", "LCSW", "DPT", "CNM", "MHSc", "DPhil", "MPhil",
    "MRes", "BPharm", "MMed", "MSCE", "MSCR", "MScPH", "FRCS", "FRCPath", "FFPH", "MRCPsych", "DrMed", "Dr", "FAAP",
    "FAAN", "DNP", "MHA", "MBE", "BCPS", "CRNP", "APRN", "FNP", "MSHS", "MPA", "MD-PhD", "MDPhD", "PhD(c)"})
_DEGREE_MARKED = re.compile(r"[\d,*†‡]+$")
# Metadata "authors" that are a template's owner or a group, not a person.
_NOT_A_PERSON = re.compile(r"\b(services?|computing|collaborations?|administrator|user|unknown|microsoft|corporation|"
                           r"office|team|consortium|author|editor|publisher|elsevier|springer)\b", re.IGNORECASE)


# A byline's pieces that name a place, not a person ("International Health Policy Program", "Chemical Science").
_NOT_A_NAME = re.compile(r"\b(?:universit\w*|department|dept|institut\w*|school|college|cent(?:er|re)s?|hospital|"
                         r"laborator\w*|faculty|division|unit|program(?:me)?|ministry|foundation|academy|clinic|"
                         r"society|company|inc|ltd|gmbh|group|national|international|medical|medicine|sciences?|"
                         r"research|health|journal|review|article|access|open|abstract|received|accepted|published|"
                         r"correspondence|email|e-mail|keywords?|citation|copyright|licen[cs]e|volume|issue|doi|"
                         r"introduction|background|summary|highlights|significance|contents|methods|results|reports?|information|"
                         r"protocol|manuscript|points|communications?|letters?|descriptor|supporting|supplementary|"
                         r"corporation|systems|oncology|biology|chemistry|physics|periodicals|press)\b",
                         re.IGNORECASE)
# "The ATLAS and CMS Collaborations": the whole line, capitalised names (not "an international collaboration")
_COLLABORATION = re.compile(r"^(?:The\s+)?((?:(?!Collaboration)[A-Z][\w-]*\s+){1,3}"
                            r"(?:and\s+(?:(?!Collaboration)[A-Z][\w-]*\s+){1,3})?)Collaborations?$")
_BYLINE_SPLIT = re.compile(r"\s*(?:,|;|·|•|\||\band\b|&)\s*")
# What a byline writes beside a name: affiliation marks ("1,5", "*a", "†", "✉") and an ORCID icon's text.
# (marks set as plain digits, not superscripts, are glued to the name: "Hans Reichenbach3", "Mo Sun1,3*")
_BYLINE_MARK = re.compile(r"(?<![\w.])(?:\d{1,2}|[a-h])(?:\s?,\s?(?:\d{1,2}|[a-h]))*(?![\w.])|[*†‡§¶#✉∗]+|"
                          r"(?<=[a-z])\d{1,2}(?:\s?,\s?\d{1,2})*(?![\w.])|\bORCID\b|\bID\b")
_PARTICLE = {"van", "von", "de", "der", "den", "da", "di", "du", "del", "della", "la", "le", "dos", "das", "do", "bin",
             "ibn", "al", "el", "ter", "ten", "y", "e", "zu"}
_JOINED_PARTICLE = _PARTICLE | {"uz", "ud", "ul", "ur", "an", "as", "ad"}  # "al-Hassan", "uz-Zaman", "ud-Din"
_ACCENT_BEFORE_ITS_LETTER = re.compile(r"[B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z][´`¨ˆ][AEIOUaeiou]")
_COMBINING = {"´": "\u0301", "`": "\u0300", "¨": "\u0308", "¸": "\u0327", "˜": "\u0303", "ˆ": "\u0302"}
_SUFFIX = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
_FUNCTION_WORDS = {"the", "of", "for", "in", "on", "with", "from", "to", "by", "at", "an", "as", "is", "are", "we"}


def _name_token(token: str) -> bool:
    """A word of a person's name: capitalised ("Kyung-Ae", "McAnelly", "O'Brien", "Śmigaj", a surname in capitals
    "DOUGLAS"), an initial ("M.", "E.M.", "MF"), a particle ("van") or a suffix ("III")."""
    bare = token.strip(".")
    if bare.lower() in _FUNCTION_WORDS:
        return False  # "The Role of ..." is a heading, not a name
    if token.lower() in _PARTICLE or token.lower() in _SUFFIX:
        return True
    particle, _, rest = token.partition("-")  # a particle joined to the name: "al-Hassan", "uz-Zaman", "ud-Din"
    if rest and particle in _JOINED_PARTICLE and _name_token(rest):
        return True
    if re.fullmatch(r"(?:[A-Z]\.?-?){1,3}", token):  # initials: "M", "M.", "E.M.", "J.-P.", "MF"
        return True
    return bool(bare) and bare[0].isupper() and all(c.isalpha() or c in "'’-." for c in bare)


def _person(piece: str) -> str | None:
    """The piece of a byline as a person's name, or None when it is not one."""
    words = " ".join(_BYLINE_MARK.sub(" ", piece).split()).strip(" .").split()
    if len(piece) > MAX_NAME_CHARS or not 2 <= len(words) <= 6 or _NOT_A_NAME.search(" ".join(words)) \
            or not all(map(_name_token, words)):
        return None
    if not any(c.islower() for word in words for c in word):
        return None  # "Ross G. DOUGLAS" is a name, "CASE STUDY" is not: one of its words is in lower case
    if words[-1].lower() in _PARTICLE or (re.fullmatch(r"(?:[A-Z]\.?-?){1,3}", words[-1]) and len(words) < 3):
        return None  # "Anne van", "Smith J." is a cited author, not a byline
    return " ".join(words)


def _pieces(line: str) -> list[str]:
    """A byline's line cut at its separators, marks and degrees dropped (a line no page is wide enough to print is
    one piece, cut short: no name)."""
    if len(line) > _LONGEST_BYLINE_LINE:
        return [line[:_LONGEST_BYLINE_LINE]]
    line = re.sub(r"[\u00ad\u200b\u2060]", "", line)  # soft hyphens and zero-width spaces ("Phillips-\u00adCremins")
    # a spacing accent joined to its letter: set before it where a line shows that style (TeX: "Gr´egory Mouni´e", a
    # consonant before an accent over a vowel), else after it ("Se´lambarom", "Ozgu¨ n", "Selc¸ uk", and a cedilla
    # always: the space some writers set after it dropped too)
    if _ACCENT_BEFORE_ITS_LETTER.search(line):
        line = re.sub(r"([´`¨˜ˆ])([A-Za-z])", lambda m: m.group(2) + _COMBINING[m.group(1)], line)
    line = unicodedata.normalize("NFC", re.sub(r"(?<=[A-Za-z])([´`¨¸˜ˆ])(?: (?=[a-z]))?",
                                               lambda m: _COMBINING[m.group(1)], line))
    cleaned = _HONORIFIC.sub(" ", _BYLINE_MARK.sub(" ", line))
    pieces = [" ".join(p.strip("'\"").split()) for p in _BYLINE_SPLIT.split(cleaned) if p.strip(" .…'\"")]
    return [p for p in pieces if _DEGREE_MARKED.sub("", p).replace(".", "") not in _DEGREES]


def _closed(line: str) -> bool:
    """Whether a byline's line ends with a separator ("Jun Yang,", "Youlin Zhu &")."""
    return bool(re.search(r"[,;&·•|]\s*$|\band\s*$", _BYLINE_MARK.sub(" ", line).strip()))


_LONGEST_BYLINE_LINE = 1000  # characters


def byline_authors(lines_after_title: list[str], most_lines: int = 12) -> list[str]:
    """The authors a first page prints under the title: the names of the lines that follow it (superscript marks
    dropped by the reader), up to the first line that is not a list of names (an affiliation, the abstract). A
    line break separates names (one name a line), except where a name is cut: after a particle ("Ana Cristina
    Franco da / Silva") or where a list of names separated by commas runs on without one ("Juanhan / Liu2,",
    "Eliane Said / Dutra,")."""
    if lines_after_title and (group := _COLLABORATION.match(_BYLINE_MARK.sub("", lines_after_title[0]).strip())):
        return [f"{name.strip()} Collaboration" for name in _BYLINE_SPLIT.split(group.group(1)) if name.strip()]
    names: list[str] = []
    carried = ""  # the last piece of a line, when the next line may end it
    read = 0
    for line in lines_after_title[:4 * most_lines]:
        pieces = _pieces(line)
        if not pieces:
            continue  # a line of marks only ("1,5,", "*a")
        read += 1
        if read > most_lines:
            break
        if carried:
            # joined when one side is a lone word or the name ends in a particle; two whole names stay two
            # (a lone word that is the whole line, "Summary", is a heading, not the end of a name)
            ends_name = len(pieces[0].split()) == 1 and (len(pieces) > 1 or _closed(line))
            cut = len(carried.split()) == 1 or ends_name or carried.split()[-1].lower() in _PARTICLE
            joined = f"{carried} {pieces[0]}"
            rest_are_names = all(_person(piece) for piece in pieces[1:-1]) and (
                len(pieces) == 1 or _person(pieces[-1]) or not _closed(line))  # not an affiliation's line
            if cut and rest_are_names and not re.match(r"\s*(?:[,;&·•|]|and\b)", line) and _person(joined):
                pieces[0] = joined
            elif person := _person(carried):
                names.append(person)
            carried = ""
        ends_open = not _closed(line)
        cut = pieces[-1].split()[-1].lower() in _PARTICLE or len(pieces) > 1
        if ends_open and cut:
            carried = pieces.pop()
        people = [_person(p) for p in pieces]
        if not all(people) or not (people or carried):
            carried = ""
            break
        names += [p for p in people if p]
    if carried and (person := _person(carried)):
        names.append(person)
    return names


_TRAILING_INITIALS = re.compile(r"^(?:[A-Z]\.){1,3}$|^[A-Z]$")  # "Adams Myfanwy C": a surname written first
_GROUP = re.compile(r"\b(?:collaborations?|consortium|group|investigators)\b", re.IGNORECASE)


def surname(name: str) -> str:
    """The name a reference list shortens a person to: "Vedovato", "de Vries", "Douglas" (printed "DOUGLAS"), "Smith"
    of "Smith, John", "Adams" of "Adams Myfanwy C" (a surname written first); a group's whole name."""
    name = " ".join(re.sub(r"[\d*†‡§¶✉]+", " ", name).split())  # affiliation marks left in metadata
    if _GROUP.search(name) or not name:
        return name
    if "," in name:
        return name.split(",")[0].strip()
    words = [w for w in name.split() if w.lower() not in _SUFFIX] or name.split()
    if len(words) > 1 and _TRAILING_INITIALS.match(words[-1]):
        return words[0]
    start = len(words) - 1
    while start > 1 and words[start - 1].lower() in _PARTICLE:
        start -= 1
    return " ".join(w.title() if w.isupper() and len(w) > 1 else w for w in words[start:])


def is_name_list(text: str) -> bool:
    """Whether a line is only a list of three or more people's names with commas ("Tae-Sung Kim, Kyung-Ae Park &
    Xiaofeng Li"); two capitalised phrases ("Gut Microbiota and Colorectal Cancer") may be a title."""
    pieces = _pieces(text)
    return len(pieces) >= 3 and "," in text and all(_person(p) for p in pieces)


PrintedLine = tuple[str, float]  # a first page's line and its type size


def _title_lines(lines: list[PrintedLine], title: str | None) -> tuple[int, int] | None:
    """Where the printed title lies among the first page's lines (start, end), set over one line or several."""
    wanted = _key(title or "")
    for start, (line, _) in enumerate(lines):
        seen = _key(line)
        if len(seen) < 4 or not wanted.startswith(seen):
            continue
        for end in range(start + 1, len(lines) + 1):
            if len(seen) >= len(wanted) - 2:
                return start, end
            if end == len(lines) or not wanted.startswith(seen + _key(lines[end][0])):
                break
            seen += _key(lines[end][0])
    return None


def _byline_start(lines: list[PrintedLine], start: int) -> int:
    """The first line from `start` with words: past a rule or a line of marks between the title and the byline."""
    while start < len(lines) and not _pieces(lines[start][0]):
        start += 1
    return start


def _byline_run(lines: list[PrintedLine], start: int) -> list[str]:
    """The lines from `start` printed at the size of the first (a byline is set in one size: the affiliations, a
    heading or the abstract under it are not), lines of marks only included whatever their size."""
    start = _byline_start(lines, start)
    if start >= len(lines):
        return []
    size = lines[start][1]
    run = []
    for text, at in lines[start:]:
        if abs(at - size) > 0.6 and _pieces(text):
            break
        run.append(text)
    return run


_TOP_LINES = 400  # a title and its byline are set early on the first page, if not always first
_ABSTRACT = re.compile(r"\s*(?:abstract|summary|r[ée]sum[ée]|resumen|a\s?b\s?s\s?t\s?r\s?a\s?c\s?t)\b", re.IGNORECASE)
_ADDRESS = re.compile(r"@|https?://|www\.")


def _body_size(lines: list[PrintedLine]) -> float:
    """The type size most of the page's text is printed in."""
    characters: Counter[float] = Counter()
    for text, size in lines:
        characters[size] += len(text)
    return characters.most_common(1)[0][0] if characters else 0.0


def _author_blocks(lines: list[PrintedLine], start: int, body: float) -> list[str]:
    """The names of a byline set as blocks side by side (ACM: each author's name over their affiliation, three to a
    row), which a page's text gives block by block: the first block's name, then the lines of its affiliation in a
    smaller size, then the next name in the byline's size. Read only when the byline starts with one name printed
    larger than the page's text, up to the abstract or the first line in the text's size; an email in the name's
    size is passed over (older ACM), any other line in that size that is not one name ends it."""
    run = _byline_run(lines, start)
    names = byline_authors(run)
    if len(names) != 1 or len(run) != 1:
        return names
    at = _byline_start(lines, start)
    size = lines[at][1]
    if size <= body + 0.5:
        return names
    for text, printed in lines[at + 1:at + 80]:
        if not _pieces(text) or _ADDRESS.search(text):
            continue
        if _ABSTRACT.match(text) or printed > size + 0.6 or abs(printed - body) <= 0.3:
            break
        if abs(printed - size) <= 0.6:
            if len(more := byline_authors([text])) != 1:
                break
            if name_key(more[0]) not in map(name_key, names):  # a running header repeats a name
                names += more
    return names


def _title_above_byline(lines: list[PrintedLine], body: float) -> tuple[int, str, list[str]] | None:
    """The first run of lines printed larger than the list of two or more names right under it, and larger than most
    of the page's text (where it starts, the title, the names): found without the reader's guess, which a journal's
    name or a boxed heading can mislead. `body`: the page's text size."""
    for at in range(1, min(len(lines), _TOP_LINES)):
        if lines[at - 1][1] < lines[at][1] + 1 or lines[at - 1][1] <= body:
            continue  # cheap first: a title is printed larger than its byline and than the page's text
        names = byline_authors(_byline_run(lines, at))
        if len(names) < 2:
            continue
        start = at - 1
        while start > 0 and abs(lines[start - 1][1] - lines[at - 1][1]) <= 0.5 and not is_banner(lines[start - 1][0]):
            start -= 1
        title = _joined(lines[start:at])
        if plausible_title(title):
            return start, title, names
    return None


def _byline_above_title(lines: list[PrintedLine], title_at: int | None, body: float
                        ) -> tuple[int, str, list[str]] | None:
    """A title with its byline printed right above it, smaller (De Gruyter: banners, the names, then the title):
    the first run of lines printed larger than the page's text whose lines just above, in one size and up to a
    banner, name three or more people, or two joined by "and" (a list of two topics or places is not a byline),
    under no label ("Edited by"); where the title starts, the title, the names. `title_at`: where the reader's
    title starts, when it was found on the page: only a byline above it is read."""
    for at in range(1, min(len(lines), _TOP_LINES)) if title_at is None else (title_at,):
        size = lines[at][1]
        if at < 1 or size < lines[at - 1][1] + 1 or size <= body + 0.5:
            continue
        above = at
        while above > 0 and abs(lines[above - 1][1] - lines[at - 1][1]) <= 0.6 and not is_banner(lines[above - 1][0]):
            above -= 1
        printed = [text for text, _ in lines[above:at]]
        names = byline_authors(printed)
        labelled = above > 0 and _LABEL_END.search(lines[above - 1][0])
        if labelled or len(names) < 2 or (len(names) == 2 and not re.search(r"\band\b|&", " ".join(printed))):
            continue
        end = at
        while end < len(lines) and abs(lines[end][1] - size) <= 0.5:
            end += 1
        title = _joined(lines[at:end])
        if plausible_title(title):
            return at, title, names
    return None


_TOP_OF_PAGE = 8  # lines a title and its byline start within when no type size sets them apart
_YEAR_IN_LINE = re.compile(rf"\b{_YEAR}\b")
_LABEL_END = re.compile(r"(?:\bby|:)\s*$", re.IGNORECASE)  # "Edited by", "Reviewers:": names under it are not a byline
_LABELLED = re.compile(r"^\W*(?:(?:running|short) (?:title|head)|key ?words|article type|category|subject area)\s*:",
                       re.IGNORECASE)  # a manuscript's labelled lines between its title and its byline


def _byline_at_top(lines: list[PrintedLine]) -> tuple[int, str, list[str]] | None:
    """A title and its byline printed in the text's own size (a manuscript's first page: preprints written in a word
    processor): the page's first lines, after any banner, then a list of two or more names, perhaps after labelled
    lines ("Running title: ..."); where the title starts, the title, the names."""
    start = 0
    while start < len(lines) and is_banner(lines[start][0]):
        start += 1
    for at in range(start + 1, min(len(lines), start + _TOP_OF_PAGE)):
        end = next((i for i in range(start, at) if _LABELLED.match(lines[i][0])), at)
        if end == start or not all(_LABELLED.match(text) for text, _ in lines[end:at]):
            continue
        names = byline_authors(_byline_run(lines, at))
        dated = [i for i in range(start, end - 1) if _YEAR_IN_LINE.search(lines[i][0])]  # a journal's volume line
        first = dated[-1] + 1 if dated else start
        title = _joined(lines[first:end])
        sizes = [size for _, size in lines[first:end]]
        # one size, not smaller than the names: a label over names ("Edited by") or a title over a byline set apart
        # by their sizes (which the readers above have looked at) is not this
        one_size = max(sizes) - min(sizes) <= 0.6 and min(sizes) >= lines[at][1] - 0.5
        if len(names) >= 2 and one_size and plausible_title(title) and not _LABEL_END.search(title):
            return start, title, names
    return None


def _line_numbers(title: str, above: str) -> bool:
    """Whether the reader's title holds numbers the lines above the byline do not: a preprint's line numbers
    ("Residues Neighboring an SH3-Binding 1 Motif")."""
    return bool(set(re.findall(r"(?<!\S)\d{1,3}(?!\S)", title)) - set(re.findall(r"(?<!\S)\d{1,3}(?!\S)", above)))


# a word cut at a line end ("cluster- / randomised"), not a hyphen left hanging before "and" ("Zn- and Cu-based")
_CUT_AT_LINE_END = re.compile(r"(?<=\w-) (?!(?:and|or|nor|to|as well as|versus|vs)\b)(?=\w)", re.IGNORECASE)


def _joined(lines: list[PrintedLine]) -> str:
    return _CUT_AT_LINE_END.sub("", " ".join(text for text, _ in lines))


def _similar(first: str, second: str) -> bool:
    return SequenceMatcher(None, _key(first), _key(second), autojunk=False).ratio() >= 0.85


def _authors_label(lines: list[PrintedLine]) -> list[str]:
    """The names under a first page's "Authors" label (Cell Press's summary panel)."""
    at = next((i for i, (text, _) in enumerate(lines) if text.strip().lower() == "authors"), None)
    return [] if at is None else byline_authors(_byline_run(lines, at + 1))


MAX_AUTHORS = 500  # a byline of more is a collaboration's, printed as its name, or not a byline
MAX_NAME_CHARS = 100


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


_CORRESPONDENCE = re.compile(r"\b(?:correspondence|corresponding author|e-?mail|present address|"
                             r"subject (?:category|areas?))\b",
                             re.IGNORECASE)
_AFFILIATION = re.compile(r"\b(?:universit\w*|institut\w*|department|hospital|laborator\w*|faculty|college)\b",
                          re.IGNORECASE)


def is_front_label(text: str) -> bool:
    """A first page's record rather than its prose: a labelled line ("Received: ...", "Keywords: ..."), a licence,
    a link or an address, correspondence, affiliations, or a byline."""
    return bool(_FRONT_LABEL.match(text) or _LICENCE_OR_LINK.search(text) or _ADDRESS.search(text)
                or _CORRESPONDENCE.search(text) or (_AFFILIATION.search(text) and text.count(". ") < 2)
                or is_author_line(text) or is_name_list(text))


def names_article_type(text: str) -> bool:
    """A banner or an article type ("RESEARCH ARTICLE", "Taxonomic Note", "STUDY PROTOCOL"): what a label above a
    title says, though some ("Case report", "Methodology") also head sections below it."""
    return is_banner(text) or bool(_ARTICLE_TYPE.match(text.strip()))


def is_author_line(text: str) -> bool:
    """A list of authors with their affiliation marks ("Anne Focke 1*, Christian Stockinger 1 and ...")."""
    return len(_NAME_MARK.findall(text)) >= 2


def plausible_title(text: str) -> bool:
    """Whether a line could be a paper's title: a few words, one of them a word of letters (not a production code,
    "OP-CBIO130553 139..140"); not a banner, a template's name or a file name, a licence or link line, a section's
    name, a labelled or dated line ("Keywords: ...", "Received 19 April 2016"), or a list of authors (with their
    affiliation marks or without)."""
    words = text.split()
    has_a_word = any(re.fullmatch(r"[^\W\d_]{3,}", word.strip(".,:;!?()")) for word in words)
    return (2 <= len(words) <= 40 and has_a_word and not _NOT_A_TITLE.match(text.strip())
            and not _ARTICLE_TYPE.match(text.strip())
            and not _LICENCE_OR_LINK.search(text) and not _SECTION_NAME.match(text) and not _FRONT_LABEL.match(text)
            and not is_author_line(text) and not is_name_list(text))


def name_key(name: str) -> str:
    """A name's letters without accents, case, spaces or punctuation: how two spellings of one name are compared (the
    metadata's "Wojciech Śmigaj" and the page's "Wojciech Smigaj" agree)."""
    return re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower())


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
    return [name for name in parts if len(name) <= MAX_NAME_CHARS and not _NOT_A_PERSON.search(name) and (
        len(name.split()) >= 2 or (len(name) > 2 and " " not in name and name[:1].isupper() and "." in name))]


def read_front_matter(first_pages_text: str, printed_title: str | None, metadata: dict[str, str],
                      first_page_lines: list[PrintedLine] | None = None) -> FrontMatter:
    """The front matter from the text of the first page (or two), the PDF's metadata dictionary and the first
    page's lines with their type sizes (superscripts dropped). The title is the reader's when the authors' names
    follow it, else the lines printed above the first list of names when there is one; the authors are the
    ones printed on the page unless the metadata names more or the same (publishers often store only the first
    author, or none, or surname first)."""
    subject = metadata.get("subject") or ""
    created = re.match(r"D:" + _YEAR, metadata.get("creationDate") or "")
    lines = [line for line in first_page_lines or [] if not line[0].strip().isdigit()]  # line and page numbers
    title = choose_title(printed_title, metadata.get("title"))
    where = _title_lines(lines, title)
    body = _body_size(lines)
    printed = _author_blocks(lines, where[1], body) if where else []
    if not printed and (anchored := _title_above_byline(lines, body)
                        or _byline_above_title(lines, where and where[0], body) or _byline_at_top(lines)):
        start, above, printed = anchored
        if where and title and 0 <= start - where[1] <= 2:
            title = f"{title}: {above}"  # a subtitle printed apart, between the title and the byline
        elif not (title and plausible_title(title) and _similar(title, above)) or _line_numbers(title, above):
            title = choose_title(above, metadata.get("title"))  # (a similar one of the reader's keeps its subscripts)
    printed = printed or _authors_label(lines)
    stored = authors_in(metadata.get("author"))
    return FrontMatter(
        title=title,
        authors=(printed if len(printed) > len(stored) or (
            len(printed) == len(stored) and list(map(name_key, printed)) != list(map(name_key, stored))) else stored
                 )[:MAX_AUTHORS],
        year=year_in(first_pages_text) or year_in(subject) or (int(created.group(1)) if created else None),
        venue=venue_in(subject),
        doi=doi_in(subject) or doi_in(first_pages_text))


def _names_authors(heading: str, authors: list[str]) -> bool:
    """A heading that is a byline: a list of names with their marks, or one or more of the paper's own authors."""
    if is_author_line(heading) or is_name_list(heading):
        return True
    named = [name_key(person) for person in byline_authors([heading])]
    return bool(named) and set(named) <= {name_key(author) for author in authors}


def _of_the_front(heading: str, title: str, authors: list[str]) -> bool:
    """A line of a title set over several ("Faithfulness in Long-form Summarization", the second of two; a heading
    the whole title's reader fell back on is no such line) or a byline."""
    line, whole = _key(heading), _key(title)
    return ((len(heading.split()) >= 3 and bool(line) and line in whole and line != whole)
            or _names_authors(heading, authors))


def front_lines_as_front_matter(sections: list[Section], headings: list[Heading], title: str, authors: list[str]
                                ) -> tuple[list[Section], list[Heading]]:
    """The sections and outline with a line of the title or a byline that a reader took for a heading before the
    paper's first section ("Faithfulness in Long-form Summarization"; "Olof Sandström,5 Olle Hernell,5 Marie-Louise
    Hammarström1", set in the headings' type; "Andrew Head" on a line of its own) read as front matter: the text
    under it is the first page's (an abstract, or all of a journal's run-on text), not a section named after the
    title or the authors; so are the parts under such a heading ("... > Acknowledgements"). Past the first other
    heading nothing changes ("Lake Victoria, Lake Malawi and Lake Tanganyika" heads a section)."""
    merged: list[Section] = []
    dropped = ""  # the byline heading the sections before this one were under
    leading = True
    for section in sections:
        head, *rest = section.title.split(" > ")
        pages = [block.page for block in section.blocks if block.page]
        if head == dropped or (leading and head != FRONT_MATTER and min(pages, default=1) <= 2
                               and _of_the_front(head, title, authors)):
            dropped = head
            section = Section(" > ".join([FRONT_MATTER, *rest]), section.blocks, section.run_in)
        else:
            dropped = ""
        leading = leading and section.title.split(" > ")[0] == FRONT_MATTER
        if leading and merged and merged[-1].title == section.title:
            merged[-1] = Section(section.title, [*merged[-1].blocks, *section.blocks], merged[-1].run_in)
        else:
            merged.append(section)
    outline: list[Heading] = []
    for heading in headings:  # the outline's leading title lines and bylines, the ones no section names among them
        if not (outline or heading.level != 1 or (heading.page or 1) > 2) and _of_the_front(heading.title, title,
                                                                                              authors):
            continue
        outline.append(heading)
    return merged, outline
