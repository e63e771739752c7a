"""Hybrid search: BM25 and dense results fused into one ranking, returned as citable passages.

Two fusions: `convex` (default) adds min-max normalised BM25 and cosine scores with weight `alpha`
for BM25, so a strong lexical match (an exact phrase) keeps its margin; `rrf` is reciprocal-rank
fusion. On SciFact train claims (nDCG@10) convex 0.5 scored 0.730, RRF k=10 0.727, BM25 0.696.
Optional MMR re-ranking trades a little relevance for variety, so one paper does not fill every slot.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from retrieval.chunking import sentence_spans
from retrieval.embeddings import Embedder
from retrieval.lexical import LexicalIndex
from retrieval.vector_store import VectorIndex
from store.catalog import Catalog, PageSpans, StoredPassage, page_at
from tools.locks import MeasuredLock

RetrieverKind = Literal["bm25", "dense", "hybrid"]
Fusion = Literal["convex", "rrf"]
_WORD = re.compile(r"\w+")
Id = TypeVar("Id", int, str)  # chunk ids in the product; paper ids when an experiment fuses per paper


@dataclass
class Passage:
    """One retrieved chunk with everything a citation needs."""

    chunk_id: int
    paper_id: str
    title: str
    section: str
    page: int | None
    page_start: int | None
    page_end: int | None
    text: str
    score: float
    page_spans: PageSpans = field(repr=False, default_factory=list)
    url: str | None = None
    year: int | None = None
    authors: tuple[str, ...] = ()

    def page_of(self, offset: int) -> int | None:
        return page_at(self.page_spans, offset)

    def sentence_spans(self) -> list[tuple[int, int]]:
        """Quotable sentence spans, none crossing a block or page break."""
        return sentence_spans(self.text, self.page_spans)

    def public(self) -> dict:
        return {
            "paper_id": self.paper_id, "title": self.title, "section": self.section, "page": self.page,
            "page_start": self.page_start, "page_end": self.page_end, "score": round(self.score, 6),
            "text": self.text, "url": self.url, "year": self.year,
        }


@dataclass(frozen=True)
class SearchFilter:
    paper_ids: list[str] | None = None
    year_from: int | None = None
    year_to: int | None = None
    sources: list[str] | None = None

    def is_empty(self) -> bool:
        return all(v is None for v in (self.paper_ids, self.year_from, self.year_to, self.sources))


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = 60, weights: list[float] | None = None
                           ) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = sum of weight / (k + rank), rank starting at 1."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def convex_fusion(rankings: list[list[tuple[Id, float]]], weights: list[float]) -> list[tuple[Id, float]]:
    """Fuse scored lists: each list's scores are min-max normalised to [0, 1], then weighted and added."""
    scores: dict[Id, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if not ranking:
            continue
        high, low = ranking[0][1], ranking[-1][1]
        for item, score in ranking:
            scores[item] = scores.get(item, 0.0) + weight * (score - low) / (high - low or 1.0)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def maximal_marginal_relevance(ranked: list[tuple[int, float]], vectors: dict[int, np.ndarray], k: int,
                               balance: float = 0.7) -> list[tuple[int, float]]:
    """Greedy MMR: each pick maximises balance * relevance - (1 - balance) * similarity to the picks so far."""
    if not ranked:
        return []
    top = ranked[0][1] or 1.0
    remaining = [(i, s / top) for i, s in ranked if i in vectors]
    chosen: list[tuple[int, float]] = []
    while remaining and len(chosen) < k:
        def gain(candidate: tuple[int, float]) -> float:
            redundancy = max((float(vectors[candidate[0]] @ vectors[c]) for c, _ in chosen), default=0.0)
            return balance * candidate[1] - (1 - balance) * redundancy

        best = max(remaining, key=gain)
        chosen.append(best)
        remaining.remove(best)
    original = dict(ranked)
    return [(i, original[i]) for i, _ in chosen]


def _best_matching_page(text: str, spans: PageSpans, query: str) -> int | None:
    """The page of the chunk's sentence that shares most words with the query (a chunk on one page, or a
    record without pages, needs no looking)."""
    if len({page for _, page in spans}) == 1:
        return spans[0][1]
    query_words = {w.lower() for w in _WORD.findall(query)}
    best_offset, best_overlap = 0, -1
    for start, end in sentence_spans(text, spans):
        overlap = len(query_words & {w.lower() for w in _WORD.findall(text[start:end])})
        if overlap > best_overlap:
            best_offset, best_overlap = start, overlap
    return page_at(spans, best_offset)


class HybridSearcher:
    """Searches the catalog's chunks. The BM25 index is rebuilt lazily after the corpus changes and,
    when `lexical_dir` is set, saved there and reused across restarts while the catalog is unchanged. With a
    `shared_catalog` (other replicas write to it), the catalog's fingerprint is checked at most every
    FRESHNESS_SECONDS, so another replica's ingest reaches this one's BM25 within that time."""

    FRESHNESS_SECONDS = 2.0

    def __init__(self, catalog: Catalog, store: VectorIndex, embedder: Embedder, candidates: int = 100,
                 fusion: Fusion = "convex", alpha: float = 0.5, rrf_k: int = 10, mmr_balance: float | None = None,
                 lexical_dir: Path | None = None, shared_catalog: bool = False) -> None:
        self.catalog = catalog
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.fusion = fusion
        self.alpha = alpha
        self.rrf_k = rrf_k
        self.mmr_balance = mmr_balance
        self.lexical_dir = lexical_dir
        self.shared_catalog = shared_catalog
        self._lexical: LexicalIndex | None = None
        self._lexical_fingerprint = ""
        self._checked_at = 0.0
        self._lexical_lock = MeasuredLock("bm25_index")

    def corpus_changed(self) -> None:
        with self._lexical_lock:
            self._lexical = None

    def _stale(self) -> bool:
        """True when another replica changed the shared catalog since the BM25 index was built."""
        if not self.shared_catalog or time.monotonic() - self._checked_at < self.FRESHNESS_SECONDS:
            return False
        self._checked_at = time.monotonic()
        return self.catalog.fingerprint() != self._lexical_fingerprint

    def lexical_index(self) -> LexicalIndex:
        with self._lexical_lock:
            if self._lexical is None or self._stale():
                fingerprint = self.catalog.fingerprint()
                saved = LexicalIndex.load(self.lexical_dir, fingerprint) if self.lexical_dir else None
                if saved is None:
                    ids, texts = self.catalog.all_index_texts()
                    saved = LexicalIndex(ids, texts=texts)
                    if self.lexical_dir:
                        saved.save(self.lexical_dir, fingerprint)
                self._lexical, self._lexical_fingerprint = saved, fingerprint
                self._checked_at = time.monotonic()
            return self._lexical

    def ranked_ids(self, query: str, k: int, retriever: RetrieverKind = "hybrid",
                   allowed_ids: list[int] | None = None) -> list[tuple[int, float]]:
        depth = max(k, self.candidates)
        lexical = self.lexical_index().search(query, depth, allowed_ids) if retriever != "dense" else []
        dense = (self.store.search(self.embedder.embed_query(query), depth, allowed_ids)
                 if retriever != "bm25" else [])
        if retriever == "bm25":
            return lexical
        if retriever == "dense":
            return dense
        if self.fusion == "rrf":
            return reciprocal_rank_fusion([[i for i, _ in lexical], [i for i, _ in dense]], k=self.rrf_k)
        return convex_fusion([lexical, dense], [self.alpha, 1.0 - self.alpha])

    def search(self, query: str, k: int = 10, retriever: RetrieverKind = "hybrid",
               where: SearchFilter | None = None, mmr_balance: float | None = None) -> list[Passage]:
        """The k best passages; `mmr_balance` (relevance weight of MMR) overrides the configured one for this call."""
        allowed = None
        if where is not None and not where.is_empty():
            allowed = self.catalog.chunk_ids_matching(where.paper_ids, where.year_from, where.year_to, where.sources)
        ranked = self.ranked_ids(query, k, retriever, allowed)
        balance = mmr_balance if mmr_balance is not None else self.mmr_balance
        if balance is not None:
            candidates = ranked[:max(3 * k, 30)]
            ranked = maximal_marginal_relevance(candidates, self.store.vectors([i for i, _ in candidates]), k,
                                                balance)
        ranked = ranked[:k]
        rows = self.catalog.stored_passages([chunk_id for chunk_id, _ in ranked])
        return [_passage(rows[chunk_id], score, query) for chunk_id, score in ranked if chunk_id in rows]

    def paper_passages(self, paper_ids: list[str]) -> list[Passage]:
        """Every passage of these papers, unranked (score 0), in chunk order: for reading whole papers."""
        rows = self.catalog.stored_passages(self.catalog.chunk_ids_matching(paper_ids) if paper_ids else [])
        return [_passage(rows[chunk_id], 0.0) for chunk_id in sorted(rows)]


def _passage(stored: StoredPassage, score: float, query: str = "") -> Passage:
    """A chunk as a citable passage; its `page` is that of the sentence nearest the query (the first without)."""
    spans = stored.page_spans
    return Passage(
        chunk_id=stored.chunk_id, paper_id=stored.paper_id, title=stored.title, section=stored.section,
        page=_best_matching_page(stored.text, spans, query) if query else spans[0][1], page_start=spans[0][1],
        page_end=spans[-1][1], text=stored.text, score=score, page_spans=spans, url=stored.url, year=stored.year,
        authors=stored.authors,
    )
