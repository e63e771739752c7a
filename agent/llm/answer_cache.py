"""Answers a model already wrote, shared by every API replica through Redis (SCISYNTH_REDIS_URL).

The key is the sha256 of the model's identity (class, weights or model name, sampling settings) and the exact
messages sent: the question, the researcher's instructions and the numbered evidence passages. The evidence is
what the library holds for that question, so an ingest that changes what a question retrieves changes the key:
no answer outlives the library it was written from. Only whole answers are kept (a stream cut short or a failed
call is never stored), for `ttl_seconds`.

Redis failing never fails a turn: the cache says why in the log and stands aside for a while (agent/outage.py), and
the model answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from agent.outage import SOCKET_TIMEOUT_SECONDS, Outage

log = logging.getLogger(__name__)

KEY_PREFIX = "scisynth:answer:"
# this process's lookups, every cache together (the /metrics counter); "unavailable": Redis failing, not asked
_LOOKUPS = {"hit": 0, "miss": 0, "unavailable": 0}
_LOOKUPS_LOCK = threading.Lock()


def lookups() -> dict[str, int]:
    """Answer-cache lookups in this process so far: hits, misses, and lookups skipped while Redis was failing."""
    with _LOOKUPS_LOCK:
        return dict(_LOOKUPS)


class CachedAnswer(str):
    """An answer served from the cache, not written by the model this turn (the turn's trace says so)."""

    __slots__ = ()


class AnswerCache:
    """Whole answers in Redis, with this process's hit and miss counts (what `bench_answer_cache` reports)."""

    def __init__(self, redis_url: str, ttl_seconds: int) -> None:
        try:
            import redis
        except ImportError as error:
            raise ValueError("the answer cache in Redis needs the 'scale' extra: pip install -e '.[scale]'") from error
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=SOCKET_TIMEOUT_SECONDS,
                                           socket_connect_timeout=SOCKET_TIMEOUT_SECONDS)
        self._errors = redis.RedisError
        self.ttl_seconds = ttl_seconds
        self.hits = self.misses = 0
        self._outage = Outage("answer cache in Redis", "answers come from the model", log)
        self._lock = threading.Lock()

    @staticmethod
    def key(model: BaseChatModel, messages: Sequence[BaseMessage]) -> str:
        """What identifies an answer: the model (its class and every setting that shapes its output) and the
        exact text of each message sent to it."""
        sent = [(message.type, message.text) for message in messages]
        identity = f"{type(model).__module__}.{type(model).__qualname__}:{model._get_llm_string()}"
        return KEY_PREFIX + hashlib.sha256(json.dumps([identity, sent]).encode()).hexdigest()

    def get(self, key: str) -> str | None:
        """The answer stored under `key`, or None (not stored, or Redis unavailable)."""
        found = self._guarded(lambda: self._redis.get(key), default=False)
        outcome = "unavailable" if found is False else "miss" if found is None else "hit"
        with self._lock:
            self.hits += outcome == "hit"
            self.misses += outcome == "miss"
        with _LOOKUPS_LOCK:
            _LOOKUPS[outcome] += 1
        return found.decode() if isinstance(found, bytes) else None

    def put(self, key: str, answer: str) -> None:
        self._guarded(lambda: self._redis.set(key, answer.encode(), ex=self.ttl_seconds))

    def delete(self, key: str) -> None:
        self._guarded(lambda: self._redis.delete(key))

    def _guarded(self, action: Callable[[], Any], default: object = None) -> Any:
        """`action`'s result, or `default` while Redis is failing (the turn goes on without the cache)."""
        if self._outage.ongoing:
            return default
        try:
            return action()
        except self._errors as error:
            self._outage.begin(error)
            return default
