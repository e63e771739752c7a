"""What the evidence judge adds to a turn's CPU (issue 40's budget: a turn may cost at most 1.3x what it did).

On the pooled PubMedQA library (1,000 abstracts, the eval's, built once in the eval home), a seeded sample of test
questions is asked in process with the extractive provider. Reported side by side: the CPU seconds of a whole
turn, and of choosing the answer's sentences with the judge (features and probabilities for the sentences above
the similarity floor) and with similarity alone (what the composer did before), on the same evidence.

Run: python -m benchmarks.bench_judge [--questions N]
"""

from __future__ import annotations

import argparse
import random
import time

from agent.sentence_types import sentence_type
from agent.settings import Settings
from agent.turn import TurnRequest
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.pubmedqa import load, shared_library
from evals.report import show
from evals.runner import shared_embedder
from service.turns import TurnService


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=60, help="questions asked (default: 60)")
    args = parser.parse_args()
    settings = Settings(llm="extractive", use_arxiv=False)
    records, test = load(DATA / "pubmedqa")
    runtime = shared_library(records, settings, shared_embedder(settings))
    questions = [records[p]["QUESTION"] for p in random.Random(13).sample(sorted(test), args.questions)]
    turns, quality = TurnService(runtime), settings.answer
    turns.run(TurnRequest(question=questions[0]))  # warm: models loaded, caches open
    began = time.process_time()
    for question in questions:
        turns.run(TurnRequest(question=question))
    turn = (time.process_time() - began) / len(questions)
    evidence = [runtime.scorer.gather(q, runtime.searcher.search(q, k=quality.retrieved_per_query), quality.evidence_k,
                                      quality.relevance_cutoff) for q in questions]
    timed = {}
    for name, floor in (("with the judge", quality.quote_min_similarity), ("similarity alone (before)", None)):
        sentence_type.cache_clear()  # the turns above asked about these sentences already: time it cold
        began = time.process_time()
        for question, passages in zip(questions, evidence, strict=True):
            runtime.scorer.sentences(question, passages, judged_from=floor)
        timed[name] = (time.process_time() - began) / len(questions)
    added = timed["with the judge"] - timed["similarity alone (before)"]
    print(f"{len(questions)} PubMedQA test questions, extractive, pooled library of "
          f"{runtime.catalog.paper_count()} abstracts, in process\n")
    show(["figure", "CPU ms per turn"], [
        ["whole turn (with the judge)", f"{turn * 1000:.1f}"],
        ["scoring the evidence's sentences, similarity alone (before)",
         f"{timed['similarity alone (before)'] * 1000:.2f}"],
        ["scoring them with the judge", f"{timed['with the judge'] * 1000:.2f}"],
        ["the judge's share of a turn", f"{added / turn:.1%}"],
        ["turn now / turn without the judge", f"{turn / (turn - added):.2f}x (budget 1.3x)"],
    ])


if __name__ == "__main__":
    main()
