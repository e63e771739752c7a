"""Retrieval: metrics, fusion, filters, MMR, BM25 persistence, embedding cache, reindex, concurrency."""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from agent.runtime import Runtime
from agent.settings import Settings
from evals.datasets import library_of, library_settings
from evals.metrics import ranking_scores
from evals.scifact_retrieval import run as run_scifact
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import Embedder, SentenceTransformerEmbedder, model_name, trained_chunk_tokens
from retrieval.lexical import LexicalIndex
from retrieval.search import SearchFilter, convex_fusion, maximal_marginal_relevance, reciprocal_rank_fusion
from tests.conftest import DATA, PAPERS, make_runtime


def test_ranking_metrics_match_hand_computed_values() -> None:
    """pytrec_eval (trec_eval's definitions) as wrapped by evals.metrics, against values computed by hand."""
    relevant = {"a", "b", "c"}
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    scores = ranking_scores({"q": ["a", "x", "b", "y"], "miss": ["x"], "third": ["x", "y", "b"]},
                            {"q": relevant, "miss": relevant, "third": relevant})
    assert scores["q"]["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    assert scores["q"]["recall@10"] == pytest.approx(2 / 3) and scores["q"]["mrr"] == 1.0
    assert scores["third"]["mrr"] == pytest.approx(1 / 3) and scores["miss"]["ndcg@10"] == 0.0


def test_fusions() -> None:
    assert reciprocal_rank_fusion([[1, 2], [2, 3]], k=1) == [(2, pytest.approx(1 / 3 + 1 / 2)),
                                                              (1, pytest.approx(1 / 2)), (3, pytest.approx(1 / 3))]
    fused = dict(convex_fusion([[(1, 10.0), (2, 5.0), (3, 0.0)], [(3, 0.9), (2, 0.8), (1, 0.1)]], [0.5, 0.5]))
    assert fused == {1: pytest.approx(0.5), 2: pytest.approx(0.5 * 0.5 + 0.5 * 0.875), 3: pytest.approx(0.5)}


def test_mmr_prefers_a_different_vector_over_a_near_duplicate() -> None:
    vectors = {1: np.array([1.0, 0.0]), 2: np.array([1.0, 0.0]), 3: np.array([0.0, 1.0])}
    picked = maximal_marginal_relevance([(1, 1.0), (2, 0.99), (3, 0.8)], vectors, k=2, balance=0.5)
    assert [i for i, _ in picked] == [1, 3]


def test_questions_are_encoded_by_onnx_runtime_as_torch_would(tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder(cache_dir=tmp_path)
    texts = ["How does SPECTER use citations?", "Überraschende Ergebnisse: 5 µm Partikel (n=12)",
             "graph neural networks " * 150]  # beyond the encoder's window: both must truncate alike
    for text in texts:
        assert float(embedder.embed_query(text) @ embedder.embed([text])[0]) > 0.9999
    assert embedder._onnx() is not None and len(list(tmp_path.glob("query-encoder-*.onnx"))) == 1


def test_a_checked_export_encodes_questions_without_loading_torchs_model(tmp_path: Path) -> None:
    """A command that only asks (search, ask, check) need not wait seconds for torch and the weights: the export
    checked on an earlier start is loaded with the tokenizer it was checked with."""
    question = "How does SPECTER use citations?"
    SentenceTransformerEmbedder(cache_dir=tmp_path).embed_query("warm")  # exports and checks
    assert len(list(tmp_path.glob("query-encoder-*.tokenizer.json"))) == 1
    later = SentenceTransformerEmbedder(cache_dir=tmp_path)
    vector = later.embed_query(question)
    assert later._loaded is None  # torch's model was never loaded
    assert float(vector @ later.embed([question])[0]) > 0.9999


def test_a_model_retrained_into_its_folder_gets_a_new_export(tmp_path: Path) -> None:
    """Retraining writes weights of the same size into the same folder: the export checked for the old weights must
    not encode questions for the new ones."""
    from retrieval.query_encoder import _identity

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"old weights")
    (tmp_path / "config.json").write_text("{}")
    before = _identity(tmp_path)
    weights.write_bytes(b"new weights")
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000))
    assert _identity(tmp_path) != before


