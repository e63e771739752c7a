"""Evidence: which sentences of the retrieved passages are closest to a question, a claim or a statement, and
which of them answer it.

`SentenceScorer` is the one place that answers both: gathering evidence, choosing a citation's quote,
writing an extractive answer, picking a hypothesis premise, checking novelty and judging claims all ask it,
so they agree on what "the best sentence" is and share one embedding call per question. Similarity (cosine)
says how close a sentence is, and the thresholds are calibrated on it; the evidence judge
(agent/evidence_judge.py) says how likely it is to answer, and ranks what an answer quotes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agent.evidence_judge import EvidenceJudge, QuestionContext, passage_features, shipped_judge
from retrieval.embeddings import Embedder
from retrieval.search import Passage
from store.sentence_vectors import SentenceVectorStore
from tools.sections import has_run_in_parts, paragraph_sizes, run_in_parts

SentenceFilter = Callable[[Passage, str], bool]  # (passage, sentence text) -> keep it


@dataclass(frozen=True)
class Sentence:
    """A quotable span of a passage and its similarity to the query it was scored against."""

    passage: Passage
    start: int
    end: int
    score: float
    position: int  # its order among the passage's sentences
    vector: np.ndarray = field(repr=False, compare=False)
    evidence: float = 0.0  # the judge's probability that it answers the query (0 when not judged)

    @property
    def text(self) -> str:
        return self.passage.text[self.start:self.end]


def run_in_parts_of(sentences: list[Sentence]) -> list[str | None]:
    """Each sentence's structured-abstract part ("setting", "methods", "results", or None), carried from the run-in
    label that opened it (tools/sections.run_in_parts) through its paragraph of its passage, in reading order;
    only in an abstract, the front matter or a passage of no known section (`has_run_in_parts`)."""
    parts: list[str | None] = [None] * len(sentences)
    by_passage: dict[str, list[int]] = {}
    for i, sentence in enumerate(sentences):
        by_passage.setdefault(sentence.passage.chunk_id, []).append(i)
    for indices in by_passage.values():
        ordered = sorted(indices, key=lambda i: sentences[i].position)
        passage = sentences[ordered[0]].passage
        if not has_run_in_parts(passage.section):
            continue
        sizes = paragraph_sizes(passage.text, [(sentences[i].start, sentences[i].end) for i in ordered])
        for i, part in zip(ordered, run_in_parts([sentences[i].text for i in ordered], sizes), strict=True):
            parts[i] = part
    return parts


class SentenceScorer:
    """Sentence vectors come from the store filled at ingest (store/sentence_vectors.py) when the passage
    has them, so a question costs its own embedding and dot products; passages without stored vectors (a
    library ingested before they existed: `scisynth reindex` adds them) are encoded on the spot."""

    def __init__(self, embedder: Embedder, stored: SentenceVectorStore | None = None,
                 judge: EvidenceJudge | None = None) -> None:
        """`judge`: default the shipped one (agent/evidence_judge.json)."""
        self.embedder = embedder
        self.stored = stored
        self.judge = judge or shipped_judge()

    def similarities(self, query: str, texts: list[str]) -> np.ndarray:
        """Cosine similarity of each text to the query."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self.embedder.embed(texts) @ self.embedder.embed_query(query)

    def vectors(self, passages: list[Passage]) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
        """Each passage's sentence spans and their vectors."""
        stored = self.stored.get([p.chunk_id for p in passages]) if self.stored else {}
        missing = [p for p in passages if p.chunk_id not in stored]
        if missing:
            spans = [p.sentence_spans() for p in missing]
            encoded = self.embedder.embed([p.text[a:b] for p, s in zip(missing, spans, strict=True) for a, b in s])
            offset = 0
            for passage, passage_spans in zip(missing, spans, strict=True):
                stored[passage.chunk_id] = (passage_spans, encoded[offset:offset + len(passage_spans)])
                offset += len(passage_spans)
        return [stored[p.chunk_id] for p in passages]

    def sentences(self, query: str, passages: list[Passage], keep: SentenceFilter | None = None,
                  judged_from: float | None = None) -> list[list[Sentence]]:
        """For each passage, its sentences (those `keep` accepts) scored against the query, in text order; with
        `judged_from`, those at least that similar also carry the judge's `evidence` probability."""
        if not passages:
            return []
        query_vector = self.embedder.embed_query(query)
        similarities = [(spans, vectors, vectors @ query_vector if len(spans) else np.zeros(0))
                        for spans, vectors in self.vectors(passages)]
        question = None
        if judged_from is not None:
            sentences = [p.text[a:b] for p, (spans, _, _) in zip(passages, similarities, strict=True) for a, b in spans]
            best = max((float(s.max()) for _, _, s in similarities if len(s)), default=0.0)
            question = QuestionContext.among(query, sentences, best)
        scored = []
        for passage, (spans, vectors, similarity) in zip(passages, similarities, strict=True):
            rows = [i for i, (a, b) in enumerate(spans) if keep is None or keep(passage, passage.text[a:b])]
            evidence = np.zeros(len(spans))
            judged = [i for i in rows if question is not None and judged_from is not None
                      and similarity[i] >= judged_from]
            if judged and question is not None:
                texts = [passage.text[a:b] for a, b in spans]
                evidence[judged] = self.judge.probability(passage_features(question, texts, similarity, judged))
            scored.append([Sentence(passage, *spans[i], float(similarity[i]), i, vectors[i], float(evidence[i]))
                           for i in rows])
        return scored

    def read(self, query: str, passages: list[Passage]) -> list[list[Sentence]]:
        """The passages' sentences scored against the query in reading order (chunk order), each sentence once:
        chunks overlap, and a sentence read twice would be weighed twice. A passage left with none is dropped."""
        seen: set[str] = set()
        ordered = sorted(passages, key=lambda p: p.chunk_id)
        read = [[s for s in scored if not (s.text in seen or seen.add(s.text))]
                for scored in self.sentences(query, ordered)]
        return [sentences for sentences in read if sentences]

    def best(self, query: str, passage: Passage, keep: SentenceFilter | None = None) -> Sentence | None:
        """The passage's sentence closest to the query (among those `keep` accepts, asked best first, so a
        costly filter runs on few sentences)."""
        [candidates] = self.sentences(query, [passage])
        return next((s for s in sorted(candidates, key=lambda s: -s.score)
                     if keep is None or keep(passage, s.text)), None)

    def rank_passages(self, query: str, passages: list[Passage]) -> list[tuple[Passage, float]]:
        """Each passage with the similarity of its best sentence to the query, best first."""
        scored = [(p, max((s.score for s in sentences), default=-1.0))
                  for p, sentences in zip(passages, self.sentences(query, passages), strict=True)]
        return sorted(scored, key=lambda pair: -pair[1])

    def gather_scored(self, question: str, passages: list[Passage], k: int, cutoff: float
                      ) -> list[tuple[Passage, float]]:
        """The `k` most relevant passages above the relevance cutoff (PaperQA2's evidence step, by similarity),
        each with the similarity of its best sentence."""
        return [(p, score) for p, score in self.rank_passages(question, passages) if score >= cutoff][:k]

    def gather(self, question: str, passages: list[Passage], k: int, cutoff: float) -> list[Passage]:
        return [p for p, _ in self.gather_scored(question, passages, k, cutoff)]
