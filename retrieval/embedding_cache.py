"""An embedding cache keyed by (model, sha256 of text), in memory (recent texts) and on disk (all passage
texts): re-indexing unchanged text costs nothing, and a turn re-scoring the same passages is cheap.

Questions go through `embed_query`, which remembers in memory only: a question is seldom asked twice, so
writing each one to disk would cost every turn a write and grow the file without end. Concurrent turns
share no lock while they read SQLite (one connection per thread, WAL) or run the encoder; the lock guards
only the in-memory dictionary.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from retrieval.embeddings import Embedder
from tools import cache_stats
from tools.locks import MeasuredLock


class CachedEmbedder:
    """Wraps an Embedder; vectors already computed for the same model and text come from memory or SQLite."""

    def __init__(self, inner: Embedder, path: Path, memory_items: int = 50_000) -> None:
        self.inner = inner
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self.memory_items = memory_items
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = MeasuredLock("embedding_cache")

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not be shared between threads)."""
        connection = getattr(self._local, "db", None)
        if connection is None:
            connection = self._local.db = sqlite3.connect(self.path, timeout=30)
        return connection

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\0{text}".encode()).hexdigest()

    def _remember(self, pairs: dict[str, np.ndarray]) -> None:
        with self._lock:
            for key, vector in pairs.items():
                self._memory[key] = vector
                self._memory.move_to_end(key)
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)

    def _recall(self, keys: list[str]) -> dict[str, np.ndarray]:
        with self._lock:
            return {k: self._memory[k] for k in keys if k in self._memory}

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        found = self._recall(keys)
        on_disk = [k for k in dict.fromkeys(keys) if k not in found]
        for start in range(0, len(on_disk), 500):
            batch = on_disk[start:start + 500]
            # Bandit B608 accepted: only "?" marks are joined into the SQL; the keys are bound, never inlined.
            placeholders = ",".join("?" * len(batch))
            query = f"SELECT key, vector FROM vectors WHERE key IN ({placeholders})"  # nosec B608
            for key, blob in self._db().execute(query, batch):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        computed_now = set(missing)
        cache_stats.record("embedding", "hit", sum(k not in computed_now for k in keys))
        cache_stats.record("embedding", "miss", len(keys) - sum(k not in computed_now for k in keys))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            computed = self.inner.embed([text_of[k] for k in missing])
            with self._db() as db:
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                               [(k, v.astype(np.float32).tobytes()) for k, v in zip(missing, computed, strict=True)])
            found.update(zip(missing, computed, strict=True))
        self._remember({k: found[k] for k in keys})
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """A question's vector, remembered in memory only (the steps of one turn share it)."""
        key = self._key(text)
        vector = self._recall([key]).get(key)
        cache_stats.record("embedding", "miss" if vector is None else "hit")
        if vector is None:
            vector = self.inner.embed_query(text)
            self._remember({key: vector})
        return vector

    def forget(self, text: str) -> None:
        """Drop a text's cached vector, so the next embed encodes it again (honest latency measurements)."""
        key = self._key(text)
        with self._lock:
            self._memory.pop(key, None)
        with self._db() as db:
            db.execute("DELETE FROM vectors WHERE key = ?", (key,))

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
