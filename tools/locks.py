"""Locks that count how long threads waited for them, so an operator (through /metrics, as
`scisynth_lock_wait_seconds_total`) and benchmarks/bench_api.py can see whether concurrent turns queue on one."""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter

_ALL: weakref.WeakSet[MeasuredLock] = weakref.WeakSet()


class MeasuredLock:
    """A (reentrant, if asked) lock with a name; the wait is counted only when the lock was taken."""

    def __init__(self, name: str, reentrant: bool = False) -> None:
        self.name = name
        self._lock = threading.RLock() if reentrant else threading.Lock()
        self.wait_seconds = 0.0
        _ALL.add(self)

    def __enter__(self) -> MeasuredLock:
        if not self._lock.acquire(blocking=False):
            started = time.perf_counter()
            self._lock.acquire()
            self.wait_seconds += time.perf_counter() - started  # updated while holding the lock: no race
        return self

    def __exit__(self, *_exc: object) -> None:
        self._lock.release()


def wait_seconds() -> dict[str, float]:
    """Seconds waited so far, per lock name (summed over instances of that name)."""
    totals: Counter[str] = Counter()
    for lock in list(_ALL):
        totals[lock.name] += lock.wait_seconds
    return dict(totals)
