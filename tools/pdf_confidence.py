"""Does a PDF's parse look right? The font reader is fast and right for conference papers and preprints, but a
typesetter's fonts can hide every heading from it (no bold flag, a family of its own) and a reference list with no
heading it knows runs into the body. What such a parse looks like, measured without any gold: few headings for its
pages, one section holding most of the text, no reference list in a paper long enough to have one, the paper's
parts (Introduction, Methods...) not at its top level, a title that is a banner or a file name; and a publisher's
article (a DOI on its first pages), a layout the font reader was not built on and reads worse on the corpus
(evals/pdf_structure.py). When it has any doubt, the layout model reads the paper again
(tools/pdf_model_reader.py) in a child process (it changes how PyMuPDF reads pages in the process that loads it),
and its parse is kept unless it has more doubts (or as many, on a preprint).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from tools.documents import Document, DocumentError
from tools.front_matter import plausible_title
from tools.isolation import IsolationError, ParseLimits, run_isolated
from tools.pdf import heading_name
from tools.sections import PAPER_PART

log = logging.getLogger(__name__)
LONG_ENOUGH = 4  # pages: shorter papers (letters, abstracts) may have no headings or references
HEADINGS_PER_PAGE = 0.5  # a journal article has a heading every page or two
ONE_SECTION_SHARE = 0.6  # more of the text than this in one section: the headings were missed
SECOND_READING = ParseLimits(seconds=300, memory_mb=3072)  # a second a page, for papers of a few hundred pages
# The layout model reads 2-4 pages a second (evals/pdf_structure.py): longer documents would only run into its limit.
SECOND_READING_PAGES = 500


def is_journal_article(document: Document) -> bool:
    """A publisher's article (a DOI on its first pages, four pages or more): a layout the layout model reads better
    than the font reader on the corpus. A preprint or a conference paper is what the font reader was built on."""
    return bool(document.doi) and (document.page_count or 1) >= LONG_ENOUGH


def doubts(document: Document) -> list[str]:
    """What makes this parse look wrong (empty: nothing)."""
    problems = []
    pages = document.page_count or 1
    body = [h for h in document.headings if not re.match(r"(?i)^\W*(references|bibliography)", h.title)]
    if pages >= LONG_ENOUGH and len(body) < HEADINGS_PER_PAGE * pages:
        problems.append(f"{len(body)} headings in {pages} pages")
    sizes = [sum(len(b.text) for b in s.blocks) for s in document.sections]
    if pages >= LONG_ENOUGH and sum(sizes) and max(sizes) > ONE_SECTION_SHARE * sum(sizes):
        problems.append(f"one section holds {max(sizes) / sum(sizes):.0%} of the text")
    if pages >= LONG_ENOUGH and not document.references:
        problems.append("no reference list found")
    # Each part's first heading ("Results" may also head a subsection's paragraph further on).
    parts: dict[str, int] = {}
    for heading in document.headings:
        if PAPER_PART.match(name := heading_name(heading.title)):
            parts.setdefault(name, heading.level)
    top = min((heading.level for heading in document.headings), default=1)
    if parts and sum(level == top for level in parts.values()) < len(parts) / 2:
        problems.append("the paper's parts (Introduction, Methods, Results...) are not its top-level headings")
    if is_journal_article(document):
        problems.append("a journal article (it prints a DOI)")
    if not plausible_title(document.title):
        problems.append(f"the title {document.title[:60]!r} looks wrong")
    return problems


def title_of_both(first: Document, second: Document) -> str:
    """The layout model's title, unless it is a sentence the font reader read as text (a footnote: "Two
    supplementary figures and a supplementary table are available with the online version of this paper.") and the
    font reader found a plausible title of its own that is not a part of it. (A real title appears in the text too,
    in a "Cite this article: ..." line, but ends without a full stop.)"""
    wanted = " ".join(second.title.split())
    mine = " ".join(first.title.split())
    sentence = len(wanted) >= 20 and wanted.endswith(".") and mine.lower() not in wanted.lower()
    read_as_prose = sentence and any(wanted in " ".join(block.text.split()) for section in first.sections
                                     for block in section.blocks)
    return first.title if read_as_prose and plausible_title(first.title) else second.title


def second_reading(path: Path, first: Document) -> Document:
    """The layout model's parse unless it has more doubts than the font reader's, or as many on a paper that is no
    journal article (on the corpus the model reads journal layouts better: evals/pdf_structure.py); either says which
    reader ran and why. The model runs in a
    child process of its own (see the module docstring)."""
    from tools.pdf_model_reader import read_with_layout

    why = "; ".join(first.doubts)
    if (first.page_count or 0) > SECOND_READING_PAGES:
        first.reader_note = (f"{why}; the layout model was not tried: {first.page_count} pages is more than it reads "
                             f"within its {SECOND_READING.seconds:.0f} s")
        return first
    try:
        second = run_isolated(read_with_layout, SECOND_READING, path.name, path)
    except (DocumentError, IsolationError) as error:
        reason = str(error).replace(str(path), path.name)  # the note is shown to API users: no server paths
        log.warning("%s: the layout model could not read it (%s); the font reader's parse is kept", path, reason)
        first.reader_note = f"{why}; the layout model could not read it ({reason}), so the font reader's parse is kept"
        return first
    second.title = title_of_both(first, second)
    second.doubts = doubts(second)
    # On a tie, the model's parse of a journal article (it reads their layouts better), the font reader's of a
    # preprint: ATLAS and CMS's letter (no headings in its body, 30 pages of author lists) drew one doubt from each
    # reader, and the model took "Tre, Roma, Italy" and "Serbia" of the author lists for headings.
    if len(second.doubts) > len(first.doubts) or (len(second.doubts) == len(first.doubts)
                                                  and not is_journal_article(first)):
        worse = "did worse" if len(second.doubts) > len(first.doubts) else "did no better"
        first.reader_note = f"{why}; the layout model {worse} ({'; '.join(second.doubts)})"
        return first
    second.reader_note = why
    log.info("%s: read by the layout model (the font reader's parse had: %s)", path.name, why)
    return second


def settled(document: Document) -> Document:
    """A PDF read in a bounded child with its doubts only noted, read again by the layout model when it has any
    (other documents as they are)."""
    if document.reader != "fonts" or not document.doubts or document.reader_note is not None or not document.path:
        return document
    return second_reading(Path(document.path), document)
