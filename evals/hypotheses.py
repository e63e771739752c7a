"""hypotheses: for topics drawn from the corpus (PubMedQA questions), structural validity, grounding,
novelty-check behaviour (restating a corpus abstract must be flagged) and diversity."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

from agent.novelty import NoveltyChecker
from agent.settings import Settings
from evals.metrics import mean
from evals.pubmedqa import load, pooled_library
from retrieval.embeddings import Embedder
from retrieval.sentences import sentences

FIELDS = ("statement", "rationale", "prediction", "experiment")


def run(settings: Settings, data_dir: Path, limit: int | None = 5, embedder: Embedder | None = None,
        on_item: Callable[[], None] | None = None) -> dict:
    records, test = load(data_dir)
    topics = [records[p]["QUESTION"] for p in list(test)[:limit or 5]]
    started = time.perf_counter()
    runtime = pooled_library(records, settings.home_dir / "evals" / "pubmedqa", settings, embedder)
    valid, grounded, diversity = [], [], []
    for topic in topics:
        result = runtime.ask(topic, mode="hypothesize", n=3)
        numbers = {c["n"] for c in result["citations"]}
        for h in result["hypotheses"]:
            valid.append(float(all(h[f].strip() for f in FIELDS) and all(
                0 <= h[s] <= 1 for s in ("novelty", "feasibility", "testability"))))
            grounded.append(float(bool(h["evidence"]) and set(h["evidence"]) <= numbers))
        statements = [h["statement"] for h in result["hypotheses"]]
        if len(statements) > 1:
            vectors = runtime.embedder.embed(statements)
            diversity.append(1 - mean([float(a @ b) for a, b in itertools.combinations(vectors, 2)]))
        if on_item:
            on_item()
    checker = NoveltyChecker(runtime.searcher, runtime.scorer, None)
    restated = [sentences(" ".join(records[p]["CONTEXTS"]))[0] for p in list(test)[:limit or 5]]
    flagged = [float(checker.check(s, use_arxiv=False)[0] <= 0.2) for s in restated]
    return {"suite": "hypotheses", "dataset": {"name": "PubMedQA PQA-L questions as topics", "topics": len(topics)},
            "settings": {"provider": runtime.composer.name},
            "metrics": {runtime.composer.name: {
                "valid": round(mean(valid), 4), "grounded": round(mean(grounded), 4),
                "restatement_flagged": round(mean(flagged), 4), "diversity": round(mean(diversity), 4),
                "hypotheses": len(valid)}},
            "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": []}
