"""Citation checking: every `[n]` must point to a passage that holds a verbatim quote supporting it.

An answer is read as claims, each ending in its markers (`claim text [1][3]`). For every marker the
quote is the claim itself when the passage holds it verbatim, else the passage sentence closest to the
claim. A claim whose markers all fail (no such passage, or too dissimilar) is removed and counted.
A citation keeps its evidence passage's number (one citation per passage, quoting the first claim that
cites it), so the numbers a client saw while the answer streamed stay valid after the check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.evidence import SentenceScorer
from agent.state import Citation
from retrieval.search import Passage

MARKER = re.compile(r"\[(\d+)\]")  # one citation marker, `[n]`: the pattern every part of SciSynth uses
_CLAIM = re.compile(r"(?P<claim>.*?)(?P<markers>(?:\s*\[\d+(?:\s*,\s*\d+)*\])+)", re.DOTALL)
_NUMBER = re.compile(r"\d+")
# "claim [1]." -> "claim. [1]": punctuation after a marker belongs to the claim before it.
_PUNCTUATION_AFTER_MARKERS = re.compile(r"(?P<markers>(?:\s*\[\d+(?:\s*,\s*\d+)*\])+)\s*(?P<mark>[.;:,!?])")


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    unsupported_removed: int
    changed: bool = False  # a claim or a marker was taken out


def _claims(answer: str) -> tuple[list[tuple[str, list[int]]], str]:
    """(claim, marker numbers) pairs, and the trailing text that carries no marker."""
    answer = _PUNCTUATION_AFTER_MARKERS.sub(r"\g<mark>\g<markers>", answer)
    claims, end = [], 0
    for match in _CLAIM.finditer(answer):
        claims.append((match.group("claim"), [int(n) for n in _NUMBER.findall(match.group("markers"))]))
        end = match.end()
    return claims, answer[end:]


class CitationChecker:
    def __init__(self, scorer: SentenceScorer, min_support: float = 0.55) -> None:
        self.scorer = scorer
        self.min_support = min_support

    def _quote(self, claim: str, passage: Passage) -> tuple[str, int] | None:
        """A verbatim span of the passage that supports the claim, with its offset; None if none does."""
        bare = claim.strip().lstrip(".;,: ").strip()
        if not bare:
            return None
        offset = passage.text.find(bare)
        if offset >= 0:
            return bare, offset
        best = self.scorer.best(bare, passage)
        if best is None or best.score < self.min_support:
            return None
        return best.text, best.start

    def check(self, answer: str, passages: list[Passage]) -> CheckedAnswer:
        """Keep the claims whose markers point to supporting passages. A citation's number is its evidence
        passage's number, so an answer streamed while it was written reads the same once checked."""
        claims, tail = _claims(answer)
        cited: dict[int, Citation] = {}
        pieces: list[str] = []
        removed, changed = 0, False
        for claim, numbers in claims:
            markers = []
            for n in numbers:
                found = self._quote(claim, passages[n - 1]) if 1 <= n <= len(passages) else None
                if found is None:
                    changed = True
                    continue
                if n not in cited:
                    passage, (quote, offset) = passages[n - 1], found
                    cited[n] = Citation(n=n, paper_id=passage.paper_id, title=passage.title, section=passage.section,
                                        page=passage.page_of(offset), quote=quote, url=passage.url)
                markers.append(f"[{n}]")
            if markers:
                pieces.append(f"{claim.rstrip()} {''.join(dict.fromkeys(markers))}")
            else:
                removed += 1
        text = " ".join(piece.strip() for piece in pieces) + tail
        return CheckedAnswer(text.strip(), [cited[n] for n in sorted(cited)], removed, changed or removed > 0)
