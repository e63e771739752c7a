"""Which sections of a paper hold its research, and which are back matter (References, Acknowledgements, Funding,
Author contributions...): the one rule for the parsers (no run-in headings in back matter) and for the agent
(no findings quoted from it)."""

from __future__ import annotations

import re

# Sections whose sentences are not findings, matched against every part of a section path ("A > B"): the start
# of a part is enough ("Declaration of Competing Interest", "Funding Statement", "Acknowledgements and Funding").
NOT_BODY_SECTION = re.compile(
    r"^(?:[\dIVXivx]+(?:\.\d+)*\.?\s+)?(?:references?\b|bibliography|works cited|literature cited|"
    r"acknowledge?ments?|funding|financial (?:support|disclosure)|author(?:s?['’]?s?)? (?:details|contributions?|"
    r"information|summary|statement)|credit authorship|competing|conflicts? of interest|declarations?\b|"
    r"disclosures?|ethic|informed consent|consent for publication|availability of|data availability|"
    r"code availability|supplementary (?:materials?|information|data|files?|figures?|tables?)|supporting information|"
    r"additional files?|additional information|(?:list of )?abbreviations|pre-?publication history|footnotes|notes\s*$|"
    r"publisher'?s note|(?:figure|table|scheme|plate)s?\s+[A-Z]?[\dIVX]+\b|captions?\b|"
    r"(?:figures?|tables?|schemes?)(?:\s+(?:legends?|and tables|and figures))?\s*$)",
    re.IGNORECASE)


# The parts nearly every paper has, at its top level whatever it numbers or prints them like (a heading's name:
# lower case, numbering stripped).
PAPER_PART = re.compile(r"^(?:introduction|background|(?:materials and |experimental )?methods?|results|discussion|"
                        r"conclusions?|results and discussion|references|acknowledge?ments?)$")


def is_body_section(section: str) -> bool:
    """False for References, Acknowledgements, Author details, Funding and the like (any part of a path)."""
    return not any(NOT_BODY_SECTION.match(part.strip()) for part in section.split(">"))
