"""PDF parsing speed (pages/s, one core) and chunking speed; ingest of the 2,265 arXiv abstracts end to end.

Run: python -m benchmarks.bench_parsing [--skip-ingest]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import DATA, peak_rss_mb, table
from retrieval.chunking import chunk_document
from tools.pdf import parse_pdf


def bench_pdf(repeats: int = 5) -> list[list[object]]:
    rows = []
    for path in sorted((DATA / "papers").glob("*.pdf")):
        started = time.perf_counter()
        for _ in range(repeats):
            document = parse_pdf(path)
        parse_seconds = (time.perf_counter() - started) / repeats
        started = time.perf_counter()
        chunks = chunk_document(document)
        chunk_seconds = time.perf_counter() - started
        rows.append([path.name, document.page_count, document.page_count / parse_seconds, len(chunks),
                     len(chunks) / chunk_seconds])
    return rows


def bench_ingest_abstracts() -> list[object]:
    from agent.runtime import build_runtime
    from agent.settings import Settings

    with tempfile.TemporaryDirectory() as home:
        runtime = build_runtime(Settings(home=Path(home), llm="extractive"))
        started = time.perf_counter()
        results = runtime.ingestor.ingest_paths([DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl"])
        seconds = time.perf_counter() - started
        return [len(results), runtime.catalog.chunk_count(), seconds, len(results) / seconds, peak_rss_mb()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-ingest", action="store_true", help="only the PDF parsing table")
    args = parser.parse_args()
    print("## PDF parsing (one core; chunking with the word-count tokenizer)\n")
    print(table(["paper", "pages", "pages/s", "chunks", "chunks/s"], bench_pdf()))
    if not args.skip_ingest:
        print("\n## Ingest of the arXiv abstracts JSONL (parse, chunk, embed with MiniLM, SQLite, FAISS)\n")
        print(table(["papers", "chunks", "seconds", "papers/s", "peak RSS MB"], [bench_ingest_abstracts()]))


if __name__ == "__main__":
    main()
