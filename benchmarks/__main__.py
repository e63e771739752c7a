"""`python -m benchmarks [--plot FOLDER]`: run every benchmark script in turn; with --plot, each table's numbers
are also drawn as FOLDER/<script>-<n>.png (SCISYNTH_PLOTS=FOLDER does the same for one script)."""

from __future__ import annotations

import argparse
import os
import runpy
import sys

SCRIPTS = ["benchmarks.bench_parsing", "benchmarks.bench_retrieval", "benchmarks.bench_vector_store",
           "benchmarks.bench_encoders", "benchmarks.bench_sentence_vectors", "benchmarks.bench_judge",
           "benchmarks.bench_check", "benchmarks.bench_tables", "benchmarks.bench_evidence_views",
           "benchmarks.bench_llm", "benchmarks.bench_ttft", "benchmarks.bench_api",
           "benchmarks.bench_backends",
           "benchmarks.bench_sizing", "benchmarks.bench_ray_ingest", "benchmarks.bench_replicas",
           "benchmarks.bench_users",
           "benchmarks.bench_answer_cache"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--plot", metavar="FOLDER", help="also write each table as a PNG figure into FOLDER")
    if plots := parser.parse_args().plot:
        os.environ["SCISYNTH_PLOTS"] = plots
    for script in SCRIPTS:
        print(f"\n# {script}\n", flush=True)
        sys.argv = [script]
        runpy.run_module(script, run_name="__main__")
