"""The model-free provider: an answer made of the evidence sentences closest to the question.

Deterministic and honest by construction: every sentence it writes is quoted from a passage and
carries that passage's `[n]`, and it says so plainly when nothing in the evidence answers the question.
"""

from __future__ import annotations

import re

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.search import Passage

NO_EVIDENCE = ("I found no passage in the library that answers this question. "
               "Add papers on the topic (scisynth ingest PATH or scisynth fetch ARXIV_ID) and ask again.")


_WORDY = re.compile(r"^[^\W\d_]{2,}")


def is_prose(sentence: str) -> bool:
    """True for a readable sentence; false for table rows, equations and fragments."""
    words = sentence.split()
    if not 6 <= len(words) <= 70:
        return False
    return sum(bool(_WORDY.match(w.strip("([\"'"))) for w in words) / len(words) >= 0.7


class ExtractiveComposer:
    name = "extractive"

    def __init__(self, embedder: Embedder, min_similarity: float = 0.35, max_sentences: int = 4,
                 per_passage: int = 2, duplicate_similarity: float = 0.9, rank_prior: float = 0.05) -> None:
        self.embedder = embedder
        self.min_similarity = min_similarity
        self.max_sentences = max_sentences
        self.per_passage = per_passage
        self.duplicate_similarity = duplicate_similarity
        self.rank_prior = rank_prior

    def compose(self, question: str, passages: list[Passage]) -> str:
        candidates = [(n, position, passage.text[start:end])
                      for n, passage in enumerate(passages, start=1)
                      for position, (start, end) in enumerate(passage.sentence_spans())
                      if is_prose(passage.text[start:end])]
        if not candidates:
            return NO_EVIDENCE
        vectors = self.embedder.embed([question] + [sentence for *_, sentence in candidates])
        similarity = vectors[1:] @ vectors[0]
        # A small prior for the retriever's ranking breaks near-ties in favour of the best passages.
        ranked = similarity + self.rank_prior / np.array([n for n, *_ in candidates], dtype=np.float32)
        chosen: list[int] = []
        used_per_passage: dict[int, int] = {}
        for index in np.argsort(-ranked, kind="stable"):
            if similarity[index] < self.min_similarity or len(chosen) == self.max_sentences:
                break
            n = candidates[index][0]
            if used_per_passage.get(n, 0) >= self.per_passage:
                continue
            if any(float(vectors[index + 1] @ vectors[j + 1]) > self.duplicate_similarity for j in chosen):
                continue
            chosen.append(int(index))
            used_per_passage[n] = used_per_passage.get(n, 0) + 1
        if not chosen:
            return NO_EVIDENCE
        # Best passage first, sentences of one passage in their original order: it reads as prose.
        first_rank = {}
        for index in chosen:
            first_rank.setdefault(candidates[index][0], len(first_rank))
        chosen.sort(key=lambda i: (first_rank[candidates[i][0]], candidates[i][1]))
        return " ".join(f"{candidates[i][2]} [{candidates[i][0]}]" for i in chosen)
