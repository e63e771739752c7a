"""Which sections of a paper hold its research, and which are back matter (References, Acknowledgements, Funding,
Author contributions...): the one rule for the parsers (no run-in headings in back matter) and for the agent
(no findings quoted from it)."""

from __future__ import annotations

import re

# Sections whose sentences are not findings, matched against every part of a section path ("A > B"): the start
# of a part is enough ("Declaration of Competing Interest", "Funding Statement", "Acknowledgements and Funding").
NOT_BODY_SECTION = re.compile(
    r"^(?:[\dIVXivx]+(?:\.\d+)*\.?\s+)?(?:references?\b|bibliography|works cited|literature cited|"
    r"acknowledge?ments?|funding|financial (?:support|disclosure)|author(?:s'?|’s?)? (?:details|contributions?|"
    r"information|summary|statement)|credit authorship|competing|conflicts? of interest|declarations?\b|"
    r"disclosures?|ethic|informed consent|consent for publication|availability of|data availability|"
    r"code availability|supplementary (?:material|information|data|files?)|supporting information|"
    r"additional files?|(?:list of )?abbreviations|pre-?publication history|footnotes|notes\s*$|"
    r"publisher'?s note|(?:supplementary )?(?:figure|table|scheme|plate|caption)\b)",
    re.IGNORECASE)


def is_body_section(section: str) -> bool:
    """False for References, Acknowledgements, Author details, Funding and the like (any part of a path)."""
    return not any(NOT_BODY_SECTION.match(part.strip()) for part in section.split(">"))
