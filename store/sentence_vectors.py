"""A vector per sentence of every chunk, computed at ingest and stored with the chunk (float16, in the same
transaction), so that a question costs one query embedding and dot products: evidence scoring, citation
quotes, extractive answers, hypothesis premises and novelty all read these instead of encoding sentences
again. Each sentence is encoded on its own (measured better than pooling a chunk's token vectors:
benchmarks/bench_sentence_vectors.py).
"""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from tools.locks import MeasuredLock

Spans = list[tuple[int, int]]


class SentenceVectorRow(SQLModel, table=True):
    __tablename__ = "sentence_vectors"

    chunk_id: int = Field(primary_key=True, foreign_key="chunks.id")
    model: str  # the embedding model that made them (a reindex with another model rewrites them)
    spans_json: str  # [[start, end], ...] character spans of the chunk text, as sentence_spans() cuts it
    vectors: bytes  # float16, one row of `dimension` per span


def encode_row(chunk_id: int, model: str, spans: Spans, vectors: np.ndarray) -> SentenceVectorRow:
    return SentenceVectorRow(chunk_id=chunk_id, model=model, spans_json=json.dumps(spans),
                             vectors=np.asarray(vectors, dtype=np.float16).tobytes())


class SentenceVectorStore:
    """Reads stored sentence vectors, with the most recently used chunks kept in memory."""

    def __init__(self, engine: Engine, model: str, dimension: int, memory_chunks: int = 8192) -> None:
        self.engine = engine
        self.model = model
        self.dimension = dimension
        self.memory_chunks = memory_chunks
        self._memory: OrderedDict[int, tuple[Spans, np.ndarray]] = OrderedDict()
        self._lock = MeasuredLock("sentence_vectors")

    def get(self, chunk_ids: list[int]) -> dict[int, tuple[Spans, np.ndarray]]:
        """(spans, float32 vectors) of the chunks that have them, by chunk id."""
        with self._lock:
            found = {i: self._memory[i] for i in chunk_ids if i in self._memory}
        missing = [i for i in dict.fromkeys(chunk_ids) if i not in found]
        if missing:
            query = select(SentenceVectorRow).where(col(SentenceVectorRow.chunk_id).in_(missing),
                                                    col(SentenceVectorRow.model) == self.model)
            with Session(self.engine) as session:
                for row in session.exec(query):
                    spans = [(int(a), int(b)) for a, b in json.loads(row.spans_json)]
                    vectors = np.frombuffer(row.vectors, dtype=np.float16).astype(np.float32)
                    found[row.chunk_id] = (spans, vectors.reshape(len(spans), self.dimension))
        with self._lock:
            for chunk_id in missing:
                if chunk_id in found:
                    self._memory[chunk_id] = found[chunk_id]
            while len(self._memory) > self.memory_chunks:
                self._memory.popitem(last=False)
        return found

    def forget(self) -> None:
        """Drop the memory (after a reindex rewrote the rows)."""
        with self._lock:
            self._memory.clear()
