"""Two `scisynth serve` replicas on one PostgreSQL + pgvector and one Redis, under 50 concurrent conversations,
against one replica on the same stores.

Each conversation sends its turns round-robin over the replicas it is given (a load balancer without sticky
sessions), so with two replicas every turn continues a conversation the other replica holds the last turn of.
Extractive answers (no model); the library is a seeded sample of the arXiv abstracts plus the three PDFs. On a
2-core machine both replicas share the same two cores, so the point is errors 0 and what a second replica costs,
not a speed-up; on separate machines turns/s would scale with replicas until PostgreSQL is the bottleneck.

Run: python -m benchmarks.bench_replicas [--clients 50] [--requests 300] [--abstracts 500]   (about 10 minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
from pathlib import Path

from agent.runtime import build_runtime
from agent.settings import Settings
from benchmarks.bench_api import ABSTRACTS, load, questions
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.report import show
from tests.conftest import serve_process
from tests.postgres_server import new_database, running_postgres
from tests.redis_server import running_redis


def build_library(database_url: str, home: Path, abstracts: int) -> int:
    """A seeded sample of the abstracts and the three PDFs ingested into PostgreSQL; the paper count."""
    sample = home / "abstracts.jsonl"
    home.mkdir(parents=True)
    lines = ABSTRACTS.read_text().splitlines()
    # Bandit B311 accepted: a seeded benchmark sample, not a secret.
    sample.write_text("\n".join(random.Random(13).sample(lines, min(abstracts, len(lines)))) + "\n")  # nosec B311
    runtime = build_runtime(Settings(home=home, llm="extractive", use_arxiv=False, database_url=database_url))
    runtime.ingestor.ingest_paths([sample, *sorted((DATA / "papers").glob("*.pdf"))])
    count = runtime.catalog.paper_count()
    runtime.engine.dispose()
    return count


def measure(bases: list[str], asked: list[str], clients: int) -> list[object]:
    """One row: replicas, turns, errors, turns/s, latency p50/p99 of `clients` conversations over `bases`."""
    asyncio.run(load(bases, [[f"warm-up {i}"] for i in range(len(bases))]))  # each replica's first turn
    latencies, errors, wall = asyncio.run(load(bases, [asked[i::clients] for i in range(clients)]))
    latencies.sort()
    for error in errors[:3]:
        print("error:", error)
    return [len(bases), len(latencies), len(errors), len(latencies) / wall, latencies[len(latencies) // 2],
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], statistics.mean(latencies)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent conversations (default: 50)")
    parser.add_argument("--requests", type=int, default=300, help="turns per run (default: 300)")
    parser.add_argument("--abstracts", type=int, default=500, help="abstracts in the library (default: 500)")
    args = parser.parse_args()
    pool = questions()
    with tempfile.TemporaryDirectory() as folder, running_postgres(Path(folder) / "pg") as server, \
            running_redis(Path(folder)) as redis_url:
        database_url = new_database(server)
        papers = build_library(database_url, Path(folder) / "builder", args.abstracts)
        shared = {"SCISYNTH_DATABASE_URL": database_url, "SCISYNTH_REDIS_URL": redis_url,
                  "SCISYNTH_RATE_LIMIT_PER_MINUTE": "1000000"}
        first, base_one = serve_process(Path(folder) / "one", **shared)
        second = None
        try:
            rows = [measure([base_one], pool[:args.requests], args.clients)]
            second, base_two = serve_process(Path(folder) / "two", **shared)
            rows.append(measure([base_one, base_two], pool[args.requests:2 * args.requests], args.clients))
        finally:
            for process in (first, second):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=60)
    print(f"library: {papers} papers in PostgreSQL + pgvector; Redis rate limits; extractive turns; "
          f"{args.clients} concurrent conversations; 2 cores shared by every process\n")
    show(["replicas", "turns", "errors", "turns/s", "p50 s", "p99 s", "mean s"], rows)
    print(f"\ntwo replicas / one: {rows[1][3] / rows[0][3]:.2f}x turns/s")


if __name__ == "__main__":
    main()
