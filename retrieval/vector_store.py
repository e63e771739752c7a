"""A FAISS inner-product index keyed by chunk id, saved atomically with a manifest.

The index file is named by its checksum and the manifest is written last (temp file, fsync, rename),
so the manifest is the commit point: a save cut short anywhere leaves the previous index loadable.
The manifest also records which embedding model built the vectors, so an index is never searched
with query vectors from another model (the scores would be meaningless).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import faiss
import numpy as np

from tools.documents import write_atomically
from tools.locks import MeasuredLock

if TYPE_CHECKING:
    from sqlmodel import Session

MANIFEST_FILE = "manifest.json"


class IndexMismatchError(Exception):
    """The index on disk was built with another embedding model or dimension."""


def _flat(dimension: int) -> faiss.IndexIDMap2:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def _hnsw(dimension: int, neighbours: int = 32, ef_search: int = 128) -> faiss.IndexIDMap2:
    inner = faiss.IndexHNSWFlat(dimension, neighbours, faiss.METRIC_INNER_PRODUCT)
    inner.hnsw.efConstruction = 80
    inner.hnsw.efSearch = ef_search
    return faiss.IndexIDMap2(inner)


def _is_hnsw(index: faiss.IndexIDMap2) -> bool:
    return isinstance(faiss.downcast_index(index.index), faiss.IndexHNSWFlat)


def _all_vectors(index: faiss.IndexIDMap2) -> tuple[np.ndarray, np.ndarray]:
    ids = faiss.vector_to_array(index.id_map).astype("int64")
    vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), "float32")
    return ids, vectors


class VectorIndex(Protocol):
    """What search and ingest need of a vector index: FAISS files (VectorStore) or pgvector (PgVectorStore)."""

    @property
    def index_type(self) -> str: ...

    @property
    def count(self) -> int: ...

    def add(self, ids: list[int], vectors: np.ndarray, session: Session | None = None) -> None: ...

    def remove(self, ids: list[int]) -> None: ...

    def vectors(self, ids: list[int]) -> dict[int, np.ndarray]: ...

    def search(self, query: np.ndarray, k: int, allowed_ids: list[int] | None = None) -> list[tuple[int, float]]: ...

    def save(self) -> None: ...


class VectorStore:
    """Inner-product search over normalised vectors (cosine similarity): exact up to `exact_max`
    vectors, HNSW (approximate, much faster at scale) beyond it."""

    def __init__(self, directory: Path, model_name: str, dimension: int, exact_max: int = 200_000,
                 reset: bool = False) -> None:
        """`reset` starts empty whatever is on disk (used by a rebuild from the catalog)."""
        self._reset = reset
        self.directory = Path(directory)
        self.model_name = model_name
        self.dimension = dimension
        self.exact_max = exact_max
        self._lock = MeasuredLock("vector_index", reentrant=True)
        self._index = self._load_or_create()

    @property
    def index_type(self) -> str:
        return "hnsw" if _is_hnsw(self._index) else "exact"

    def _load_or_create(self) -> faiss.IndexIDMap2:
        manifest_path = self.directory / MANIFEST_FILE
        if not manifest_path.exists() or self._reset:
            return _flat(self.dimension)
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("model") != self.model_name or manifest.get("dimension") != self.dimension:
            raise IndexMismatchError(
                f"the index in {self.directory} was built with {manifest.get('model')!r} "
                f"(dimension {manifest.get('dimension')}), not {self.model_name!r} ({self.dimension}); "
                "run 'scisynth reindex' to rebuild it from the catalog"
            )
        index_path = self.directory / manifest["file"]
        data = index_path.read_bytes()
        if manifest.get("sha256") != hashlib.sha256(data).hexdigest():
            raise IndexMismatchError(f"{index_path} does not match its manifest checksum; run 'scisynth reindex'")
        return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: list[int], vectors: np.ndarray, session: Session | None = None) -> None:
        """Add to the in-memory index (`session` is for stores inside the database; `save` writes the file)."""
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            if not _is_hnsw(self._index) and self._index.ntotal + len(ids) > self.exact_max:
                self._rebuild(_hnsw(self.dimension))
            self._index.add_with_ids(vectors, np.asarray(ids, "int64"))

    def _rebuild(self, target: faiss.IndexIDMap2, drop: set[int] = frozenset()) -> None:
        ids, vectors = _all_vectors(self._index)
        keep = np.array([i not in drop for i in ids], dtype=bool)
        if keep.any():
            target.add_with_ids(np.ascontiguousarray(vectors[keep]), ids[keep])
        self._index = target

    def remove(self, ids: list[int]) -> None:
        with self._lock:
            if _is_hnsw(self._index):  # HNSW graphs cannot drop nodes: rebuild without them
                self._rebuild(_hnsw(self.dimension), set(ids))
            else:
                self._index.remove_ids(np.asarray(ids, dtype="int64"))

    def vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        """The stored vectors of the given ids (those present)."""
        found: dict[int, np.ndarray] = {}
        with self._lock:
            for chunk_id in ids:
                try:
                    found[chunk_id] = self._index.reconstruct(chunk_id)
                except RuntimeError:  # not in the index
                    continue
        return found


    def search(self, query: np.ndarray, k: int, allowed_ids: list[int] | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) pairs, best first; only among `allowed_ids` when given."""
        params = None
        if allowed_ids is not None:
            if not allowed_ids:
                return []
            selector = faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype="int64"))
            params = faiss.SearchParametersHNSW(sel=selector) if _is_hnsw(self._index) else (
                faiss.SearchParameters(sel=selector))
        # One query gains nothing from OpenMP's threads, which then spin-wait on the other core for a while after
        # every search (this doubled a turn's CPU). The setting is per calling thread: ingest keeps all cores.
        faiss.omp_set_num_threads(1)
        with self._lock:
            if self._index.ntotal == 0:
                return []
            scores, ids = self._index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def save(self) -> None:
        """Write the index under its checksum, then the manifest naming it, then drop older files."""
        with self._lock:
            data = faiss.serialize_index(self._index).tobytes()
            count = self.count
        checksum = hashlib.sha256(data).hexdigest()
        file_name = f"vectors-{checksum[:16]}.faiss"
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomically(self.directory / file_name, data)
        manifest = {
            "model": self.model_name,
            "dimension": self.dimension,
            "count": count,
            "index_type": self.index_type,
            "file": file_name,
            "sha256": checksum,
        }
        write_atomically(self.directory / MANIFEST_FILE, json.dumps(manifest, indent=2).encode())
        for stale in self.directory.glob("vectors-*.faiss*"):
            if stale.name != file_name:
                stale.unlink(missing_ok=True)
