"""Contradictions between library papers on a topic: pairs of findings, from two papers, about the same point
(similar sentences) that the stance classifier reads as disagreeing.

Each of the best-ranked papers for the topic gives its findings among its retrieved passages (sentences of the
type "finding", agent/sentence_types.py, most similar to the topic first). A pair of findings from two papers at
least `same_point` similar is scored both ways, each sentence as the claim and the other as the evidence, by the
classifier's supports-or-contradicts stage; a pair at or above its contradiction threshold is reported, ranked by
confidence times likeness. `scisynth eval scifact-verify` measures the pair scorer on SciFact dev: claims
against the gold rationales of the abstracts that support or contradict them (dev has no claim with both).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from pydantic import BaseModel

from agent.claim_check import one_line
from agent.evidence import Sentence, SentenceScorer
from agent.sentence_types import sentence_type
from agent.stance import StanceClassifier, rate, stance_features
from retrieval.search import HybridSearcher, Passage, SearchFilter
from tools.sections import is_back_matter

MAX_TOPIC_CHARS = 1000


class Side(BaseModel):
    paper_id: str
    title: str
    year: int | None
    quote: str
    page: int | None
    section: str


class Contradiction(BaseModel):
    confidence: float  # the classifier's P(contradicts), the mean of both readings
    similarity: float  # how alike the two findings are (the same point)
    first: Side
    second: Side


class Contradictions(BaseModel):
    topic: str
    pairs: list[Contradiction]
    trace: list[str]


def disagreement(classifier: StanceClassifier, scorer: SentenceScorer, first: str, second: str,
                 similarity: float) -> float:
    """P(the two statements contradict each other): stage 2 read both ways (each as the claim), averaged."""
    readings = []
    for claim, evidence in ((first, second), (second, first)):
        cosines = np.array([similarity], dtype=np.float32)
        rated = rate(scorer.judge, claim, [evidence], cosines)
        readings.append(classifier.contradicts.probability(stance_features(claim, [evidence], rated, cosines, [0])))
    return float(np.mean(readings))


@dataclass
class ContradictionFinder:
    searcher: HybridSearcher
    scorer: SentenceScorer
    classifier: StanceClassifier
    papers: int = 10
    findings_per_paper: int = 4
    same_point: float = 0.6

    def find(self, topic: str, where: SearchFilter | None = None, papers: int | None = None) -> Contradictions:
        """The disagreeing findings among the `papers` (default: the finder's) best-ranked papers `where` allows."""
        most = self.papers if papers is None else papers
        topic = one_line(topic, "topic", "aspirin and stroke", MAX_TOPIC_CHARS)
        started = time.perf_counter()
        by_paper: dict[str, list[Passage]] = {}
        for passage in self.searcher.search(topic, k=6 * most, where=where):
            if is_back_matter(passage.section):  # a cited paper's title is not a finding (as in a claim check)
                continue
            if passage.paper_id in by_paper or len(by_paper) < most:
                by_paper.setdefault(passage.paper_id, []).append(passage)
        findings = {paper: self._findings(topic, passages) for paper, passages in by_paper.items()}
        pairs = []
        for (_, mine), (_, theirs) in combinations(findings.items(), 2):
            for a in mine:
                for b in theirs:
                    similarity = float(a.vector @ b.vector)
                    if similarity < self.same_point:
                        continue
                    confidence = disagreement(self.classifier, self.scorer, a.text, b.text, similarity)
                    if confidence >= self.classifier.contradicts_threshold:
                        pairs.append(Contradiction(confidence=round(confidence, 3), similarity=round(similarity, 3),
                                                   first=_side(a), second=_side(b)))
        pairs.sort(key=lambda pair: -pair.confidence * pair.similarity)
        compared = sum(len(a) * len(b) for (_, a), (_, b) in combinations(findings.items(), 2))
        trace = [f"{len(by_paper)} papers, {sum(map(len, findings.values()))} findings, {compared} pairs compared, "
                 f"{len(pairs)} read as contradicting, in {time.perf_counter() - started:.2f} s"]
        return Contradictions(topic=topic, pairs=pairs, trace=trace)

    def _findings(self, topic: str, passages: list[Passage]) -> list[Sentence]:
        """The paper's findings most similar to the topic, each once (chunks overlap)."""
        scored = {s.text: s for sentences in self.scorer.sentences(topic, passages) for s in sentences
                  if sentence_type(s.text).finding}
        return sorted(scored.values(), key=lambda s: -s.score)[:self.findings_per_paper]


def _side(sentence: Sentence) -> Side:
    passage = sentence.passage
    return Side(paper_id=passage.paper_id, title=passage.title, year=passage.year, quote=sentence.text,
                page=passage.page_of(sentence.start), section=passage.section)