def test_bfloat16_products_give_the_vectors_float32_gives() -> None:
    """Where the CPU multiplies bfloat16 in hardware, passages are encoded with it for speed: a library or cache
    built on either kind of machine must search the same."""
    texts = ["Aspirin reduced the risk of myocardial infarction by 20% (95% CI 0.7-0.9).",
             "Wir fanden keine Unterschiede zwischen den Gruppen.", "graph neural networks " * 150, "x"]
    exact = SentenceTransformerEmbedder(bfloat16=False).embed(texts)
    fast = SentenceTransformerEmbedder(bfloat16=True).embed(texts)
    assert fast.dtype == np.float32 and fast.shape == exact.shape
    assert float(np.min(np.sum(exact * fast, axis=1))) > 0.9995


def test_the_model_loads_on_first_use_with_the_shape_its_folder_declares(tmp_path: Path) -> None:
    """Commands that never embed (library, refs, export) must not pay for torch and the weights; the shape read
    from the folder's config files must be the one the model loads with, or the folder is refused."""
    lazy = SentenceTransformerEmbedder()
    assert lazy._loaded is None and (lazy.dimension, lazy.max_tokens) == (384, 256)
    assert lazy.embed(["a first passage"]).shape == (1, 384) and lazy._loaded is not None
    assert (lazy._loaded.get_embedding_dimension(), lazy._loaded.max_seq_length) == (384, 256)
    misdeclared = SentenceTransformerEmbedder()
    misdeclared._declared = (512, 256)  # as if a sentence-transformers release read the folder differently
    with pytest.raises(ValueError, match="declare"):
        misdeclared.embed(["text"])
    folder = tmp_path / "model"
    shutil.copytree(lazy.model_path, folder)
    (folder / "modules.json").unlink()  # a folder that does not declare its shape is loaded at once to learn it
    undeclared = SentenceTransformerEmbedder(str(folder))
    assert undeclared._loaded is not None and undeclared.dimension == 384


def test_a_model_with_a_dense_layer_after_pooling_is_not_refused(tmp_path: Path) -> None:
    """Published models often project the pooled vector (a Dense module): the pooling config's dimension is not
    theirs, so such a folder is loaded to learn its shape, and its vectors have the projected size."""
    from sentence_transformers.sentence_transformer.modules import Dense

    folder = tmp_path / "projected"
    shutil.copytree(SentenceTransformerEmbedder().model_path, folder)
    modules = json.loads((folder / "modules.json").read_text())
    (folder / "2_Dense").mkdir()
    Dense(384, 128).save(str(folder / "2_Dense"))
    normalize = modules.pop()  # the projection goes between pooling and normalisation
    modules += [{"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
                {**normalize, "idx": 3, "name": "3"}]
    (folder / "modules.json").write_text(json.dumps(modules))
    projected = SentenceTransformerEmbedder(str(folder))
    assert projected.dimension == 128 and projected.embed(["a passage"]).shape == (1, 128)


@pytest.mark.parametrize("manifest", ['{"sha256": 5, "hyperparameters": []}',
                                      '{"hyperparameters": {"chunk_tokens": "128"}}'])
def test_a_manifest_with_odd_fields_falls_back_to_the_weights(tmp_path: Path, manifest: str) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "manifest.json").write_text(manifest)
    assert model_name(tmp_path).startswith(f"{tmp_path.name}@") and trained_chunk_tokens(str(tmp_path)) is None


@pytest.mark.parametrize(("manifest", "problem"), [("{bad json", "Expecting property name"),
                                                   ("[1, 2]", "a JSON list, not an object")])
