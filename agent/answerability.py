"""Does the evidence actually answer the question? Two model-free signals, combined by a logistic model:

- `similarity`: cosine of the evidence sentence closest to the question (MiniLM);
- `coverage`: the IDF-weighted share of the question's terms found in the best-covering passage (rare
  terms, a drug or a gene, weigh most: a passage about the topic but not the specific thing scores low;
  words that only frame a question, "does", "affect", "contain", do not count).

The weights were fitted (scikit-learn LogisticRegression) on the 500 PubMedQA PQA-L questions outside its
official test split, each asked twice over the pooled 1,000 abstracts: with its own abstract in the
library (answerable) and without it (not). The threshold keeps >= 92% of the answerable questions on that
same split. `scisynth eval abstention` refits them, prints the trade-off curve on the dev split and the
result on the test split, and says whether the shipped constants still match. Nothing here was tuned on
the test questions that are reported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from agent.evidence import SentenceScorer
from agent.keywords import question_framing
from retrieval.lexical import LexicalIndex
from retrieval.search import Passage

# Fitted by `scisynth eval abstention` (PubMedQA non-test split, 1,000 pairs); see the module docstring.
WEIGHTS = {"similarity": 6.10, "coverage": 7.18}
INTERCEPT = -8.31


@dataclass(frozen=True)
class Answerability:
    similarity: float
    coverage: float
    probability: float
    answers: bool

    def public(self) -> dict:
        return {"similarity": round(self.similarity, 3), "coverage": round(self.coverage, 3),
                "probability": round(self.probability, 3), "answers": self.answers}


def probability(similarity: float, coverage: float) -> float:
    logit = INTERCEPT + WEIGHTS["similarity"] * similarity + WEIGHTS["coverage"] * coverage
    return 1.0 / (1.0 + math.exp(-logit))


class AnswerabilityJudge:
    def __init__(self, scorer: SentenceScorer, lexical: Callable[[], LexicalIndex],
                 threshold: float) -> None:
        """`lexical()` gives the current BM25 index (it is rebuilt as the library changes)."""
        self.scorer = scorer
        self.lexical = lexical
        self.threshold = threshold

    def features(self, question: str, evidence: list[Passage], similarity: float | None = None
                 ) -> tuple[float, float]:
        """(similarity, coverage); `similarity`, when the caller has ranked the evidence already, saves scoring
        it again."""
        if not evidence:
            return 0.0, 0.0
        if similarity is None:
            similarity = max((score for _, score in self.scorer.rank_passages(question, evidence)), default=0.0)
        index: LexicalIndex = self.lexical()
        coverage = max(index.term_coverage(question, [p.text for p in evidence], question_framing()), default=0.0)
        return float(similarity), float(coverage)

    def judge(self, question: str, evidence: list[Passage], similarity: float | None = None) -> Answerability:
        """Whether the evidence answers the question; a question that asks two things ("What was X, and which
        factors were associated with it?") is answered when it answers either, judged on its own: the terms of
        both together are rarely all in one passage."""
        parts = question_parts(question)
        if len(parts) > 1:
            return max((self.judge(part, evidence) for part in parts), key=lambda judged: judged.probability)
        similarity, coverage = self.features(question, evidence, similarity)
        chance = probability(similarity, coverage) if evidence else 0.0
        return Answerability(similarity, coverage, chance, bool(evidence) and chance >= self.threshold)


# ", and which/what/how ...": a second question joined to the first
_SECOND_QUESTION = re.compile(r",?\s+and\s+(?=(?:which|what|how|why|when|where|whether|does|do|did|is|are|was|were|"
                              r"can|could)\b)", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The questions a question joins with "and" (each of at least three words), else the question itself."""
    parts = [part.strip(" ,") for part in _SECOND_QUESTION.split(question)]
    return parts if len(parts) > 1 and all(len(part.split()) >= 3 for part in parts) else [question]
