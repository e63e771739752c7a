import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.vector_store import MANIFEST_FILE, IndexMismatchError, VectorStore


def _unit(rows: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_round_trip_search_and_delete(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "model-a", 8)
    vectors = _unit(5)
    store.add([10, 11, 12, 13, 14], vectors)
    store.save()
    reloaded = VectorStore(tmp_path, "model-a", 8)
    assert reloaded.count == 5
    best_id, best_score = reloaded.search(vectors[2], k=1)[0]
    assert best_id == 12 and best_score == pytest.approx(1.0, abs=1e-5)
    reloaded.remove([12])
    assert 12 not in [i for i, _ in reloaded.search(vectors[2], k=5)]


def test_index_of_another_model_is_refused(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "model-a", 8)
    store.add([1], _unit(1))
    store.save()
    with pytest.raises(IndexMismatchError, match="scisynth reindex"):
        VectorStore(tmp_path, "model-b", 8)
    with pytest.raises(IndexMismatchError):
        VectorStore(tmp_path, "model-a", 16)


def test_save_cut_short_leaves_previous_index_loadable(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "model-a", 8)
    store.add([1, 2], _unit(2))
    store.save()
    # A later save wrote its index file but died before the manifest (the commit point) was replaced.
    store.add([3], _unit(1, seed=1))
    (tmp_path / "vectors-0123456789abcdef.faiss").write_bytes(b"half-written")
    (tmp_path / (MANIFEST_FILE + ".tmp")).write_text("{")
    reloaded = VectorStore(tmp_path, "model-a", 8)
    assert reloaded.count == 2
    assert json.loads((tmp_path / MANIFEST_FILE).read_text())["count"] == 2


def test_corrupt_index_file_is_reported(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "model-a", 8)
    store.add([1], _unit(1))
    store.save()
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    (tmp_path / manifest["file"]).write_bytes(b"garbage")
    with pytest.raises(IndexMismatchError, match="checksum"):
        VectorStore(tmp_path, "model-a", 8)
