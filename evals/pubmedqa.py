"""pubmedqa: PQA-L yes/no/maybe on the official 500-item test split (a seeded sample stratified by label
when --limit is given), answered over each question's own abstract and over the pooled 1,000-abstract
corpus (retrieval first): accuracy and macro-F1 (scikit-learn), retrieval hit rate, and the baselines in
the same table (the dev split's majority label; random labels drawn with the dev split's frequencies).
Also the shared library builder for the citations and abstention suites."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from agent.llm import load_chat_model
from agent.runtime import Runtime
from agent.settings import Settings
from agent.stance import load_stance
from agent.stance_judge import StanceJudge
from evals.datasets import eval_home, library_of, library_settings
from evals.metrics import baselines, classification, mean, stratified_sample
from retrieval.embeddings import Embedder
from retrieval.sentences import sentences

LABELS = ("yes", "no", "maybe")


def load(data_dir: Path) -> tuple[dict[str, dict], dict[str, str]]:
    records = json.loads((data_dir / "ori_pqal.json").read_text())
    test = json.loads((data_dir / "test_ground_truth.json").read_text())
    return records, test


def dev_split(records: dict[str, dict], test: dict[str, str]) -> dict[str, str]:
    """The PQA-L questions outside the official test split, with their labels: where thresholds are chosen."""
    return {pmid: r["final_decision"] for pmid, r in records.items() if pmid not in test}


def sample(labelled: dict[str, str], limit: int | None, seed: int = 13) -> list[str]:
    """PMIDs, a seeded sample stratified by label when `limit` is given."""
    pmids = sorted(labelled)
    return stratified_sample(pmids, [labelled[p] for p in pmids], limit, seed)


def pooled_library(records: dict[str, dict], home: Path, settings: Settings, embedder: Embedder | None,
                   exclude: set[str] = frozenset()) -> Runtime:
    """All PQA-L abstracts (less `exclude`) as papers whose id is the PMID, ingested once per home."""
    return library_of(library_settings(settings, home), [
        {"id": pmid, "title": f"PubMed {pmid}", "year": r.get("YEAR"), "abstract": " ".join(r["CONTEXTS"])}
        for pmid, r in records.items() if pmid not in exclude], embedder)


def shared_library(records: dict[str, dict], settings: Settings, embedder: Embedder | None) -> Runtime:
    """The pooled library of all PQA-L abstracts that every suite, benchmark and experiment reads (built once in
    the eval home)."""
    return pooled_library(records, eval_home(settings) / "pubmedqa", settings, embedder)


def report_metrics(gold: list[str], own: list[str], pooled: list[str], hits: list[float],
                   dev_labels: list[str]) -> dict[str, dict]:
    """The suite's table: both judged variants, then the baselines they are gated against."""
    return {"own-abstract": classification(gold, own, LABELS),
            "pooled-corpus": {**classification(gold, pooled, LABELS), "retrieval_hit@5": round(mean(hits), 4)},
            **baselines(gold, dev_labels, LABELS)}


def run(settings: Settings, data_dir: Path, limit: int | None = None, embedder: Embedder | None = None,
        on_item: Callable[[], None] | None = None) -> dict:
    records, test = load(data_dir)
    pmids = sample(test, limit)
    started = time.perf_counter()
    runtime = shared_library(records, settings, embedder)
    judge = StanceJudge(runtime.scorer, load_chat_model(settings.model.llm, settings.model_options),
                        load_stance(settings.answer.stance_model))
    gold, own, pooled, hits, results = [], [], [], [], []
    for pmid in pmids:
        question = records[pmid]["QUESTION"]
        # the abstract's own parts (BACKGROUND, OBJECTIVE, RESULTS...) as a parsed paper's sections
        parts = [sentences(c) for c in records[pmid]["CONTEXTS"]]
        labelled = [(s, label.title()) for part, label in zip(parts, records[pmid]["LABELS"], strict=True)
                    for s in part]
        own_context, own_sections = [s for s, _ in labelled], [label for _, label in labelled]
        # each part and each retrieved passage rated as the passage it is, as a claim check rates a paper's
        passages = runtime.searcher.search(question, k=5)
        retrieved = [sentences(p.text) for p in passages]
        gold.append(test[pmid])
        own.append(judge.yes_no(question, own_context, own_sections, [len(part) for part in parts]))
        pooled.append(judge.yes_no(question, [s for part in retrieved for s in part],
                                   passage_sizes=[len(part) for part in retrieved]))
        hits.append(float(pmid in {p.paper_id for p in passages}))
        results.append({"pmid": pmid, "gold": test[pmid], "own": own[-1], "pooled": pooled[-1], "hit": hits[-1]})
        if on_item:
            on_item()
    return {"suite": "pubmedqa", "dataset": {"name": "PubMedQA PQA-L test", "questions": len(pmids),
                                             "sampling": "stratified by label (seed 13)" if limit else "all"},
            "settings": {"judge": judge.name, "judge_fallbacks": judge.fallbacks},
            "metrics": report_metrics(gold, own, pooled, hits, list(dev_split(records, test).values())),
            "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": results}
