"""Citation checking: every `[n]` must point to a passage that holds a verbatim quote supporting it.

An answer is read as claims, each ending in its markers (`claim text [1][3]`). For every marker the
quote is the claim itself when the passage holds it verbatim, else the passage sentence closest to the
claim. A claim whose markers all fail (no such passage, or too dissimilar) is removed and counted.
Markers are then renumbered 1..N in order of appearance, one per distinct (passage, quote).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.state import Citation
from retrieval.embeddings import Embedder
from retrieval.search import Passage

_CLAIM = re.compile(r"(?P<claim>.*?)(?P<markers>(?:\s*\[\d+(?:\s*,\s*\d+)*\])+)", re.DOTALL)
_NUMBER = re.compile(r"\d+")
# "claim [1]." -> "claim. [1]": punctuation after a marker belongs to the claim before it.
_PUNCTUATION_AFTER_MARKERS = re.compile(r"(?P<markers>(?:\s*\[\d+(?:\s*,\s*\d+)*\])+)\s*(?P<mark>[.;:,!?])")


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    unsupported_removed: int


def _claims(answer: str) -> tuple[list[tuple[str, list[int]]], str]:
    """(claim, marker numbers) pairs, and the trailing text that carries no marker."""
    answer = _PUNCTUATION_AFTER_MARKERS.sub(r"\g<mark>\g<markers>", answer)
    claims, end = [], 0
    for match in _CLAIM.finditer(answer):
        claims.append((match.group("claim"), [int(n) for n in _NUMBER.findall(match.group("markers"))]))
        end = match.end()
    return claims, answer[end:]


class CitationChecker:
    def __init__(self, embedder: Embedder, min_support: float = 0.55) -> None:
        self.embedder = embedder
        self.min_support = min_support

    def _quote(self, claim: str, passage: Passage) -> tuple[str, int] | None:
        """A verbatim span of the passage that supports the claim, with its offset; None if none does."""
        bare = claim.strip().lstrip(".;,: ").strip()
        offset = passage.text.find(bare) if bare else -1
        if offset >= 0:
            return bare, offset
        spans = passage.sentence_spans()
        if not bare or not spans:
            return None
        vectors = self.embedder.embed([bare] + [passage.text[s:e] for s, e in spans])
        similarity = vectors[1:] @ vectors[0]
        best = int(similarity.argmax())
        if similarity[best] < self.min_support:
            return None
        start, end = spans[best]
        return passage.text[start:end], start

    def check(self, answer: str, passages: list[Passage]) -> CheckedAnswer:
        claims, tail = _claims(answer)
        numbering: dict[tuple[int, str], int] = {}
        citations: list[Citation] = []
        pieces: list[str] = []
        removed = 0
        for claim, numbers in claims:
            markers = []
            for n in numbers:
                if not 1 <= n <= len(passages):
                    continue
                passage = passages[n - 1]
                found = self._quote(claim, passage)
                if found is None:
                    continue
                quote, offset = found
                key = (n, quote)
                if key not in numbering:
                    numbering[key] = len(numbering) + 1
                    citations.append(Citation(
                        n=numbering[key], paper_id=passage.paper_id, title=passage.title,
                        section=passage.section, page=passage.page_of(offset), quote=quote, url=passage.url,
                    ))
                markers.append(f"[{numbering[key]}]")
            if markers:
                pieces.append(f"{claim.rstrip()} {''.join(dict.fromkeys(markers))}")
            else:
                removed += 1
        text = " ".join(piece.strip() for piece in pieces) + tail
        return CheckedAnswer(text.strip(), citations, removed)
