"""SciFact retrieval (BEIR split, 300 dev claims, 5,183 abstracts): bm25, dense and hybrid side by side,
with index build time and query latency p50/p99. Published anchors: BM25 0.665 (BEIR), all-MiniLM-L6-v2
about 0.645 (MTEB).

Run: python -m benchmarks.bench_retrieval [--corpus-limit N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from agent.settings import Settings
from evals import scifact_retrieval
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.report import show


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus-limit", type=int, help="index only the first N abstracts")
    parser.add_argument("--home", type=Path, help="reuse this home (its embedding cache) across runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report = scifact_retrieval.run(Settings(home=args.home or Path(folder)), DATA / "scifact",
                                       corpus_limit=args.corpus_limit)
    rows = []
    for retriever, values in report["metrics"].items():
        timings = report["timings"]
        rows.append([retriever, values["ndcg@10"], values["recall@10"], values["recall@100"], values["mrr"],
                     timings[f"{retriever}_latency_ms_p50"], timings[f"{retriever}_latency_ms_p99"]])
    print(f"{report['dataset']['queries']} claims, {report['dataset']['documents']} abstracts; "
          f"index build {report['timings']['index_build_seconds']} s\n")
    show(["retriever", "nDCG@10", "R@10", "R@100", "MRR", "p50 ms", "p99 ms"], rows)


if __name__ == "__main__":
    main()
