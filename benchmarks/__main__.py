"""`python -m benchmarks`: run every benchmark script in turn."""

from __future__ import annotations

import runpy
import sys

SCRIPTS = ["benchmarks.bench_parsing", "benchmarks.bench_retrieval", "benchmarks.bench_vector_store",
           "benchmarks.bench_encoders", "benchmarks.bench_sentence_vectors", "benchmarks.bench_judge",
           "benchmarks.bench_check", "benchmarks.bench_tables",
           "benchmarks.bench_llm", "benchmarks.bench_ttft", "benchmarks.bench_api",
           "benchmarks.bench_backends",
           "benchmarks.bench_sizing", "benchmarks.bench_ray_ingest", "benchmarks.bench_replicas",
           "benchmarks.bench_answer_cache"]

if __name__ == "__main__":
    for script in SCRIPTS:
        print(f"\n# {script}\n", flush=True)
        sys.argv = [script]
        runpy.run_module(script, run_name="__main__")
