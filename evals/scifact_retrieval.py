"""scifact-retrieval: nDCG@10, Recall@10/100 and MRR on SciFact (BEIR split), per retriever; the BM25 row is
the baseline the hybrid retriever is gated against.

The corpus goes through the real ingest pipeline (JSONL reader, chunker, embeddings, SQLite, FAISS,
BM25) into its own library under the home folder, so a second run reuses it (without sentence vectors: ranking
never reads them). Ranked chunks are mapped
to their papers (first occurrence wins) before scoring, as BEIR scores documents.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from agent.runtime import Runtime
from agent.settings import Settings
from evals.datasets import RetrievalSet, eval_home, library_of, library_settings, load_scifact, subset
from evals.metrics import bootstrap_interval, mean, ranking_scores
from retrieval.embeddings import Embedder
from retrieval.search import RetrieverKind

RETRIEVERS: tuple[RetrieverKind, ...] = ("bm25", "dense", "hybrid")


def build_library(dataset: RetrievalSet, home: Path, settings: Settings, embedder: Embedder | None = None,
                  llm: str = "extractive", keep_database: bool = False, sentence_vectors: bool = True) -> Runtime:
    """A runtime whose library holds the dataset's documents (ingested once, then reused); in its own SQLite
    unless `keep_database` (see library_settings); `sentence_vectors` False for a library only ranked."""
    return library_of(library_settings(settings, home, keep_database, llm=llm), dataset.documents, embedder,
                      id_field="doc_id", sentence_vectors=sentence_vectors)


def ranking_home(settings: Settings, dataset: RetrievalSet) -> Path:
    """The library this suite ranks in: without sentence vectors (ranking never reads them, and they are most of
    an ingest's encoding), so not the one the suites that quote build for the same claims."""
    return eval_home(settings) / f"scifact-ranking-{len(dataset.documents)}-{len(dataset.queries)}"


def rank_documents(runtime: Runtime, chunk_papers: dict[int, str], query: str, retriever: RetrieverKind,
                   depth: int = 100) -> list[str]:
    ranked: list[str] = []
    for chunk_id, _ in runtime.searcher.ranked_ids(query, depth, retriever):
        paper = chunk_papers.get(chunk_id)
        if paper is not None and paper not in ranked:
            ranked.append(paper)
    return ranked


def _percentiles(latencies: dict[str, list[float]]) -> dict[str, float]:
    timings = {}
    for retriever, values in latencies.items():
        ordered = sorted(values)
        timings[f"{retriever}_latency_ms_p50"] = round(1000 * ordered[len(ordered) // 2], 2)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        timings[f"{retriever}_latency_ms_p99"] = round(1000 * p99, 2)
    return timings


def retrieval_metrics(rankings: dict[str, list[str]], qrels: dict[str, set[str]]) -> tuple[dict, dict]:
    """Mean metrics over queries (pytrec_eval), with a bootstrap interval for nDCG@10, and per-query scores."""
    per_query = ranking_scores(rankings, qrels)
    names = ("ndcg@10", "recall@10", "recall@100", "mrr")
    metrics = {name: round(mean([scores[name] for scores in per_query.values()]), 4) for name in names}
    low, high = bootstrap_interval([scores["ndcg@10"] for scores in per_query.values()])
    metrics["ndcg@10_ci95"] = [round(low, 4), round(high, 4)]
    return metrics, per_query


def run(settings: Settings, data_dir: Path, retrievers: tuple[RetrieverKind, ...] = RETRIEVERS,
        corpus_limit: int | None = None, limit: int | None = None, split: str = "dev",
        embedder: Embedder | None = None, on_item: Callable[[], None] | None = None,
        keep_database: bool = False) -> dict:
    dataset = subset(load_scifact(data_dir, split), corpus_limit, limit)
    started = time.perf_counter()
    runtime = build_library(dataset, ranking_home(settings, dataset), settings, embedder, keep_database=keep_database,
                            sentence_vectors=False)
    build_seconds = time.perf_counter() - started
    chunk_papers = runtime.catalog.chunk_papers()
    metrics: dict[str, dict] = {}
    items: list[dict] = []
    latencies: dict[str, list[float]] = {}
    for retriever in retrievers:
        rankings = {}
        for query_id, text in dataset.queries.items():
            runtime.embedder.forget(text)  # each pass encodes its queries itself: latency includes encoding
            began = time.perf_counter()
            rankings[query_id] = rank_documents(runtime, chunk_papers, text, retriever)
            latencies.setdefault(retriever, []).append(time.perf_counter() - began)
            if on_item:
                on_item()
        metrics[retriever], per_query = retrieval_metrics(rankings, dataset.qrels)
        items += [{"retriever": retriever, "query_id": q, "top10": rankings[q][:10], **per_query[q]} for q in rankings]
    return {
        "suite": "scifact-retrieval",
        "dataset": {"name": "SciFact (BEIR split)", "split": split, "documents": len(dataset.documents),
                    "queries": len(dataset.queries), "sampling": "claims stratified by label (seed 13); "
                    "distractor documents drawn at random (seed 13)", "path": str(data_dir)},
        "settings": {"embeddings": runtime.embedder.name, "fusion": settings.retrieval.fusion,
                     "alpha": settings.retrieval.fusion_alpha, "chunk_tokens": settings.retrieval.chunk_tokens,
                     "database": runtime.engine.dialect.name,
                     "vector_store": runtime.store.index_type},
        "metrics": metrics,
        "timings": {"index_build_seconds": round(build_seconds, 2), **_percentiles(latencies)},
        "items": items,
    }
