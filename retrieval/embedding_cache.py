"""An embedding cache keyed by (model, sha256 of text), in memory (recent texts) and on disk (all of
them): re-indexing unchanged text costs nothing, and a turn re-scoring the same passages is cheap."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from retrieval.embeddings import Embedder


class CachedEmbedder:
    """Wraps an Embedder; vectors already computed for the same model and text come from SQLite."""

    def __init__(self, inner: Embedder, path: Path, memory_items: int = 50_000) -> None:
        self.inner = inner
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self.memory_items = memory_items
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = threading.Lock()

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\0{text}".encode()).hexdigest()

    def embed(self, texts: list[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        with self._lock:
            found = {k: self._memory[k] for k in keys if k in self._memory}
            on_disk = [k for k in dict.fromkeys(keys) if k not in found]
            for start in range(0, len(on_disk), 500):
                batch = on_disk[start:start + 500]
                # Bandit B608 accepted: only "?" marks are joined into the SQL; the keys are bound, never inlined.
                placeholders = ",".join("?" * len(batch))
                query = f"SELECT key, vector FROM vectors WHERE key IN ({placeholders})"  # nosec B608
                for key, blob in self._db.execute(query, batch):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            computed = self.inner.embed([text_of[k] for k in missing])
            rows = [(k, v.astype(np.float32).tobytes()) for k, v in zip(missing, computed, strict=True)]
            with self._lock, self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            found.update(zip(missing, computed, strict=True))
        with self._lock:
            for key in keys:
                self._memory[key] = found[key]
                self._memory.move_to_end(key)
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def forget(self, text: str) -> None:
        """Drop a text's cached vector, so the next embed encodes it again (honest latency measurements)."""
        key = self._key(text)
        with self._lock, self._db:
            self._memory.pop(key, None)
            self._db.execute("DELETE FROM vectors WHERE key = ?", (key,))

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
