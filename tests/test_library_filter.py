"""The library's filter as researchers type it."""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.embeddings import Embedder
from tests.conftest import make_runtime


def test_a_typed_hyphen_finds_a_title_printed_with_a_non_breaking_one(tmp_path: Path, embedder: Embedder) -> None:
    records = tmp_path / "papers.jsonl"
    records.write_text("".join(json.dumps(record) + "\n" for record in [
        {"id": "kcnj11", "title": "A loss\u2011of\u2011function mutation in KCNJ11", "abstract": "A mutation."},
        {"id": "other", "title": "Loss of function in a_b: 100% of cases", "abstract": "Nothing here."}]))
    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([records])
    assert [p.paper_id for p in runtime.catalog.listing("loss-of-function")[0]] == ["kcnj11"]
    assert [p.paper_id for p in runtime.catalog.listing("Loss\u2013of\u2013function")[0]] == ["kcnj11"]
    assert [p.paper_id for p in runtime.catalog.listing("a_b: 100%")[0]] == ["other"]  # wildcards stay literal
    runtime.engine.dispose()
