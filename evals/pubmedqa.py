"""pubmedqa: PQA-L yes/no/maybe on the official 500-item test split, answered over each question's own
abstract and over the pooled 1,000-abstract corpus (retrieval first): accuracy, macro-F1, retrieval hit rate.
Also the shared library builder for the citations suite."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent.llm import load_chat_model
from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from evals.judge import Judge
from evals.metrics import mean
from retrieval.embeddings import Embedder
from retrieval.sentences import sentences

LABELS = ("yes", "no", "maybe")


def load(data_dir: Path) -> tuple[dict[str, dict], dict[str, str]]:
    records = json.loads((data_dir / "ori_pqal.json").read_text())
    test = json.loads((data_dir / "test_ground_truth.json").read_text())
    return records, test


def pooled_library(records: dict[str, dict], home: Path, settings: Settings, embedder: Embedder | None,
                   exclude: set[str] = frozenset()) -> Runtime:
    """All PQA-L abstracts (less `exclude`) as papers whose id is the PMID, ingested once per home."""
    local = settings.model_copy(update={"home": home, "llm": settings.llm, "use_arxiv": False})
    runtime = build_runtime(local, embedder=embedder)
    wanted = {pmid: r for pmid, r in records.items() if pmid not in exclude}
    if runtime.catalog.paper_count() != len(wanted):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "pubmedqa.jsonl"
            path.write_text("".join(json.dumps({"id": pmid, "title": f"PubMed {pmid}", "year": r.get("YEAR"),
                                                "abstract": " ".join(r["CONTEXTS"])}) + "\n"
                                    for pmid, r in wanted.items()))
            runtime.ingestor.ingest_paths([path])
    return runtime


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    scores = []
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=True))
        precision, recall = tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return mean(scores)


def run(settings: Settings, data_dir: Path, limit: int | None = None, embedder: Embedder | None = None,
        on_item: Callable[[], None] | None = None) -> dict:
    records, test = load(data_dir)
    items = list(test.items())[:limit] if limit else list(test.items())
    started = time.perf_counter()
    runtime = pooled_library(records, settings.home_dir / "evals" / "pubmedqa", settings, embedder)
    judge = Judge(runtime.scorer, load_chat_model(settings.llm, settings.model_options))
    gold, own, pooled, hits, results = [], [], [], [], []
    for pmid, label in items:
        question = records[pmid]["QUESTION"]
        own_context = [s for c in records[pmid]["CONTEXTS"] for s in sentences(c)]
        passages = runtime.searcher.search(question, k=5)
        retrieved = [s for p in passages for s in sentences(p.text)]
        gold.append(label)
        own.append(judge.yes_no(question, own_context))
        pooled.append(judge.yes_no(question, retrieved))
        hits.append(float(pmid in {p.paper_id for p in passages}))
        results.append({"pmid": pmid, "gold": label, "own": own[-1], "pooled": pooled[-1], "hit": hits[-1]})
        if on_item:
            on_item()

    def accuracy(predicted: list[str]) -> float:
        return round(mean([float(g == p) for g, p in zip(gold, predicted, strict=True)]), 4)

    return {"suite": "pubmedqa", "dataset": {"name": "PubMedQA PQA-L test", "questions": len(items)},
            "settings": {"judge": judge.name},
            "metrics": {"own-abstract": {"accuracy": accuracy(own), "macro_f1": round(macro_f1(gold, own), 4)},
                        "pooled-corpus": {"accuracy": accuracy(pooled), "macro_f1": round(macro_f1(gold, pooled), 4),
                                          "retrieval_hit@5": round(mean(hits), 4)}},
            "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": results}
