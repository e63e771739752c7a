"""BM25 over chunk texts with bm25s (English stemming and stop words)."""

from __future__ import annotations

import logging
import threading

import bm25s
import numpy as np
import Stemmer

_STEMMER = Stemmer.Stemmer("english")
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG


def _tokens(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False)


class LexicalIndex:
    """An immutable BM25 index: rebuild it (cheap: ~1 s per 10k chunks) when the corpus changes."""

    def __init__(self, ids: list[int], texts: list[str]) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self._model = bm25s.BM25()
        self._lock = threading.Lock()
        if texts:
            self._model.index(_tokens(texts), show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) pairs with a positive score, best first."""
        if len(self.ids) == 0:
            return []
        query_tokens = _tokens([query])
        if not query_tokens[0]:
            return []
        with self._lock:
            positions, scores = self._model.retrieve(query_tokens, k=min(k, len(self.ids)), show_progress=False)
        return [(int(self.ids[p]), float(s)) for p, s in zip(positions[0], scores[0], strict=True) if s > 0]
