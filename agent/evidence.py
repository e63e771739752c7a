"""Evidence: which sentences of the retrieved passages are closest to a question, a claim or a statement.

`SentenceScorer` is the one place that answers it: gathering evidence, choosing a citation's quote,
writing an extractive answer, picking a hypothesis premise, checking novelty and judging claims all ask it,
so they agree on what "the best sentence" is and share one embedding call per question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.search import Passage

SentenceFilter = Callable[[str], bool]


@dataclass(frozen=True)
class Sentence:
    """A quotable span of a passage and its similarity to the query it was scored against."""

    passage: Passage
    start: int
    end: int
    score: float
    position: int  # its order among the passage's sentences

    @property
    def text(self) -> str:
        return self.passage.text[self.start:self.end]


class SentenceScorer:
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def similarities(self, query: str, texts: list[str]) -> np.ndarray:
        """Cosine similarity of each text to the query."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        vectors = self.embedder.embed([query, *texts])
        return vectors[1:] @ vectors[0]

    def sentences(self, query: str, passages: list[Passage], keep: SentenceFilter | None = None
                  ) -> list[list[Sentence]]:
        """For each passage, its sentences (those `keep` accepts) scored against the query, in text order."""
        spans = [[(a, b) for a, b in p.sentence_spans() if keep is None or keep(p.text[a:b])] for p in passages]
        flat = [p.text[a:b] for p, passage_spans in zip(passages, spans, strict=True) for a, b in passage_spans]
        similarity, offset, scored = self.similarities(query, flat), 0, []
        for passage, passage_spans in zip(passages, spans, strict=True):
            scored.append([Sentence(passage, a, b, float(similarity[offset + i]), i)
                           for i, (a, b) in enumerate(passage_spans)])
            offset += len(passage_spans)
        return scored

    def best(self, query: str, passage: Passage, keep: SentenceFilter | None = None) -> Sentence | None:
        """The passage's sentence closest to the query (among those `keep` accepts)."""
        [candidates] = self.sentences(query, [passage], keep)
        return max(candidates, key=lambda s: s.score, default=None)

    def rank_passages(self, query: str, passages: list[Passage]) -> list[tuple[Passage, float]]:
        """Each passage with the similarity of its best sentence to the query, best first."""
        scored = [(p, max((s.score for s in sentences), default=-1.0))
                  for p, sentences in zip(passages, self.sentences(query, passages), strict=True)]
        return sorted(scored, key=lambda pair: -pair[1])

    def gather(self, question: str, passages: list[Passage], k: int = 10, cutoff: float = 0.25) -> list[Passage]:
        """The `k` most relevant passages above the relevance cutoff (PaperQA2's evidence step, by similarity)."""
        return [p for p, score in self.rank_passages(question, passages) if score >= cutoff][:k]
