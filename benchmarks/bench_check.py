"""How long `scisynth check` takes on a 2,000-paper library with no model (issue 41's goal: p50 <= 2 s on 2 cores).

The library is bench_api's: one day of arXiv abstracts (2,265) and the three shared PDFs, built once in
.bench-home. The claims are the last sentences of a seeded sample of those abstracts (a finding as its authors
state it, so each has a paper that bears on it: the share judged to support it is a sanity check, not a quality
figure); each check judges the 10 best-ranked papers. Printed: wall-clock
p50/p95 per check beside retrieval alone, and how the judged papers' stances fell.

Run: python -m benchmarks.bench_check [--claims N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter

from agent.claim_check import ClaimChecker
from agent.stance import load_stance
from benchmarks.bench_api import ABSTRACTS, library
from evals.report import show, table
from retrieval.sentences import sentences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=40, help="claims checked (default: 40)")
    args = parser.parse_args()
    runtime = library()
    records = [json.loads(line) for line in ABSTRACTS.open()]
    chosen = random.Random(41).sample(records, args.claims)
    # lower-cased: the (uncased) encoder reads them exactly as written, but the embedding cache, which holds every
    # ingested sentence, does not: each check pays for encoding its claim, as a new claim does
    claims = [sentences(" ".join(r["abstract"].split()))[-1].lower() for r in chosen]
    checker = ClaimChecker(runtime.searcher, runtime.scorer, load_stance(""))
    checker.check(claims[0])  # warm: models loaded, caches open
    seconds, searched, stances, own = [], [], Counter(), 0
    for claim, record in zip(claims, chosen, strict=True):
        began = time.perf_counter()
        result = checker.check(claim)
        seconds.append(time.perf_counter() - began)
        stances.update(p.stance for p in result.papers)
        own += any(p.paper_id.endswith(record["id"]) and p.stance == "supports" for p in result.papers)
        began = time.perf_counter()
        runtime.searcher.search(claim, k=checker.passages)
        searched.append(time.perf_counter() - began)

    def quantiles(values: list[float]) -> tuple[str, str]:
        cuts = statistics.quantiles(values, n=20)
        return f"{statistics.median(values):.2f}", f"{cuts[18]:.2f}"

    print(f"{len(claims)} claims (last sentences of seeded arXiv abstracts), library of "
          f"{runtime.catalog.paper_count()} papers, no model, in process\n")
    show(["step", "p50 s", "p95 s", "goal"], [
        ["check (retrieval + judging 10 papers)", *quantiles(seconds), "p50 <= 2 s"],
        ["retrieval alone (the claim's vector cached by then)", *quantiles(searched), ""]])
    total = sum(stances.values())
    shares = [[stance, f"{count / total:.2f}"] for stance, count in stances.most_common()]
    print("\n" + table(["stance of a judged paper", "share"], shares))
    print(f"\nthe claim's own paper judged to support it: {own}/{len(claims)}")


if __name__ == "__main__":
    main()
