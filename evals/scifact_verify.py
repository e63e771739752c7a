"""scifact-verify: retrieve abstracts for each dev claim, label SUPPORT / CONTRADICT (or leave out: not
enough info) with rationale sentences, and score with the official SciFact metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from agent.llm import load_chat_model
from agent.settings import Settings
from evals.datasets import load_scifact, subset
from evals.judge import Judge
from evals.scifact_retrieval import build_library, rank_documents
from evals.scifact_scorer import score
from retrieval.embeddings import Embedder


def run(settings: Settings, data_dir: Path, limit: int | None = None, corpus_limit: int | None = None,
        embedder: Embedder | None = None, top_documents: int = 3, threshold: float = 0.6,
        on_item: Callable[[], None] | None = None) -> dict:
    dataset = subset(load_scifact(data_dir, "dev"), corpus_limit, limit)
    claims = {str(c["id"]): c for c in map(json.loads, (data_dir / "claims_dev.jsonl").open())}
    abstracts = {str(d["doc_id"]): d["abstract"] for d in dataset.documents}
    runtime = build_library(dataset, settings.home_dir / "evals" / f"scifact-{len(dataset.documents)}", settings,
                            embedder)
    chunk_papers = runtime.catalog.chunk_papers()
    judge = Judge(runtime.scorer, load_chat_model(settings.llm, settings.model_options), threshold)
    golds, predictions, started = [], [], time.perf_counter()
    for claim_id, text in dataset.queries.items():
        evidence = {}
        for doc in rank_documents(runtime, chunk_papers, text, "hybrid")[:top_documents]:
            label, chosen = judge.verify(text, abstracts[doc])
            if label:
                evidence[doc] = {"sentences": chosen, "label": label}
        golds.append({"id": int(claim_id), "evidence": claims[claim_id]["evidence"]})
        predictions.append({"id": int(claim_id), "evidence": evidence})
        if on_item:
            on_item()
    metrics = score(golds, predictions)
    headline = {k: round(v, 4) for k, v in metrics.items() if k.endswith("_f1")}
    return {"suite": "scifact-verify", "dataset": {"name": "SciFact dev", "claims": len(golds),
                                                   "documents": len(dataset.documents)},
            "settings": {"judge": judge.name, "threshold": threshold, "top_documents": top_documents},
            "metrics": {judge.name: headline}, "all_metrics": metrics,
            "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": predictions}
