"""BM25 over chunk texts with bm25s (English stemming and stop words), saved beside the vector index.

The saved index carries the catalog fingerprint it was built from; when the catalog has moved on, the
index is rebuilt rather than trusted, so BM25 and the vectors always describe the same chunks.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

_STEMMER = Stemmer.Stemmer("english")
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
FINGERPRINT_FILE = "fingerprint.json"


def _tokens(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False)


_PREFIX = 5  # a stem variant shares at least this many leading letters


def _found(term: str, tokens: set[str], by_prefix: dict[str, list[str]]) -> bool:
    """The term, or a variant the stemmer left apart ("accuraci"/"accur"): a shared prefix of at least five
    letters that is all but at most one letter of the shorter stem (only tokens with the term's first five
    letters, `by_prefix`, can be one)."""
    if term in tokens:
        return True
    for token in by_prefix.get(term[:_PREFIX], ()):
        shorter = min(len(term), len(token))
        shared = next((i for i, (a, b) in enumerate(zip(term, token, strict=False)) if a != b), shorter)
        if shared >= max(_PREFIX, shorter - 1):
            return True
    return False


def _prefixes(tokens: set[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for token in tokens:
        if len(token) >= _PREFIX:
            grouped.setdefault(token[:_PREFIX], []).append(token)
    return grouped


class LexicalIndex:
    """An immutable BM25 index, safe to search from many threads: rebuild it (about 1 s per 10k chunks) when the
    corpus changes."""

    def __init__(self, ids: list[int], model: bm25s.BM25 | None = None, texts: list[str] | None = None) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self._position = {int(i): p for p, i in enumerate(self.ids)}
        self._model = model or bm25s.BM25()
        if model is None and texts:
            self._model.index(_tokens(texts), show_progress=False)

    def search(self, query: str, k: int, allowed_ids: list[int] | None = None) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) pairs with a positive score, best first; only `allowed_ids` when given."""
        if len(self.ids) == 0 or (allowed_ids is not None and not allowed_ids):
            return []
        query_tokens = _tokens([query])
        if not query_tokens[0]:
            return []
        mask = None
        if allowed_ids is not None:
            mask = np.zeros(len(self.ids), dtype=np.float32)
            mask[[self._position[i] for i in allowed_ids if i in self._position]] = 1.0
        # No lock: bm25s's retrieve only reads the index (tests/test_retrieval.py checks concurrent searches).
        positions, scores = self._model.retrieve(query_tokens, k=min(k, len(self.ids)), show_progress=False,
                                                 weight_mask=mask)
        return [(int(self.ids[p]), float(s)) for p, s in zip(positions[0], scores[0], strict=True) if s > 0]

    def term_coverage(self, query: str, texts: list[str], ignore: frozenset[str] = frozenset()) -> list[float]:
        """For each text, the IDF-weighted share of the query's terms (stemmed; stop words and `ignore` out) it
        contains: 1.0 when it has every term, near 0 when it lacks the rare ones. Terms unknown to the corpus
        weigh as the rarest do."""
        terms = set(_tokens([query])[0]) - {_STEMMER.stemWord(word.lower()) for word in ignore}
        if not terms:
            return [0.0 for _ in texts]
        weights = {term: self._idf(term) for term in terms}
        total = sum(weights.values())
        coverage = []
        for present in (set(tokens) for tokens in _tokens(texts)):
            by_prefix = _prefixes(present)
            coverage.append(sum(w for term, w in weights.items() if _found(term, present, by_prefix)) / total)
        return coverage

    def _idf(self, term: str) -> float:
        """BM25's idf, from the document frequency stored in bm25s's term-major score matrix."""
        documents = max(1, len(self.ids))
        index = self._model.vocab_dict.get(term) if len(self.ids) else None
        pointers = self._model.scores["indptr"] if index is not None else None
        frequency = int(pointers[index + 1] - pointers[index]) if pointers is not None else 0
        return float(np.log(1 + (documents - frequency + 0.5) / (frequency + 0.5)))

    def save(self, directory: Path, fingerprint: str) -> None:
        """Write to a fresh folder, then swap it in, so a reader never loads half an index."""
        staging = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        if len(self.ids):
            self._model.save(str(staging), show_progress=False)
        np.save(staging / "ids.npy", self.ids)
        (staging / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": fingerprint}))
        previous = directory.with_name(directory.name + ".old")
        shutil.rmtree(previous, ignore_errors=True)
        if directory.exists():
            os.replace(directory, previous)
        os.replace(staging, directory)
        shutil.rmtree(previous, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, fingerprint: str) -> LexicalIndex | None:
        """The saved index if it was built from the catalog state `fingerprint`, else None."""
        try:
            saved = json.loads((directory / FINGERPRINT_FILE).read_text())["fingerprint"]
            if saved != fingerprint:
                return None
            ids = np.load(directory / "ids.npy").tolist()
            model = bm25s.BM25.load(str(directory), show_progress=False) if ids else None
        except (OSError, ValueError, KeyError):
            return None
        return cls(ids, model=model)
