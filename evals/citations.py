"""citations: over answers the agent writes to PubMedQA questions (pooled corpus), the share of [n]
markers that resolve, of quotes that are verbatim text of the cited paper, of cited claims supported by
their quote; and the share of answers that abstain when the gold abstract is removed from the corpus."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from agent.citations import MARKER, _claims
from agent.settings import Settings
from evals.metrics import mean
from evals.pubmedqa import load, pooled_library
from retrieval.embeddings import Embedder


def run(settings: Settings, data_dir: Path, limit: int | None = 20, embedder: Embedder | None = None,
        support_threshold: float = 0.55, on_item: Callable[[], None] | None = None) -> dict:
    records, test = load(data_dir)
    pmids = list(test)[:limit or 20]
    started = time.perf_counter()
    runtime = pooled_library(records, settings.home_dir / "evals" / "pubmedqa", settings, embedder)
    resolved, verbatim, supported, answered = [], [], [], []
    for pmid in pmids:
        result = runtime.ask(records[pmid]["QUESTION"])
        numbers = {c["n"]: c for c in result["citations"]}
        markers = [int(n) for n in MARKER.findall(result["answer"])]
        resolved += [float(n in numbers) for n in markers]
        verbatim += [float(c["quote"] in runtime.catalog.paper_text(c["paper_id"])) for c in result["citations"]]
        for claim, cited in _claims(result["answer"])[0]:
            for n in cited:
                if n in numbers:
                    vectors = runtime.embedder.embed([claim.strip(), numbers[n]["quote"]])
                    supported.append(float(vectors[0] @ vectors[1] >= support_threshold))
        answered.append(float(bool(result["citations"])))
        if on_item:
            on_item()
    ablated = pooled_library(records, settings.home_dir / "evals" / f"pubmedqa-minus-{len(pmids)}", settings,
                             embedder, exclude=set(pmids))
    abstained = []
    for pmid in pmids:
        result = ablated.ask(records[pmid]["QUESTION"])
        abstained.append(float(not result["citations"]))
        if on_item:
            on_item()
    return {"suite": "citations", "dataset": {"name": "PubMedQA PQA-L test questions", "questions": len(pmids)},
            "settings": {"provider": runtime.composer.name, "support_threshold": support_threshold},
            "metrics": {runtime.composer.name: {
                "markers_resolve": round(mean(resolved), 4), "quotes_verbatim": round(mean(verbatim), 4),
                "claims_supported": round(mean(supported), 4), "answered": round(mean(answered), 4),
                "abstains_without_gold": round(mean(abstained), 4)}},
            "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": []}
