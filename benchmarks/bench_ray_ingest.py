"""Ingest of the 2,265 recorded arXiv abstracts: serial, then `scisynth ingest --ray` with 1 and 2 workers on a
two-node Ray cluster on this machine (one CPU per node).

Each run starts from an empty library and a cold embedding cache (a warm cache would make the serial run free), and
each Ray library is compared with the serial one: the same chunks, vectors equal up to float rounding. On 2 cores
the point is correctness and the scaling model, not speed: the two Ray workers share the cores with this process,
which parses nothing but decides and writes every batch.

Run: python -m benchmarks.bench_ray_ingest [--abstracts N]      (about 15 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.report import show
from retrieval.ray_ingest import RayIngest
from tests.ray_cluster import library_snapshot, running_ray_cluster

ABSTRACTS = DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl"


def run(home: Path, files: list[Path], address: str | None, workers: int) -> tuple[float, int, int, Runtime]:
    """(seconds, papers added, nodes that encoded, runtime) of one ingest into an empty library."""
    runtime = build_runtime(Settings(home=home, llm="extractive", use_arxiv=False))
    began = time.perf_counter()
    if address is None:
        results, nodes = runtime.ingestor.ingest_paths(files), 1
    else:
        ray_ingest = RayIngest(runtime.ingestor, "minilm", address, workers)
        try:
            outcome = ray_ingest.ingest_paths(files)
        finally:
            ray_ingest.close()
        results, nodes = outcome.results, len(outcome.papers_per_node)
    return time.perf_counter() - began, sum(r.status == "added" for r in results), nodes, runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--abstracts", type=int, default=0, help="only the first N abstracts (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, running_ray_cluster(nodes=2, cpus_per_node=1) as address:
        files = [ABSTRACTS]
        if args.abstracts:
            files = [Path(folder) / "abstracts.jsonl"]
            files[0].write_text("\n".join(ABSTRACTS.read_text().splitlines()[:args.abstracts]) + "\n")
        rows, baseline, serial_seconds = [], None, 0.0
        for name, ray_address, workers in (("serial", None, 1), ("Ray, 1 worker", address, 1),
                                           ("Ray, 2 workers", address, 2)):
            seconds, added, nodes, runtime = run(Path(folder) / name.replace(" ", ""), files, ray_address, workers)
            chunks, vectors = library_snapshot(runtime)
            runtime.engine.dispose()
            if baseline is None:
                baseline, serial_seconds, same, drift = (chunks, vectors), seconds, "baseline", "-"
            else:
                same = "yes" if chunks == baseline[0] else "NO"
                drift = (f"{max(float(np.abs(vectors[key] - baseline[1][key]).max()) for key in vectors):.1e}"
                         if same == "yes" else "-")
            rows.append([name, added, len(chunks), nodes, f"{seconds:.0f}", f"{added / seconds:.2f}",
                         f"{serial_seconds / seconds:.2f}x", same, drift])
        show(["ingest", "papers", "chunks", "nodes", "seconds", "papers/s", "vs serial", "same chunks",
                     "max vector difference"], rows)


if __name__ == "__main__":
    main()
