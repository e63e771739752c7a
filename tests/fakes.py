"""A stand-in for the embedding model in the unit tier (tests/unit/): deterministic vectors from hashed word and
word-pair counts, so texts that share words are similar, with no weights to load. It makes no claim about
retrieval quality; tests of quality run on the real model (tests/, the integration tier, and `eval quick`)."""

from __future__ import annotations

import hashlib
import re
from itertools import pairwise

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    name = "test-hashing-embedder"
    dimension = 384
    max_tokens = 256

    def _vector(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower())
        vector = np.zeros(self.dimension, dtype=np.float32)
        for feature in [*words, *(f"{a} {b}" for a, b in pairwise(words))]:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest[:4], "little") % self.dimension] += 1.0 if digest[4] % 2 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else np.full(self.dimension, 1 / np.sqrt(self.dimension), dtype=np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text)) + 2
