"""Ranking metrics as BEIR and MTEB compute them (binary relevance), plus a bootstrap interval."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int = 10) -> float:
    gain = sum(1.0 / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return gain / ideal if ideal else 0.0


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: set[str], k: int = 100) -> float:
    return next((1.0 / (rank + 1) for rank, doc in enumerate(ranked[:k]) if doc in relevant), 0.0)


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
