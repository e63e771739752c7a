"""Citation checking: every statement of an answer must carry `[n]` markers pointing to passages that hold
a verbatim quote supporting it.

An answer is read as groups of sentences, each group ending in its markers (`A. B [1][3]`); markers written
`[1, 2]`, `[1-3]` or `[^1]` are read as `[1][2]`, `[1][2][3]` and `[1]`. Every sentence is checked on its
own against its group's passages: the quote is the sentence itself when the passage holds it verbatim, else
the passage sentence closest to it (cosine at least `min_support`). A sentence no marker supports is
removed and counted, and so is text after the last marker: nothing uncited is passed on as if it were.
A citation keeps its evidence passage's number (one citation per passage, quoting the first sentence that
cites it; the passage's other sentences the answer cites with that number are its `also` quotes), so the numbers a
client saw while the answer streamed stay valid after the check, and every cited sentence has its quote. The scan is
linear in the answer's length, and answers longer than `MAX_ANSWER_CHARACTERS` are cut first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.evidence import SentenceScorer
from agent.settings import AnswerSettings
from agent.state import Citation, Quote
from retrieval.search import Passage
from retrieval.sentences import sentences
from tools.front_matter import surname

MARKER = re.compile(r"\[(\d+)\]")  # one citation marker, `[n]`: the pattern every part of SciSynth uses
MAX_ANSWER_CHARACTERS = 12_000
_MARKERS = re.compile(r"(?:[ \t]*\[\d+(?:\s*[,;]\s*\d+)*\])+")
_NUMBER = re.compile(r"\d+")
_RANGE = re.compile(r"\[(\d+)\s*[-–]\s*(\d+)\]")
_FOOTNOTE = re.compile(r"\[\^(\d+)\]")
# "claim [1]." -> "claim. [1]": punctuation after a marker belongs to the claim before it.
_PUNCTUATION_AFTER_MARKERS = re.compile(r"(?P<markers>(?:[ \t]*\[\d+(?:\s*[,;]\s*\d+)*\])+)[ \t]*(?P<mark>[.;:,!?])")


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    unsupported_removed: int
    changed: bool = False  # a sentence or a marker was taken out, or the text was rewritten


def byline(authors: tuple[str, ...] | list[str] | None, year: int | None) -> str:
    """Who wrote a paper and when, as a reference list shortens it: "Vedovato et al. 2024", "Cox & White 2022",
    "de Vries 2010"; empty when neither is known."""
    names = [short for author in authors or () if isinstance(author, str) and (short := surname(author))]
    who = f"{names[0]} et al." if len(names) > 2 else " & ".join(names)
    return " ".join(part for part in (who, str(year) if year else "") if part)


def citation_of(n: int, passage: Passage, quote: str, page: int | None) -> Citation:
    """Citation `n`: the passage's paper, who wrote it, where the quote is."""
    citation = Citation(n=n, paper_id=passage.paper_id, title=passage.title, section=passage.section, page=page,
                        quote=quote, url=passage.url)
    if written := byline(passage.authors, passage.year):
        citation["byline"] = written
    return citation


def normalise_markers(answer: str) -> str:
    """`[1-3]` -> `[1][2][3]` (at most 20), `[^1]` -> `[1]`, and punctuation moved before its markers."""
    def expand(match: re.Match) -> str:
        first, last = int(match.group(1)), int(match.group(2))
        return "".join(f"[{n}]" for n in range(first, min(last, first + 19) + 1)) if first <= last else ""

    answer = _FOOTNOTE.sub(r"[\1]", _RANGE.sub(expand, answer))
    return _PUNCTUATION_AFTER_MARKERS.sub(r"\g<mark>\g<markers>", answer)


def without_markers(text: str) -> str:
    """The text with every citation marker the checker would read taken out ("heart failure [13] and is required
    ... rehabilitation [14, 15]." -> "heart failure and is required ... rehabilitation.")."""
    return _MARKERS.sub("", normalise_markers(text))


def _claims(answer: str) -> tuple[list[tuple[str, list[int]]], str]:
    """(sentences before a marker group, its numbers) pairs, and the trailing text that carries no marker."""
    answer = normalise_markers(answer[:MAX_ANSWER_CHARACTERS])
    claims, end = [], 0
    for match in _MARKERS.finditer(answer):
        claims.append((answer[end:match.start()], [int(n) for n in _NUMBER.findall(match.group(0))]))
        end = match.end()
    return claims, answer[end:]


class CitationChecker:
    def __init__(self, scorer: SentenceScorer, quality: AnswerSettings | None = None) -> None:
        self.scorer = scorer
        self.min_support = (quality or AnswerSettings()).citation_min_support

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
        claims, tail = _claims(answer)
        cited: dict[int, Citation] = {}
        groups: list[str] = []
        removed = len(sentences(tail)) if claims else 0  # uncited text after the last marker
        changed = bool(removed) or len(answer) > MAX_ANSWER_CHARACTERS
        for claim, numbers in claims:
            kept, markers = [], []
            for sentence in [s.strip() for s in sentences(claim)] or [claim.strip()]:
                supporting = [n for n in numbers if self._cite(cited, n, sentence, passages)]
                if supporting:
                    kept.append(sentence)
                    markers += [n for n in supporting if n not in markers]
                else:
                    removed += 1
            changed = changed or len(kept) < len(sentences(claim) or [claim]) or set(markers) != set(numbers)
            if kept:
                groups.append(" ".join(kept) + " " + "".join(f"[{n}]" for n in markers))
        text = " ".join(groups) if claims else answer.strip()
        return CheckedAnswer(text.strip(), [cited[n] for n in sorted(cited)], removed, changed)

    def _cite(self, cited: dict[int, Citation], n: int, sentence: str, passages: list[Passage]) -> bool:
        """Whether passage `n` supports the sentence; its first supporting quote becomes citation `n`, the others
        its `also` quotes."""
        found = self._quote(sentence, passages[n - 1]) if 1 <= n <= len(passages) else None
        if found is None:
            return False
        passage, (quote, offset) = passages[n - 1], found
        if n not in cited:
            cited[n] = citation_of(n, passage, quote, passage.page_of(offset))
        elif quote != cited[n]["quote"] and quote not in {q["quote"] for q in cited[n].get("also", [])}:
            cited[n].setdefault("also", []).append(Quote(quote=quote, page=passage.page_of(offset)))
        return True
