"""Vector store query latency at scale: exact (flat) vs HNSW on synthetic unit vectors, and HNSW recall@10.

The vectors are clustered (points around 2,000 topic centres), as sentence embeddings are; uniformly random
high-dimensional vectors would have no meaningful neighbours and understate every approximate index.

Run: python -m benchmarks.bench_vector_store [--sizes 100000 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import table
from retrieval.vector_store import VectorStore

DIMENSION = 384  # all-MiniLM-L6-v2


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _unit_vectors(count: int, seed: int, clusters: int = 2000, spread: float = 0.6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = _normalise(rng.standard_normal((clusters, DIMENSION), dtype=np.float32))
    members = centres[rng.integers(0, clusters, count)]
    noise = rng.standard_normal((count, DIMENSION), dtype=np.float32) * (spread / np.sqrt(DIMENSION))
    return _normalise(members + noise)


def _latencies(store: VectorStore, queries: np.ndarray) -> tuple[list[list[int]], list[float]]:
    results, seconds = [], []
    for query in queries:
        began = time.perf_counter()
        results.append([i for i, _ in store.search(query, 10)])
        seconds.append(time.perf_counter() - began)
    return results, sorted(seconds)


def measure(size: int, query_count: int) -> list[list[object]]:
    vectors = _unit_vectors(size, seed=size)
    # Queries near stored vectors, as real queries sit near their answers.
    queries = _normalise(vectors[:query_count] + 0.05 * _unit_vectors(query_count, seed=1, clusters=query_count))
    rows, exact_results = [], None
    for kind, exact_max in (("exact", size + 1), ("hnsw", 0)):
        with tempfile.TemporaryDirectory() as folder:
            store = VectorStore(Path(folder), "synthetic", DIMENSION, exact_max=exact_max)
            began = time.perf_counter()
            for start in range(0, size, 50_000):
                store.add(list(range(start, min(size, start + 50_000))), vectors[start:start + 50_000])
            build = time.perf_counter() - began
            results, seconds = _latencies(store, queries)
        if kind == "exact":
            exact_results, recall = results, 1.0
        else:
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(results, exact_results, strict=True)]))
        rows.append([size, kind, build, 1000 * seconds[len(seconds) // 2], 1000 * seconds[int(len(seconds) * 0.99)],
                     recall])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rows = [row for size in args.sizes for row in measure(size, args.queries)]
    print(table(["vectors", "index", "build s", "p50 ms", "p99 ms", "recall@10 vs exact"], rows))


if __name__ == "__main__":
    main()
