"""A FAISS inner-product index keyed by chunk id, saved atomically with a manifest.

The index file is named by its checksum and the manifest is written last (temp file, fsync, rename),
so the manifest is the commit point: a save cut short anywhere leaves the previous index loadable.
The manifest also records which embedding model built the vectors, so an index is never searched
with query vectors from another model (the scores would be meaningless).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import faiss
import numpy as np

MANIFEST_FILE = "manifest.json"


class IndexMismatchError(Exception):
    """The index on disk was built with another embedding model or dimension."""


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class VectorStore:
    """Exact inner-product search over normalised vectors (cosine similarity)."""

    def __init__(self, directory: Path, model_name: str, dimension: int) -> None:
        self.directory = Path(directory)
        self.model_name = model_name
        self.dimension = dimension
        self._lock = threading.RLock()
        self._index = self._load_or_create()

    def _load_or_create(self) -> faiss.IndexIDMap2:
        manifest_path = self.directory / MANIFEST_FILE
        if not manifest_path.exists():
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
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

    def add(self, ids: list[int], vectors: np.ndarray) -> None:
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(ids) == 0:
            return
        with self._lock:
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, "int64"))

    def remove(self, ids: list[int]) -> None:
        with self._lock:
            self._index.remove_ids(np.asarray(ids, dtype="int64"))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) pairs, best first."""
        with self._lock:
            if self._index.ntotal == 0:
                return []
            scores, ids = self._index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def save(self) -> None:
        """Write the index under its checksum, then the manifest naming it, then drop older files."""
        with self._lock:
            data = faiss.serialize_index(self._index).tobytes()
            count = self.count
        checksum = hashlib.sha256(data).hexdigest()
        file_name = f"vectors-{checksum[:16]}.faiss"
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.directory / file_name, data)
        manifest = {
            "model": self.model_name,
            "dimension": self.dimension,
            "count": count,
            "index_type": "IndexIDMap2(IndexFlatIP)",
            "file": file_name,
            "sha256": checksum,
        }
        _write_atomically(self.directory / MANIFEST_FILE, json.dumps(manifest, indent=2).encode())
        for stale in self.directory.glob("vectors-*.faiss*"):
            if stale.name != file_name:
                stale.unlink(missing_ok=True)