def test_a_damaged_manifest_is_refused_saying_what_to_do(tmp_path: Path, manifest: str, problem: str) -> None:
    (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(ValueError, match=f"not a training manifest \\({problem}.*train the model again"):
        model_name(tmp_path)


def test_a_damaged_onnx_export_falls_back_to_torch_and_is_made_again(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    SentenceTransformerEmbedder(cache_dir=tmp_path).embed_query("warm")
    [export] = tmp_path.glob("query-encoder-*.onnx")
    export.write_bytes(b"not an onnx model")
    damaged = SentenceTransformerEmbedder(cache_dir=tmp_path)
    vector = damaged.embed_query("How does SPECTER use citations?")
    assert damaged._onnx() is None and "encoded with torch" in caplog.text and not export.exists()
    assert float(vector @ damaged.embed(["How does SPECTER use citations?"])[0]) > 0.9999
    assert SentenceTransformerEmbedder(cache_dir=tmp_path)._onnx() is not None and export.exists()


def test_bm25_searches_from_many_threads_agree_with_one_thread() -> None:
    """Concurrent turns search the BM25 index without a lock: every thread must get the sequential answer."""
    documents = [json.loads(line) for line in (DATA / "scifact" / "corpus.jsonl").open()][:2000]
    index = LexicalIndex(list(range(len(documents))), texts=[f"{d['title']} {' '.join(d['abstract'])}"
                                                             for d in documents])
    queries = [d["title"] for d in documents[::50]]
    expected = {q: index.search(q, 20) for q in queries}
    mismatches: list[str] = []

    def worker(offset: int) -> None:
        for query in queries[offset:] + queries[:offset]:
            if index.search(query, 20) != expected[query]:
                mismatches.append(query)

    threads = [threading.Thread(target=worker, args=(i * 5,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(expected.values()) and mismatches == []


def test_bm25_index_is_saved_and_refused_when_the_catalog_moved_on(tmp_path: Path) -> None:
    index = LexicalIndex([7, 8], texts=["graph neural networks for molecules", "protein folding with attention"])
    index.save(tmp_path / "bm25", "2:8:15")
    loaded = LexicalIndex.load(tmp_path / "bm25", "2:8:15")
    assert loaded is not None and loaded.search("protein folding", 2)[0][0] == 8
    assert loaded.search("protein folding", 2, allowed_ids=[7]) == []
    assert LexicalIndex.load(tmp_path / "bm25", "3:9:24") is None


def test_embedding_cache_serves_repeated_text_without_the_model(tmp_path: Path, embedder: Embedder) -> None:
    calls = []

    class Counting:
        name, dimension, max_tokens = embedder.name, embedder.dimension, embedder.max_tokens

        def embed(self, texts: list[str]) -> np.ndarray:
            calls.append(len(texts))
            return embedder.embed(texts)

        def embed_query(self, text: str) -> np.ndarray:
            return self.embed([text])[0]

        def count_tokens(self, text: str) -> int:
            return embedder.count_tokens(text)

    cached = CachedEmbedder(Counting(), tmp_path / "cache.sqlite")
    first = cached.embed(["alpha beta", "gamma delta", "alpha beta"])
    again = CachedEmbedder(Counting(), tmp_path / "cache.sqlite").embed(["gamma delta", "alpha beta"])
    assert calls == [2]  # one model call for the two distinct texts, none for the reopened cache
    np.testing.assert_allclose(again, first[[1, 0]], atol=1e-6)

    question = "what do citations teach a document encoder?"
    np.testing.assert_allclose(cached.embed_query(question), cached.embed_query(question), atol=1e-6)
    assert calls == [2, 1]  # the turn's steps share one encoding of the question...
    reopened = CachedEmbedder(Counting(), tmp_path / "cache.sqlite")
    reopened.embed_query(question)
    assert calls == [2, 1, 1]  # ...but questions are never written to disk


def test_filters_reindex_and_bm25_reuse(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder)
    runtime.ingestor.ingest_paths([PAPERS / "acl_N18-3011.pdf", DATA / "pmc-jats" / "s2orc__PMC6398430.nxml"])
    only_jats = runtime.searcher.search("population structure of crows", k=5, where=SearchFilter(sources=["jats"]))
    assert only_jats and {p.paper_id for p in only_jats} == {"PMC6398430"}
    assert runtime.searcher.search("crows", k=5, where=SearchFilter(year_from=2030)) == []
    by_paper = runtime.searcher.search("crows", k=5, where=SearchFilter(paper_ids=["sha256:faa5aceb428cdeb9"]))
    assert {p.paper_id for p in by_paper} == {"sha256:faa5aceb428cdeb9"}
    before = [p.chunk_id for p in runtime.searcher.search("entity linking", k=5)]
    assert (tmp_path / "index" / "bm25" / "fingerprint.json").exists()

    rebuilt = make_runtime(tmp_path, embedder, reset_index=True)
    assert rebuilt.store.count == 0
    assert rebuilt.ingestor.reindex() == runtime.catalog.chunk_count()
    reopened = make_runtime(tmp_path, embedder)
    assert reopened.store.count == reopened.catalog.chunk_count()
    assert [p.chunk_id for p in reopened.searcher.search("entity linking", k=5)] == before


def test_searches_stay_consistent_while_ingesting(tmp_path: Path, embedder: Embedder) -> None:
    runtime = make_runtime(tmp_path, embedder)
    runtime.ingestor.ingest_paths([PAPERS / "acl_N18-3011.pdf"])
    errors: list[BaseException] = []
    stop = threading.Event()

    def searching() -> None:
        while not stop.is_set():
            try:
                for passage in runtime.searcher.search("citation graph entity linking", k=8):
                    assert passage.text and passage.title  # never a chunk without its committed row
            except BaseException as error:
                errors.append(error)
                return

    readers = [threading.Thread(target=searching) for _ in range(2)]
    for reader in readers:
        reader.start()
    runtime.ingestor.ingest_paths([PAPERS / "acl_2020.acl-main.207.pdf", PAPERS / "acl_2020.acl-main.447.pdf"])
    stop.set()
    for reader in readers:
        reader.join()
    assert errors == []
    assert runtime.store.count == runtime.catalog.chunk_count()


def test_an_eval_library_holds_exactly_the_sample_it_is_asked_for(tmp_path: Path, embedder: Embedder) -> None:
    """An eval library is reused for the same papers, topped up for more, and rid of the papers it holds that the
    sample no longer names (a sample of the same size drawn differently would otherwise be scored on the old one)."""
    records = [{"id": f"p{i}", "title": f"Paper {i}", "abstract": f"Finding number {i} about lysis timing in phage."}
               for i in range(4)]
    settings = library_settings(Settings(home=tmp_path), tmp_path / "library")

    def held(sample: list[dict]) -> set[str]:
        runtime = library_of(settings, sample, embedder)
        papers = set(runtime.catalog.chunk_papers().values())
        runtime.close()
        return papers

    assert held(records[:2]) == {"p0", "p1"}
    assert held(records[:3]) == {"p0", "p1", "p2"}  # topped up
    assert held(records[1:4]) == {"p1", "p2", "p3"}  # p0 no longer named: removed, not scored on
    assert held(records[1:4]) == {"p1", "p2", "p3"}


def test_scifact_subset_floor(tmp_path: Path, embedder: Embedder) -> None:
    """30 stratified SciFact claims over 500 abstracts (theirs and random others) through the real pipeline: a
    broken retriever cannot reach these floors."""
    report = run_scifact(Settings(home=tmp_path), DATA / "scifact", corpus_limit=500, limit=30, embedder=embedder)
    metrics = report["metrics"]
    assert report["dataset"]["queries"] == 30 and report["dataset"]["documents"] == 500
    assert metrics["hybrid"]["ndcg@10"] >= 0.75
    assert metrics["dense"]["ndcg@10"] >= 0.65 and metrics["bm25"]["ndcg@10"] >= 0.65


def test_a_table_is_found_by_search_and_a_citation_quotes_its_row(library: Runtime) -> None:
    """Through the real library (the three PDFs ingested with MiniLM): SPECTER's ablation table is a passage
    of its own, on its page, and the sentence a citation would quote from it is one of its rows."""
    passages = library.searcher.search("SPECTER ablation without hard negatives", k=5)
    table = next(p for p in passages if p.section.endswith("> Table 2"))
    assert table.page == 7 and table.text.startswith("Table 2: Ablations")
    best = library.scorer.best("How does SPECTER do without hard negatives?", table)
    assert best is not None and best.text in table.text.split("\n")[3:]  # a data row, whole
    assert "| No hard negatives | 82.4 | 85.8 | 89.8 | 36.8 | 78.4 |" in table.text.split("\n")
