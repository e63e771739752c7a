"""Evidence: each retrieved passage scored by how well its best sentence answers the question."""

from __future__ import annotations

from retrieval.embeddings import Embedder
from retrieval.search import Passage


def score_passages(question: str, passages: list[Passage], embedder: Embedder) -> list[tuple[Passage, float]]:
    """Each passage with the cosine similarity of its best sentence to the question, best first."""
    spans = [p.sentence_spans() or [(0, len(p.text))] for p in passages]
    sentences = [p.text[a:b] for p, s in zip(passages, spans, strict=True) for a, b in s]
    if not sentences:
        return []
    vectors = embedder.embed([question, *sentences])
    scored, offset = [], 1
    for passage, passage_spans in zip(passages, spans, strict=True):
        block = vectors[offset:offset + len(passage_spans)]
        scored.append((passage, float((block @ vectors[0]).max())))
        offset += len(passage_spans)
    return sorted(scored, key=lambda pair: -pair[1])


def gather_evidence(question: str, passages: list[Passage], embedder: Embedder, k: int = 10,
                    cutoff: float = 0.25) -> list[Passage]:
    """The `k` most relevant passages above the relevance cutoff (PaperQA2's evidence step, by similarity)."""
    return [p for p, score in score_passages(question, passages, embedder) if score >= cutoff][:k]
