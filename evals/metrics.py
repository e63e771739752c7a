"""Metrics from kept libraries: ranking metrics by pytrec_eval (trec_eval's definitions, as BEIR reports
them), classification metrics by scikit-learn; plus a seeded bootstrap interval, seeded stratified
sampling, and the baselines every classification report prints beside its own rows."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import TypeVar

import pytrec_eval
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

Item = TypeVar("Item")
RANKING_MEASURES = {"ndcg_cut.10", "recall.10", "recall.100", "recip_rank"}
RANKING_NAMES = {"ndcg_cut_10": "ndcg@10", "recall_10": "recall@10", "recall_100": "recall@100", "recip_rank": "mrr"}


def ranking_scores(rankings: dict[str, list[str]], qrels: dict[str, set[str]]) -> dict[str, dict[str, float]]:
    """Per query: nDCG@10, Recall@10/100 and MRR of a ranked document list against binary judgements."""
    run = {q: {doc: float(len(ranked) - i) for i, doc in enumerate(ranked)} or {"__none__": 0.0}
           for q, ranked in rankings.items()}
    judged = {q: {doc: 1 for doc in qrels[q]} for q in rankings}
    scores = pytrec_eval.RelevanceEvaluator(judged, RANKING_MEASURES).evaluate(run)
    return {q: {RANKING_NAMES[m]: value for m, value in measures.items()} for q, measures in scores.items()}


def classification(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    return {"accuracy": round(float(accuracy_score(gold, predicted)), 4),
            "macro_f1": round(float(f1_score(gold, predicted, labels=list(labels), average="macro",
                                             zero_division=0)), 4)}


def baselines(gold: Sequence[str], training_labels: Sequence[str], labels: Sequence[str], seed: int = 13
              ) -> dict[str, dict[str, float]]:
    """The rows a classifier must beat: always the majority label of the training split, and random labels
    drawn with the training split's frequencies (seeded)."""
    counts = Counter(training_labels)
    majority = counts.most_common(1)[0][0]
    # Bandit B311 accepted: seeded baseline labels for an evaluation, not a secret.
    rng = random.Random(seed)  # nosec B311
    drawn = rng.choices(list(counts), weights=list(counts.values()), k=len(gold))
    return {"baseline-majority": classification(gold, [majority] * len(gold), labels),
            "baseline-random": classification(gold, drawn, labels)}


def stratified_sample(items: Sequence[Item], strata: Sequence[str], n: int | None, seed: int = 13) -> list[Item]:
    """`n` items whose mix of strata matches the whole (seeded); all items when n is None or too large."""
    if n is None or n >= len(items):
        return list(items)
    counts = Counter(strata)
    if min(counts.values()) < 2:  # scikit-learn needs two of each stratum: fold the rare ones together
        strata = [s if counts[s] >= 2 else "rare" for s in strata]
    chosen, _ = train_test_split(list(items), train_size=n, stratify=list(strata), random_state=seed)
    return chosen


def bootstrap_interval(values: Sequence[float], samples: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (deterministic for a given seed)."""
    if not values:
        return (0.0, 0.0)
    # Bandit B311 accepted: a seeded bootstrap for statistics, not a secret.
    rng = random.Random(seed)  # nosec B311
    means = sorted(sum(rng.choices(values, k=len(values))) / len(values) for _ in range(samples))
    low = means[int((1 - confidence) / 2 * samples)]
    high = means[min(samples - 1, int((1 + confidence) / 2 * samples))]
    return (low, high)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
