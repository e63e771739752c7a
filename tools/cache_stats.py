"""How often each cache answered from what it kept: this process's lookups by cache and outcome, read by /metrics
(`scisynth_cache_lookups_total{cache, outcome}`), so a dashboard shows each cache's hit rate on real traffic.
(The answer cache keeps its own counter, `scisynth_answer_cache_lookups_total`, which also counts Redis outages.)"""

from __future__ import annotations

import threading
from collections import Counter

_COUNTS: Counter[tuple[str, str]] = Counter()
_LOCK = threading.Lock()


def record(cache: str, outcome: str, count: int = 1) -> None:
    """`count` lookups of `cache` ("embedding", "arxiv") that ended as `outcome` ("hit", "miss", "stale")."""
    if count:
        with _LOCK:
            _COUNTS[(cache, outcome)] += count


def snapshot() -> dict[tuple[str, str], int]:
    with _LOCK:
        return dict(_COUNTS)
