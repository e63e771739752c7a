"""abstention: how well the answerability check (agent/answerability.py) separates questions the library
answers from questions it does not, and where its threshold comes from.

Each PubMedQA PQA-L question is asked twice over the pooled 1,000 abstracts: with its own abstract (the
library answers it) and with that abstract filtered out of the results (it does not; filtering rather than
re-indexing changes only BM25's corpus statistics, by one document in a thousand). The two signals are
measured on the evidence the agent would gather (hybrid search, relevance cutoff, top `evidence_k`).

The logistic weights and the threshold are fitted on the dev split (the 500 questions outside the official
test split) and the trade-off curve is printed there; the test split is scored once, with the shipped
constants and with the refitted ones. A refit that drifts from the shipped constants is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from agent import answerability
from agent.settings import Settings
from evals.pubmedqa import dev_split, load, sample, shared_library
from retrieval.embeddings import Embedder

KEEP_ANSWERABLE = 0.92  # the threshold keeps this share of the dev split's answerable questions


def features(runtime, question: str, gold: str, present: bool) -> list[float]:
    quality = runtime.settings.answer
    passages = [p for p in runtime.searcher.search(question, k=quality.retrieved_per_query)
                if present or p.paper_id != gold]
    evidence = runtime.scorer.gather(question, passages, quality.evidence_k, quality.relevance_cutoff)
    judge = answerability.AnswerabilityJudge(runtime.scorer, runtime.searcher.lexical_index,
                                             runtime.settings.answer.answer_threshold)
    return list(judge.features(question, evidence))


def _rates(scores: np.ndarray, present: np.ndarray, threshold: float) -> tuple[float, float]:
    return float((scores[present] >= threshold).mean()), float((scores[~present] < threshold).mean())


def run(settings: Settings, data_dir: Path, limit: int | None = None, embedder: Embedder | None = None,
        on_item: Callable[[], None] | None = None) -> dict:
    records, test = load(data_dir)
    splits = {"dev": sample(dev_split(records, test), limit), "test": sample(test, limit)}
    started = time.perf_counter()
    runtime = shared_library(records, settings, embedder)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, pmids in splits.items():
        rows, present = [], []
        for pmid in pmids:
            for has_gold in (True, False):
                rows.append(features(runtime, records[pmid]["QUESTION"], pmid, has_gold))
                present.append(has_gold)
            if on_item:
                on_item()
        data[split] = np.array(rows), np.array(present)
    shipped_threshold = settings.answer.answer_threshold  # SCISYNTH_ANSWER_THRESHOLD (agent/settings.py)
    fit = LogisticRegression().fit(*data["dev"])
    dev_scores = fit.predict_proba(data["dev"][0])[:, 1]
    refit_threshold = float(np.quantile(dev_scores[data["dev"][1]], 1 - KEEP_ANSWERABLE))
    shipped = {split: np.array([answerability.probability(*row) for row in rows]) for split, (rows, _) in data.items()}
    curve = [{"threshold": round(t, 2), **dict(zip(("answered", "abstained"), (round(v, 4) for v in _rates(
        shipped["dev"], data["dev"][1], t)), strict=True))} for t in np.arange(0.1, 0.91, 0.05)]
    test_rows, test_present = data["test"]
    refit_scores = fit.predict_proba(test_rows)[:, 1]
    metrics = {}
    for name, scores, threshold in (("shipped", shipped["test"], shipped_threshold),
                                    ("refit-on-dev", refit_scores, refit_threshold)):
        answered, abstained = _rates(scores, test_present, threshold)
        metrics[f"test-{name}"] = {"answered": round(answered, 4), "abstained": round(abstained, 4),
                                   "auc": round(float(roc_auc_score(test_present, scores)), 4)}
    for name, column in (("similarity", 0), ("coverage", 1)):
        answered, abstained = _rates(test_rows[:, column], test_present, float(np.quantile(
            data["dev"][0][data["dev"][1]][:, column], 1 - KEEP_ANSWERABLE)))
        metrics[f"test-baseline-{name}-alone"] = {"answered": round(answered, 4), "abstained": round(abstained, 4),
                                                  "auc": round(float(roc_auc_score(test_present, test_rows[:, column])),
                                                               4)}
    refit = {"similarity": round(float(fit.coef_[0][0]), 2), "coverage": round(float(fit.coef_[0][1]), 2),
             "intercept": round(float(fit.intercept_[0]), 2), "threshold": round(refit_threshold, 3)}
    drift = max(abs(refit["similarity"] - answerability.WEIGHTS["similarity"]),
                abs(refit["coverage"] - answerability.WEIGHTS["coverage"]),
                abs(refit["intercept"] - answerability.INTERCEPT))
    return {"suite": "abstention", "dataset": {"name": "PubMedQA PQA-L, own abstract present vs removed",
                                               "dev_questions": len(splits["dev"]),
                                               "test_questions": len(splits["test"])},
            "settings": {"shipped": {**answerability.WEIGHTS, "intercept": answerability.INTERCEPT,
                                     "threshold": shipped_threshold},
                         "refit_on_dev": refit, "largest_weight_drift": round(drift, 2)},
            "metrics": metrics, "curve_dev": curve,
            "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": []}
