"""arXiv identifiers: the one validator every part of SciSynth uses before an id reaches a URL, a file
name, a query or a web page.

New-style ids are `YYMM.NNNN` or `YYMM.NNNNN`; old-style ids are `archive(.SUBJECT)/YYMMNNN`, where an
archive is lower-case words joined by single hyphens (`hep-th`, `cond-mat`, `math.AG`). Either may end in
a version (`v2`). The whole string must match: ASCII digits only, no surrounding space, no trailing newline.
"""

from __future__ import annotations

import re

ARXIV_ID = re.compile(r"(?:[0-9]{4}\.[0-9]{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/[0-9]{7})(?:v[0-9]+)?", re.ASCII)
ARXIV_ID_PATTERN = f"^{ARXIV_ID.pattern}$"  # anchored, for JSON schemas and pydantic fields
_VERSION = re.compile(r"v[0-9]+$")


def is_arxiv_id(text: object) -> bool:
    """True only for a complete, well-formed arXiv id."""
    return isinstance(text, str) and ARXIV_ID.fullmatch(text) is not None


def without_version(arxiv_id: str) -> str:
    """`2104.12255v1` -> `2104.12255`: the paper's id in the library."""
    return _VERSION.sub("", arxiv_id)


def abs_url(arxiv_id: str | None) -> str | None:
    """The arXiv abstract page of a valid id; None for anything else, so no other string becomes a link."""
    return f"https://arxiv.org/abs/{arxiv_id}" if is_arxiv_id(arxiv_id) else None
