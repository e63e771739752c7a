"""Checking a claim against the library: which papers bear on it, what each says (supports, contradicts, or does
not address it) with the sentences quoted, and the consensus.

The papers are those whose passages retrieval ranks highest for the claim (hybrid search over stored vectors);
each is judged on its retrieved passages by the stance judge (agent/stance_judge.py: a configured model, or the
classifier trained here). The verdict is plain counting, so a reader can redo it: no paper bears on the claim:
insufficient; only supporting papers: supported; only contradicting ones: contradicted; both: mixed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel

from agent.citations import byline
from agent.evidence import SentenceScorer
from agent.papers import ARXIV_OFF, NewPaperReader
from agent.stance import Stance, StanceClassifier
from agent.stance_judge import StanceJudge
from retrieval.search import HybridSearcher, Passage, SearchFilter
from tools.sections import is_back_matter

Verdict = Literal["supported", "contradicted", "mixed", "insufficient"]
MAX_CLAIM_CHARS = 2000
SHOWN_FIRST: dict[Stance, int] = {"contradicts": 0, "supports": 0, "insufficient": 1}  # then by confidence


class Rationale(BaseModel):
    quote: str
    page: int | None
    section: str
    n: int  # its number among the check's quotes, as an answer numbers its citations


class PaperStance(BaseModel):
    paper_id: str
    title: str
    year: int | None
    byline: str = ""  # "Vedovato et al. 2024", as a citation names the paper
    stance: Stance
    confidence: float | None
    judged_by: str
    rationale: list[Rationale]


class Counts(BaseModel):
    supports: int
    contradicts: int
    insufficient: int


class ClaimCheck(BaseModel):
    claim: str
    verdict: Verdict
    counts: Counts
    papers: list[PaperStance]
    trace: list[str]

    def consensus(self) -> str:
        """'3 papers support, 1 contradicts, 2 do not address it'."""
        c = self.counts
        parts = [f"{c.supports} paper{'s' if c.supports != 1 else ''} support{'s' if c.supports == 1 else ''}",
                 f"{c.contradicts} contradict{'s' if c.contradicts == 1 else ''}",
                 f"{c.insufficient} do{'es' if c.insufficient == 1 else ''} not address it"]
        return ", ".join(parts)


def verdict_of(counts: Counts) -> Verdict:
    if counts.supports and counts.contradicts:
        return "mixed"
    if counts.supports:
        return "supported"
    return "contradicted" if counts.contradicts else "insufficient"


def one_line(text: str, what: str, example: str, most: int) -> str:
    """A claim or topic as one line of valid text; ValueError saying what to write instead."""
    text = " ".join(text.split())
    if not text:
        raise ValueError(f"the {what} is empty: write it in quotes, e.g. \"{example}\"")
    if len(text) > most:
        raise ValueError(f"the {what} is {len(text)} characters: write one {what} of at most {most}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"the {what} is not valid text ({error.reason}): retype it") from error
    return text


@dataclass
class ClaimChecker:
    """`papers`: how many of the best-ranked papers are judged; `passages`: how many passages retrieval brings to
    find them (a paper is judged on its retrieved passages, at most `per_paper`); `new_papers`: what reads arXiv's
    papers on the claim into the library first, when a check asks for it (None: arXiv is turned off)."""

    searcher: HybridSearcher
    scorer: SentenceScorer
    classifier: StanceClassifier
    model: BaseChatModel | None = None
    max_model_calls: int | None = None
    papers: int = 10
    passages: int = 60
    per_paper: int = 8
    new_papers: NewPaperReader | None = None

    def check(self, claim: str, where: SearchFilter | None = None, papers: int | None = None,
              arxiv: bool = False, added_by: str | None = None) -> ClaimCheck:
        """The claim checked against the `papers` (default: the checker's) best-ranked papers `where` allows;
        with `arxiv`, after arXiv's papers on it (within `where`'s years) that the library lacks were read into
        the library for `added_by`."""
        most = self.papers if papers is None else papers
        claim = one_line(claim, "claim", "Aspirin lowers the risk of stroke", MAX_CLAIM_CHARS)
        if arxiv and self.new_papers is None:
            raise ValueError(ARXIV_OFF)
        if arxiv and where and where.paper_ids:
            raise ValueError("--arxiv reads new papers, and --paper limits the check to the papers given: use one")
        started = time.perf_counter()
        read = [self.new_papers.read_new(claim, added_by, where.year_from if where else None,
                                         where.year_to if where else None)] if arxiv and self.new_papers else []
        judge = StanceJudge(self.scorer, self.model, self.classifier, self.max_model_calls)
        # a reference list, acknowledgements or funding say nothing a paper found ("Prospects for moxidectin as a
        # treatment for scabies" is the title of a paper it cites)
        found = [p for p in self.searcher.search(claim, k=max(self.passages, 6 * most), where=where)
                 if not is_back_matter(p.section)]
        by_paper: dict[str, list[Passage]] = {}
        for passage in found:
            if passage.paper_id in by_paper or len(by_paper) < most:
                by_paper.setdefault(passage.paper_id, []).append(passage)
        trace = [*read, f"retrieved {len(found)} passages; judging the {len(by_paper)} best-ranked papers"]
        judged = [self._judge_paper(judge, claim, passages[:self.per_paper]) for passages in by_paper.values()]
        # a model gives no confidence: its papers keep their retrieval order among the classifier's most confident
        judged.sort(key=lambda p: (SHOWN_FIRST[p.stance], -(1.0 if p.confidence is None else p.confidence)))
        number = 0
        for paper in judged:
            for quote in paper.rationale:
                number += 1
                quote.n = number
        tally = Counter(p.stance for p in judged)
        counts = Counts(supports=tally["supports"], contradicts=tally["contradicts"],
                        insufficient=tally["insufficient"])
        fallbacks = f", {judge.fallbacks} model replies unusable (the classifier judged)" if judge.fallbacks else ""
        trace.append(f"judged by {judge.name}{fallbacks} in {time.perf_counter() - started:.2f} s")
        return ClaimCheck(claim=claim, verdict=verdict_of(counts), counts=counts, papers=judged, trace=trace)

    def _judge_paper(self, judge: StanceJudge, claim: str, passages: list[Passage]) -> PaperStance:
        """Judged on its retrieved passages in reading order, each sentence once (chunks overlap)."""
        per_passage = self.scorer.read(claim, passages)
        sentences = [s for scored in per_passage for s in scored]
        assessment = judge.assess(claim, [s.text for s in sentences],
                                  np.array([s.score for s in sentences], dtype=np.float32),
                                  passage_sizes=[len(scored) for scored in per_passage],
                                  sections=[s.passage.section for s in sentences])
        first = passages[0]
        return PaperStance(
            paper_id=first.paper_id, title=first.title, year=first.year, byline=byline(first.authors, first.year),
            stance=assessment.stance,
            confidence=assessment.confidence, judged_by=assessment.judged_by,
            rationale=[Rationale(quote=sentences[i].text, page=sentences[i].passage.page_of(sentences[i].start),
                                 section=sentences[i].passage.section, n=0) for i in assessment.rationale])

