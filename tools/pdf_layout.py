"""Font statistics: how a PDF's headings differ from its body text, so unnumbered headings ("Background",
"Participants", as journals set them) are found as well as numbered ones, with their levels.

The body style is the (size, weight) carrying the most characters of the document. A heading is a short
block of its own, set almost entirely in one style that stands out from the body: larger, or bold where the
body is not. Levels rank those styles (larger first, bold before regular at one size); a numbered heading's
depth ("3.1" is level 2) overrides its style's rank.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_BOLD_FLAG = 16
_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi|medi(um)?\b|[-,](b|sb|bd)\b", re.IGNORECASE)
_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")
SIZE_STEP = 0.5  # sizes are compared rounded to half points: 10.8 and 11.0 are one size
LARGER_BY = 0.9  # points above the body size that make a heading without bold
UNIFORM_SHARE = 0.9  # a heading's characters in its dominant style


@dataclass(frozen=True, order=True)
class Style:
    size: float
    bold: bool


def span_style(span: dict) -> Style:
    bold = bool(span.get("flags", 0) & _BOLD_FLAG) or bool(_BOLD_NAME.search(span.get("font", "")))
    return Style(round(float(span.get("size", 0.0)) / SIZE_STEP) * SIZE_STEP, bold)


def run_in_lead(lines: list[dict]) -> str:
    """The bold words a paragraph opens with when the rest of it is not bold: a run-in heading
    ("**Participants.** Twenty adults..."), as journals and ACL's \\paragraph set them. Empty when the block
    does not open with one (a list item's number, "5. **ELMo**", opens with regular type)."""
    spans = [span for line in lines for span in line["spans"]]
    lead = []
    for span in spans:  # white space between bold words (often a span of its own) belongs to the lead
        if span["text"].strip() and not span_style(span).bold:
            break
        lead.append(span["text"])
    rest = [span for span in spans[len(lead):] if span["text"].strip()]
    text = " ".join("".join(lead).split())
    lead = [t for t in lead if t.strip()]
    if not lead or not rest or any(span_style(span).bold for span in rest[:3]):
        return ""
    return text if 1 <= len(text.split()) <= 6 and sum(c.isalpha() for c in text) >= 3 else ""


def style_counts(lines: list[dict]) -> Counter[Style]:
    """Characters per style in the lines of a block."""
    counts: Counter[Style] = Counter()
    for line in lines:
        for span in line["spans"]:
            characters = len(span["text"].strip())
            if characters:
                counts[span_style(span)] += characters
    return counts


def dominant(counts: Counter[Style]) -> tuple[Style | None, float]:
    """The style with most characters and its share of them."""
    if not counts:
        return None, 0.0
    style, characters = counts.most_common(1)[0]
    return style, characters / sum(counts.values())


def stands_out(style: Style | None, share: float, body: Style | None, uniform: float = UNIFORM_SHARE) -> bool:
    """Larger than the body, or bold where it is not, in at least `uniform` of the block's characters."""
    if style is None or body is None or share < uniform:
        return False
    return style.size >= body.size + LARGER_BY or (style.bold and not body.bold and style.size >= body.size - 1.0)


def numbered_depth(text: str) -> int | None:
    """1 for "3 Methods", 2 for "3.1 Data", None for an unnumbered heading."""
    match = _NUMBER.match(text)
    return match.group(1).count(".") + 1 if match else None


def style_levels(styles: set[Style]) -> dict[Style, int]:
    """Level 1 for the most prominent heading style, then down (at most 3 levels)."""
    ranked = sorted(styles, key=lambda s: (-s.size, not s.bold))
    return {style: min(3, rank + 1) for rank, style in enumerate(ranked)}
